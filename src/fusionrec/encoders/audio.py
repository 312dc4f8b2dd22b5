"""Audio decoding, the audio-encoder base and log-mel / MFCC statistics (the default audio encoder).

:func:`decode_audio` reads any file libsndfile knows (WAV, FLAC, OGG, MP3)
and falls back to PyAV for the rest (M4A, and the audio track of videos). It
mixes down to mono, resamples and stops at ``max_seconds``. Silent, too short,
truncated and corrupt audio, and videos without an audio track, are
:class:`~fusionrec.encoders.media.Unusable`. Imported through the encoder
registry (``mel``) and by the pretrained aiSFX encoder
(:mod:`fusionrec.encoders.sound_effects`); needs the ``encoders`` extra.
"""

from __future__ import annotations

import logging
import struct
from pathlib import Path
from typing import Any

import av
import librosa
import numpy as np
import soundfile as sf
import soxr

from fusionrec.encoders.base import EncoderConfig
from fusionrec.encoders.media import FileEncoder, Unusable

logger = logging.getLogger(__name__)


class AudioConfig(EncoderConfig):
    """Decoding settings shared by the audio encoders."""

    sample_rate: int = 22050
    max_seconds: float = 30.0
    min_seconds: float = 0.1
    #: Audio whose peak stays below this many dB full-scale is masked as silent.
    silence_db: float = -60.0


def decode_audio(path: Path, sample_rate: int, max_seconds: float) -> np.ndarray:
    """float32 (n_samples,) mono waveform at ``sample_rate``, at most ``max_seconds`` long.

    Raises:
        Unusable: corrupt or truncated audio, or a container without an audio track.
    """
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError):
        return _decode_with_av(path, sample_rate, max_seconds)
    wanted = min(_declared_frames(path, info.frames), int(max_seconds * info.samplerate))
    try:
        samples, rate = sf.read(str(path), frames=wanted, dtype="float32", always_2d=True)  # (n, channels)
    except (sf.LibsndfileError, RuntimeError):
        raise Unusable("corrupt audio") from None
    if len(samples) < wanted:
        logger.debug("%s: %d of %d samples", path, len(samples), wanted)
        raise Unusable("truncated audio")
    return resample(samples.mean(axis=1), int(rate), sample_rate)


def _declared_frames(path: Path, reported: int) -> int:
    """Frames a WAV header promises; libsndfile quietly shortens ``reported`` to what is there."""
    with path.open("rb") as handle:
        head = handle.read(4096)
    if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return reported
    at, block_align, data_size = 12, 0, None
    while at + 8 <= len(head):
        chunk, size = head[at : at + 4], struct.unpack("<I", head[at + 4 : at + 8])[0]
        if chunk == b"fmt ":
            block_align = struct.unpack("<H", head[at + 20 : at + 22])[0]
        if chunk == b"data":
            data_size = size
            break
        at += 8 + size + (size & 1)
    if not block_align or data_size is None or data_size == 0xFFFFFFFF:  # streamed WAVs leave the size unset
        return reported
    return max(reported, data_size // block_align)


def _decode_with_av(path: Path, sample_rate: int, max_seconds: float) -> np.ndarray:
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, UnicodeDecodeError):
        raise Unusable("corrupt or unknown audio format") from None
    with container:
        if not container.streams.audio:
            raise Unusable("no audio track")
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        chunks: list[np.ndarray] = []
        limit = int(max_seconds * sample_rate)
        try:
            for frame in container.decode(container.streams.audio[0]):
                chunks.extend(out.to_ndarray().reshape(-1) for out in resampler.resample(frame))
                if sum(len(c) for c in chunks) >= limit:
                    break
        except av.error.FFmpegError:
            raise Unusable("truncated or corrupt audio") from None
    if not chunks:
        raise Unusable("no audio samples")
    return np.concatenate(chunks)[:limit].astype(np.float32, copy=False)


def resample(waveform: np.ndarray, rate: int, target: int) -> np.ndarray:
    """float32 (n * target / rate,) waveform at the target rate."""
    if rate == target:
        return waveform.astype(np.float32, copy=False)
    return np.asarray(soxr.resample(waveform, rate, target), dtype=np.float32)


def check_waveform(waveform: np.ndarray, config: AudioConfig) -> np.ndarray:
    """The waveform if it is long and loud enough, else :class:`Unusable`."""
    seconds = len(waveform) / config.sample_rate
    if seconds < config.min_seconds:
        raise Unusable(f"shorter than {config.min_seconds:g} s")
    peak = float(np.max(np.abs(waveform))) if len(waveform) else 0.0
    if not np.isfinite(peak):
        raise Unusable("corrupt audio (non-finite samples)")
    if peak <= 10 ** (config.silence_db / 20):
        raise Unusable("silent audio")
    return waveform


class AudioEncoder(FileEncoder):
    """Base of the audio encoders: decoding and checks; subclasses embed waveforms."""

    kind = "audio"
    config_class = AudioConfig

    def decode(self, path: Path) -> np.ndarray:
        waveform = decode_audio(path, self.config.sample_rate, self.config.max_seconds)
        return check_waveform(waveform, self.config)


class MelStatsConfig(AudioConfig):
    n_mels: int = 64
    n_mfcc: int = 20
    batch_size: int = 64


class MelStatsEncoder(AudioEncoder):
    """Mean and standard deviation over time of the log-mel spectrogram and the MFCCs (librosa)."""

    name = "mel"
    config_class = MelStatsConfig

    @property
    def dim(self) -> int:
        return 2 * (self.config.n_mels + self.config.n_mfcc)

    def embed(self, decoded: list[Any]) -> np.ndarray:
        return np.stack([self._statistics(waveform) for waveform in decoded])

    def _statistics(self, waveform: np.ndarray) -> np.ndarray:
        mel = librosa.feature.melspectrogram(y=waveform, sr=self.config.sample_rate, n_mels=self.config.n_mels)
        log_mel = librosa.power_to_db(mel, ref=1.0, top_db=None)  # (n_mels, frames), absolute level kept
        mfcc = librosa.feature.mfcc(S=log_mel, n_mfcc=self.config.n_mfcc)  # (n_mfcc, frames)
        parts = [log_mel.mean(axis=1), log_mel.std(axis=1), mfcc.mean(axis=1), mfcc.std(axis=1)]
        return np.concatenate(parts).astype(np.float32)
