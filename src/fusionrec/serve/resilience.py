"""Store calls that cannot stall the service: a thread pool, a timeout per call and a circuit breaker.

A database that stops answering must not stop the service, so every call
the service makes to the event store goes through a :class:`StoreGuard`:

* the call runs in the guard's own bounded thread pool and is waited for at
  most ``timeout_s``; one that has not finished by then is abandoned (a
  queued call is cancelled, a running one ends on its own) and the caller
  gets :class:`~fusionrec.serve.errors.StoreUnavailableError`;
* a :class:`CircuitBreaker` counts consecutive failures (timeouts, lost or
  refused connections, a locked SQLite file); after ``failure_threshold``
  of them it opens and calls fail at once, without touching the database,
  for ``cool_down_s``; then one trial call is let through (half-open): its
  success closes the breaker, its failure opens it again::

      closed --threshold failures--> open --cool-down--> half-open --trial ok--> closed
                                      ^                      |
                                      +------trial fails-----+

An error that says the request was wrong rather than the database (an
integrity or data error) is raised unchanged and counts as an answer.

A write the caller was told failed may still commit later (its thread was
abandoned, not stopped); a write is acknowledged only after its commit, so
nothing acknowledged is lost, and a retry with the same idempotency key
returns the event if it did land.

Example:
    >>> guard = StoreGuard(GuardOptions(timeout_s=0.5, failure_threshold=5, cool_down_s=5.0))
    >>> guard.call(0.5, sum, [1, 2])
    3
    >>> guard.close()
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any, Literal, ParamSpec, TypeVar

import sqlalchemy as sa

from fusionrec.serve.errors import StoreUnavailableError

logger = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")
BreakerState = Literal["closed", "open", "half-open"]

_OUTAGES = (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError, sa.exc.DisconnectionError)
_SHOWN_REASON = 200


@dataclass(frozen=True)
class GuardOptions:
    """How store calls are bounded.

    Attributes:
        timeout_s: longest wait for a read.
        write_timeout_s: longest wait for a write (a commit that syncs to disk).
        failure_threshold: consecutive failures that open the breaker.
        cool_down_s: how long an open breaker refuses calls before a trial.
        threads: store calls that may run at once.
    """

    timeout_s: float = 0.5
    write_timeout_s: float = 2.0
    failure_threshold: int = 5
    cool_down_s: float = 5.0
    threads: int = 16


class CircuitBreaker:
    """Opens after ``failure_threshold`` consecutive failures; half-opens (one trial) after ``cool_down_s``.

    Thread-safe. ``clock`` is injectable so tests can move time by hand.

    Example:
        >>> breaker = CircuitBreaker(failure_threshold=2, cool_down_s=10.0)
        >>> breaker.record_failure("timeout"); breaker.record_failure("timeout")
        >>> breaker.state, breaker.admit() is not None
        ('open', True)
    """

    def __init__(self, failure_threshold: int, cool_down_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        if failure_threshold < 1 or cool_down_s < 0:
            raise ValueError(
                f"failure_threshold is {failure_threshold} and cool_down_s {cool_down_s}; "
                "expected a threshold >= 1 and a cool-down >= 0 seconds"
            )
        self.failure_threshold, self.cool_down_s, self._clock = failure_threshold, cool_down_s, clock
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_running = False
        self.last_failure = ""

    @property
    def state(self) -> BreakerState:
        with self._lock:
            return self._state()

    @property
    def failures(self) -> int:
        """Consecutive failures so far (0 after a success)."""
        with self._lock:
            return self._failures

    def _state(self) -> BreakerState:
        if self._opened_at is None:
            return "closed"
        return "open" if self._clock() - self._opened_at < self.cool_down_s else "half-open"

    def admit(self) -> float | None:
        """None when a call may go ahead (in half-open: the one trial), else seconds until the next trial."""
        with self._lock:
            state = self._state()
            if state == "closed":
                return None
            if state == "half-open" and not self._trial_running:
                self._trial_running = True
                return None
            return self._wait()

    def retry_after(self) -> float:
        """Seconds a client should wait before retrying: the rest of the cool-down, or 1 while closed."""
        with self._lock:
            return self._wait() if self._opened_at is not None else 1.0

    def _wait(self) -> float:
        assert self._opened_at is not None
        return max(self._opened_at + self.cool_down_s - self._clock(), 1.0)

    def record_success(self) -> None:
        with self._lock:
            if self._opened_at is not None:
                logger.warning("the event store answers again; the circuit breaker closes")
            self._failures, self._opened_at, self._trial_running = 0, None, False

    def record_failure(self, reason: str) -> None:
        with self._lock:
            self._failures += 1
            self.last_failure = reason
            trial_failed = self._trial_running
            self._trial_running = False
            if trial_failed or (self._opened_at is None and self._failures >= self.failure_threshold):
                self._opened_at = self._clock()
                logger.warning(
                    "the event store failed %d time(s) in a row (%s); the circuit breaker opens for %.1f s",
                    self._failures,
                    reason,
                    self.cool_down_s,
                )


class StoreGuard:
    """Runs store calls in a bounded thread pool, with a timeout each and a circuit breaker in front.

    Args:
        options: timeouts, breaker thresholds and pool size.
    """

    def __init__(self, options: GuardOptions) -> None:
        self.options = options
        self.breaker = CircuitBreaker(options.failure_threshold, options.cool_down_s)
        self._executor = ThreadPoolExecutor(max_workers=options.threads, thread_name_prefix="fusionrec-store")
        self._running: set[Future[Any]] = set()

    def read(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn(*args, **kwargs)`` bounded by the read timeout."""
        return self.call(self.options.timeout_s, fn, *args, **kwargs)

    def write(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn(*args, **kwargs)`` bounded by the write timeout."""
        return self.call(self.options.write_timeout_s, fn, *args, **kwargs)

    def call(self, timeout_s: float, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn(*args, **kwargs)`` in the pool and wait at most ``timeout_s`` seconds.

        Raises:
            StoreUnavailableError: the breaker is open, the call timed out, or the database failed
                (lost connection, refused, locked).
        """
        wait = self.breaker.admit()
        if wait is not None:
            raise self._unavailable(
                f"the event store failed {self.breaker.failure_threshold} or more times in a row "
                f"({self.breaker.last_failure}), so it is not called until the next try in {wait:.1f} s"
            )
        future = self._executor.submit(fn, *args, **kwargs)
        self._running.add(future)
        future.add_done_callback(self._running.discard)
        try:
            result = future.result(timeout=timeout_s)
        except FutureTimeout:
            future.cancel()  # a queued call never runs; a running one is abandoned
            raise self._failed(f"no answer within {timeout_s:g} s") from None
        except _OUTAGES as exc:
            raise self._failed(f"{type(exc).__name__}: {_first_line(exc)}") from exc
        except Exception:
            self.breaker.record_success()  # the database answered; the request was wrong
            raise
        self.breaker.record_success()
        return result

    def _failed(self, reason: str) -> StoreUnavailableError:
        self.breaker.record_failure(reason)
        return self._unavailable(f"the event store is unavailable ({reason})")

    def _unavailable(self, message: str) -> StoreUnavailableError:
        return StoreUnavailableError(message, retry_after_s=self.breaker.retry_after())

    def close(self, wait_s: float = 0.0) -> None:
        """Stop taking calls: queued ones are cancelled, running ones waited for up to ``wait_s`` seconds.

        Waiting lets calls that are about to finish hand their connections back before the store closes
        its pool; a call still hung after ``wait_s`` is left to end on its own.
        """
        self._executor.shutdown(wait=False, cancel_futures=True)
        if wait_s > 0 and self._running:
            wait(list(self._running), timeout=wait_s)


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return (text[0] if text else "")[:_SHOWN_REASON]


__all__ = ["BreakerState", "CircuitBreaker", "GuardOptions", "StoreGuard"]
