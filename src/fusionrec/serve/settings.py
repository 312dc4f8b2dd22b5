"""Settings of the recommendation service, read from arguments or ``FUSIONREC_*`` environment variables.

Example:
    >>> settings = ServeSettings(artifact="artifacts/ml100k", api_key="s3cret")
    >>> settings.store_url
    'sqlite:///fusionrec-events.sqlite3'
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from fusionrec.serve.index import IndexOptions
from fusionrec.serve.resilience import GuardOptions

IndexKind = Literal["auto", "exact", "hnsw", "ivf"]
LogIds = Literal["hashed", "plain"]


class ServeSettings(BaseSettings):
    """Everything :func:`fusionrec.serve.create_app` needs; environment variables use the prefix ``FUSIONREC_``."""

    model_config = SettingsConfigDict(env_prefix="FUSIONREC_", extra="forbid")

    artifact: Path = Field(description="artifact folder written by save_artifact / fusionrec train")
    store_url: str = Field(
        "sqlite:///fusionrec-events.sqlite3",
        description="SQLAlchemy URL of the event store (SQLite file, or postgresql+psycopg://user@host/db)",
    )
    table_prefix: str = Field("fusionrec_", pattern=r"^[a-z_][a-z0-9_]{0,30}$", description="prefix of store tables")
    api_key: SecretStr | None = Field(None, description="key for write routes (header X-API-Key); None disables writes")
    llm_url: str | None = Field(
        None, description="OpenAI-compatible server that words explanations (key from FUSIONREC_LLM_API_KEY)"
    )
    llm_model: str = Field("default", description="the model name sent to llm_url")
    llm_gguf: str | None = Field(None, description="a local GGUF model (path, or 'smollm2') that words explanations")
    llm_timeout_s: float = Field(10.0, gt=0, description="longest wait for one worded explanation")
    model_check_s: float = Field(
        5.0, ge=0, description="how often a worker checks the store for a model swap another worker made; 0: never"
    )
    api_key_file: Path | None = Field(
        None, description="file holding the key (first line), instead of api_key: keeps it out of argv and ps"
    )
    media_root: Path | None = Field(None, description="folder of poster files; defaults to the artifact's media_root")
    index: IndexKind = Field("auto", description="retrieval index: exact, hnsw, ivf, or auto (by catalog size)")
    exact_max_items: int = Field(20_000, ge=1, description="auto uses an exact index up to this many items")
    hnsw_m: int = Field(16, ge=4, le=128)
    hnsw_ef_construction: int = Field(100, ge=8, description="HNSW build width (see docs/capacity.md)")
    hnsw_ef_search: int | None = Field(
        None, ge=8, description="HNSW search width; None: by catalog size (128 up to 250,000 items, 512 at 1,000,000)"
    )
    ivf_nprobe: int = Field(16, ge=1)
    index_cache_dir: Path | None = Field(None, description="folder where built approximate indexes are reused")
    max_k: int = Field(1000, ge=1, le=100_000, description="largest k a request may ask for")
    max_body_bytes: int = Field(1_000_000, ge=1024, description="larger request bodies answer 413")
    profile_half_weight: float = Field(
        5.0, gt=0, description="number of new events at which they weigh as much as the trained user vector"
    )
    max_user_events: int = Field(500, ge=1, description="most recent events per user used for the profile")
    sync_interval_s: float = Field(1.0, ge=0, description="how often items added by other workers are picked up")
    search_threads: int = Field(1, ge=1, description="faiss threads per query")
    max_concurrent_images: int = Field(
        2, ge=1, description="uploaded images decoded at once (each held to a memory budget); others wait"
    )
    web_page: bool = Field(True, description="serve the demo web page at /")
    log_ids: LogIds = Field(
        "hashed", description="user ids in logs and SQL errors: hashed (a keyed hash, user#...) or plain"
    )
    id_hash_key: SecretStr | None = Field(
        None,
        min_length=16,
        description="key of the hash of user ids (tombstones, audit, logs); None: a random key kept in the store. "
        "Every worker and the forget command must use the same key",
    )
    event_retention_days: float | None = Field(
        None, gt=0, description="events older than this many days are deleted (at start-up and periodically)"
    )
    retention_check_s: float = Field(3600.0, gt=0, description="how often old events are looked for")
    profile_rebuild: bool = Field(
        True,
        description="rebuild a user's written profile from their events when the served model reads user "
        "content (a flagship trained with [user_profiles]); the text is written by the llm_url / llm_gguf model "
        "when one is set, else by a template",
    )
    profile_rebuild_delay_s: float = Field(
        2.0, ge=0, description="how long a user's rebuild waits after their first new event (later ones join it)"
    )
    profile_rebuild_max_pending: int = Field(
        10_000, ge=1, description="most users waiting for a rebuild; more are dropped (asked for at their next request)"
    )

    @model_validator(mode="after")
    def _key_from_file(self) -> ServeSettings:
        if self.api_key_file is None:
            return self
        if self.api_key is not None:
            raise ValueError("give api_key or api_key_file, not both")
        try:
            key = self.api_key_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ValueError(f"api_key_file {str(self.api_key_file)!r} cannot be read ({exc.strerror})") from None
        if not key:
            raise ValueError(f"api_key_file {str(self.api_key_file)!r} is empty; write the key on its first line")
        self.api_key = SecretStr(key)
        return self

    store_timeout_s: float = Field(
        0.5, gt=0, description="longest wait for a store read; then reads are answered from the model alone"
    )
    store_write_timeout_s: float = Field(
        2.0, gt=0, description="longest wait for a store write or a locked SQLite file; then writes answer 503"
    )
    ready_timeout_s: float = Field(1.0, gt=0, description="longest wait for the store check of /ready")
    breaker_failures: int = Field(
        5, ge=1, description="consecutive store failures or timeouts after which the store is left alone"
    )
    breaker_cool_down_s: float = Field(
        5.0, gt=0, description="how long the store is left alone after breaker_failures; then one trial call"
    )
    store_threads: int = Field(16, ge=1, le=256, description="store calls that may run at once")

    def guard_options(self) -> GuardOptions:
        """Timeouts and circuit breaker of store calls."""
        return GuardOptions(
            timeout_s=self.store_timeout_s,
            write_timeout_s=self.store_write_timeout_s,
            failure_threshold=self.breaker_failures,
            cool_down_s=self.breaker_cool_down_s,
            threads=self.store_threads,
        )

    def index_options(self) -> IndexOptions:
        """The retrieval index settings."""
        return IndexOptions(
            kind=self.index,
            exact_max_items=self.exact_max_items,
            hnsw_m=self.hnsw_m,
            hnsw_ef_construction=self.hnsw_ef_construction,
            hnsw_ef_search=self.hnsw_ef_search,
            ivf_nprobe=self.ivf_nprobe,
            cache_dir=self.index_cache_dir,
            search_threads=self.search_threads,
        )
