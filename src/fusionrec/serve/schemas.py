"""Request and response bodies of the HTTP API (pydantic); the OpenAPI document is built from them."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from fusionrec.serve.ids import IdempotencyKey, RawId
from fusionrec.serve.vectors import MAX_FEATURE_MAGNITUDE

EventKind = Literal["view", "click", "like", "purchase", "dislike", "rating"]
MAX_PREFERENCE = 1000
"""Characters of a free-text preference."""

Strategy = Literal["model", "profile", "popularity", "history", "preference", "similar"]

MAX_HISTORY = 1000
MAX_FEATURE_VALUES = 8192
MAX_METADATA_FIELDS = 50
MAX_IMAGE_BYTES = 4 * 1024 * 1024
MAX_IMAGE_BASE64 = (MAX_IMAGE_BYTES + 2) // 3 * 4  # base64 length of MAX_IMAGE_BYTES bytes

MetadataMap = dict[
    Annotated[str, StringConstraints(max_length=100)], Annotated[str, StringConstraints(max_length=5000)]
]

_BOUNDED_NUMBER = {"type": "number", "minimum": -MAX_FEATURE_MAGNITUDE, "maximum": MAX_FEATURE_MAGNITUDE}


def _bounded(values: list[float]) -> list[float]:
    """Refuse a list with a value beyond ``MAX_FEATURE_MAGNITUDE`` (one error per list, not one per value)."""
    for position, value in enumerate(values):
        if abs(value) > MAX_FEATURE_MAGNITUDE:
            raise ValueError(
                f"value {value:g} at position {position} is outside the allowed range "
                f"[-{MAX_FEATURE_MAGNITUDE:g}, {MAX_FEATURE_MAGNITUDE:g}]; send the features the encoder gives "
                "(normalise or rescale them)"
            )
    return values


FeatureValues = Annotated[
    list[Annotated[float, Field(allow_inf_nan=False)]],
    Field(
        min_length=1,
        max_length=MAX_FEATURE_VALUES,
        json_schema_extra={"items": _BOUNDED_NUMBER},
    ),
    AfterValidator(_bounded),
]


class Strict(BaseModel):
    """Unknown fields are refused, so a typo is an error rather than silently ignored."""

    model_config = ConfigDict(extra="forbid")


class ErrorBody(BaseModel):
    code: str = Field(description="stable machine-readable code, e.g. not_found, invalid_request")
    message: str = Field(description="what was wrong, the value received and what is expected")
    details: list[dict[str, str]] | None = None


class ErrorResponse(BaseModel):
    """Every error answers with this body."""

    error: ErrorBody


class ItemOut(BaseModel):
    item_id: str
    title: str
    poster_url: str | None = Field(None, description="URL of the poster image, when the item has one")
    metadata: dict[str, str] = Field(default_factory=dict)


class ScoredItem(BaseModel):
    """An item in a ranked list (its metadata is at GET /v1/items/{item_id})."""

    item_id: str
    title: str
    poster_url: str | None = None
    rank: int = Field(description="1 for the best item")
    score: float


class RecommendationsOut(BaseModel):
    user_id: str | None = None
    strategy: Strategy = Field(
        description="model: trained user vector; profile: trained vector updated by recorded events; "
        "popularity: fallback for users with no history; history: ad-hoc history; preference: free-text "
        "preference; similar: item-to-item"
    )
    k: int
    items: list[ScoredItem]
    degraded: bool = Field(
        False,
        description="true when the event store did not answer: the answer comes from the model alone, without "
        "the user's recorded events or items other workers added since the last sync",
    )


class HistoryIn(Strict):
    """What a visitor without an account gives: an ad-hoc history of item ids, a free-text preference, or both."""

    history: list[RawId] = Field(
        default_factory=list, max_length=MAX_HISTORY, description="item ids, oldest first (e.g. a visitor's browsing)"
    )
    preference: str | None = Field(
        None,
        min_length=1,
        max_length=MAX_PREFERENCE,
        description='what the visitor wants, in words, e.g. "dark science fiction with a strong female lead"; '
        "needs a model whose content includes text",
    )
    k: int = Field(20, ge=1, description="number of items wanted (at most the server's max_k)")
    exclude: list[RawId] = Field(default_factory=list, max_length=MAX_HISTORY)

    @model_validator(mode="after")
    def _something_to_go_on(self) -> HistoryIn:
        if not self.history and not self.preference:
            raise ValueError("give a history of item ids, a preference in words, or both")
        return self


class ImageIn(Strict):
    """An image to encode: a file under the server's media root, or the file's bytes in base64 (one of the two)."""

    path: str | None = Field(
        None, min_length=1, max_length=1000, description="path relative to the media root, e.g. posters/42.jpg"
    )
    base64: str | None = Field(
        None,
        min_length=4,
        max_length=MAX_IMAGE_BASE64,
        description=f"the image file (JPEG, PNG, WebP...) base64-encoded, at most {MAX_IMAGE_BYTES:,} bytes; "
        "it is encoded, not stored",
    )

    @model_validator(mode="after")
    def _one_source(self) -> ImageIn:
        if (self.path is None) == (self.base64 is None):
            raise ValueError("give exactly one of path or base64")
        return self


class ContentIn(Strict):
    """Raw content the server encodes with the encoders the model's features were made with (GET /v1/model).

    A modality whose input cannot be used (a corrupt image, a missing required text field) is masked, as in
    training: the item is placed from the other modalities and the response lists it under ``masked``.
    """

    text: MetadataMap | None = Field(
        None,
        max_length=MAX_METADATA_FIELDS,
        description="the item's text fields, e.g. {title, genres, overview}; each text modality renders its "
        "template from them (GET /v1/model lists the fields)",
    )
    image: ImageIn | None = Field(None, description="the picture every image modality is encoded from")


class ItemIn(Strict):
    """Add an item or update it; fields left out keep their value.

    A new item is placed in the index from ``features`` (precomputed) or ``content`` (raw, encoded by the
    server), or both for different modalities.
    """

    title: str | None = Field(None, min_length=1, max_length=500)
    poster: str | None = Field(
        None, min_length=1, max_length=1000, description="path under the media root, or an http(s) URL"
    )
    metadata: MetadataMap | None = Field(None, max_length=MAX_METADATA_FIELDS)
    features: dict[str, FeatureValues] | None = Field(
        None, description="precomputed content features {modality: values}, the same kind the model was trained on"
    )
    content: ContentIn | None = Field(None, description="raw content for the server to encode (text fields, an image)")


class ItemWriteOut(BaseModel):
    item: ItemOut
    created: bool
    indexed: bool = Field(description="True when the item got a new vector in the retrieval index")
    placed_from: list[str] = Field(default_factory=list, description="modalities the new vector was made from")
    masked: dict[str, str] = Field(
        default_factory=dict, description="modalities of the sent content that could not be used: {modality: reason}"
    )


class EventIn(Strict):
    user_id: RawId
    item_id: RawId
    type: EventKind
    value: float | None = Field(None, ge=-1e6, le=1e6, description="the rating for type=rating (1-5)")
    idempotency_key: IdempotencyKey | None = Field(
        None, description="a retry with the same key returns the original event instead of recording it twice"
    )


class EventOut(BaseModel):
    id: int
    user_id: str
    item_id: str
    type: str
    value: float | None
    idempotency_key: str | None
    created_at: float = Field(description="seconds since the epoch")
    replayed: bool = Field(description="True when this key was recorded before and the original event is returned")


class HistoryEntry(BaseModel):
    item: ItemOut
    source: str = Field(description="train for training interactions, else the event type")


class UserHistoryOut(BaseModel):
    user_id: str
    known: bool = Field(description="True when the model was trained on this user")
    items: list[HistoryEntry]
    degraded: bool = Field(
        False, description="true when the event store did not answer: only training items are listed"
    )


class UserProfileOut(BaseModel):
    user_id: str
    source: Literal["training", "events", "none"] = Field(
        description="events: rebuilt since training from the user's events; training: the profile the model was "
        "trained with; none: the served model reads no written profile for this user"
    )
    text: str | None = Field(
        default=None,
        description="the profile text: the rebuilt one, or the training one where the artifact keeps it",
    )
    writer: str | None = Field(default=None, description="who wrote the text: the language model's id, or template")
    version: int = Field(
        default=0, description="1 for the user's first rebuilt profile under the served model, then +1"
    )
    built_at: float | None = Field(
        default=None, description="seconds since the epoch (the artifact's time for training)"
    )
    n_events: int = Field(default=0, description="the user's events the profile was built from")
    rebuild: Literal["idle", "pending", "failed", "unavailable"] = Field(
        description="pending: a rebuild waits or runs; failed: the last one failed and the profile shown is the "
        "previous one; unavailable: the service cannot rebuild this model's profiles"
    )
    error: str = Field(default="", description="why the last rebuild failed, or why rebuilding is unavailable")
    degraded: bool = Field(
        default=False, description="true when the event store did not answer: a rebuilt one may exist"
    )


class ContributionOut(BaseModel):
    name: str = Field(
        description="a modality, id for the behaviour-only part, or co-occurrence for the EASE channel's part "
        "(models trained with ease_weight > 0)"
    )
    score: float
    share: float = Field(description="score / sum of absolute contribution scores")


class BecauseOut(BaseModel):
    item: ItemOut
    similarity: float = Field(description="cosine similarity of the history item to the explained item")


class ExplanationOut(BaseModel):
    user_id: str
    item: ItemOut
    score: float
    strategy: str
    method: Literal["decomposition", "occlusion", "total", "popularity"] = Field(
        description="decomposition: the model's per-modality parts; occlusion: score lost when a modality is "
        "hidden (items added at serve time); total: the model has a single part; popularity: no user profile"
    )
    contributions: list[ContributionOut]
    because: list[BecauseOut]
    text: str | None = Field(None, description="with format=text: the explanation in a sentence or two")
    text_source: Literal["llm", "template"] | None = Field(
        None, description="llm: the language model's sentence passed the check; template: made from the facts"
    )
    text_rejected: str = Field("", description="why the language model's sentence was not used, if it was not")
    degraded: bool = Field(
        False,
        description="true when the event store did not answer: the answer comes from the model alone, without "
        "the user's recorded events or items other workers added since the last sync",
    )


class UsersOut(BaseModel):
    total: int
    offset: int
    users: list[str]


class EncoderOut(BaseModel):
    """How one modality's features were made; raw content for it is encoded the same way."""

    modality: str
    kind: str = Field(description="the content field it reads: text or image")
    encoder: str = Field(description="registry name, e.g. minilm or efficientnet-lite0")
    text_fields: list[str] = Field(default_factory=list, description="text only: the fields its template reads")
    required: list[str] = Field(default_factory=list, description="text only: fields without which text is masked")


class SwapIn(Strict):
    """The artifact to serve from now on (a folder the server can read)."""

    artifact: str = Field(min_length=1, max_length=4096, description="path of an artifact folder on the server")


class SwapOut(BaseModel):
    version: str = Field(description="the version now served (every worker on the store follows)")
    artifact: str


class ModelOut(BaseModel):
    version: str = Field(description="a key of the served artifact's files: it changes with every model swap")
    artifact: str = Field(description="the folder of the served artifact")
    component: str
    dataset: str | None
    created_at: str | None
    versions: dict[str, str | None]
    n_users: int
    n_items: int
    modalities: list[str]
    index: str | None = Field(description="exact, hnsw or ivf; None when the model has no embeddings")
    can_add_items: bool
    can_explain: bool
    encoders: list[EncoderOut] = Field(
        default_factory=list,
        description="modalities new items may send as raw content (empty: precomputed features only)",
    )


class HealthOut(BaseModel):
    status: Literal["ok"] = "ok"


class ReadyOut(BaseModel):
    status: Literal["ready", "unavailable"]
    checks: dict[str, str]


class ForgetOut(BaseModel):
    user_id: str
    user_key: str = Field(description="the id's hash label, as in the logs and the privacy audit")
    events_removed: int = Field(description="events deleted by this call (0 when the user was already forgotten)")
    forgotten_at: float = Field(description="when the user was first forgotten (seconds since the epoch)")
    already_forgotten: bool = Field(description="true when an earlier call had forgotten the user")


class ReactivateOut(BaseModel):
    user_id: str
    reactivated: bool = Field(
        description="true when this call lifted a tombstone (false: not forgotten, or already reactivated)"
    )
    forgotten_at: float | None = Field(description="when the user had been forgotten; null if never")
