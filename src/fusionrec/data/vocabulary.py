"""Raw id <-> integer index mapping.

Public calls take raw ids (strings or ints as they appear in the files);
models and metrics work on contiguous indices ``0..n-1``. A ``Vocabulary``
is the only place where the two meet.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from fusionrec.errors import UnknownIdError

_EXAMPLES_SHOWN = 5
_LOOKUP_BLOCK = 5_000
"""Ids indexed per call (a millisecond or two): a server builds a new model's vocabularies beside serving
threads (a swap), and one call over a million ids would hold the interpreter lock for half a second."""


@dataclass(frozen=True)
class Vocabulary:
    """An ordered set of raw ids; position ``i`` is index ``i``.

    Raw ids are stored as strings so that ``"7"`` read from a CSV and ``7``
    read from an ``.inter`` file are the same id.

    Example:
        >>> vocab = Vocabulary.from_ids(["u1", "u2"], kind="user")
        >>> vocab.index(["u2"]).tolist()
        [1]
    """

    ids: tuple[str, ...]
    kind: str = "item"
    _lookup: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        lookup: dict[str, int] = {}
        for first in range(0, len(self.ids), _LOOKUP_BLOCK):
            lookup.update(
                zip(self.ids[first : first + _LOOKUP_BLOCK], range(first, first + _LOOKUP_BLOCK), strict=False)
            )
        if len(lookup) != len(self.ids):
            raise ValueError(f"{self.kind} vocabulary has duplicate ids; each raw id must appear once")
        object.__setattr__(self, "_lookup", lookup)

    @classmethod
    def from_ids(cls, raw_ids: Iterable[object], kind: str = "item") -> Vocabulary:
        """Build a vocabulary from raw ids in first-seen order (duplicates collapse)."""
        seen: dict[str, None] = {}
        for raw in raw_ids:
            seen.setdefault(str(raw), None)
        return cls(tuple(seen), kind=kind)

    @classmethod
    def from_range(cls, n: int, kind: str = "item") -> Vocabulary:
        """A vocabulary whose raw ids are ``"0" .. str(n - 1)`` (MMRec numbering)."""
        return cls(tuple(str(i) for i in range(n)), kind=kind)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def lookup(self) -> Mapping[str, int]:
        """Raw id -> index (read-only; shared, so that a catalog built on the vocabulary need not copy it)."""
        return self._lookup

    def __contains__(self, raw_id: object) -> bool:
        return str(raw_id) in self._lookup

    def index(self, raw_ids: Sequence[object] | np.ndarray, *, source: str = "input") -> np.ndarray:
        """Indices (int64) of ``raw_ids``; raises ``UnknownIdError`` naming the unknown ones."""
        keys = [str(raw) for raw in raw_ids]
        indices = np.fromiter((self._lookup.get(k, -1) for k in keys), dtype=np.int64, count=len(keys))
        unknown = indices < 0
        if unknown.any():
            examples = list(dict.fromkeys(np.asarray(keys, dtype=object)[unknown]))[:_EXAMPLES_SHOWN]
            raise UnknownIdError(
                f"{source}: {int(unknown.sum()):,} {self.kind} id(s) are not in the {self.kind} vocabulary "
                f"of {len(self):,} ids (e.g. {examples}); add them to the catalog or drop those rows"
            )
        return indices

    def index_or_missing(self, raw_ids: Sequence[object]) -> np.ndarray:
        """Like :meth:`index` but unknown ids map to ``-1`` instead of raising."""
        return np.fromiter((self._lookup.get(str(r), -1) for r in raw_ids), dtype=np.int64, count=len(raw_ids))

    def id(self, indices: Iterable[int] | np.ndarray) -> list[str]:
        """Raw ids of ``indices``."""
        return [self.ids[int(i)] for i in indices]

    def extend(self, raw_ids: Iterable[object]) -> Vocabulary:
        """A new vocabulary with ``raw_ids`` not yet present appended at the end."""
        new = [str(r) for r in raw_ids if str(r) not in self._lookup]
        return Vocabulary(self.ids + tuple(dict.fromkeys(new)), kind=self.kind)
