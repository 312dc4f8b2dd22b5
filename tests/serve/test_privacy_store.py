"""Forgetting users, the events export for retraining, retention and the id hash key, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from dataclasses import astuple

import pytest
import sqlalchemy as sa

from fusionrec.errors import ConfigError
from fusionrec.serve import store as store_module
from fusionrec.serve.errors import ForgottenUserError
from fusionrec.serve.store import EventStore, IdHasher, NewEvent

USER = "alice@example.com"


def record(store: EventStore, user_id: str, n: int, key_prefix: str | None = None) -> None:
    for i in range(n):
        key = None if key_prefix is None else f"{key_prefix}-{i}"
        store.record_event(NewEvent(user_id, f"i{i}", "like", idempotency_key=key))


def test_forget_deletes_only_that_users_events_and_audits_without_the_id(store: EventStore) -> None:
    record(store, USER, 3)
    record(store, "bob", 2)
    result = store.forget_user(USER, source="cli")
    assert (result.events_removed, result.already_forgotten) == (3, False)
    assert store.user_events(USER) == []
    assert len(store.user_events("bob")) == 2
    (audit,) = store.audit_records()
    assert (audit.action, audit.events_removed, audit.source) == ("forget", 3, "cli")
    assert audit.user_key == result.user_key == store.hasher.key(USER)
    assert all(USER not in str(value) and "alice" not in str(value) for value in astuple(audit))


def test_a_second_forget_removes_nothing_and_keeps_the_first_time(store: EventStore) -> None:
    record(store, USER, 2)
    first = store.forget_user(USER, now=1_000.0)
    again = store.forget_user(USER, now=2_000.0)
    assert (again.events_removed, again.already_forgotten, again.forgotten_at) == (0, True, first.forgotten_at)
    assert [a.events_removed for a in store.audit_records()] == [2, 0]


def test_events_for_a_forgotten_user_are_refused_even_stale_retries(store: EventStore) -> None:
    record(store, USER, 2, key_prefix="stale")
    store.forget_user(USER)
    for event in (NewEvent(USER, "i0", "like", idempotency_key="stale-0"), NewEvent(USER, "i5", "view")):
        with pytest.raises(ForgottenUserError, match="reactivate") as refused:
            store.record_event(event)
        assert refused.value.status == 410
    assert store.user_events(USER) == []
    assert store.count_events() == 0


def test_a_reactivated_user_records_again_and_only_new_events_are_exported(store: EventStore) -> None:
    record(store, USER, 2)
    store.forget_user(USER, now=100.0)
    assert store.reactivate_user("never-forgotten") is None
    before = store.reactivate_user(USER, now=time.time() - 1.0)
    assert before is not None and before.forgotten_at == 100.0
    store.record_event(NewEvent(USER, "i7", "like"))
    assert [e.item_id for e in store.user_events(USER)] == ["i7"]
    assert [e.item_id for e in store.export_events()] == ["i7"]
    tombstone = store.tombstones_of([USER, "bob"])[USER]
    assert tombstone.reactivated_at is not None and not tombstone.active
    assert [a.action for a in store.audit_records()] == ["forget", "reactivate"]


def test_the_export_leaves_out_forgotten_users_across_batches(
    store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "_EXPORT_BATCH", 2)
    record(store, "bob", 3)
    record(store, USER, 2)
    record(store, "carol", 2)
    store.forget_user(USER)
    exported = list(store.export_events())
    assert [e.user_id for e in exported] == ["bob", "bob", "bob", "carol", "carol"]
    assert [e.id for e in exported] == sorted(e.id for e in exported)


def test_an_event_racing_a_forget_is_either_deleted_or_refused(store: EventStore) -> None:
    refused: list[int] = []

    def write(worker: int) -> None:
        for n in range(15):
            try:
                store.record_event(NewEvent(USER, f"i{n}", "click", idempotency_key=f"{worker}-{n}"))
            except ForgottenUserError:
                refused.append(n)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(3)]
    for thread in threads:
        thread.start()
    store.forget_user(USER)
    for thread in threads:
        thread.join()
    assert store.user_events(USER) == []
    removed = sum(a.events_removed for a in store.audit_records())
    assert removed + len(refused) == 45


def test_retention_purges_events_older_than_the_cutoff(store: EventStore) -> None:
    now = time.time()
    with store.engine.begin() as connection:
        for age_days, item in ((40, "old"), (31, "older-than-30"), (29, "recent"), (0, "today")):
            row = {"user_id": "bob", "item_id": item, "kind": "view", "created_at": now - age_days * 86_400.0}
            connection.execute(store.events.insert(), row)
    assert store.purge_events(now - 30 * 86_400.0) == 2
    assert [e.item_id for e in store.user_events("bob")] == ["recent", "today"]
    assert store.purge_events(now - 30 * 86_400.0) == 0
    (audit,) = store.audit_records()
    assert (audit.action, audit.user_key, audit.events_removed) == ("retention", None, 2)


def hasher_error(url: str, prefix: str, key: str | None = None) -> str:
    """The ConfigError message of opening the store with ``key`` and hashing an id."""
    store = EventStore(url, prefix, id_hash_key=key)
    try:
        with pytest.raises(ConfigError) as refused:
            store.hasher.key(USER)
    finally:
        store.close()
    return str(refused.value)


def test_the_stores_own_key_is_kept_across_restarts_and_a_configured_one_refused(
    any_store_url: tuple[str, str],
) -> None:
    url, prefix = any_store_url
    first = EventStore(url, prefix)
    key = first.hasher.key(USER)
    first.close()
    again = EventStore(url, prefix)
    assert again.hasher.key(USER) == key
    again.close()
    assert "unset it to use the store's own key" in hasher_error(url, prefix, "another key")


def test_a_configured_key_is_checked_on_every_open(any_store_url: tuple[str, str]) -> None:
    url, prefix = any_store_url
    first = EventStore(url, prefix, id_hash_key="k1")
    assert first.hasher.key(USER) == IdHasher(b"k1").key(USER)
    first.close()
    same = EventStore(url, prefix, id_hash_key="k1")
    assert same.hasher.key(USER) == IdHasher(b"k1").key(USER)
    same.close()
    assert "FUSIONREC_ID_HASH_KEY is not set" in hasher_error(url, prefix)
    assert "set it to the key used before" in hasher_error(url, prefix, "k2")


@pytest.mark.parametrize("hide", [True, False])
def test_sql_parameters_are_hidden_from_error_messages_unless_asked(any_store_url: tuple[str, str], hide: bool) -> None:
    url, prefix = any_store_url
    store = EventStore(url, prefix, hide_parameters=hide)
    try:
        with pytest.raises(sa.exc.IntegrityError) as failed:
            store.record_event(NewEvent(USER, "i1", None))  # type: ignore[arg-type]  # kind is NOT NULL
    finally:
        store.close()
    assert ("SQL parameters hidden" in str(failed.value)) is hide  # PostgreSQL's DETAIL still quotes the row
