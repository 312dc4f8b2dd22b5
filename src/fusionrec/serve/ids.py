"""Ids as the API accepts them: 1 to 256 characters of text without control characters.

A control character (U+0000-U+001F or U+007F-U+009F) in a user id, item id
or idempotency key is refused with 422 before the value reaches a store:
PostgreSQL cannot hold NUL in text, and an id that prints invisibly is
never what a client meant.

Example:
    >>> check_id("user-42")
    'user-42'
    >>> check_id("a\\x00b")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: contains the control character U+0000 at position 1; ids are text without control characters ...
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Path
from pydantic import AfterValidator, Field, StringConstraints

from fusionrec.serve.store import ID_LENGTH, KEY_LENGTH

ID_RULE = "ids are text without control characters (U+0000-U+001F, U+007F-U+009F)"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def check_id(value: str) -> str:
    """``value`` unchanged, or ValueError naming the first control character and where it is."""
    found = _CONTROL.search(value)
    if found is not None:
        raise ValueError(
            f"contains the control character U+{ord(found.group()):04X} at position {found.start()}; {ID_RULE}"
        )
    return value


def addressable(value: str) -> str:
    """Ids appear in URL paths (``/v1/users/{user_id}/...``): one that a path cannot carry is refused at write."""
    if "/" in value or value in (".", ".."):
        raise ValueError(
            f"id {value!r} cannot be used: ids appear in URL paths, where '/' separates segments (even "
            "encoded as %2F) and '.' and '..' are path steps, so the id could be written but never read; "
            "use an id without '/' (e.g. replace it with ':' or '|')"
        )
    return value


PrintableText = AfterValidator(check_id)
RawId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=ID_LENGTH),
    Field(json_schema_extra={"pattern": "^[^/]+$"}),
    PrintableText,
    AfterValidator(addressable),
]
IdempotencyKey = Annotated[str, StringConstraints(min_length=1, max_length=KEY_LENGTH), PrintableText]
PathId = Annotated[
    str, Path(min_length=1, max_length=ID_LENGTH, description=ID_RULE), PrintableText, AfterValidator(addressable)
]

__all__ = ["ID_RULE", "IdempotencyKey", "PathId", "PrintableText", "RawId", "addressable", "check_id"]
