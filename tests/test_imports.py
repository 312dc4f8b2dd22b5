"""Importing fusionrec, its configuration and its command line loads no heavy library; lazy names resolve."""

from __future__ import annotations

import subprocess
import sys

import pytest

import fusionrec.evaluation
from fusionrec.encoders.registry import encoder_class
from fusionrec.errors import EncoderError

HEAVY = (
    "torch",
    "transformers",
    "sentence_transformers",
    "librosa",
    "av",
    "faiss",
    "sklearn",
    "matplotlib",
    "optuna",
    "llama_cpp",
    "ray",
)


@pytest.mark.parametrize("module", ["fusionrec", "fusionrec.config", "fusionrec.cli"])
def test_importing_loads_no_heavy_library(module: str) -> None:
    code = f"import sys, {module}; print(sorted(name for name in {HEAVY!r} if name in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    assert done.stdout.strip() == "[]", f"import {module} loaded {done.stdout.strip()}"


def test_every_lazy_evaluation_name_resolves() -> None:
    for name in fusionrec.evaluation.__all__:
        assert getattr(fusionrec.evaluation, name) is not None, name


def test_a_missing_encoder_package_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "fusionrec.encoders.audio", raising=False)
    monkeypatch.setitem(sys.modules, "librosa", None)  # what an environment without the extra looks like
    with pytest.raises(EncoderError, match=r"encoder 'mel' needs the package 'librosa'.*fusionrec\[encoders\]"):
        encoder_class("mel")


def test_model_backed_text_encoders_are_still_importable_from_text() -> None:
    from fusionrec.encoders import text, text_models

    assert text.SentenceTransformerEncoder is text_models.SentenceTransformerEncoder
    with pytest.raises(AttributeError, match="no attribute 'Missing'"):
        _ = text.Missing


def test_a_serve_submodule_resolves_after_its_package_attribute_is_gone(monkeypatch: pytest.MonkeyPatch) -> None:
    import fusionrec.serve
    import fusionrec.serve.metrics

    if "metrics" in vars(fusionrec.serve):  # an earlier test may have removed it already
        monkeypatch.delattr(fusionrec.serve, "metrics")
    assert "metrics" not in vars(fusionrec.serve)
    assert fusionrec.serve.metrics is sys.modules["fusionrec.serve.metrics"]
