"""Prometheus metrics of one app, in a registry of its own (never the process-global one).

With several workers each process counts its own requests; scrape each
worker, or run one worker per container.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class ServiceMetrics:
    """Request counts and latencies, events recorded, recommendations by strategy, catalog size.

    Args:
        catalog_size: called at scrape time for the number of served items.
    """

    def __init__(self, catalog_size: Callable[[], int]) -> None:
        self.registry = CollectorRegistry()
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
        self.items = Gauge("fusionrec_catalog_items", "items in the served catalog", registry=self.registry)
        self.items.set_function(lambda: float(catalog_size()))

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)
