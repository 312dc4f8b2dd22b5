"""A persistent cache of generations in one SQLite file.

A key is the sha256 of the model id, the prompt template (``name.vN``) and
the request's input hash (messages, limits, schema), so changing the model,
editing a template (which bumps its version) or changing an item's metadata
each make a new key. What the model answered is stored, usable or not: an
unusable answer (truncated, malformed, off-schema) comes back the same from
the same model and prompt, so it is served from the cache as the same
failure, marked ``cached``; :meth:`GenerationCache.forget_failures` drops
those to ask again. A request that got no answer (server down, timeout,
HTTP errors) is never stored. Writes are serialised by a lock, so one cache
can serve a thread pool; SQLite's own locking lets several processes share
the file.

Example:
    >>> cache = GenerationCache(":memory:")
    >>> cache.get("model", GenerationRequest(key="1", prompt="hi")) is None
    True
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from pathlib import Path

from fusionrec.encoders.cache import default_cache_dir
from fusionrec.llm.base import Generation, GenerationRequest

SCHEMA_VERSION = 2
_CREATE = """
CREATE TABLE IF NOT EXISTS generations_v2 (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    template TEXT NOT NULL,
    text TEXT NOT NULL,
    data TEXT,
    error TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL
)
"""


def default_cache_path() -> Path:
    """Where generations are cached unless told otherwise: ``$FUSIONREC_CACHE/llm/generations.sqlite``."""
    return default_cache_dir() / "llm" / "generations.sqlite"


def cache_key(model_id: str, request: GenerationRequest) -> str:
    """sha256 hex of model id, template name/version and the request's input hash."""
    parts = f"v{SCHEMA_VERSION}\0{model_id}\0{request.template}\0{request.input_hash()}"
    return hashlib.sha256(parts.encode("utf-8")).hexdigest()


class GenerationCache:
    """Answers by (model, template version, input) in a SQLite file.

    Args:
        path: the database file (its folder is created), or ``":memory:"``.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).expanduser().parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30.0)
        with self._lock, self._db:
            self._db.execute(_CREATE)

    def get(self, model_id: str, request: GenerationRequest) -> Generation | None:
        """The cached generation of ``request`` by ``model_id``, marked ``cached``; None when absent."""
        with self._lock:
            row = self._db.execute(
                "SELECT text, data, error, prompt_tokens FROM generations_v2 WHERE key = ?",
                (cache_key(model_id, request),),
            ).fetchone()
        if row is None:
            return None
        text, data, error, prompt_tokens = row
        parsed = json.loads(data) if data is not None else None
        return Generation(request.key, text, parsed, error, cached=True, prompt_tokens=prompt_tokens)

    def put(self, model_id: str, request: GenerationRequest, generation: Generation) -> None:
        """Store what the model answered to ``request`` (call it only for requests that got an answer)."""
        data = None if generation.data is None else json.dumps(generation.data, sort_keys=True)
        row = (
            cache_key(model_id, request),
            model_id,
            request.template,
            generation.text,
            data,
            generation.error,
            generation.prompt_tokens,
            generation.completion_tokens,
        )
        with self._lock, self._db:
            self._db.execute("INSERT OR REPLACE INTO generations_v2 VALUES (?, ?, ?, ?, ?, ?, ?, ?)", row)

    def forget_failures(self) -> int:
        """Drop the stored unusable answers, so they are asked again; returns how many were dropped."""
        with self._lock, self._db:
            return int(self._db.execute("DELETE FROM generations_v2 WHERE error != ''").rowcount)

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM generations_v2").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
