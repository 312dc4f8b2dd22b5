"""Dependencies shared by the routers: the service, the API key check, and rendering of items."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import Depends, Request, Response, Security
from fastapi.security import APIKeyHeader

from fusionrec.serve.catalog import ItemInfo, poster_url
from fusionrec.serve.errors import UnauthorizedError, WritesDisabledError
from fusionrec.serve.metrics import ServiceMetrics
from fusionrec.serve.schemas import ErrorResponse, ItemOut, RecommendationsOut, ScoredItem
from fusionrec.serve.service import Ranked, RecommendationService
from fusionrec.serve.settings import ServeSettings

RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before retrying", "schema": {"type": "integer"}}}
STORE_UNAVAILABLE = {
    "model": ErrorResponse,
    "description": "the event store does not answer (timeout, outage, locked); retry after Retry-After seconds",
    "headers": RETRY_AFTER,
}
ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": description}
    for status, description in ((400, "malformed request"), (404, "unknown id"), (422, "invalid value"))
}
ERRORS[503] = {
    **STORE_UNAVAILABLE,
    "description": "an id is not in this worker's catalog and the event store, which holds items added by other "
    "workers, does not answer; retry after Retry-After seconds",
}
_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="required by write routes")


async def get_service(request: Request) -> RecommendationService:
    service: RecommendationService = request.app.state.service
    return service


async def get_settings(request: Request) -> ServeSettings:
    settings: ServeSettings = request.app.state.settings
    return settings


async def get_metrics(request: Request) -> ServiceMetrics:
    metrics: ServiceMetrics = request.app.state.metrics
    return metrics


ServiceDep = Annotated[RecommendationService, Depends(get_service)]
SettingsDep = Annotated[ServeSettings, Depends(get_settings)]
MetricsDep = Annotated[ServiceMetrics, Depends(get_metrics)]


async def require_api_key(settings: SettingsDep, key: Annotated[str | None, Security(_api_key_header)] = None) -> None:
    """Write routes need the configured key in the ``X-API-Key`` header."""
    if settings.api_key is None:
        raise WritesDisabledError("write routes are disabled: the server has no API key (set FUSIONREC_API_KEY)")
    expected = settings.api_key.get_secret_value()
    if key is None:
        raise UnauthorizedError("this route writes data and needs the X-API-Key header; none was sent")
    if not secrets.compare_digest(key.encode(), expected.encode()):
        raise UnauthorizedError("the X-API-Key header does not match the server's API key")


def item_out(info: ItemInfo) -> ItemOut:
    return ItemOut(item_id=info.item_id, title=info.title, poster_url=poster_url(info), metadata=info.metadata)


def recommendations_out(service: RecommendationService, ranked: Ranked, k: int, user_id: str | None = None) -> Response:
    """The JSON response of a ranked list (rank 1 first), serialised once.

    Returned as a ready ``Response``: FastAPI would otherwise validate the
    model a second time against ``response_model`` (which still documents it).
    """
    items = []
    for rank, (item, score) in enumerate(zip(ranked.items.tolist(), ranked.scores.tolist(), strict=True), start=1):
        item_id, title, poster = service.catalog.summary(item)
        items.append(
            ScoredItem.model_construct(item_id=item_id, title=title, poster_url=poster, rank=rank, score=score)
        )
    body = RecommendationsOut.model_construct(
        user_id=user_id, strategy=ranked.strategy, k=k, items=items, degraded=ranked.degraded
    )
    return Response(body.model_dump_json(), media_type="application/json")
