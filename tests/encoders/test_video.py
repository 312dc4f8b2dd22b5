"""Video frames (PyAV) through an image encoder, on a clip made by ffmpeg, broken files included."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fusionrec.encoders import EncoderSpec, build_encoder
from fusionrec.encoders.video import sample_frames
from fusionrec.errors import ConfigError

pytestmark = pytest.mark.media


def test_frames_are_spread_over_the_clip(video: dict[str, Path]) -> None:
    frames = sample_frames(video["clip"], n_frames=4, max_side=64)
    assert len(frames) == 4
    assert all(f.mode == "RGB" and max(f.size) <= 64 for f in frames)
    pixels = [np.asarray(f, dtype=np.float32) for f in frames]
    assert np.abs(pixels[0] - pixels[-1]).mean() > 1  # testsrc moves: first and last frames differ


@pytest.mark.parametrize(("kind", "reason"), [("empty", "empty file"), ("corrupt", "unreadable video")])
def test_unreadable_video_is_masked(video: dict[str, Path], kind: str, reason: str) -> None:
    encoder = build_encoder("frames", image="color-histogram", image_options={"bins": 4}, n_frames=3)
    result = encoder.encode([video["clip"], video[kind]])
    assert result.values.shape == (2, 64)
    assert result.mask.tolist() == [True, False]
    assert result.reasons[1] == reason


def test_truncated_video_is_masked_or_uses_the_frames_before_the_damage(video: dict[str, Path]) -> None:
    result = build_encoder("frames", image="color-histogram", n_frames=3).encode([video["truncated"]])
    if result.mask[0]:
        np.testing.assert_allclose(result.values[0].sum(), 1.0, rtol=1e-5)  # a real pooled histogram
    else:
        assert "video" in result.reasons[0]


def test_audio_only_file_has_no_video_track(audio: dict[str, Path]) -> None:
    result = build_encoder("frames", image="color-histogram").encode([audio["tone"]])
    assert result.reasons == ["no video track"]


def test_pooled_efficientnet_features(video: dict[str, Path]) -> None:
    pytest.importorskip("efficientnet_lite_pytorch")
    encoder = build_encoder("frames", n_frames=2)
    result = encoder.encode([video["clip"], video["mute"]])
    assert result.values.shape == (2, 1280)
    assert result.mask.all()
    assert not np.allclose(result.values[0], result.values[1])


def test_video_spec_with_audio_expands_into_a_track_modality() -> None:
    specs = EncoderSpec(modality="video", column="trailer", audio="mel").expand()
    assert [(s.modality, s.encoder_name, s.column) for s in specs] == [
        ("video", "frames", "trailer"),
        ("video_audio", "mel", "trailer"),
    ]


def test_video_needs_an_image_encoder(video: dict[str, Path]) -> None:
    with pytest.raises(ConfigError, match="image encoder"):
        build_encoder("frames", image="mel").encode([video["clip"]])
