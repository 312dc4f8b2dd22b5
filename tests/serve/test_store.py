"""The event store on SQLite and on PostgreSQL (skipped with a message when no server runs)."""

from __future__ import annotations

import threading

import sqlalchemy as sa

from fusionrec.serve.store import EventStore, NewEvent


def test_events_are_stored_and_read_back_per_user_oldest_first(store: EventStore) -> None:
    for item in ("i1", "i2", "i3"):
        store.record_event(NewEvent("u1", item, "like"))
    store.record_event(NewEvent("u2", "i9", "rating", 4.0))
    assert [e.item_id for e in store.user_events("u1")] == ["i1", "i2", "i3"]
    assert [e.item_id for e in store.user_events("u1", limit=2)] == ["i2", "i3"]
    (rating,) = store.user_events("u2")
    assert (rating.kind, rating.value) == ("rating", 4.0)
    assert store.count_events() == 4


def test_an_idempotency_key_returns_the_original_event(store: EventStore) -> None:
    first, replayed_first = store.record_event(NewEvent("u1", "i1", "like", idempotency_key="k-1"))
    again, replayed_again = store.record_event(NewEvent("u1", "i1", "like", idempotency_key="k-1"))
    assert (replayed_first, replayed_again) == (False, True)
    assert again == first
    assert store.count_events() == 1


def test_quotes_and_sql_in_ids_are_plain_data(store: EventStore) -> None:
    nasty = "x'); DROP TABLE fusionrec_events; --\"\\"
    store.record_event(NewEvent(nasty, nasty, "view"))
    assert store.user_events(nasty)[0].item_id == nasty
    assert store.count_events() == 1


def test_concurrent_writers_lose_nothing(store: EventStore) -> None:
    def write(worker: int) -> None:
        for n in range(25):
            store.record_event(NewEvent(f"u{worker}", f"i{n}", "click", idempotency_key=f"{worker}-{n}"))

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.count_events() == 100
    assert len(store.event_ids()) == 100


def test_item_revisions_are_replayed_in_order(store: EventStore) -> None:
    first = store.add_item_revision("new", {"title": "A"})
    second = store.add_item_revision("new", {"title": "B", "features": {"text": [0.5, 1.0]}})
    assert second.seq > first.seq
    assert [r.payload["title"] for r in store.item_revisions()] == ["A", "B"]
    assert [r.payload for r in store.item_revisions(after_seq=first.seq)] == [second.payload]


def test_sqlite_runs_in_wal_mode_with_full_sync(store_url: str) -> None:
    store = EventStore(store_url)
    with store.engine.connect() as connection:
        assert connection.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(sa.text("PRAGMA synchronous")).scalar() == 2  # FULL
    store.close()


def test_two_stores_on_one_database_with_other_prefixes_do_not_mix(any_store_url: tuple[str, str]) -> None:
    url, prefix = any_store_url
    first, second = EventStore(url, prefix), EventStore(url, prefix + "b_")
    try:
        first.record_event(NewEvent("u", "i", "like"))
        assert (first.count_events(), second.count_events()) == (1, 0)
    finally:
        second.drop()
        first.close()
        second.close()


def test_placed_vectors_are_stored_beside_their_revision_per_model(store: EventStore) -> None:
    import numpy as np

    from fusionrec.serve.store import Placement

    vector, part = np.array([0.5, -1.25, 3.0], np.float32), np.array([0.25, 0.0, -1.0], np.float32)
    seq = store.add_placed_item_revision("i1", {"title": "One"}, "model-a", Placement(0, vector, {"image": part}))
    plain = store.add_item_revision("i2", {"title": "Two"}).seq
    found = store.item_placements("model-a", [seq, plain])
    assert list(found) == [seq] and found[seq].vector.tolist() == vector.tolist()
    assert found[seq].parts["image"].tolist() == part.tolist()
    assert store.item_placements("model-b", [seq]) == {}  # another model's vectors are not this one's
    backfill = [Placement(plain, vector, {}), Placement(seq, vector, {"image": part})]
    assert store.add_item_placements("model-a", backfill) == 1  # the second was stored already
    assert set(store.item_placements("model-a", [seq, plain])) == {seq, plain}
    assert [r.seq for r in store.item_revisions()] == [seq, plain]
