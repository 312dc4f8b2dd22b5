"""``fusionrec serve ARTIFACT`` and ``fusionrec verify-artifact ARTIFACT``."""

from __future__ import annotations

import copy
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import lazy_loader
import typer

from fusionrec.cli.app import app
from fusionrec.errors import ArtifactError
from fusionrec.models.artifact import verify_artifact

if TYPE_CHECKING:
    import uvicorn

    from fusionrec.serve import metrics as serve_metrics
    from fusionrec.serve import settings as serve_settings
else:  # the server's libraries load when it starts, not for `fusionrec --help`
    uvicorn = lazy_loader.load("uvicorn")
    serve_settings = lazy_loader.load("fusionrec.serve.settings", suppress_warning=True)
    serve_metrics = lazy_loader.load("fusionrec.serve.metrics", suppress_warning=True)


@app.command()
def serve(
    ctx: typer.Context,
    artifact: Annotated[Path, typer.Argument(help="artifact folder written by fusionrec train / save_artifact")],
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    workers: Annotated[
        int, typer.Option(min=1, help="worker processes (each loads the model; /metrics sums them all)")
    ] = 1,
    store_url: Annotated[
        str, typer.Option(envvar="FUSIONREC_STORE_URL", help="SQLAlchemy URL of the event store")
    ] = "sqlite:///fusionrec-events.sqlite3",
    api_key: Annotated[
        str | None,
        typer.Option(
            envvar="FUSIONREC_API_KEY",
            help="key for write routes (X-API-Key); none: read-only. On the command line it shows in ps: "
            "prefer --api-key-file or the FUSIONREC_API_KEY environment variable",
        ),
    ] = None,
    api_key_file: Annotated[
        Path | None,
        typer.Option(envvar="FUSIONREC_API_KEY_FILE", help="file whose first line is the key for write routes"),
    ] = None,
    index: Annotated[str, typer.Option(help="auto, exact, hnsw or ivf")] = "auto",
    index_cache_dir: Annotated[
        Path | None, typer.Option(help="reuse built approximate indexes from this folder")
    ] = None,
    media_root: Annotated[Path | None, typer.Option(help="poster folder (default: the artifact's)")] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "info",
) -> None:
    """Serve ARTIFACT over HTTP: recommendations, events, explanations, metrics and a web page at /.

    Example: fusionrec serve artifacts/ml100k --port 8000 --api-key-file /run/secrets/fusionrec-key
    """
    source = ctx.get_parameter_source("api_key")  # typer's own click: its enum is compared by name
    if api_key is not None and source is not None and source.name == "COMMANDLINE":
        typer.echo(
            "warning: --api-key on the command line is visible to every user of this machine (ps, /proc); "
            "use --api-key-file or the FUSIONREC_API_KEY environment variable",
            err=True,
        )
    try:
        verify_artifact(artifact)  # fail here, with the reason, rather than in every worker
    except ArtifactError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from exc
    values = {
        "artifact": str(artifact.resolve()),
        "store_url": store_url,
        "index": index,
        "api_key": api_key,
        "api_key_file": str(api_key_file.resolve()) if api_key_file else None,
        "index_cache_dir": str(index_cache_dir) if index_cache_dir else None,
        "media_root": str(media_root) if media_root else None,
    }
    given = {k: v for k, v in values.items() if v is not None}
    serve_settings.ServeSettings.model_validate(given)  # fail before the workers start
    os.environ.update({f"FUSIONREC_{k.upper()}": v for k, v in values.items() if v is not None})
    with shared_metrics_dir(workers):
        uvicorn.run(
            "fusionrec.serve.app:create_app_from_env",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level=log_level,
            log_config=log_config(),
        )


def log_config() -> dict[str, Any]:
    """uvicorn's logging setup with each line's request id (``-`` outside requests) and fusionrec's own loggers."""
    config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    config["filters"] = {"request_id": {"()": "fusionrec.serve.middleware.RequestIdFilter"}}
    for handler in config["handlers"].values():
        handler["filters"] = ["request_id"]
    formatters = config["formatters"]
    formatters["default"]["fmt"] = "%(levelprefix)s [%(request_id)s] %(name)s: %(message)s"
    formatters["access"]["fmt"] = (
        '%(levelprefix)s [%(request_id)s] %(client_addr)s - "%(request_line)s" %(status_code)s'
    )
    config["loggers"]["fusionrec"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config


@contextmanager
def shared_metrics_dir(workers: int) -> Iterator[Path | None]:
    """With several workers, a fresh folder in ``PROMETHEUS_MULTIPROC_DIR`` for their metrics, removed afterwards.

    Each worker is its own process with its own counters; through this folder
    ``/metrics`` reports the sum over all of them. A folder the environment
    already names is used as it is (and left in place).
    """
    if workers < 2 or serve_metrics.multiprocess_dir() is not None:
        yield None
        return
    folder = Path(tempfile.mkdtemp(prefix="fusionrec-metrics-"))
    os.environ[serve_metrics.MULTIPROC_ENV] = str(folder)  # before the workers start: they inherit it
    try:
        yield folder
    finally:
        os.environ.pop(serve_metrics.MULTIPROC_ENV, None)
        shutil.rmtree(folder, ignore_errors=True)


@app.command("verify-artifact")
def verify_artifact_command(artifact: Annotated[Path, typer.Argument(help="artifact folder")]) -> None:
    """Check an artifact's format version and checksums, and print what it holds."""
    try:
        manifest = verify_artifact(artifact)
    except ArtifactError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from exc
    typer.echo(f"{artifact}: ok ({len(manifest['files'])} files verified)")
    for key in ("component", "dataset", "created_at", "data_fingerprint"):
        typer.echo(f"  {key}: {manifest.get(key)}")
    typer.echo(f"  versions: {manifest.get('versions')}")
