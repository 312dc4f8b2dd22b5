"""Learned modality weights: a softmax over the modalities an item actually has."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from fusionrec.fusion.base import SHARED, Features, Masks, ModalityFusion, ModalityProjection, masked_softmax


class WeightedFusion(ModalityFusion):
    """``sum_m a_m P_m(x_m)`` with ``a = softmax(w)`` over each item's available modalities.

    One learned logit per modality; for an item missing a modality the
    softmax is taken over the rest, so the weights of what is there still
    sum to one. An item with no content gets the learned ``empty`` vector.

    Args:
        input_dims: ``{modality: d_m}``.
        output_dim: size of the fused vector.
        hidden: hidden width of each modality's projection (0 = linear).
        dropout: input dropout of the projections.

    Example:
        >>> fusion = WeightedFusion({"image": 128, "audio": 128}, 64)
        >>> fusion({"image": torch.randn(5, 128), "audio": torch.randn(5, 128)}).shape
        torch.Size([5, 64])
    """

    def __init__(self, input_dims: Mapping[str, int], output_dim: int, hidden: int = 0, dropout: float = 0.0) -> None:
        super().__init__(input_dims, output_dim)
        self.projections = nn.ModuleDict(
            {m: ModalityProjection(d, output_dim, hidden, dropout) for m, d in self.input_dims.items()}
        )
        self.logits = nn.Parameter(torch.zeros(len(self.input_dims)))
        self.empty = nn.Parameter(torch.zeros(output_dim))

    def weights(self, present: torch.Tensor) -> torch.Tensor:
        """float32 (n, n_modalities) weights for bool (n, n_modalities) ``present``."""
        return masked_softmax(self.logits.expand(present.shape[0], -1), present)

    def contributions(self, features: Features, masks: Masks | None = None) -> dict[str, torch.Tensor]:
        """``{modality: a_m P_m(x_m)}`` plus ``"shared"`` = the empty vector on rows with no content."""
        _, safe, present = self.prepare(features, masks)
        weights = self.weights(present)  # (n, M)
        parts = {
            name: weights[:, column, None] * self.projections[name](safe[name])
            for column, name in enumerate(self.modalities)
            if name in safe
        }
        parts[SHARED] = (~present.any(dim=1, keepdim=True)).float() * self.empty  # (n, output_dim)
        return parts
