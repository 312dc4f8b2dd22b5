"""Image decoding, the image-encoder base and the colour-histogram fallback (Pillow and numpy only).

Decoding goes through Pillow and copes with what real catalogs hold: EXIF
rotation, grey, palette, CMYK and 16-bit images, transparency (composited on
white), and huge images. Decoding is held to a memory budget: JPEGs are
decoded at reduced scale (in the DCT domain), any other format is refused
when decoding it at full size would take more than ``max_bytes`` (a
13000x13000 RGBA PNG of 876 KB needs 676 MB, twice that with the copy that
premultiplies alpha), and the decoded image is shrunk to ``max_side`` before
anything else copies it, so the peak stays within the budget. A missing,
empty, truncated, non-image or over-budget file is
:class:`~fusionrec.encoders.media.Unusable` and gets masked. The default image encoder,
EfficientNet-Lite0, is in :mod:`fusionrec.encoders.efficientnet`.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from fusionrec.encoders.base import EncoderConfig
from fusionrec.encoders.media import FileEncoder, Unusable

logger = logging.getLogger(__name__)

#: Images with more pixels than this are refused rather than decoded (decompression bombs).
MAX_PIXELS = 180_000_000
#: Most bytes one decoded image may take in memory (width x height x bytes per pixel as Pillow stores it).
MAX_DECODED_BYTES = 160 * 2**20
_BYTES_PER_PIXEL = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I;16L": 2, "I;16N": 2}  # others: 4
_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")


def decode_image(
    path: Path, max_side: int = 1024, max_pixels: int = MAX_PIXELS, max_bytes: int = MAX_DECODED_BYTES
) -> Image.Image:
    """Read an image file as an upright RGB image whose longer side is at most ``max_side``.

    Raises:
        Unusable: not an image, truncated or corrupt, more than ``max_pixels`` pixels, or more than
            ``max_bytes`` once decoded at the smallest scale its format allows.
    """
    with warnings.catch_warnings():
        # We bound the size ourselves below; Pillow's warning would be an error under pytest.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(path)
        except Image.DecompressionBombError:
            raise Unusable("image too large") from None
        except UnidentifiedImageError:
            raise Unusable("not an image") from None
        except (OSError, SyntaxError, ValueError):
            raise Unusable("corrupt image") from None
        with image:
            if image.width * image.height > max_pixels:
                logger.debug("%s has %dx%d pixels, over the %d limit", path, image.width, image.height, max_pixels)
                raise Unusable("image too large")
            if image.format == "JPEG":
                image.draft("RGB", (max_side, max_side))  # DCT-domain downscale: huge JPEGs decode fast and small
            _check_budget(image, max_bytes)
            try:
                image.load()
                if max(image.size) > max_side:  # shrink before any copy: exif_transpose copies the whole image
                    image.thumbnail((max_side, max_side))
                upright = ImageOps.exif_transpose(image)
            except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
                raise Unusable("truncated or corrupt image") from None
    return to_rgb(upright)


def _check_budget(image: Image.Image, max_bytes: int) -> None:
    """Raise Unusable when decoding ``image`` at its (drafted) size would take more than ``max_bytes``."""
    copies = 2 if image.mode in ("LA", "RGBA") else 1  # resizing premultiplies alpha in a full-size copy
    needed = image.width * image.height * _BYTES_PER_PIXEL.get(image.mode, 4) * copies
    if needed > max_bytes:
        raise Unusable(
            f"image too large to decode: {image.width}x{image.height} {image.mode} {image.format} needs "
            f"{needed / 2**20:,.0f} MiB, over the {max_bytes / 2**20:,.0f} MiB budget (send a smaller image or a JPEG)"
        )


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert any Pillow mode to RGB; transparency is composited on white."""
    if image.mode == "RGB":
        return image
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        array = np.asarray(image, dtype=np.float32)  # (h, w), 16/32-bit grey
        peak = float(array.max()) or 1.0
        return Image.fromarray((array / peak * 255.0).clip(0, 255).astype(np.uint8)).convert("RGB")
    if image.mode in _ALPHA_MODES or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def center_square(image: Image.Image, size: int, crop: str) -> np.ndarray:
    """uint8 (size, size, 3): resized so the shorter side is ``size`` and center-cropped, or squashed."""
    if crop == "squash":
        return np.asarray(image.resize((size, size), Image.Resampling.BICUBIC))
    scale = size / min(image.size)
    width, height = max(size, round(image.width * scale)), max(size, round(image.height * scale))
    resized = image.resize((width, height), Image.Resampling.BICUBIC)
    left, top = (width - size) // 2, (height - size) // 2
    return np.asarray(resized.crop((left, top, left + size, top + size)))


class ImageEncoder(FileEncoder):
    """An encoder of pictures: files through :func:`decode_image`, or already-decoded frames."""

    kind = "image"

    @property
    def max_side(self) -> int:
        """Longest side images are decoded at (their model resizes further)."""
        return 1024

    def prepare(self, image: Image.Image) -> Any:
        """Turn one RGB image into this encoder's model input."""
        return np.asarray(image)

    def decode(self, path: Path) -> Any:
        return self.prepare(decode_image(path, max_side=self.max_side))

    def encode_images(self, images: list[Image.Image]) -> np.ndarray:
        """float32 (n, dim) features of n in-memory images (video frames, for instance)."""
        self.ensure_loaded()
        if not images:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self.embed([self.prepare(to_rgb(image)) for image in images])


class ColorHistogramConfig(EncoderConfig):
    """``bins`` per RGB channel; the joint histogram has ``bins**3`` cells."""

    bins: int = 8
    max_side: int = 128


class ColorHistogramEncoder(ImageEncoder):
    """Dependency-light fallback: an L1-normalised joint RGB colour histogram (Pillow + numpy only)."""

    name = "color-histogram"
    config_class = ColorHistogramConfig

    @property
    def dim(self) -> int:
        return int(self.config.bins**3)

    @property
    def max_side(self) -> int:
        return int(self.config.max_side)

    def embed(self, decoded: list[Any]) -> np.ndarray:
        bins = self.config.bins
        rows = np.zeros((len(decoded), self.dim), dtype=np.float32)
        for i, pixels in enumerate(decoded):  # pixels: uint8 (h, w, 3)
            q = (pixels.reshape(-1, 3).astype(np.int64) * bins) // 256  # (h*w, 3) bin per channel
            cells = np.bincount((q[:, 0] * bins + q[:, 1]) * bins + q[:, 2], minlength=self.dim)
            rows[i] = cells / max(cells.sum(), 1)
        return rows
