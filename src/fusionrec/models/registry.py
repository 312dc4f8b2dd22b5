"""A named set of plug-ins for one extension point (the flagship's loss, its item-graph builder).

Each extension point keeps a :class:`Registry` and publishes thin functions
over it (``register_loss``, ``get_loss``...), so every point refuses a taken
name, keeps its built-ins and names what is registered in the same words.
A built-in is given as ``"module:attribute"`` and imported on first use, so
naming it costs no import of torch or scipy.

Example:
    >>> constants = Registry[float]("constant", {"pi": "math:pi"}, adder="register_constant")
    >>> constants.register("tau", 6.283)
    >>> sorted(constants.names()), round(constants.get("pi"), 2)
    (['pi', 'tau'], 3.14)
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Generic, TypeVar

from fusionrec.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """Entries of one kind by name; the built-ins (given as ``"module:attribute"``) cannot be removed.

    Args:
        kind: what an entry is, in messages (``"loss"``, ``"item-graph builder"``).
        builtins: name -> ``"module:attribute"`` of each built-in entry.
        adder: the public function that registers one, named when a name is unknown.
    """

    def __init__(self, kind: str, builtins: Mapping[str, str], adder: str) -> None:
        self.kind, self.adder = kind, adder
        self._builtins = frozenset(builtins)
        self._entries: dict[str, T | str] = dict(builtins)

    def register(self, name: str, entry: T) -> None:
        """Make ``entry`` selectable as ``name``; a name already taken is refused."""
        if name in self._entries:
            article = "an" if self.kind[:1] in "aeiou" else "a"
            raise ConfigError(f"{article} {self.kind} named {name!r} is already registered; choose another name")
        self._entries[name] = entry

    def unregister(self, name: str) -> None:
        """Remove an entry added with :meth:`register` (built-ins stay)."""
        if name in self._builtins or name not in self._entries:
            raise ConfigError(
                f"{name!r} is not a removable registered {self.kind}; registered: {sorted(self._entries)}"
            )
        del self._entries[name]

    def names(self) -> frozenset[str]:
        """The registered names."""
        return frozenset(self._entries)

    def get(self, name: str) -> T:
        """The entry registered as ``name`` (a built-in is imported on first use)."""
        if name not in self._entries:
            raise ConfigError(
                f"unknown {self.kind} {name!r}; registered: {sorted(self._entries)}; {self.adder}() adds one"
            )
        entry = self._entries[name]
        if isinstance(entry, str):
            module_name, attribute = entry.split(":")
            entry = self._entries[name] = getattr(importlib.import_module(module_name), attribute)
        return entry  # type: ignore[return-value]  # a str entry was replaced by what it names


__all__ = ["Registry"]
