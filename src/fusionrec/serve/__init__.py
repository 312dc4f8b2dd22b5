"""The recommendation service: artifacts served over HTTP with retrieval, events, explanations and a web page.

Modules: :mod:`~fusionrec.serve.settings` (ServeSettings), :mod:`~fusionrec.serve.app`
(create_app), :mod:`~fusionrec.serve.service` (the logic, without HTTP; it ranks every
request through :mod:`~fusionrec.serve.ranking`),
:mod:`~fusionrec.serve.index` (faiss retrieval), :mod:`~fusionrec.serve.store`
(the event store), :mod:`~fusionrec.serve.profiles` (online user profiles),
``routes/`` (one router per resource) and ``static/`` (the web page).

Names are imported lazily so that ``import fusionrec.serve`` does not load
FastAPI, faiss or SQLAlchemy.

Example:
    >>> from fusionrec.serve import ServeSettings, create_app  # doctest: +SKIP
    >>> app = create_app(ServeSettings(artifact="artifacts/ml100k"))  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

_EXPORTS = {
    "ServeSettings": "fusionrec.serve.settings",
    "create_app": "fusionrec.serve.app",
    "create_app_from_env": "fusionrec.serve.app",
    "RecommendationService": "fusionrec.serve.service",
    "EventStore": "fusionrec.serve.store",
    "ItemIndex": "fusionrec.serve.index",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    if importlib.util.find_spec(f"{__name__}.{name}") is not None:  # a submodule whose attribute a test removed
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'fusionrec.serve' has no attribute {name!r}")
