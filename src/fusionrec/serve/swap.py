"""Model swaps without downtime: a new artifact is loaded beside the serving one and takes over atomically.

A swap (``POST /v1/admin/model``, or :meth:`ModelSwitcher.switch`) loads the
new artifact into a new :class:`~fusionrec.serve.service.RecommendationService`
over the same event store, then replaces the app's service reference in one
assignment: requests already running keep the service they started with and
finish on the old model; every request after it gets the new one. The swap is
recorded in the store, and every other worker on that store follows within
``model_check_s`` (:meth:`ModelSwitcher.check`, run by a background thread).
The old service's store threads and memory are released once its requests
had time to end, part by part (:func:`retire`).

Example:
    >>> switcher.switch("artifacts/ml100k-2")  # doctest: +SKIP
    'b41c...'
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from fusionrec.errors import ArtifactError
from fusionrec.models.artifact import load_artifact
from fusionrec.serve.background import SWITCH_INTERVAL
from fusionrec.serve.errors import InvalidInputError, StoreUnavailableError
from fusionrec.serve.service import RecommendationService

if TYPE_CHECKING:
    from fastapi import FastAPI

logger = logging.getLogger(__name__)

RETIRE_AFTER_S = 30.0
"""How long a replaced service keeps its store threads for the requests that started on it."""
RETIRE_THREAD = "fusionrec-model-retire"
RELEASE_PAUSE_S = 0.005
"""Pause between two parts of a replaced service let go of (:func:`retire`)."""
LOAD_SWITCH_INTERVAL_S: float | None = 0.001
"""The interpreter's switch interval while a new artifact loads (5 ms otherwise)."""


class ModelSwitcher:
    """Swaps the app's service to another artifact, and follows swaps other workers recorded in the store.

    The new artifact loads with a shorter switch interval
    (:data:`LOAD_SWITCH_INTERVAL_S`), so that requests, which need the
    interpreter lock again after every store query and index search, get it
    within a millisecond rather than five while the load runs
    (:mod:`fusionrec.serve.background`).

    Args:
        app: the app whose ``state.service`` is swapped.
        switch_interval_s: the interpreter's switch interval while a load runs (None: unchanged).
        retire_after_s: how long a replaced service is kept for the requests that started on it (:func:`retire`).
    """

    def __init__(
        self,
        app: FastAPI,
        switch_interval_s: float | None = LOAD_SWITCH_INTERVAL_S,
        retire_after_s: float = RETIRE_AFTER_S,
    ) -> None:
        self.app, self.switch_interval_s, self.retire_after_s = app, switch_interval_s, retire_after_s
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def service(self) -> RecommendationService:
        service: RecommendationService = self.app.state.service
        return service

    def switch(self, artifact: str | Path) -> str:
        """Serve ``artifact`` from now on, here and (through the store) in every worker; returns its version.

        Raises:
            InvalidInputError: the folder is not a loadable artifact (the message says why).
            StoreUnavailableError: the swap could not be recorded for the other workers (this worker swapped).
        """
        version = self._load_and_swap(str(artifact))
        current = self.service
        current.guard.write(current.store.set_serving_artifact, str(Path(artifact)))
        return version

    def check(self) -> bool:
        """Follow a swap recorded in the store by another worker; True when this worker switched."""
        current = self.service
        try:
            wanted = current.guard.read(current.store.serving_artifact)
        except StoreUnavailableError:
            return False
        if wanted is None or Path(wanted) == Path(current.artifact_path):
            return False
        try:
            self._load_and_swap(wanted)
        except InvalidInputError as exc:
            logger.error("not following the swap to %s: %s", wanted, exc.message)
            return False
        return True

    def start(self, interval_s: float) -> None:
        """Check the store every ``interval_s`` seconds in a daemon thread (until :meth:`stop`)."""

        def loop() -> None:
            while not self._stop.wait(interval_s):
                try:
                    self.check()
                except Exception:  # a failed check must not end the thread that follows swaps
                    logger.exception("checking for a model swap failed")

        self._thread = threading.Thread(target=loop, name="fusionrec-model-switcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _load_and_swap(self, artifact: str) -> str:
        with self._lock:
            old = self.service
            with SWITCH_INTERVAL.active(self.switch_interval_s):
                new = self._load(artifact, old)
            new.profiles.queue.on_outcome = old.profiles.queue.on_outcome  # the same metrics count on
            self.app.state.service = new  # one assignment: a request gets the old service or the new, never a mix
            old.profiles.close()  # profiles stored per model: the new one rebuilds its own
            retiring = threading.Timer(self.retire_after_s, retire, args=(old,))
            retiring.name, retiring.daemon = RETIRE_THREAD, True
            retiring.start()
            logger.info("now serving %s (version %s, was %s)", artifact, new.model_key, old.model_key)
            return new.model_key

    @staticmethod
    def _load(artifact: str, old: RecommendationService) -> RecommendationService:
        """The new artifact's service over the old one's store."""
        try:
            loaded = load_artifact(artifact)
        except (ArtifactError, OSError) as exc:
            raise InvalidInputError(f"artifact {artifact!r} cannot be served: {exc}") from exc
        return RecommendationService(loaded, old.store, old.settings)


def retire(service: RecommendationService, pause_s: float = RELEASE_PAUSE_S) -> None:
    """Close a replaced service's store threads, then let go of its parts one at a time.

    Freeing a whole service at once (its vocabularies' millions of ids, its
    index, its vectors) held the interpreter lock for a tenth of a second at
    1,000,000 items; part by part, with a pause between, the serving threads
    run in between. Runs :data:`RETIRE_AFTER_S` after the swap, when the
    requests that started on the service have ended. A service already
    retired is left as it is.
    """
    if "guard" not in vars(service):
        return
    service.guard.close(wait_s=1.0)
    for name in list(vars(service)):
        delattr(service, name)
        time.sleep(pause_s)


__all__ = ["LOAD_SWITCH_INTERVAL_S", "RETIRE_AFTER_S", "ModelSwitcher", "retire"]
