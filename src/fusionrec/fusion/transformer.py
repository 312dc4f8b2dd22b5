"""A small transformer over modality tokens, read out through a [CLS] token."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from fusionrec.errors import ConfigError
from fusionrec.fusion.base import SHARED, Features, Masks, ModalityFusion, ModalityProjection


class TransformerFusion(ModalityFusion):
    """Self-attention over ``[CLS, P_1(x_1) + t_1, ..., P_M(x_M) + t_M]``; the output is the CLS token.

    ``t_m`` is a learned type embedding per modality. Missing modalities
    are removed with the key-padding mask (their token values are zeroed
    first, so nothing of a masked row reaches any attention weight); the
    CLS token is never masked, so an item with no content attends only to
    CLS and gets a learned "no content" vector.

    The map is not additive, so :meth:`contributions` is by occlusion: the
    part of modality ``m`` is the output minus the output with ``m``
    masked, and ``"shared"`` is the remainder that makes the parts sum to
    the output.

    Args:
        input_dims: ``{modality: d_m}``.
        output_dim: token and output size (divisible by ``heads``).
        heads: attention heads.
        layers: encoder layers.
        dropout: dropout inside the encoder and on the projections' inputs.

    Example:
        >>> fusion = TransformerFusion({"image": 128, "audio": 128}, 32)
        >>> fusion({"audio": torch.randn(3, 128)}).shape
        torch.Size([3, 32])
    """

    def __init__(
        self,
        input_dims: Mapping[str, int],
        output_dim: int,
        heads: int = 2,
        layers: int = 1,
        dropout: float = 0.0,
    ) -> None:
        super().__init__(input_dims, output_dim)
        if output_dim % heads:
            raise ConfigError(f"output_dim {output_dim} must be divisible by heads {heads}; e.g. heads=2 for 64")
        self.projections = nn.ModuleDict(
            {m: ModalityProjection(d, output_dim, 0, dropout) for m, d in self.input_dims.items()}
        )
        self.types = nn.Parameter(torch.randn(len(self.input_dims), output_dim) * 0.02)
        self.cls = nn.Parameter(torch.randn(output_dim) * 0.02)
        layer = nn.TransformerEncoderLayer(
            output_dim, heads, dim_feedforward=2 * output_dim, dropout=dropout, batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(output_dim)

    def forward(self, features: Features, masks: Masks | None = None) -> torch.Tensor:
        """Fused float32 (n, output_dim) vectors (the CLS token's output)."""
        n, safe, present = self.prepare(features, masks)
        return self._encode(n, safe, present)

    def contributions(self, features: Features, masks: Masks | None = None) -> dict[str, torch.Tensor]:
        """Occlusion parts per given modality plus the ``"shared"`` remainder (exact sum)."""
        n, safe, present = self.prepare(features, masks)
        full = self._encode(n, safe, present)
        parts: dict[str, torch.Tensor] = {}
        for column, name in enumerate(self.modalities):
            if name in safe:
                occluded = present.clone()
                occluded[:, column] = False
                parts[name] = full - self._encode(n, safe, occluded)
        remainder = full
        for part in parts.values():
            remainder = remainder - part
        parts[SHARED] = remainder
        return parts

    def _encode(self, n: int, safe: dict[str, torch.Tensor], present: torch.Tensor) -> torch.Tensor:
        tokens = [self.cls.expand(n, -1)]
        for column, name in enumerate(self.modalities):
            if name in safe:
                tokens.append(self.projections[name](safe[name]) + self.types[column])
            else:
                tokens.append(self.types[column].expand(n, -1))  # masked below
        sequence = torch.stack(tokens, dim=1)  # (n, 1 + M, d)
        keep = torch.cat([torch.ones(n, 1, dtype=torch.bool, device=present.device), present], dim=1)
        sequence = torch.where(keep[:, :, None], sequence, torch.zeros((), dtype=sequence.dtype))
        encoded = self.encoder(sequence, src_key_padding_mask=~keep)  # (n, 1 + M, d)
        result: torch.Tensor = self.norm(encoded[:, 0])
        return result
