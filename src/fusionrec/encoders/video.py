"""Video encoder: frames sampled uniformly in time (PyAV), encoded by an image encoder, pooled.

The audio track is a modality of its own: any audio encoder reads it from
the same file (see ``audio`` in :class:`~fusionrec.encoders.config.EncoderSpec`).
A file PyAV cannot open, without a video track or without one decodable
frame is :class:`~fusionrec.encoders.media.Unusable`.
"""

from __future__ import annotations

import itertools
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import av
import numpy as np
from pydantic import Field

from fusionrec.encoders.base import EncoderConfig
from fusionrec.encoders.image import ImageEncoder
from fusionrec.encoders.media import FileEncoder, Unusable
from fusionrec.encoders.registry import build_encoder
from fusionrec.errors import ConfigError

if TYPE_CHECKING:
    from PIL import Image as PILImage


logger = logging.getLogger(__name__)

#: Above this length only key frames are decoded (fast), when there are enough of them.
KEYFRAME_SECONDS = 20.0


class VideoConfig(EncoderConfig):
    """``image`` names the image encoder that sees the frames; ``image_options`` configure it."""

    image: str = "efficientnet-lite0"
    image_options: dict[str, Any] = Field(default_factory=dict)
    n_frames: int = 8
    pooling: Literal["mean", "max"] = "mean"
    max_side: int = 512
    batch_size: int = 4


def sample_frames(path: Path, n_frames: int, max_side: int = 512) -> list[PILImage.Image]:
    """Up to ``n_frames`` RGB frames spread uniformly over the video, longer side at most ``max_side``.

    Raises:
        Unusable: the file cannot be opened, has no video track or no decodable frame.
    """
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, UnicodeDecodeError):
        raise Unusable("unreadable video") from None
    with container:
        if not container.streams.video:
            raise Unusable("no video track")
        stream = container.streams.video[0]
        duration = _duration(container, stream)
        frames: list[PILImage.Image] = []
        if duration > KEYFRAME_SECONDS:
            stream.codec_context.skip_frame = "NONKEY"  # long video: key frames only, decoded fast
            frames = _frames_at(container, stream, _targets(duration, n_frames), max_side)
            stream.codec_context.skip_frame = "DEFAULT"
            container.seek(0)
        if not frames and duration > 0:
            frames = _frames_at(container, stream, _targets(duration, n_frames), max_side)
        elif not frames:
            frames = _thinned_frames(container, stream, n_frames, max_side)
    if not frames:
        raise Unusable("no decodable video frame")
    return frames


def _duration(container: Any, stream: Any) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    return float(container.duration or 0) / 1_000_000  # container duration is in AV_TIME_BASE (microseconds)


def _targets(duration: float, n_frames: int) -> list[float]:
    """Times (s) at the centres of ``n_frames`` equal slices of the video."""
    return [(i + 0.5) * duration / n_frames for i in range(n_frames)]


def _image(frame: Any, max_side: int) -> PILImage.Image:
    image = frame.to_image()
    image.thumbnail((max_side, max_side))
    return image


def _frames_at(container: Any, stream: Any, targets: list[float], max_side: int) -> list[PILImage.Image]:
    """The first frame at or after each target time, decoding once from the start."""
    frames: list[PILImage.Image] = []
    position = 0
    try:
        for frame in container.decode(stream):
            seconds = frame.time if frame.time is not None else 0.0
            taken = False
            while position < len(targets) and seconds >= targets[position] - 1e-6:
                if not taken:
                    frames.append(_image(frame, max_side))
                    taken = True
                position += 1
            if position == len(targets):
                break
    except av.error.FFmpegError as exc:  # a damaged tail: keep the frames before it
        logger.debug("video decoding stopped after %d frames: %s", len(frames), exc)
    return frames


def _thinned_frames(container: Any, stream: Any, n_frames: int, max_side: int) -> list[PILImage.Image]:
    """Uniformly spread frames of a video of unknown length: keep every ``stride``-th, doubling as needed."""
    kept: list[PILImage.Image] = []
    stride, capacity = 1, max(4 * n_frames, 32)
    try:
        for index, frame in enumerate(container.decode(stream)):
            if index % stride == 0:
                kept.append(_image(frame, max_side))
            if len(kept) >= capacity:
                kept, stride = kept[::2], stride * 2
    except av.error.FFmpegError as exc:
        logger.debug("video decoding stopped after %d kept frames: %s", len(kept), exc)
    if len(kept) <= n_frames:
        return kept
    return [kept[i] for i in np.linspace(0, len(kept) - 1, num=n_frames).round().astype(int)]


class VideoEncoder(FileEncoder):
    """Uniformly sampled frames through an image encoder, mean- (or max-) pooled over time."""

    name = "frames"
    kind = "video"
    config_class = VideoConfig

    def load(self) -> None:
        encoder = build_encoder(self.config.image, **self.config.image_options)
        if not isinstance(encoder, ImageEncoder):
            raise ConfigError(
                f"video encoder option image={self.config.image!r} is a {encoder.kind} encoder; "
                "name an image encoder such as 'efficientnet-lite0' or 'color-histogram'"
            )
        encoder.ensure_loaded()
        self.image_encoder_: ImageEncoder = encoder

    @property
    def dim(self) -> int:
        self.ensure_loaded()
        return self.image_encoder_.dim

    def decode(self, path: Path) -> list[PILImage.Image]:
        return sample_frames(path, self.config.n_frames, self.config.max_side)

    def embed(self, decoded: list[Any]) -> np.ndarray:
        counts = [len(frames) for frames in decoded]
        features = self.image_encoder_.encode_images([f for frames in decoded for f in frames])  # (sum(counts), dim)
        pool = np.mean if self.config.pooling == "mean" else np.max
        bounds = np.cumsum([0, *counts])
        return np.stack([pool(features[a:b], axis=0) for a, b in itertools.pairwise(bounds)])
