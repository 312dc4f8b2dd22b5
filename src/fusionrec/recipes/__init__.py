"""Recipes: the tuned settings behind every published figure, shipped as experiment files (TOML).

A recipe is an experiment file (see :mod:`fusionrec.config`) with a
``description``: which data set, which model, its parameters, training
settings, seeds and cut-offs. ``fusionrec recipes`` lists them;
``fusionrec train --recipe NAME`` and ``fusionrec benchmark --recipe NAME``
run them, and ``--set`` changes any key of one (``--set
model.params.second_stage=false``). Every value in a recipe was chosen on
the valid part of its data set; the reasons are in ``docs/decisions/``.

A recipe is keyed to the files it was tuned on, not to a folder name: with no
model and no recipe named, ``train`` and ``benchmark`` use a data set's
flagship recipe only when the folder's files are the shared benchmark data's
(:func:`data_fingerprint` equals :data:`TUNED_ON`); a user's own folder that
happens to be called ``tiktok`` gets automatic settings, with a line saying so.

Example:
    >>> "tiktok" in recipe_names()
    True
    >>> recipe_for("tiktok", "lightgcn")
    'tiktok-lightgcn'
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from fusionrec.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

_SUFFIX = ".toml"

TUNED_ON: dict[str, str] = {
    "baby": "fc4bcf988e376b76d2033e5ec0e9ea0c29cdb592c5ee8fbac48cec1473b88ff8",
    "ml100k-mm": "4f349450d570aa5353539c7299cf0a61fec0d5809b8a071ea76bfff5e3152b66",
    "ml100k-mm-cold": "b150de9f59ae2a16c66804ee099cc20b6ad2490e858799080ac6345cf58b76de",
    "tiktok": "4140b2ddd38874e72e90637792677c2b3f4b8a735e2c4f6fcdceefeafe28f94c",
}
"""``{data set: data_fingerprint}`` of the shared benchmark data the recipes were tuned on."""


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


def data_fingerprint(folder: Path, stem: str) -> str:
    """SHA-256 over the files a data set is read from: ``<stem>.inter``, its split record, ``items.csv``,
    and the ``*_feat.npy`` / ``*_mask.npy`` arrays of ``folder`` (names and contents)."""
    folder = Path(folder)
    named = [folder / f"{stem}.inter", folder / f"{stem}.split.json", folder / "items.csv"]
    arrays = sorted(folder.glob("*_feat.npy")) + sorted(folder.glob("*_mask.npy"))
    digest = hashlib.sha256()
    for path in [*named, *arrays]:
        if path.is_file():
            digest.update(path.name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def recipe_for_data(folder: Path, stem: str, model: str) -> tuple[str | None, str]:
    """The recipe for ``model`` on the data set in ``folder`` (``<stem>.inter``) when it is the data the
    recipe was tuned on, and a sentence saying why (or why not).

    Example:
        >>> recipe_for_data(Path("/tmp/mine"), "mine", "fusiongraph")
        (None, "no recipe for 'fusiongraph' on a data set named 'mine'")
    """
    name = recipe_for(stem, model)
    if name is None:
        return None, f"no recipe for {model!r} on a data set named {stem!r}"
    if TUNED_ON.get(stem) != data_fingerprint(folder, stem):
        return None, (
            f"{folder} is named like the shared data set {stem!r} that recipe {name!r} was tuned on, but its files "
            f"differ, so the recipe is not used; `--recipe {name}` runs it anyway"
        )
    return name, f"recipe {name!r}, tuned on valid on these very files ({stem})"


def recipe_settings(dataset: str, model: str) -> dict[str, dict[str, Any]]:
    """``{"params": ..., "train": ...}`` of the recipe for ``model`` on ``dataset`` (empty tables without one).

    Example:
        >>> recipe_settings("baby", "ease")
        {'params': {'l2': 1000.0}, 'train': {}}
    """
    name = recipe_for(dataset, model)
    raw = read_recipe(name) if name is not None else {}
    return {"params": dict(raw.get("model", {}).get("params", {})), "train": dict(raw.get("train", {}))}


__all__ = [
    "TUNED_ON",
    "RecipeInfo",
    "data_fingerprint",
    "read_recipe",
    "recipe_for",
    "recipe_for_data",
    "recipe_info",
    "recipe_names",
    "recipe_settings",
]
