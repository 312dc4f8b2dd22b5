"""Liveness, readiness, Prometheus metrics and a description of the served model."""

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST

from fusionrec.encoders.config import EncoderSpec
from fusionrec.serve.errors import StoreUnavailableError
from fusionrec.serve.routes.common import MetricsDep, ServiceDep
from fusionrec.serve.schemas import EncoderOut, HealthOut, ModelOut, ReadyOut
from fusionrec.serve.service import RecommendationService
from fusionrec.serve.settings import ServeSettings


def build_router(settings: ServeSettings) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/health", response_model=HealthOut)
    async def health() -> HealthOut:
        """The process is up (liveness); answered on the event loop without touching the store."""
        return HealthOut()

    @router.get("/ready", response_model=ReadyOut, responses={503: {"model": ReadyOut}})
    def ready(service: ServiceDep, response: Response) -> ReadyOut:
        """The model answers a scoring call and the event store answers within ``ready_timeout_s`` (readiness);
        503 otherwise.

        ``checks.store`` says why the store is unavailable; ``checks.store_breaker`` is the circuit breaker's
        state (closed, open: the store is left alone for a cool-down, half-open: one trial call goes through);
        ``checks.revisions`` lists stored item revisions that were not applied.
        """
        checks = {"model": service.check_model(), "index": service.index.kind if service.index is not None else "none"}
        checks["revisions"] = skipped_revisions(service)
        if checks["model"] != "ok":
            response.status_code = 503
        try:
            service.guard.call(settings.ready_timeout_s, service.store.ping)
            checks["store"] = "ok"
        except StoreUnavailableError as exc:
            checks["store"] = f"unavailable: {exc.message}"
            response.status_code = 503
        checks["store_breaker"] = service.guard.breaker.state
        return ReadyOut(status="ready" if response.status_code != 503 else "unavailable", checks=checks)

    @router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
    async def metrics(metrics: MetricsDep) -> Response:
        """Prometheus metrics: of every worker when the server runs several (multiprocess mode), else of this one."""
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    @router.get("/v1/model", response_model=ModelOut, tags=["model"])
    async def model_info(service: ServiceDep) -> ModelOut:
        """What is served: component, data, versions, modalities and capabilities."""
        manifest = service.manifest
        return ModelOut(
            version=service.model_key,
            artifact=service.artifact_path,
            component=str(manifest.get("component")),
            dataset=manifest.get("dataset"),
            created_at=manifest.get("created_at"),
            versions=manifest.get("versions") or {},
            n_users=len(service.users),
            n_items=len(service.catalog),
            modalities=service.dataset.modalities,
            index=service.index.kind if service.index is not None else None,
            can_add_items=service.content_aware,
            can_explain=service.index is not None,
            encoders=[encoder_out(service, spec) for spec in service.content.specs] if service.content_aware else [],
        )

    return router


def skipped_revisions(service: RecommendationService) -> str:
    """``ok``, or how many stored item revisions were not applied (bad features), with the first reasons."""
    skipped = service.skipped_revisions
    if not skipped:
        return "ok"
    first = "; ".join(f"seq {seq}, {reason}" for seq, reason in sorted(skipped.items())[:3])
    return f"{len(skipped)} stored item revision(s) skipped (see the log): {first}"


def encoder_out(service: RecommendationService, spec: EncoderSpec) -> EncoderOut:
    text = spec.kind == "text"
    return EncoderOut(
        modality=spec.modality,
        kind=spec.kind,
        encoder=spec.encoder_name,
        text_fields=service.content.text_fields(spec) if text else [],
        required=list(spec.required) if text else [],
    )
