"""The typer application object that every command module registers on, and the logging it sets up."""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer

app = typer.Typer(
    name="fusionrec",
    help="Multimodal recommendation: inspect data, encode content, train, evaluate, benchmark and serve.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)

LOG_FORMAT = "%(asctime)s %(levelname)s %(message)s"


@app.callback()
def main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log debug lines too.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Log warnings and errors only.")] = False,
) -> None:
    """Progress and findings of the library go to standard error as log lines (INFO by default)."""
    configure_logging(logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO)


def configure_logging(level: int) -> None:
    """fusionrec's loggers at ``level`` to standard error, one plain timestamped line per record."""
    library = logging.getLogger("fusionrec")
    library.setLevel(level)
    if not any(getattr(h, "_fusionrec_cli", False) for h in library.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(LOG_FORMAT, datefmt="%H:%M:%S"))
        handler._fusionrec_cli = True  # type: ignore[attr-defined]
        library.addHandler(handler)
