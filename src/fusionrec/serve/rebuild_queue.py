"""Per-user work after a request, off the request path: debounced per user, bounded, failures reported.

:class:`RebuildQueue` runs one callable per user in a background thread
(started on the first request). A user asked for again while waiting is
not queued twice (the one run reads everything stored by then), and waits
``delay_s`` from the first ask, so a burst of events gives one rebuild. At
most ``max_pending`` users wait; past that a request is dropped, counted and
logged (the next event or request for the user asks again). One user is
never run twice at once. A run that raises is logged and kept as the user's
last failure; nothing is retried until the user is asked for again.

Every outcome (``rebuilt``, ``unchanged``, ``skipped``, ``failed``,
``dropped``) goes to ``on_outcome`` (the service's metrics counter).

Example:
    >>> queue = RebuildQueue(lambda user: "rebuilt", delay_s=0.0, max_pending=10)
    >>> queue.request("u1")
    True
    >>> queue.run_pending()
    >>> queue.stop()
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

logger = logging.getLogger(__name__)

OUTCOMES = ("rebuilt", "unchanged", "skipped", "failed", "dropped")


@dataclass(frozen=True)
class Failure:
    """A user's last failed run: when, why, and the newest event id it was asked for (0: unknown)."""

    at: float
    message: str
    last_event_id: int = 0


class RebuildQueue:
    """Runs ``work(user_id)`` in a background thread, debounced per user and bounded.

    Args:
        work: the run for one user; returns its outcome (one of :data:`OUTCOMES` but ``failed``/``dropped``).
        delay_s: how long a user waits after the first ask (more asks meanwhile join it).
        max_pending: most users waiting; further asks are dropped.
        log_id: how a user id appears in logs.
    """

    def __init__(
        self,
        work: Callable[[str], str],
        delay_s: float,
        max_pending: int,
        log_id: Callable[[str], str] = str,
    ) -> None:
        self.work, self.delay_s, self.max_pending, self.log_id = work, delay_s, max_pending, log_id
        self.on_outcome: Callable[[str], None] | None = None
        self._pending: OrderedDict[str, tuple[float, int]] = OrderedDict()  # user -> (due, last event id)
        self._running: set[str] = set()
        self._failures: OrderedDict[str, Failure] = OrderedDict()
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopped = False

    def request(self, user_id: str, last_event_id: int = 0) -> bool:
        """Ask for a run for ``user_id`` (after ``delay_s``); False when it was dropped (the queue is full)."""
        with self._changed:
            if self._stopped:
                return False
            if user_id in self._pending:
                due, seen = self._pending[user_id]
                self._pending[user_id] = (due, max(seen, last_event_id))
                return True
            if len(self._pending) >= self.max_pending:
                dropped = True
            else:
                dropped = False
                self._pending[user_id] = (time.monotonic() + self.delay_s, last_event_id)
                self._start()
                self._changed.notify_all()
        if dropped:
            logger.warning("profile rebuild for user %s dropped: %d users wait", self.log_id(user_id), self.max_pending)
            self._report("dropped")
        return not dropped

    def pending(self, user_id: str) -> bool:
        """True while a run for the user waits or runs."""
        with self._changed:
            return user_id in self._pending or user_id in self._running

    def failure(self, user_id: str) -> Failure | None:
        """The user's last failed run since their last successful one, or None."""
        with self._changed:
            return self._failures.get(user_id)

    def run_pending(self) -> None:
        """Run every waiting user now in this thread (delays ignored), then wait for runs in other threads.

        What a test or a shutdown calls to settle the queue; the order of runs is the order of the asks.
        """
        while True:
            with self._changed:
                user_id = next((u for u in self._pending if u not in self._running), None)
                if user_id is None:
                    if not self._running and not self._pending:
                        return
                    self._changed.wait()
                    continue
                last_event_id = self._take(user_id)
            self._run(user_id, last_event_id)

    def stop(self) -> None:
        """Stop the thread after its current run; waiting users are not run."""
        with self._changed:
            self._stopped = True
            self._changed.notify_all()

    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="fusionrec-profile-rebuilds", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while True:
            with self._changed:
                user_id = self._next_due()
                if self._stopped:
                    return
                if user_id is None:
                    continue
                last_event_id = self._take(user_id)
            self._run(user_id, last_event_id)

    def _next_due(self) -> str | None:
        """The first user whose delay has passed, waiting on the condition until one has (lock held)."""
        waiting = [(due, u) for u, (due, _) in self._pending.items() if u not in self._running]
        if self._stopped:
            return None
        if not waiting:
            self._changed.wait()
            return None
        due, user_id = min(waiting)
        left = due - time.monotonic()
        if left > 0:
            self._changed.wait(left)
            return None
        return user_id

    def _take(self, user_id: str) -> int:
        self._running.add(user_id)
        return self._pending.pop(user_id)[1]

    def _run(self, user_id: str, last_event_id: int) -> None:
        try:
            outcome = self.work(user_id)
        except Exception as exc:  # any failure keeps the old profile; it is reported, never raised into the thread
            logger.warning("profile rebuild for user %s failed: %s", self.log_id(user_id), exc, exc_info=True)
            self._remember(user_id, Failure(time.time(), f"{type(exc).__name__}: {exc}", last_event_id))
            outcome = "failed"
        else:
            with self._changed:
                self._failures.pop(user_id, None)
        with self._changed:
            self._running.discard(user_id)
            self._changed.notify_all()
        self._report(outcome)

    def _remember(self, user_id: str, failure: Failure) -> None:
        with self._changed:
            self._failures[user_id] = failure
            self._failures.move_to_end(user_id)
            while len(self._failures) > self.max_pending:  # bounded like the queue
                self._failures.popitem(last=False)

    def _report(self, outcome: str) -> None:
        if self.on_outcome is not None:
            self.on_outcome(outcome)


__all__ = ["OUTCOMES", "Failure", "RebuildQueue"]
