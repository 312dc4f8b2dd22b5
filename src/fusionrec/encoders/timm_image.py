"""Any timm architecture as an image encoder, with weights from a local file.

Imported through the encoder registry only (``timm``); needs the optional
package timm, which loading the encoder asks for when it is missing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from safetensors.torch import load_file

from fusionrec.encoders.base import EncoderConfig
from fusionrec.encoders.hf import set_threads
from fusionrec.encoders.image import ImageEncoder, center_square
from fusionrec.errors import EncoderError

try:  # an optional package outside fusionrec's extras: the encoder names it when it loads
    import timm
except ImportError:
    timm = None


class TimmConfig(EncoderConfig):
    """``model`` is a timm architecture name, ``weights`` a local .safetensors or .pth state dict."""

    model: str = ""
    weights: str = ""
    num_threads: int | None = None


class TimmImageEncoder(ImageEncoder):
    """Any timm architecture with local weights; the feature is its pooled pre-logits output."""

    name = "timm"
    config_class = TimmConfig

    def load(self) -> None:
        set_threads(self.config.num_threads)
        if timm is None:
            raise EncoderError("encoder 'timm' needs the optional package timm; install it or use efficientnet-lite0")
        weights = Path(self.config.weights)
        if not self.config.model or not weights.is_file():
            raise EncoderError(
                f"encoder 'timm' needs model='<timm architecture>' and weights='<local file>'; "
                f"got model={self.config.model!r}, weights={self.config.weights!r}"
            )
        model = timm.create_model(self.config.model, pretrained=False, num_classes=0)
        model.load_state_dict(_state_dict(weights), strict=False)
        self.model_ = model.eval()
        data = self.model_.pretrained_cfg
        self.size_ = int(data.get("input_size", (3, 224, 224))[-1])
        self.mean_ = np.asarray(data.get("mean", (0.485, 0.456, 0.406)), np.float32) * 255
        self.std_ = np.asarray(data.get("std", (0.229, 0.224, 0.225)), np.float32) * 255

    @property
    def dim(self) -> int:
        self.ensure_loaded()
        return int(self.model_.num_features)

    @property
    def max_side(self) -> int:
        return 1024

    def prepare(self, image: Image.Image) -> np.ndarray:
        return center_square(image, self.size_, "center")

    def embed(self, decoded: list[Any]) -> np.ndarray:
        pixels = (np.stack(decoded).astype(np.float32) - self.mean_) / self.std_  # (n, h, w, 3)
        with torch.inference_mode():
            return self.model_(torch.from_numpy(pixels).permute(0, 3, 1, 2)).float().numpy()


def _state_dict(path: Path) -> dict[str, Any]:
    if path.suffix == ".safetensors":
        return load_file(str(path))
    return torch.load(str(path), map_location="cpu", weights_only=True)
