"""The circuit breaker (with a hand-moved clock) and the guard that bounds store calls."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from fusionrec.serve.errors import StoreUnavailableError
from fusionrec.serve.resilience import CircuitBreaker, GuardOptions, StoreGuard

pytestmark = pytest.mark.timeout(60)  # hang guard


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_breaker_opens_after_the_threshold_of_consecutive_failures() -> None:
    breaker = CircuitBreaker(failure_threshold=3, cool_down_s=10.0, clock=Clock())
    breaker.record_failure("a")
    breaker.record_failure("b")
    breaker.record_success()  # the count is of consecutive failures
    breaker.record_failure("c")
    breaker.record_failure("d")
    assert breaker.state == "closed" and breaker.admit() is None
    breaker.record_failure("e")
    assert breaker.state == "open" and breaker.last_failure == "e" and breaker.failures == 3
    assert breaker.admit() == pytest.approx(10.0)


def test_half_open_lets_one_trial_through_and_its_outcome_decides() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=1, cool_down_s=5.0, clock=clock)
    breaker.record_failure("down")
    clock.now += 2.0
    assert breaker.admit() == pytest.approx(3.0) and breaker.retry_after() == pytest.approx(3.0)
    clock.now += 3.0
    assert breaker.state == "half-open"
    assert breaker.admit() is None  # the trial
    assert breaker.admit() is not None  # everyone else waits for it
    breaker.record_failure("still down")
    assert breaker.state == "open" and breaker.admit() == pytest.approx(5.0)  # a fresh cool-down
    clock.now += 5.0
    assert breaker.admit() is None
    breaker.record_success()
    assert breaker.state == "closed" and breaker.admit() is None and breaker.retry_after() == 1.0


@pytest.mark.parametrize(("threshold", "cool_down"), [(0, 1.0), (1, -1.0)])
def test_bad_breaker_settings_are_refused(threshold: int, cool_down: float) -> None:
    with pytest.raises(ValueError, match="expected a threshold >= 1"):
        CircuitBreaker(threshold, cool_down)


@pytest.fixture
def guard() -> Iterator[StoreGuard]:
    opened = StoreGuard(GuardOptions(timeout_s=0.05, failure_threshold=2, cool_down_s=3600.0, threads=2))
    yield opened
    opened.close()


def test_a_call_returns_its_result(guard: StoreGuard) -> None:
    assert guard.call(10.0, divmod, 7, 2) == (3, 1)
    assert guard.read(max, [1, 5]) == 5


def test_a_hanging_call_is_abandoned_and_opens_the_breaker(guard: StoreGuard) -> None:
    release, calls = threading.Event(), []

    def hang() -> None:
        calls.append(1)
        release.wait(30)

    for _ in range(2):
        with pytest.raises(StoreUnavailableError, match=r"no answer within 0\.05 s") as raised:
            guard.read(hang)
        assert raised.value.status == 503 and raised.value.retry_after_s >= 1.0
    assert guard.breaker.state == "open"
    with pytest.raises(StoreUnavailableError, match="not called until the next try") as refused:
        guard.read(hang)
    assert refused.value.retry_after_s > 3000
    release.set()
    assert len(calls) == 2  # the open breaker did not call the store


def test_a_queued_call_that_timed_out_never_runs() -> None:
    guard = StoreGuard(GuardOptions(timeout_s=0.05, failure_threshold=10, threads=1))
    release, ran = threading.Event(), threading.Event()
    with pytest.raises(StoreUnavailableError):
        guard.read(release.wait, 30)  # occupies the only thread
    with pytest.raises(StoreUnavailableError):
        guard.read(ran.set)  # waits behind it, times out, is cancelled
    release.set()
    assert guard.read(lambda: "after") == "after"
    assert not ran.is_set()
    guard.close()


def outage() -> None:
    raise sa.exc.OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly"))


def test_database_outages_become_store_unavailable(guard: StoreGuard) -> None:
    with pytest.raises(StoreUnavailableError, match="OperationalError: server closed the connection"):
        guard.write(outage)
    assert guard.breaker.state == "closed"
    with pytest.raises(StoreUnavailableError):
        guard.write(outage)
    assert guard.breaker.state == "open"


def test_errors_of_the_request_pass_through_and_count_as_answers(guard: StoreGuard) -> None:
    def bad_data() -> None:
        raise sa.exc.DataError("INSERT", {}, Exception("text fields cannot contain NUL"))

    with pytest.raises(StoreUnavailableError):
        guard.write(outage)
    with pytest.raises(sa.exc.DataError):
        guard.write(bad_data)
    with pytest.raises(StoreUnavailableError):
        guard.write(outage)
    assert guard.breaker.state == "closed"  # the data error reset the count of consecutive failures


def test_close_waits_for_a_running_call_to_hand_back_its_connection() -> None:
    guard = StoreGuard(GuardOptions(timeout_s=0.05))
    release, finished = threading.Event(), threading.Event()

    def finishing() -> None:
        release.wait(30)
        finished.set()

    with pytest.raises(StoreUnavailableError):
        guard.read(finishing)
    threading.Timer(0.1, release.set).start()
    guard.close(wait_s=30)  # a bound, not a delay: it returns when the call is done
    assert finished.is_set()


def test_close_leaves_a_stuck_call_after_its_bound() -> None:
    guard = StoreGuard(GuardOptions(timeout_s=0.05))
    stuck = threading.Event()
    with pytest.raises(StoreUnavailableError):
        guard.read(stuck.wait, 30)
    guard.close(wait_s=0.1)
    assert not stuck.is_set()
    stuck.set()
