"""Gated attention fusion: per-item attention over modalities, each modality gated elementwise."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from fusionrec.fusion.base import SHARED, Features, Masks, ModalityFusion, ModalityProjection, masked_softmax


class GatedFusion(ModalityFusion):
    """``sum_m a_m(x) * sigmoid(G h_m) * h_m`` with ``h_m = P_m(x_m)``.

    The attention score of a modality is ``q . tanh(A h_m)``, so the
    weights differ per item (an item whose image is uninformative can lean
    on its audio); the softmax runs over the modalities the item has. The
    sigmoid gate lets each output dimension ignore a modality. An item with
    no content gets the learned ``empty`` vector.

    Args:
        input_dims: ``{modality: d_m}``.
        output_dim: size of the fused vector.
        attention_dim: width of the attention scorer.
        hidden: hidden width of each modality's projection (0 = linear).
        dropout: input dropout of the projections.

    Example:
        >>> fusion = GatedFusion({"text": 384, "image": 1280}, 32)
        >>> fusion({"text": torch.randn(4, 384)}, {"text": torch.tensor([True, False, True, True])}).shape
        torch.Size([4, 32])
    """

    def __init__(
        self,
        input_dims: Mapping[str, int],
        output_dim: int,
        attention_dim: int = 32,
        hidden: int = 0,
        dropout: float = 0.0,
    ) -> None:
        super().__init__(input_dims, output_dim)
        self.projections = nn.ModuleDict(
            {m: ModalityProjection(d, output_dim, hidden, dropout) for m, d in self.input_dims.items()}
        )
        self.gate = nn.Linear(output_dim, output_dim)
        self.attention = nn.Sequential(nn.Linear(output_dim, attention_dim), nn.Tanh(), nn.Linear(attention_dim, 1))
        self.empty = nn.Parameter(torch.zeros(output_dim))

    def contributions(self, features: Features, masks: Masks | None = None) -> dict[str, torch.Tensor]:
        """``{modality: a_m * gate_m * h_m}`` plus ``"shared"`` = the empty vector on rows with no content."""
        n, safe, present = self.prepare(features, masks)
        hidden = {name: self.projections[name](values) for name, values in safe.items()}  # each (n, d)
        scores = torch.zeros(n, len(self.modalities), device=present.device)
        for column, name in enumerate(self.modalities):
            if name in hidden:
                scores[:, column] = self.attention(hidden[name]).squeeze(1)
        weights = masked_softmax(scores, present)  # (n, M)
        parts = {
            name: weights[:, column, None] * torch.sigmoid(self.gate(hidden[name])) * hidden[name]
            for column, name in enumerate(self.modalities)
            if name in hidden
        }
        parts[SHARED] = (~present.any(dim=1, keepdim=True)).float() * self.empty
        return parts
