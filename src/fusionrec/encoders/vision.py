"""The CLIP image encoder, from a local checkpoint (transformers).

It follows the image contract of :mod:`fusionrec.encoders.image` (same
decoding, same masks) and loads only from local files. Imported through the
encoder registry only (``clip``); timm models are in
:mod:`fusionrec.encoders.timm_image`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import transformers
from PIL import Image

from fusionrec.encoders.base import EncoderConfig
from fusionrec.encoders.hf import go_offline, local_model_dir, quiet_hf, set_threads
from fusionrec.encoders.image import ImageEncoder
from fusionrec.errors import EncoderError


class ClipConfig(EncoderConfig):
    """``model`` is a local folder holding a CLIP model and its ``preprocessor_config.json``."""

    model: str = ""
    normalize: bool = True
    num_threads: int | None = None


class ClipImageEncoder(ImageEncoder):
    """The image tower of a CLIP checkpoint (projected embedding, e.g. 512-d for ViT-B/32)."""

    name = "clip"
    config_class = ClipConfig

    def load(self) -> None:
        go_offline()
        set_threads(self.config.num_threads)
        if not self.config.model:
            raise EncoderError("encoder 'clip' needs model='path/to/local/clip/folder' (saved with save_pretrained)")
        quiet_hf()
        folder = str(local_model_dir(self.config.model))
        self.processor_ = transformers.AutoImageProcessor.from_pretrained(folder, local_files_only=True)
        self.model_ = transformers.CLIPModel.from_pretrained(folder, local_files_only=True).eval()

    @property
    def dim(self) -> int:
        self.ensure_loaded()
        return int(self.model_.config.projection_dim)

    def prepare(self, image: Image.Image) -> Image.Image:
        return image

    def embed(self, decoded: list[Any]) -> np.ndarray:
        pixels = self.processor_(images=decoded, return_tensors="pt")["pixel_values"]  # (n, 3, h, w)
        with torch.inference_mode():
            features = self.model_.get_image_features(pixel_values=pixels)
            features = getattr(features, "pooler_output", features)  # transformers 5 returns an output object
            if self.config.normalize:
                features = torch.nn.functional.normalize(features, dim=-1)
        return features.float().numpy()
