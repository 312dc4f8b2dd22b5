"""Recommendations for a known (or new) user and for an ad-hoc history."""

from typing import Annotated

from fastapi import APIRouter, Query, Response

from fusionrec.serve.errors import InvalidInputError
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

    @router.post("/recommendations", response_model=RecommendationsOut)
    def recommend_for_history(service: ServiceDep, metrics: MetricsDep, body: HistoryIn) -> Response:
        """Top-k items for an ad-hoc history of item ids (e.g. an anonymous session); history items are excluded."""
        if body.k > max_k:
            raise InvalidInputError(f"k is {body.k:,} but at most {max_k:,} items can be asked for")
        ranked = service.recommend_history(body.history, body.k, body.exclude)
        metrics.recommendations.labels(ranked.strategy).inc()
        return recommendations_out(service, ranked, body.k)

    return router
