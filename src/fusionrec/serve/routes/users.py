"""Users: the list of trained users, a user's history and written profile, and explanations of a recommendation."""

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from fusionrec.serve.ids import PathId
from fusionrec.serve.routes.common import ERRORS, ServiceDep, item_out
from fusionrec.serve.schemas import (
    BecauseOut,
    ContributionOut,
    ExplanationOut,
    HistoryEntry,
    UserHistoryOut,
    UserProfileOut,
    UsersOut,
)
from fusionrec.serve.settings import ServeSettings

UserId = PathId


def build_router(settings: ServeSettings) -> APIRouter:
    router = APIRouter(prefix="/v1/users", tags=["users"], responses=ERRORS)

    @router.get("", response_model=UsersOut)
    async def list_users(
        service: ServiceDep,
        offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> UsersOut:
        """A page of the users the model was trained on."""
        total, users = service.user_ids(offset, limit)
        return UsersOut(total=total, offset=offset, users=users)

    @router.get("/{user_id}/history", response_model=UserHistoryOut)
    def user_history(
        service: ServiceDep,
        user_id: UserId,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> UserHistoryOut:
        """The user's recorded events (newest first) followed by their training items."""
        state = service.user_state(user_id)
        entries = [(e.item_id, e.kind) for e in reversed(state.events) if e.item_id in service.catalog]
        if state.index is not None:
            trained = service.trained_items(state.index)
            entries += [(service.catalog.item_id(i), "train") for i in trained]
        items = [
            HistoryEntry(item=item_out(service.item(item_id)), source=source) for item_id, source in entries[:limit]
        ]
        return UserHistoryOut(user_id=user_id, known=state.index is not None, items=items, degraded=state.degraded)

    @router.get("/{user_id}/profile", response_model=UserProfileOut)
    def user_profile(service: ServiceDep, user_id: UserId) -> UserProfileOut:
        """The user's written profile as served now: the training one, or the one rebuilt from their events.

        A model trained with user profiles reads them; after the user's events the service rebuilds the
        profile in the background (``rebuild`` is ``pending`` meanwhile) and serves the previous one until
        the new one is stored.
        """
        view = service.user_profile(user_id)
        record = view.record
        if record is None:
            built_at = service.trained_at if view.source == "training" else None
            return UserProfileOut(
                user_id=user_id,
                source=view.source,  # type: ignore[arg-type]
                text=view.text,
                built_at=built_at,
                rebuild=view.rebuild,  # type: ignore[arg-type]
                error=view.error,
                degraded=view.degraded,
            )
        return UserProfileOut(
            user_id=user_id,
            source="events",
            text=record.text,
            writer=record.generator,
            version=record.version,
            built_at=record.built_at,
            n_events=record.n_events,
            rebuild=view.rebuild,  # type: ignore[arg-type]
            error=view.error,
            degraded=view.degraded,
        )

    @router.get("/{user_id}/explanations/{item_id}", response_model=ExplanationOut)
    def explain(
        service: ServiceDep,
        user_id: UserId,
        item_id: PathId,
        because: Annotated[int, Query(ge=0, le=20, description="history items to return")] = 3,
        format: Annotated[
            Literal["json", "text"], Query(description="text adds a sentence or two (checked against the catalog)")
        ] = "json",
    ) -> ExplanationOut:
        """Why the item scores what it does for the user: each modality's part and the closest history items.

        With ``format=text`` the answer adds the explanation in words: a template sentence, or the configured
        language model's when it names only the item, its attributes and the history items given to it.
        """
        explanation = service.explain(user_id, item_id, because)
        total = sum(abs(score) for _, score in explanation.contributions) or 1.0
        worded = None
        if format == "text":
            history = [service.catalog.info(i) for i, _ in explanation.because]
            info = service.catalog.info(explanation.item)
            worded = service.words.sentence(info, explanation.score, explanation.contributions, history)
        return ExplanationOut(
            user_id=user_id,
            item=item_out(service.catalog.info(explanation.item)),
            score=explanation.score,
            strategy=explanation.strategy,
            method=explanation.method,  # type: ignore[arg-type]
            contributions=[ContributionOut(name=n, score=s, share=s / total) for n, s in explanation.contributions],
            because=[
                BecauseOut(item=item_out(service.catalog.info(i)), similarity=sim) for i, sim in explanation.because
            ],
            text=None if worded is None else worded.sentence,
            text_source=None if worded is None else worded.source,
            text_rejected="" if worded is None else worded.rejected,
            degraded=explanation.degraded,
        )

    return router
