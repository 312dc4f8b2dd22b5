"""The typer application object that every command module registers on, and the logging it sets up."""

from __future__ import annotations

import logging
import sys
from typing import Annotated, TextIO

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


class CurrentStderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a record is emitted (a test runner may swap it)."""

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        """Ignored: the stream is always the current standard error."""


def configure_logging(level: int) -> None:
    """fusionrec's loggers at ``level`` to standard error, one plain timestamped line per record."""
    library = logging.getLogger("fusionrec")
    library.setLevel(level)
    if not any(isinstance(h, CurrentStderrHandler) for h in library.handlers):
        handler = CurrentStderrHandler()
        handler.setFormatter(logging.Formatter(LOG_FORMAT, datefmt="%H:%M:%S"))
        library.addHandler(handler)
