"""Recipes: the tuned settings behind every published figure, shipped as experiment files (TOML).

A recipe is an experiment file (see :mod:`fusionrec.config`) with a
``description``: which data set, which model, its parameters, training
settings, seeds and cut-offs. ``fusionrec recipes`` lists them;
``fusionrec train --recipe NAME`` and ``fusionrec benchmark --recipe NAME``
run them, and ``--set`` changes any key of one (``--set
model.params.second_stage=false``). Every value in a recipe was chosen on
the valid part of its data set; the reasons are in ``docs/decisions/``.

Example:
    >>> "tiktok" in recipe_names()
    True
    >>> recipe_for("tiktok", "lightgcn")
    'tiktok-lightgcn'
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from importlib import resources
from typing import Any

from fusionrec.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

_SUFFIX = ".toml"


@dataclass(frozen=True)
class RecipeInfo:
    """What ``fusionrec recipes`` shows of one recipe."""

    name: str
    dataset: str
    model: str
    description: str


def recipe_names() -> list[str]:
    """Names of the recipes shipped with fusionrec, sorted."""
    folder = resources.files(__name__)
    return sorted(entry.name[: -len(_SUFFIX)] for entry in folder.iterdir() if entry.name.endswith(_SUFFIX))


def read_recipe(name: str) -> dict[str, Any]:
    """The raw experiment tables of recipe ``name`` (validated by :func:`fusionrec.config.load_config`).

    Raises:
        ConfigError: no recipe has that name; the message lists the names there are.
    """
    names = recipe_names()
    if name not in names:
        raise ConfigError(f"no recipe named {name!r}; the recipes are {names} (see `fusionrec recipes`)")
    text = resources.files(__name__).joinpath(name + _SUFFIX).read_text(encoding="utf-8")
    return tomllib.loads(text)


def recipe_info(name: str) -> RecipeInfo:
    """Data set, model and description of recipe ``name``."""
    raw = read_recipe(name)
    return RecipeInfo(
        name=name,
        dataset=str(raw.get("data", {}).get("dataset", "")),
        model=str(raw.get("model", {}).get("name", "")),
        description=str(raw.get("description", "")),
    )


def recipe_for(dataset: str, model: str) -> str | None:
    """The recipe tuned for ``model`` on ``dataset``, or None when there is none."""
    for name in recipe_names():
        info = recipe_info(name)
        if info.dataset == dataset and info.model == model:
            return name
    return None


def recipe_settings(dataset: str, model: str) -> dict[str, dict[str, Any]]:
    """``{"params": ..., "train": ...}`` of the recipe for ``model`` on ``dataset`` (empty tables without one).

    Example:
        >>> recipe_settings("baby", "ease")
        {'params': {'l2': 1000.0}, 'train': {}}
    """
    name = recipe_for(dataset, model)
    raw = read_recipe(name) if name is not None else {}
    return {"params": dict(raw.get("model", {}).get("params", {})), "train": dict(raw.get("train", {}))}


__all__ = ["RecipeInfo", "read_recipe", "recipe_for", "recipe_info", "recipe_names", "recipe_settings"]
