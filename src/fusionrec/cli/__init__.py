"""Command line: thin commands that call the library.

Each command group lives in its own module and registers on
:data:`fusionrec.cli.app.app`. Commands import the library at the top of their
module; the library defers torch and the other heavy libraries to the registries
of models and encoders (import paths loaded when one is built), so
``fusionrec --help`` is fast.
"""

from __future__ import annotations

import importlib

from fusionrec.cli.app import app

_COMMAND_MODULES = ("data", "experiment", "analysis", "demo", "encode", "serve", "privacy", "profile")

for _name in _COMMAND_MODULES:
    try:
        importlib.import_module(f"fusionrec.cli.{_name}")
    except ModuleNotFoundError as _exc:  # a command group not written yet
        if _exc.name != f"fusionrec.cli.{_name}":
            raise

__all__ = ["app"]
