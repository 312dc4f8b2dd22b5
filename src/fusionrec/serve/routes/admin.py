"""Operations on the served model: swap it for another artifact without downtime (key required)."""

from fastapi import APIRouter, Depends, Request

from fusionrec.serve.routes.common import ERRORS, require_api_key
from fusionrec.serve.routes.privacy import KEY_ERRORS
from fusionrec.serve.schemas import SwapIn, SwapOut
from fusionrec.serve.settings import ServeSettings
from fusionrec.serve.swap import ModelSwitcher


def build_router(settings: ServeSettings) -> APIRouter:
    router = APIRouter(prefix="/v1/admin", tags=["operations"], responses={**ERRORS, **KEY_ERRORS})

    @router.post("/model", response_model=SwapOut, dependencies=[Depends(require_api_key)])
    def swap_model(request: Request, body: SwapIn) -> SwapOut:
        """Serve another artifact from now on: requests in flight finish on the old model, later ones get the
        new one, and every other worker on the same store follows within ``model_check_s``."""
        switcher: ModelSwitcher = request.app.state.switcher
        version = switcher.switch(body.artifact)
        return SwapOut(version=version, artifact=body.artifact)

    return router
