"""What every fusion module shares: declared modalities, input checks, masks and projections.

A fusion module maps ``{modality: float32 (n, d_m)}`` plus
``{modality: bool (n,)}`` masks (True = the item's input for that
modality is usable) to one float32 ``(n, output_dim)`` vector per item.
Any subset of the declared modalities may be passed: a modality left out
of the mapping counts as missing for every row. Missing inputs are
*excluded* (their values are replaced by zeros with :func:`torch.where`
before anything reads them, so even NaN in a masked row cannot leak) and
never filled with a mean. An item with no usable modality at all gets the
module's learned "no content" vector.

Every module also returns :meth:`ModalityFusion.contributions`: per-
modality parts plus a ``"shared"`` remainder that sum exactly to the
output, which is what score explanations are built from.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from fusionrec.errors import ConfigError, FeatureShapeError

Features = Mapping[str, torch.Tensor]
Masks = Mapping[str, torch.Tensor]
SHARED = "shared"
"""Key of the part of a fused vector that belongs to no single modality (biases, the no-content vector)."""


class ByteDropout(nn.Module):
    """Inverted dropout that draws one random byte per element instead of a Bernoulli float.

    On CPU torch's Bernoulli sampling dominates the cost of dropping out a
    catalog's features every step (about 3x slower here); a byte per element
    is enough randomness. The rate is rounded to a multiple of 1/256.

    Args:
        p: share of elements zeroed during training, in [0, 1).
    """

    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {p}")
        self.threshold = round(p * 256)
        self.scale = 256.0 / (256 - self.threshold)

    @property
    def p(self) -> float:
        """The effective rate: ``threshold / 256``."""
        return self.threshold / 256

    def forward(self, values: torch.Tensor) -> torch.Tensor:
        if not self.training or self.threshold == 0:
            return values
        keep = torch.randint(0, 256, values.shape, dtype=torch.uint8) >= self.threshold
        # a product with the scaled mask, not torch.where: the same values (inputs here are finite), and forward
        # plus backward take 1.7 ms instead of 9 ms for TikTok's 6,710 x 128 features on a CPU without AVX512
        return values * keep.to(values.dtype).mul_(self.scale)


class ModalityProjection(nn.Module):
    """LayerNorm (no affine) then a linear map, or a one-hidden-layer MLP, from ``d_in`` to ``d_out``.

    The normalisation puts modalities whose raw scales differ by orders of
    magnitude (e.g. TikTok image features around 2.7, audio around 0)
    on an equal footing before they are mixed.

    Args:
        d_in: input feature size.
        d_out: output size.
        hidden: hidden width of an MLP; 0 means a single linear map.
        dropout: dropout on the input features during training.
    """

    def __init__(self, d_in: int, d_out: int, hidden: int = 0, dropout: float = 0.0) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(d_in, elementwise_affine=False)
        self.dropout = ByteDropout(dropout)
        if hidden > 0:
            self.net: nn.Module = nn.Sequential(nn.Linear(d_in, hidden), nn.GELU(), nn.Linear(hidden, d_out))
        else:
            self.net = nn.Linear(d_in, d_out)

    def forward(self, values: torch.Tensor) -> torch.Tensor:
        """float32 (n, d_in) -> (n, d_out)."""
        projected: torch.Tensor = self.net(self.dropout(self.norm(values)))
        return projected


class ModalityFusion(nn.Module):
    """Base class: declares ``input_dims`` (``{modality: d_m}``) and ``output_dim``.

    Subclasses implement :meth:`contributions`; :meth:`forward` is their sum.

    Args:
        input_dims: feature size of every modality the module can take.
        output_dim: size of the fused vector.
    """

    def __init__(self, input_dims: Mapping[str, int], output_dim: int) -> None:
        super().__init__()
        if not input_dims:
            raise ConfigError("a fusion module needs at least one modality; input_dims is empty")
        bad = {name: dim for name, dim in input_dims.items() if int(dim) < 1}
        if bad or output_dim < 1:
            raise ConfigError(f"fusion sizes must be >= 1; got input_dims {dict(input_dims)}, output_dim {output_dim}")
        self.input_dims = {name: int(input_dims[name]) for name in sorted(input_dims)}
        self.output_dim = int(output_dim)

    @property
    def modalities(self) -> list[str]:
        """Declared modality names, sorted."""
        return list(self.input_dims)

    def forward(self, features: Features, masks: Masks | None = None) -> torch.Tensor:
        """Fused float32 (n, output_dim) vectors.

        Args:
            features: ``{modality: (n, d_m)}``, any subset of the declared modalities.
            masks: ``{modality: bool (n,)}``; a modality without a mask is usable on every row.
        """
        parts = self.contributions(features, masks)
        total = parts[SHARED]
        for name in self.modalities:
            if name in parts:
                total = total + parts[name]
        return total

    def contributions(self, features: Features, masks: Masks | None = None) -> dict[str, torch.Tensor]:
        """``{modality: (n, output_dim)}`` for each given modality plus ``"shared"``; they sum to the output."""
        raise NotImplementedError

    def prepare(self, features: Features, masks: Masks | None) -> tuple[int, dict[str, torch.Tensor], torch.Tensor]:
        """Checked inputs: ``(n, {modality: safe values}, present)``.

        ``safe values`` are the inputs with masked rows set to zero;
        ``present`` is bool (n, n_modalities) in :attr:`modalities` order
        (False for modalities not given).
        """
        n = check_features(features, masks, self.input_dims)
        present = torch.zeros(n, len(self.input_dims), dtype=torch.bool, device=_device(features))
        safe: dict[str, torch.Tensor] = {}
        for column, name in enumerate(self.modalities):
            if name not in features:
                continue
            mask = usable_rows(features[name], None if masks is None else masks.get(name))
            present[:, column] = mask
            safe[name] = torch.where(mask[:, None], features[name], torch.zeros((), dtype=features[name].dtype))
        return n, safe, present


def check_features(features: Features, masks: Masks | None, input_dims: Mapping[str, int]) -> int:
    """Validate shapes against ``input_dims``; returns the row count ``n``."""
    if not features:
        raise FeatureShapeError(f"no features were given; pass at least one of {sorted(input_dims)}")
    unknown = sorted(set(features) - set(input_dims))
    if unknown:
        raise FeatureShapeError(f"unknown modalities {unknown}; this fusion module was built for {sorted(input_dims)}")
    rows = {name: tuple(values.shape) for name, values in features.items()}
    n = next(iter(features.values())).shape[0]
    for name, values in features.items():
        if values.ndim != 2 or values.shape[0] != n or values.shape[1] != input_dims[name]:
            raise FeatureShapeError(
                f"{name} features have shape {tuple(values.shape)}; expected ({n}, {input_dims[name]}) "
                f"(all shapes: {rows}); one row per item, the declared size per modality"
            )
    for name, mask in (masks or {}).items():
        if name in features and tuple(mask.shape) != (n,):
            raise FeatureShapeError(f"the {name} mask has shape {tuple(mask.shape)}; ({n},) booleans are expected")
    return int(n)


def usable_rows(values: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """bool (n,) usable rows: ``mask`` (all True when None) on ``values``' device."""
    if mask is None:
        return torch.ones(values.shape[0], dtype=torch.bool, device=values.device)
    return mask.to(device=values.device, dtype=torch.bool)


def masked_softmax(logits: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
    """Softmax of (n, m) ``logits`` over the True entries of ``present``; all-False rows give zeros."""
    filled = logits.masked_fill(~present, float("-inf"))
    any_present = present.any(dim=1, keepdim=True)
    safe = torch.where(any_present, filled, torch.zeros_like(filled))  # avoid NaN from an all -inf row
    weights = torch.softmax(safe, dim=1) * present
    return weights


def _device(features: Features) -> torch.device:
    return next(iter(features.values())).device
