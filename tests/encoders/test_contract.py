"""Every registered encoder follows the contract; optional CLIP/timm encoders load local checkpoints."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fusionrec.encoders import ENCODER_REGISTRY, EncodeResult, build_encoder, register_encoder
from fusionrec.encoders.base import Encoder, EncoderConfig
from fusionrec.encoders.registry import encoder_class
from fusionrec.errors import ConfigError, EncoderError


@pytest.mark.parametrize("name", sorted(ENCODER_REGISTRY))
def test_defaults_build_without_loading_anything(name: str) -> None:
    encoder = build_encoder(name)
    assert isinstance(encoder, Encoder)
    assert encoder.kind in ("text", "image", "audio", "video", "vector")
    assert not encoder._loaded  # constructors do no work
    rebuilt = build_encoder(name, encoder.config.model_dump())
    assert rebuilt.config == encoder.config  # the config round-trips


@pytest.mark.parametrize("name", sorted(ENCODER_REGISTRY))
def test_cache_identity_ignores_speed_settings_only(name: str) -> None:
    encoder = build_encoder(name)
    assert build_encoder(name, batch_size=3).cache_identity() == encoder.cache_identity()
    identity = encoder.cache_identity()
    assert identity["encoder"] == encoder.name and identity["version"] == encoder.version


@pytest.mark.parametrize("name", sorted(ENCODER_REGISTRY))
def test_unknown_options_are_errors_that_list_the_allowed_ones(name: str) -> None:
    with pytest.raises(ConfigError, match="allowed keys are"):
        build_encoder(name, no_such_option=1)


def test_empty_batches_give_empty_results() -> None:
    result = build_encoder("color-histogram").encode([])
    assert result.values.shape == (0, 512) and result.mask.shape == (0,)


class Constant(Encoder):
    """A plug-in encoder: one number per text, its length."""

    name = "constant-test"
    kind = "text"
    config_class = EncoderConfig

    @property
    def dim(self) -> int:
        return 1

    def _encode(self, batch: list[str]) -> EncodeResult:
        rows = [np.array([len(t)], np.float32) if t else None for t in batch]
        return EncodeResult.assemble(1, rows, ["empty text"] * len(batch))


def test_plug_in_encoders_register_by_name() -> None:
    register_encoder("constant-test", Constant)
    try:
        assert encoder_class("constant-test") is Constant
        result = build_encoder("constant-test").encode(["abc", ""])
        assert result.values[:, 0].tolist() == [3.0, 0.0] and result.reasons == ["", "empty text"]
    finally:
        del ENCODER_REGISTRY["constant-test"]


def _tiny_clip(folder: Path) -> Path:
    """A randomly initialised CLIP with its image processor, saved like a downloaded checkpoint."""
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

    small = {"hidden_size": 32, "intermediate_size": 37, "num_attention_heads": 4, "num_hidden_layers": 2}
    config = CLIPConfig(
        text_config={**small, "vocab_size": 99, "bos_token_id": 0, "eos_token_id": 1, "pad_token_id": 1},
        vision_config={**small, "image_size": 30, "patch_size": 6},
        projection_dim=16,
    )
    CLIPModel(config).save_pretrained(folder)
    CLIPImageProcessor(size={"shortest_edge": 30}, crop_size={"height": 30, "width": 30}).save_pretrained(folder)
    return folder


def test_clip_from_a_local_folder(images: dict[str, Path], tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    folder = _tiny_clip(tmp_path / "clip")
    encoder = build_encoder("clip", model=str(folder))
    result = encoder.encode([images["red"], images["corrupt"], images["cmyk"]])
    assert result.values.shape == (3, 16)
    assert result.mask.tolist() == [True, False, True]
    np.testing.assert_allclose(np.linalg.norm(result.values[[0, 2]], axis=1), 1.0, rtol=1e-5)


def test_clip_without_a_folder_says_what_to_give() -> None:
    with pytest.raises(EncoderError, match="needs model="):
        build_encoder("clip").encode(["x.jpg"])


def test_timm_from_local_weights(images: dict[str, Path], tmp_path: Path) -> None:
    timm = pytest.importorskip("timm", reason="timm is an optional extra, not installed here")
    from safetensors.torch import save_file

    model = timm.create_model("resnet18", pretrained=False, num_classes=0)
    save_file(model.state_dict(), str(tmp_path / "resnet18.safetensors"))
    encoder = build_encoder("timm", model="resnet18", weights=str(tmp_path / "resnet18.safetensors"))
    result = encoder.encode([images["red"], images["empty"]])
    assert result.values.shape == (2, 512)
    assert result.mask.tolist() == [True, False]


def test_public_api_is_pinned() -> None:
    import fusionrec.encoders as encoders

    assert encoders.__all__ == sorted(encoders.__all__)
    assert {"Encoder", "EncoderSpec", "EncodeReport", "FeatureCache", "encode_dataset", "read_encoded"} <= set(
        encoders.__all__
    )
    assert all(hasattr(encoders, name) for name in encoders.__all__)
