"""The start every benchmark script shares: common arguments, logging, the data folder, ``name=value`` settings."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any


def add_common_arguments(parser: argparse.ArgumentParser, threads: int | None = 1) -> None:
    """``--data-dir`` and ``--verbose``, and ``--threads`` (default ``threads``) unless ``threads`` is None."""
    parser.add_argument("--data-dir", help="benchmark data folder (default: $FUSIONREC_DATA)")
    if threads is not None:
        parser.add_argument(
            "--threads", type=int, default=threads, help="torch threads per run (1 is fastest on a busy 2-core box)"
        )
    parser.add_argument("--verbose", action="store_true", help="log every valid evaluation")


def start(args: argparse.Namespace) -> Path:
    """Set up logging and return the data folder: ``--data-dir``, else ``$FUSIONREC_DATA``.

    Exits with status 2, saying how to give it, when neither is set.
    """
    verbose = getattr(args, "verbose", False)
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(asctime)s %(message)s")
    data_dir = args.data_dir or os.environ.get("FUSIONREC_DATA")
    if not data_dir:
        print("pass --data-dir or set FUSIONREC_DATA to the benchmark data folder", file=sys.stderr)
        raise SystemExit(2)
    return Path(data_dir)


def settings(items: list[str]) -> dict[str, Any]:
    """``["a=1", "b=x"]`` -> ``{"a": 1, "b": "x"}``: command-line ``name=value`` settings (:func:`setting_value`)."""
    result = {}
    for item in items:
        name, _, text = item.partition("=")
        result[name] = setting_value(text)
    return result


def setting_value(text: str) -> Any:
    """``text`` parsed as JSON where it is JSON (numbers, booleans, lists), else the string itself."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text
