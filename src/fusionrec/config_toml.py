"""Experiment files written back as TOML: a resolved configuration that :func:`fusionrec.config.load_config` reads.

Only the keys that were set are written, so a model's own training defaults
still apply when the file is read back (``fusionrec tune`` writes its best
trial this way, and the contract suite checks every model's settings survive it).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fusionrec.errors import ConfigError

if TYPE_CHECKING:
    from fusionrec.config import ExperimentConfig


def dump_toml(config: ExperimentConfig, path: str | Path) -> Path:
    """Write ``config`` as an experiment file (TOML) that :func:`load_config` reads back to the same config.

    Example:
        >>> from fusionrec.config import load_config
        >>> path = dump_toml(load_config(None, {"model.name": "ease", "model.params.l2": "50"}), "/tmp/exp.toml")
        >>> load_config(path).model.params
        {'l2': 50.0}
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tables = config.model_dump(mode="json", exclude_none=True, exclude_unset=True)  # unset keys keep their defaults
    path.write_text(to_toml(tables), encoding="utf-8")
    return path


def to_toml(tables: Mapping[str, Any], prefix: str = "") -> str:
    """A nested dict as TOML: plain keys first, then one ``[table]`` per nested dict, ``[[array]]`` for lists of
    dicts; None values are left out (TOML has no null)."""
    lines, nested = [], []
    for key, value in tables.items():
        if value is None:
            continue
        if isinstance(value, Mapping) or (
            isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value)
        ):
            nested.append((key, value))
        else:
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    text = "\n".join(lines) + ("\n" if lines else "")
    for key, value in nested:
        name = f"{prefix}{_toml_key(key)}"
        if isinstance(value, Mapping):
            text += f"\n[{name}]\n" + to_toml(value, name + ".")
        else:
            for entry in value:
                text += f"\n[[{name}]]\n" + to_toml(entry, name + ".")
    return text


def _toml_key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() else json.dumps(key)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value) if not isinstance(value, float) or value == value else "nan"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items() if v is not None) + " }"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise ConfigError(f"{value!r} ({type(value).__name__}) cannot be written to TOML")


__all__ = ["dump_toml", "to_toml"]
