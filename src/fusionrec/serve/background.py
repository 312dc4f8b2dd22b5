"""Work that runs beside the serving threads without holding them up: a model swap's load.

Python runs one thread at a time. A thread that waits for the interpreter
lock gets it only when the running thread lets go: during a blocking call
(file reads, faiss searches, store queries), or when asked to after
``sys.getswitchinterval()`` (5 ms by default). A request needs the lock
again after every store query and index search, so while another thread
loads a new artifact it waits up to 5 ms each time: tens of milliseconds a
request. :class:`ShorterSwitchInterval` lowers the interval while a load
runs, so each wait is at most about a millisecond; the load's own long calls
into C code are cut into short ones by :mod:`fusionrec.models.blocks`.

A lower scheduling priority for the loading thread (a higher nice value)
was tried as well and did not measurably help: what stalls requests is the
lock, and a loading thread that holds it while the scheduler passes it over
makes them wait longer.

Example:
    >>> with SWITCH_INTERVAL.active(0.001):  # doctest: +SKIP
    ...     service = RecommendationService(load_artifact(path), store, settings)
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class ShorterSwitchInterval:
    """Lowers the process's switch interval while at least one :meth:`active` block runs, then restores it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active = 0
        self._saved = sys.getswitchinterval()

    @contextmanager
    def active(self, seconds: float | None) -> Iterator[None]:
        """Run the block with the switch interval at most ``seconds`` (None: unchanged)."""
        if seconds is None:
            yield
            return
        with self._lock:
            if self._active == 0:
                self._saved = sys.getswitchinterval()
            self._active += 1
            sys.setswitchinterval(min(seconds, sys.getswitchinterval()))
        try:
            yield
        finally:
            with self._lock:
                self._active -= 1
                if self._active == 0:
                    sys.setswitchinterval(self._saved)


SWITCH_INTERVAL = ShorterSwitchInterval()
"""The one per process (the interval is the interpreter's)."""


__all__ = ["SWITCH_INTERVAL", "ShorterSwitchInterval"]
