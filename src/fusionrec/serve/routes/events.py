"""Recording user events (write route, idempotent with a key)."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Response

from fusionrec.serve.errors import InvalidInputError
from fusionrec.serve.ids import PrintableText
from fusionrec.serve.routes.common import ERRORS, MetricsDep, ServiceDep, require_api_key
from fusionrec.serve.routes.items import WRITE_ERRORS
from fusionrec.serve.schemas import ErrorResponse, EventIn, EventOut
from fusionrec.serve.settings import ServeSettings
from fusionrec.serve.store import KEY_LENGTH, NewEvent

REPLAYED: dict[int | str, dict[str, Any]] = {
    200: {"model": EventOut, "description": "a retry: the idempotency key was used before; the original event"}
}
KeyText = Annotated[str, PrintableText]


def build_router(settings: ServeSettings) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["events"], responses=ERRORS)

    @router.post(
        "/events",
        response_model=EventOut,
        status_code=201,
        dependencies=[Depends(require_api_key)],
        responses={
            **REPLAYED,
            **WRITE_ERRORS,  # type: ignore[dict-item]
            410: {"model": ErrorResponse, "description": "the user was forgotten (reactivate the user first)"},
        },
    )
    def record_event(
        service: ServiceDep,
        metrics: MetricsDep,
        body: EventIn,
        response: Response,
        idempotency_key: Annotated[KeyText | None, Header(min_length=1, max_length=KEY_LENGTH)] = None,
    ) -> EventOut:
        """Store a user event; the user's next recommendations take it into account (no retraining).

        The item must be in the catalog; the user may be new. With an idempotency key (body field or
        ``Idempotency-Key`` header) a retry returns the original event with ``replayed: true`` and 200.
        """
        key = body.idempotency_key or idempotency_key
        if body.idempotency_key and idempotency_key and body.idempotency_key != idempotency_key:
            raise InvalidInputError("the Idempotency-Key header and the body's idempotency_key differ; send one")
        if body.type == "rating" and body.value is None:
            raise InvalidInputError("an event of type rating needs a value (e.g. 1-5)")
        event = NewEvent(body.user_id, body.item_id, body.type, body.value, key)
        stored, replayed = service.record_event(event)
        if replayed:
            response.status_code = 200
        else:
            metrics.events.labels(stored.kind).inc()
        return EventOut(
            id=stored.id,
            user_id=stored.user_id,
            item_id=stored.item_id,
            type=stored.kind,
            value=stored.value,
            idempotency_key=stored.idempotency_key,
            created_at=stored.created_at,
            replayed=replayed,
        )

    return router
