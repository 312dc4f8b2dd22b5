"""Concatenation fusion: normalised modality blocks side by side, then one linear map."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from fusionrec.fusion.base import SHARED, ByteDropout, Features, Masks, ModalityFusion


class ConcatFusion(ModalityFusion):
    """``W [x_1; ...; x_M] + b`` over LayerNorm-ed modality blocks.

    A missing modality's block is replaced by a learned per-modality
    "absent" vector (a parameter, not a statistic of the data), so an item
    with no content at all maps to a learned "no content" vector.
    Because the map is linear, the output splits exactly into one part per
    present modality plus ``"shared"`` (the bias and the images of the
    absent vectors).

    Args:
        input_dims: ``{modality: d_m}``.
        output_dim: size of the fused vector.
        dropout: dropout on the normalised input blocks during training.

    Example:
        >>> fusion = ConcatFusion({"image": 128, "audio": 128}, 64)
        >>> fusion({"image": torch.randn(5, 128)}).shape
        torch.Size([5, 64])
    """

    def __init__(self, input_dims: Mapping[str, int], output_dim: int, dropout: float = 0.0) -> None:
        super().__init__(input_dims, output_dim)
        self.dropout = ByteDropout(dropout)
        self.norms = nn.ModuleDict({m: nn.LayerNorm(d, elementwise_affine=False) for m, d in self.input_dims.items()})
        self.absent = nn.ParameterDict({m: nn.Parameter(torch.zeros(d)) for m, d in self.input_dims.items()})
        self.blocks = nn.ModuleDict({m: nn.Linear(d, output_dim, bias=False) for m, d in self.input_dims.items()})
        self.bias = nn.Parameter(torch.zeros(output_dim))

    def contributions(self, features: Features, masks: Masks | None = None) -> dict[str, torch.Tensor]:
        """``{modality: W_m x_m}`` on rows that have it; ``"shared"`` = bias + the absent vectors' images."""
        n, safe, present = self.prepare(features, masks)
        parts: dict[str, torch.Tensor] = {}
        shared = self.bias.expand(n, -1)
        for column, name in enumerate(self.modalities):
            absent = self.blocks[name](self.absent[name])  # (output_dim,)
            here = present[:, column, None]  # (n, 1)
            shared = shared + torch.where(here, torch.zeros_like(absent), absent)
            if name in safe:
                block = self.dropout(self.norms[name](safe[name]))
                parts[name] = torch.where(here, self.blocks[name](block), 0.0)
        parts[SHARED] = shared
        return parts
