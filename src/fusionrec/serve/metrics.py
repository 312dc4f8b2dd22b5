"""Prometheus metrics of the service: one app's own registry, or every worker's through multiprocess mode.

In one process the metrics live in a registry of the app's own (never the
process-global one), so several apps in one process (tests) count apart.
With several workers, ``fusionrec serve`` sets ``PROMETHEUS_MULTIPROC_DIR``
to a fresh folder before they start: prometheus_client then writes every
worker's values to files there, and ``/metrics``, whichever worker answers,
adds them up (:class:`~prometheus_client.multiprocess.MultiProcessCollector`).
Counters of a worker that died keep counting in the totals; its live gauge
(the catalog size) is dropped at the next scrape.

Example:
    >>> metrics = ServiceMetrics(lambda: 3)
    >>> metrics.observe_request("GET", "/health", 200, 0.001)
    >>> b'fusionrec_catalog_items 3.0' in metrics.render()
    True
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
_LIVE_GAUGE_FILE = re.compile(r"^gauge_live\w+?_(\d+)\.db$")


def multiprocess_dir() -> Path | None:
    """The folder workers share metrics through, or None in single-process mode."""
    value = os.environ.get(MULTIPROC_ENV)
    return Path(value) if value else None


class ServiceMetrics:
    """Request counts and latencies, events recorded, recommendations by strategy, profile rebuilds, catalog size.

    Args:
        catalog_size: called at scrape time for the number of served items.
        model_state: called at scrape time for ``(served model version, store breaker state)``; None leaves
            ``fusionrec_model_info`` and ``fusionrec_store_breaker_open`` out.
    """

    def __init__(
        self, catalog_size: Callable[[], int], model_state: Callable[[], tuple[str, str]] | None = None
    ) -> None:
        self.registry = CollectorRegistry()
        self.shared_dir = multiprocess_dir()
        self.requests = Counter(
            "fusionrec_http_requests", "HTTP requests", ("method", "route", "status"), registry=self.registry
        )
        self.latency = Histogram(
            "fusionrec_http_request_seconds",
            "HTTP request latency",
            ("route",),
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.events = Counter("fusionrec_events_recorded", "user events stored", ("type",), registry=self.registry)
        self.recommendations = Counter(
            "fusionrec_recommendations", "recommendation lists served", ("strategy",), registry=self.registry
        )
        self.profile_rebuilds = Counter(
            "fusionrec_user_profile_rebuilds",
            "users' profile rebuilds after their events, by outcome (rebuilt, unchanged, skipped, failed, dropped)",
            ("outcome",),
            registry=self.registry,
        )
        # Workers sync added items within a second, so the largest live catalog is the current one.
        self.items = Gauge(
            "fusionrec_catalog_items",
            "items in the served catalog",
            registry=self.registry,
            multiprocess_mode="livemax",
        )
        # each worker reports the version it serves: during a swap, both versions show until every worker follows
        self.model = Gauge(
            "fusionrec_model_info",
            "the served model version (1 for the version this worker serves)",
            ("version",),
            registry=self.registry,
            multiprocess_mode="liveall",
        )
        self.breaker = Gauge(
            "fusionrec_store_breaker_open",
            "1 while the event store's circuit breaker is open or half-open (reads degrade, writes answer 503)",
            registry=self.registry,
            multiprocess_mode="livemax",
        )
        self._catalog_size, self._model_state = catalog_size, model_state

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def count_rebuild(self, outcome: str) -> None:
        """One user's profile rebuild ended with ``outcome``."""
        self.profile_rebuilds.labels(outcome).inc()

    def render(self) -> bytes:
        """The text exposition format: this app's metrics, or the sum over every worker."""
        self.items.set(float(self._catalog_size()))  # set_function does not work across processes
        if self._model_state is not None:
            version, breaker = self._model_state()
            self.model.clear()
            self.model.labels(version).set(1.0)
            self.breaker.set(0.0 if breaker == "closed" else 1.0)
        if self.shared_dir is None:
            return generate_latest(self.registry)
        mark_dead_workers(self.shared_dir)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(self.shared_dir))
        return generate_latest(registry)

    def close(self) -> None:
        """Drop this process's live gauges from the shared folder (it stops serving)."""
        if self.shared_dir is not None:
            mark_process_dead(os.getpid(), str(self.shared_dir))


def mark_dead_workers(folder: Path) -> list[int]:
    """Drop the live gauges of workers that no longer run (killed ones never say so); returns their pids."""
    dead = sorted({int(m.group(1)) for p in folder.iterdir() if (m := _LIVE_GAUGE_FILE.match(p.name))} - {os.getpid()})
    dead = [pid for pid in dead if not _running(pid)]
    for pid in dead:
        mark_process_dead(pid, str(folder))
    return dead


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True


__all__ = ["MULTIPROC_ENV", "ServiceMetrics", "mark_dead_workers", "multiprocess_dir"]
