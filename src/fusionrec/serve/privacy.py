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
from dataclasses import dataclass
from urllib.parse import unquote

_USER_PATH = re.compile(r"^(/v1/users/)([^/?]+)")
ACCESS_LOGGER = "uvicorn.access"


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
    """Rewrites user-route paths among a log record's arguments (uvicorn's access log passes the path so)."""

    def __init__(self, hasher: IdHasher) -> None:
        super().__init__()
        self.hasher = hasher

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact_path(arg, self.hasher) if isinstance(arg, str) and arg.startswith("/v1/users/") else arg
                for arg in record.args
            )
        return True


def install_access_log_redaction(hasher: IdHasher | None) -> None:
    """Hash user ids in the access log (``hasher``), or show them (None); replaces an earlier installation.

    The access logger is process-wide, so the last app built in a process decides.
    """
    access = logging.getLogger(ACCESS_LOGGER)
    for installed in [f for f in access.filters if isinstance(f, RedactUserIds)]:
        access.removeFilter(installed)
    if hasher is not None:
        access.addFilter(RedactUserIds(hasher))


__all__ = [
    "AuditRecord",
    "ForgetResult",
    "IdHasher",
    "RedactUserIds",
    "Tombstone",
    "install_access_log_redaction",
    "redact_path",
]
