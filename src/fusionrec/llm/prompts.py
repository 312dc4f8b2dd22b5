"""Versioned prompt templates shipped with the package (``fusionrec/llm/prompts/<name>.v<N>.txt``).

A template file has a ``[system]`` part and a ``[user]`` part; ``$field``
placeholders are filled by :meth:`PromptTemplate.render`. Editing a prompt
means adding ``<name>.v<N+1>.txt``: the name and version are part of every
cache key, so cached outputs of the old prompt are never served for the new
one. Data is inserted as JSON between tags (see :func:`quote_data`), so a
metadata value can neither close the tag nor pass for instructions.

Example:
    >>> template = load_prompt("item_profile")
    >>> template.id
    'item_profile.v1'
    >>> "<item_metadata>" in template.render(metadata=quote_data({"title": "Heat"}))[1]
    True
"""

from __future__ import annotations

import importlib.resources
import json
import re
import string
from dataclasses import dataclass
from typing import Any

from fusionrec.llm.base import LLMError

_FILE = re.compile(r"^(?P<name>[a-z][a-z0-9_]*)\.v(?P<version>\d+)\.txt$")
_PART = re.compile(r"^\[(system|user)\]\s*$", re.MULTILINE)


@dataclass(frozen=True)
class PromptTemplate:
    """One version of one prompt.

    Attributes:
        name: e.g. ``"item_profile"``.
        version: the ``N`` of ``.vN``.
        system: the system message template.
        user: the user message template.
    """

    name: str
    version: int
    system: str
    user: str

    @property
    def id(self) -> str:
        """``name.vN``, as used in cache keys and reports."""
        return f"{self.name}.v{self.version}"

    def render(self, **fields: str) -> tuple[str, str]:
        """The (system, user) messages with ``$field`` placeholders filled.

        Raises:
            LLMError: a placeholder has no value.
        """
        try:
            return string.Template(self.system).substitute(fields), string.Template(self.user).substitute(fields)
        except KeyError as exc:
            raise LLMError(f"prompt {self.id} needs the field {exc.args[0]!r}; given {sorted(fields)}") from exc


def available_prompts() -> dict[str, list[int]]:
    """``{name: [versions...]}`` of the templates shipped with the package."""
    found: dict[str, list[int]] = {}
    for entry in importlib.resources.files("fusionrec.llm").joinpath("prompts").iterdir():
        match = _FILE.match(entry.name)
        if match:
            found.setdefault(match["name"], []).append(int(match["version"]))
    return {name: sorted(versions) for name, versions in found.items()}


def load_prompt(name: str, version: int | None = None) -> PromptTemplate:
    """The shipped template ``name`` at ``version`` (the newest when None)."""
    shipped = available_prompts()
    if name not in shipped:
        raise LLMError(f"no prompt template {name!r}; shipped: {sorted(shipped)}")
    chosen = shipped[name][-1] if version is None else version
    if chosen not in shipped[name]:
        raise LLMError(f"prompt {name!r} has no version {chosen}; shipped versions: {shipped[name]}")
    text = importlib.resources.files("fusionrec.llm").joinpath("prompts", f"{name}.v{chosen}.txt").read_text("utf-8")
    return parse_prompt(name, chosen, text)


def parse_prompt(name: str, version: int, text: str) -> PromptTemplate:
    """A template from the text of a prompt file with ``[system]`` and ``[user]`` parts."""
    pieces = _PART.split(text)  # ["", "system", body, "user", body]
    parts = {pieces[i]: pieces[i + 1].strip() for i in range(1, len(pieces) - 1, 2)}
    if "user" not in parts or pieces[0].strip():
        raise LLMError(
            f"prompt {name}.v{version} must be a [system] part (optional) and a [user] part, each on its own line"
        )
    return PromptTemplate(name, version, parts.get("system", ""), parts["user"])


def quote_data(values: dict[str, Any] | list[Any], indent: int | None = 1) -> str:
    """``values`` as JSON in which no ``<`` or ``>`` survives, so no value can close a tag (indent None: one line)."""
    text = json.dumps(values, ensure_ascii=False, indent=indent)
    return text.replace("<", "\\u003c").replace(">", "\\u003e")
