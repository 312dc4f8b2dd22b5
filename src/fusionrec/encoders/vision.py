"""Optional image encoders from local checkpoints: CLIP (transformers) and timm.

Both follow the image contract of :mod:`fusionrec.encoders.image` (same
decoding, same masks). They load only from local files; when the library is
not installed the error says which package to add.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fusionrec.encoders.base import EncoderConfig
from fusionrec.encoders.image import ImageEncoder, center_square
from fusionrec.encoders.text import go_offline, local_model_dir, quiet_hf, set_threads
from fusionrec.errors import EncoderError

if TYPE_CHECKING:
    from PIL import Image as PILImage


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
        try:
            from transformers import AutoImageProcessor, CLIPModel
        except ImportError as exc:
            raise EncoderError("encoder 'clip' needs transformers; pip install 'fusionrec[encoders]'") from exc
        quiet_hf()
        folder = str(local_model_dir(self.config.model))
        self.processor_ = AutoImageProcessor.from_pretrained(folder, local_files_only=True)
        self.model_ = CLIPModel.from_pretrained(folder, local_files_only=True).eval()

    @property
    def dim(self) -> int:
        self.ensure_loaded()
        return int(self.model_.config.projection_dim)

    def prepare(self, image: PILImage.Image) -> PILImage.Image:
        return image

    def embed(self, decoded: list[Any]) -> np.ndarray:
        import torch

        pixels = self.processor_(images=decoded, return_tensors="pt")["pixel_values"]  # (n, 3, h, w)
        with torch.inference_mode():
            features = self.model_.get_image_features(pixel_values=pixels)
            features = getattr(features, "pooler_output", features)  # transformers 5 returns an output object
            if self.config.normalize:
                features = torch.nn.functional.normalize(features, dim=-1)
        return features.float().numpy()


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
        try:
            import timm
        except ImportError as exc:
            raise EncoderError(
                "encoder 'timm' needs the optional package timm; install it or use efficientnet-lite0"
            ) from exc
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

    def prepare(self, image: PILImage.Image) -> np.ndarray:
        return center_square(image, self.size_, "center")

    def embed(self, decoded: list[Any]) -> np.ndarray:
        import torch

        pixels = (np.stack(decoded).astype(np.float32) - self.mean_) / self.std_  # (n, h, w, 3)
        with torch.inference_mode():
            return self.model_(torch.from_numpy(pixels).permute(0, 3, 1, 2)).float().numpy()


def _state_dict(path: Path) -> dict[str, Any]:
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    import torch

    return torch.load(str(path), map_location="cpu", weights_only=True)
