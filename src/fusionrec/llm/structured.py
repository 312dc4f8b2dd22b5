"""Structured output: parse a model's text as JSON and validate it against the request's schema.

Every way the text can be unusable gets its own message: empty output,
output cut at ``max_tokens`` before the JSON closed, malformed JSON (with the
position and a snippet), and each schema violation (with the JSON path).

Example:
    >>> schema = {"type": "object", "required": ["summary"], "properties": {"summary": {"type": "string"}}}
    >>> parse_structured('{"summary": "A heist film."}', schema).data
    {'summary': 'A heist film.'}
    >>> parse_structured('{"summary": 3}', schema).error
    "schema: $.summary: 3 is not of type 'string'"
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import jsonschema

SNIPPET_CHARS = 60
_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)


@dataclass(frozen=True)
class Parsed:
    """The JSON object parsed from a model's text, or why there is none."""

    data: dict[str, Any] | None
    error: str = ""


def parse_structured(text: str, schema: dict[str, Any], *, truncated: bool = False, max_tokens: int = 0) -> Parsed:
    """Parse ``text`` as one JSON object that satisfies ``schema``.

    Args:
        text: the model's output; a Markdown code fence around the JSON is removed, and control
            characters inside strings (a raw newline, which llama.cpp's JSON grammar lets through) are accepted.
        schema: a JSON schema (draft 2020-12).
        truncated: the backend stopped at its token limit (``finish_reason == "length"``).
        max_tokens: the limit, named in the message for truncated output.

    Returns:
        A :class:`Parsed` with ``data`` on success, else ``error`` saying what is wrong.
    """
    body = text.strip()
    fenced = _FENCE.match(body)
    body = fenced.group(1) if fenced else body
    if not body:
        return Parsed(None, "empty output")
    try:
        data = json.loads(body, strict=False)  # a raw newline inside a string leaves the structure unambiguous
    except json.JSONDecodeError as exc:
        if truncated:
            return Parsed(None, f"truncated output: stopped at max_tokens={max_tokens} before the JSON closed")
        snippet = body[max(0, exc.pos - SNIPPET_CHARS // 2) : exc.pos + SNIPPET_CHARS // 2]
        return Parsed(None, f"malformed JSON: {exc.msg} at char {exc.pos} (near {snippet!r})")
    problems = schema_errors(data, schema)
    if problems:
        return Parsed(None, "schema: " + "; ".join(problems))
    if not isinstance(data, dict):
        return Parsed(None, f"schema: the output is a JSON {type(data).__name__}, an object is expected")
    return Parsed(data)


def schema_errors(data: Any, schema: dict[str, Any], limit: int = 3) -> list[str]:
    """Up to ``limit`` violations of ``schema`` by ``data``, each as ``"$.path: message"``."""
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    return [f"{_path(error.absolute_path)}: {error.message}" for error in errors[:limit]]


def check_schema(schema: dict[str, Any]) -> None:
    """Raise ``jsonschema.SchemaError`` when ``schema`` is not a valid JSON schema."""
    jsonschema.Draft202012Validator.check_schema(schema)


def _path(parts: Any) -> str:
    path = "$"
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path
