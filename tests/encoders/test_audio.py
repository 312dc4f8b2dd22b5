"""Audio decoding and encoders on speech (espeak-ng), tones, noise and silence (sox), broken files included."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fusionrec.encoders import Unusable, build_encoder
from fusionrec.encoders.audio import decode_audio

pytestmark = pytest.mark.media

BROKEN = {
    "silence": "silent audio",
    "short": "shorter than",
    "truncated": "truncated audio",
    "empty": "empty file",
    "corrupt": "audio",
    "text": "audio",
}


def test_decode_resamples_and_mixes_down(audio: dict[str, Path]) -> None:
    mono_16k = decode_audio(audio["tone"], sample_rate=22050, max_seconds=30)
    stereo_44k = decode_audio(audio["tone2"], sample_rate=22050, max_seconds=30)
    assert mono_16k.dtype == np.float32 and mono_16k.ndim == 1
    assert abs(len(mono_16k) - 1.5 * 22050) < 100
    assert abs(len(stereo_44k) - len(mono_16k)) < 100
    spectrum = np.abs(np.fft.rfft(stereo_44k))
    assert abs(np.argmax(spectrum) * 22050 / len(stereo_44k) - 440) < 5  # still a 440 Hz tone


def test_duration_cap(audio: dict[str, Path]) -> None:
    assert len(decode_audio(audio["noise"], sample_rate=8000, max_seconds=0.5)) == 4000


def test_flac_and_video_tracks_decode(audio: dict[str, Path], video: dict[str, Path]) -> None:
    assert len(decode_audio(audio["flac"], 16000, 30)) == 24000
    track = decode_audio(video["clip"], 16000, 30)  # through PyAV: the AAC track of an mp4
    assert 1.8 * 16000 < len(track) <= 2.1 * 16000


def test_video_without_audio_track(video: dict[str, Path]) -> None:
    with pytest.raises(Unusable, match="no audio track"):
        decode_audio(video["mute"], 16000, 30)


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_broken_audio_is_masked_with_its_reason(audio: dict[str, Path], kind: str) -> None:
    result = build_encoder("mel").encode([audio["tone"], audio[kind]])
    assert result.mask.tolist() == [True, False]
    assert BROKEN[kind] in result.reasons[1]


def test_mel_statistics_separate_sounds(audio: dict[str, Path], speech: Path) -> None:
    encoder = build_encoder("mel", n_mels=32, n_mfcc=13)
    result = encoder.encode([audio["tone"], audio["tone2"], audio["noise"], speech])
    assert result.values.shape == (4, 2 * (32 + 13))
    assert result.mask.all()
    tone, tone2, noise, speech = result.values
    assert np.linalg.norm(tone - tone2) < np.linalg.norm(tone - noise)
    assert np.linalg.norm(tone - tone2) < np.linalg.norm(tone - speech)


def test_aisfx_embeddings(audio: dict[str, Path], speech: Path) -> None:
    pytest.importorskip("aisfx")
    encoder = build_encoder("aisfx")
    result = encoder.encode([audio["tone"], audio["noise"], speech, audio["silence"]])
    assert result.values.shape == (4, 512)
    assert result.mask.tolist() == [True, True, True, False]
    assert np.isfinite(result.values).all()
    assert not np.allclose(result.values[0], result.values[1])
