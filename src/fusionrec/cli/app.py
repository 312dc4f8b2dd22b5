"""The typer application object that every command module registers on."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="fusionrec",
    help="Multimodal recommendation: inspect data, encode content, train, evaluate, benchmark and serve.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)
