"""Forgetting a user (write routes): delete their events and refuse new ones; reactivate them later."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path

from fusionrec.serve.routes.common import ERRORS, ServiceDep, require_api_key
from fusionrec.serve.schemas import ErrorResponse, ForgetOut, ReactivateOut
from fusionrec.serve.settings import ServeSettings
from fusionrec.serve.store import ID_LENGTH

UserId = Annotated[str, Path(min_length=1, max_length=ID_LENGTH)]
KEY_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "missing or wrong API key"},
    403: {"model": ErrorResponse, "description": "writes are disabled (no API key configured)"},
}


def build_router(settings: ServeSettings) -> APIRouter:
    router = APIRouter(prefix="/v1/users", tags=["users"], responses={**ERRORS, **KEY_ERRORS})

    @router.delete(
        "/{user_id}",
        response_model=ForgetOut,
        dependencies=[Depends(require_api_key)],
        responses={200: {"description": "forgotten; a repeated call answers 200 too, with events_removed 0"}},
    )
    def forget_user(service: ServiceDep, user_id: UserId) -> ForgetOut:
        """Forget a user: delete their events, stop using their training, refuse their new events.

        Idempotent: a second call answers 200 with ``already_forgotten: true`` and ``events_removed: 0``.
        Any id may be forgotten, known or not. Until ``POST /v1/users/{id}/reactivate``, events for the id
        answer 410, so a client still holding old events cannot bring the profile back. The user is left
        out of the events export for retraining, and of the served artifact's training (vector, history and
        the user list) while forgotten. The privacy audit keeps a keyed hash of the id, the time and the
        number of events removed, never the id. See docs/serving-privacy.md.
        """
        result = service.forget_user(user_id)
        return ForgetOut(
            user_id=user_id,
            user_key=service.store.hasher.label(user_id),
            events_removed=result.events_removed,
            forgotten_at=result.forgotten_at,
            already_forgotten=result.already_forgotten,
        )

    @router.post("/{user_id}/reactivate", response_model=ReactivateOut, dependencies=[Depends(require_api_key)])
    def reactivate_user(service: ServiceDep, user_id: UserId) -> ReactivateOut:
        """Accept events for a forgotten user again (the person is active again); 200 whether or not it was forgotten.

        What was deleted stays deleted, and events recorded before this call stay out of retraining.
        """
        tombstone = service.reactivate_user(user_id)
        forgotten_at = None if tombstone is None else tombstone.forgotten_at
        return ReactivateOut(
            user_id=user_id, reactivated=tombstone is not None and tombstone.active, forgotten_at=forgotten_at
        )

    return router
