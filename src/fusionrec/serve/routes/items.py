"""Items: read one, add or update one (write), similar items, and poster images."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import FileResponse

from fusionrec.serve.errors import NotFoundError
from fusionrec.serve.ids import PathId
from fusionrec.serve.routes.common import (
    ERRORS,
    STORE_UNAVAILABLE,
    ServiceDep,
    item_out,
    recommendations_out,
    require_api_key,
)
from fusionrec.serve.schemas import ErrorResponse, ItemIn, ItemOut, ItemWriteOut, RecommendationsOut
from fusionrec.serve.settings import ServeSettings

ItemId = PathId
WRITE_ERRORS = {
    401: {"model": ErrorResponse, "description": "missing or wrong API key"},
    403: {"model": ErrorResponse, "description": "writes are disabled (no API key configured)"},
    409: {"model": ErrorResponse, "description": "the model cannot place items from content (or encode raw content)"},
    503: {
        **STORE_UNAVAILABLE,
        "description": "the event store does not answer, so nothing was written; retry "
        "after Retry-After seconds (with the same idempotency key for an event)",
    },
}


def build_router(settings: ServeSettings) -> APIRouter:
    router = APIRouter(prefix="/v1/items", tags=["items"], responses=ERRORS)

    @router.get("/{item_id}", response_model=ItemOut)
    def get_item(service: ServiceDep, item_id: ItemId) -> ItemOut:
        """Title, poster and metadata of an item."""
        return item_out(service.item(item_id))

    @router.put(
        "/{item_id}",
        response_model=ItemWriteOut,
        dependencies=[Depends(require_api_key)],
        responses=WRITE_ERRORS,  # type: ignore[arg-type]
    )
    def put_item(service: ServiceDep, item_id: ItemId, body: ItemIn, response: Response) -> ItemWriteOut:
        """Add an item, or update its fields; with ``features`` or raw ``content`` it is (re)placed in the index.

        A new item needs features or content of at least one modality, and a model that can place
        items from content (ContentAware); no retraining happens. Raw content is encoded with the
        encoders the model's features were made with (GET /v1/model lists them); a modality whose
        content cannot be used is masked and named in ``masked``. Answers 201 when the item was created.
        """
        written = service.upsert_item(item_id, body.model_dump(exclude_none=True))
        response.status_code = 201 if written.created else 200
        return ItemWriteOut(
            item=item_out(written.info),
            created=written.created,
            indexed=bool(written.placed_from),
            placed_from=written.placed_from,
            masked=written.masked,
        )

    @router.get("/{item_id}/similar", response_model=RecommendationsOut)
    def similar_items(
        service: ServiceDep,
        item_id: ItemId,
        k: Annotated[int, Query(ge=1, le=settings.max_k)] = 20,
    ) -> Response:
        """Items that score highest for a profile made of this item alone."""
        return recommendations_out(service, service.similar(item_id, k), k)

    @router.get(
        "/{item_id}/poster",
        response_class=FileResponse,
        responses={200: {"content": {"image/*": {}}, "description": "the poster image"}},
    )
    def poster(service: ServiceDep, item_id: ItemId) -> FileResponse:
        """The item's poster file (only files inside the media root are served)."""
        info = service.item(item_id)
        path = service.catalog.poster_path(info.index, service.media_root)
        if path is None:
            raise NotFoundError(f"item {item_id!r} has no poster file under the media root {service.media_root}")
        return FileResponse(path, headers={"Cache-Control": "public, max-age=3600"})

    return router
