"""The app factory: a FastAPI application built from settings, with no import-time state.

Example:
    >>> from fusionrec.serve import ServeSettings, create_app
    >>> app = create_app(ServeSettings(artifact="artifacts/ml100k", api_key="s3cret"))  # doctest: +SKIP

    Under uvicorn with several workers, each worker builds its own app from
    ``FUSIONREC_*`` environment variables::

        uvicorn --factory fusionrec.serve.app:create_app_from_env --workers 2
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from fusionrec import __version__
from fusionrec.serve.http_errors import install_error_handlers
from fusionrec.serve.metrics import ServiceMetrics
from fusionrec.serve.middleware import (
    BodyLimitMiddleware,
    ErrorBoundaryMiddleware,
    MetricsMiddleware,
    RequestIdMiddleware,
    SecurityHeadersMiddleware,
    install_request_id_logging,
)
from fusionrec.serve.privacy import install_log_redaction
from fusionrec.serve.routes import admin, events, health, items, privacy, recommendations, users, web
from fusionrec.serve.service import RecommendationService
from fusionrec.serve.settings import ServeSettings
from fusionrec.serve.swap import ModelSwitcher

DESCRIPTION = """Recommendations from a fusionrec artifact: for a user, for an ad-hoc history, similar items,
explanations; recording events (which update the user's profile at once) and adding items (placed from content).
Write routes need the `X-API-Key` header. Every error answers `{"error": {"code": ..., "message": ...}}`."""


def create_app(settings: ServeSettings, service: RecommendationService | None = None) -> FastAPI:
    """Build the service's app.

    Args:
        settings: what to serve and how.
        service: an already-built service (tests); by default one is loaded from ``settings``.

    Returns:
        A FastAPI app; its ``state`` holds ``service``, ``settings`` and ``metrics``.
    """
    service = service or RecommendationService.from_settings(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if settings.model_check_s:
            switcher.start(settings.model_check_s)
        yield
        switcher.stop()
        _app.state.service.close()  # the one serving now (a swap may have replaced the first)
        metrics.close()

    install_request_id_logging()
    # no /docs or /redoc: FastAPI's pages load Swagger UI and ReDoc from a CDN (blank offline, and a foreign
    # script beside the API key); /openapi.json describes the API for any local viewer or client generator
    app = FastAPI(
        title="fusionrec",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    metrics = ServiceMetrics(
        lambda: len(app.state.service.catalog),
        lambda: (app.state.service.model_key, app.state.service.guard.breaker.state),
    )
    switcher = ModelSwitcher(app)
    app.state.service, app.state.settings, app.state.metrics = service, settings, metrics
    app.state.switcher = switcher
    service.profiles.queue.on_outcome = metrics.count_rebuild
    install_error_handlers(app)
    install_log_redaction(service.store.hasher if settings.log_ids == "hashed" else None)
    app.include_router(health.build_router(settings))
    for module in (recommendations, users, privacy, items, events, admin):
        app.include_router(module.build_router(settings))
    if settings.web_page:
        app.include_router(web.build_router())
        app.mount("/static", StaticFiles(directory=web.STATIC_DIR), name="static")
    app.add_middleware(ErrorBoundaryMiddleware)  # innermost, so the metrics count its 500s
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(RequestIdMiddleware)  # outermost: every answer, a 413 included, carries the id
    return app


def create_app_from_env() -> FastAPI:
    """An app from ``FUSIONREC_*`` environment variables (what ``fusionrec serve`` runs under uvicorn).

    The loaded model and catalog are long-lived objects; a full garbage
    collection walking them paused a worker for about 170 ms at 1,000,000
    items. This process serves one app for its lifetime, so they are moved
    out of the collector's sight (``gc.freeze``) once loaded.
    """
    app = create_app(ServeSettings())  # type: ignore[call-arg]  # artifact comes from FUSIONREC_ARTIFACT
    gc.collect()
    gc.freeze()
    return app
