"""Privacy: keyed hashes of user ids, the records of forgotten users, and ids hashed in logs.

A user id never reaches a tombstone, the audit or (by default) a log line
as it is: each holds the id's HMAC-SHA256 under a key that the store
keeps (or ``FUSIONREC_ID_HASH_KEY`` sets). Logs show the short
:meth:`IdHasher.label`, so a line can be matched to an audit record
without holding the id. ``docs/serving-privacy.md`` states the rules.

Example:
    >>> redact_path("/v1/users/196/recommendations?k=5", IdHasher(b"k")).startswith("/v1/users/user#")
    True
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import traceback
from dataclasses import dataclass
from urllib.parse import unquote

_USER_PATH = re.compile(r"^(/v1/users/)([^/?]+)")
_DB_DETAIL = re.compile(r"^DETAIL:.*$", re.MULTILINE)
_HIDDEN_DETAIL = "DETAIL:  (hidden: it may quote user ids; FUSIONREC_LOG_IDS=plain shows it)"
ACCESS_LOGGER = "uvicorn.access"
REDACTED_LOGGERS = (ACCESS_LOGGER, "uvicorn.error", "fusionrec.serve.http_errors")
"""Loggers whose records may carry a user id: the access log, and the logs of unexpected errors."""


@dataclass(frozen=True)
class Tombstone:
    """A forgotten user, known only by the keyed hash of the id.

    Attributes:
        user_key: HMAC-SHA256 of the user id (hex).
        forgotten_at: when the user was (last) forgotten, seconds since the epoch.
        reactivated_at: when events were allowed again; None while the user stays forgotten.
    """

    user_key: str
    forgotten_at: float
    reactivated_at: float | None

    @property
    def active(self) -> bool:
        """True while events for the user are refused."""
        return self.reactivated_at is None


@dataclass(frozen=True)
class ForgetResult:
    """What :meth:`EventStore.forget_user` did: ``already_forgotten`` means a tombstone was in force before."""

    user_key: str
    events_removed: int
    forgotten_at: float
    already_forgotten: bool


@dataclass(frozen=True)
class AuditRecord:
    """One privacy action: ``forget``, ``reactivate`` or ``retention`` (no user key), with the rows removed."""

    id: int
    action: str
    user_key: str | None
    at: float
    events_removed: int
    source: str


class IdHasher:
    """Keyed hash (HMAC-SHA256) of user ids: the same id gives the same hash under the same key.

    Example:
        >>> hasher = IdHasher(b"k")
        >>> hasher.label("196") == hasher.label("196") != hasher.label("197")
        True
    """

    def __init__(self, key: bytes) -> None:
        self._key = key

    def key(self, user_id: str) -> str:
        """The full hash (64 hex digits): stored in tombstones and the audit."""
        return hmac.new(self._key, user_id.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()

    def label(self, user_id: str) -> str:
        """A short form for logs and responses: ``user#`` and the first 16 hex digits of :meth:`key`."""
        return f"user#{self.key(user_id)[:16]}"


def redact_path(path: str, hasher: IdHasher) -> str:
    """``path`` with the user id of a ``/v1/users/{id}...`` route replaced by its label."""
    return _USER_PATH.sub(lambda match: match.group(1) + hasher.label(unquote(match.group(2))), path)


class RedactUserIds(logging.Filter):
    """Hides user ids in a log record: user-route paths among its arguments (uvicorn's access log and the
    error handler pass the path so) become labels, and an exception's database details are dropped.

    PostgreSQL's ``DETAIL`` lines quote the row or key a statement failed on
    (``Failing row contains (17, alice@example.com, ...)``); SQLAlchemy's
    ``hide_parameters`` does not reach them, so they are cut here.
    """

    def __init__(self, hasher: IdHasher) -> None:
        super().__init__()
        self.hasher = hasher

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact_path(arg, self.hasher) if isinstance(arg, str) and arg.startswith("/v1/users/") else arg
                for arg in record.args
            )
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
            record.exc_text = _DB_DETAIL.sub(_HIDDEN_DETAIL, text)  # formatters print exc_text when it is set
        return True


def install_log_redaction(hasher: IdHasher | None) -> None:
    """Hash user ids in the access and error logs (``hasher``), or show them (None); replaces an earlier one.

    Loggers are process-wide, so the last app built in a process decides.
    """
    for name in REDACTED_LOGGERS:
        logger = logging.getLogger(name)
        for installed in [f for f in logger.filters if isinstance(f, RedactUserIds)]:
            logger.removeFilter(installed)
        if hasher is not None:
            logger.addFilter(RedactUserIds(hasher))


__all__ = [
    "AuditRecord",
    "ForgetResult",
    "IdHasher",
    "RedactUserIds",
    "Tombstone",
    "install_log_redaction",
    "redact_path",
]
