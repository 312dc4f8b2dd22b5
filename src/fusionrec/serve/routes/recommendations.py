"""Recommendations for a known (or new) user and for an ad-hoc history."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import Field, create_model

from fusionrec.serve.ids import PathId, RawId
from fusionrec.serve.routes.common import ERRORS, MetricsDep, ServiceDep, recommendations_out
from fusionrec.serve.schemas import HistoryIn, RecommendationsOut
from fusionrec.serve.settings import ServeSettings


def build_router(settings: ServeSettings) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["recommendations"], responses=ERRORS)
    max_k = settings.max_k

    @router.get("/users/{user_id}/recommendations", response_model=RecommendationsOut)
    def recommend_for_user(
        service: ServiceDep,
        metrics: MetricsDep,
        user_id: PathId,
        k: Annotated[int, Query(ge=1, le=max_k, description="number of items")] = 20,
        exclude: Annotated[list[RawId] | None, Query(max_length=1000, description="item ids never to return")] = None,
    ) -> Response:
        """Top-k items for a user: trained vector updated by recorded events; popularity for a user with none.

        Items the user has interacted with (in training or through events) are never returned.
        """
        ranked = service.recommend_user(user_id, k, exclude)
        metrics.recommendations.labels(ranked.strategy).inc()
        return recommendations_out(service, ranked, k, user_id)

    # the body's k is bounded by this server's max_k in the schema itself, as the query's k is
    history_body: Any = create_model(
        "HistoryIn",
        __base__=HistoryIn,
        __doc__=HistoryIn.__doc__,
        k=(int, Field(20, ge=1, le=max_k, description=f"number of items wanted (at most {max_k:,})")),
    )

    @router.post("/recommendations", response_model=RecommendationsOut)
    def recommend_for_history(service: ServiceDep, metrics: MetricsDep, body: history_body) -> Response:
        """Top-k items for a visitor: an ad-hoc history of item ids (excluded from the answer), a free-text
        preference placed in the model's space by the served text encoder, or both."""
        if body.preference:
            ranked = service.recommend_preference(body.preference, body.k, body.history, body.exclude)
        else:
            ranked = service.recommend_history(body.history, body.k, body.exclude)
        metrics.recommendations.labels(ranked.strategy).inc()
        return recommendations_out(service, ranked, body.k)

    return router
