"""Shared fixtures: the benchmark data folder (from FUSIONREC_DATA) and small synthetic splits."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def shared_data_dir() -> Path | None:
    """The folder FUSIONREC_DATA points at, or None when unset or missing."""
    value = os.environ.get("FUSIONREC_DATA")
    if not value:
        return None
    path = Path(value)
    return path if path.is_dir() else None


@pytest.fixture
def data_dir() -> Path:
    """The shared benchmark data; tests that need it are skipped with a reason when it is absent."""
    path = shared_data_dir()
    if path is None:
        pytest.skip("FUSIONREC_DATA is not set to the shared benchmark data folder (e.g. ../shared/data)")
    return path
