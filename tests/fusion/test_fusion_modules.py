"""Fusion modules: shapes for every subset of modalities, masks that really exclude, gradients, explanations."""

from __future__ import annotations

import itertools

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from fusionrec.errors import ConfigError, FeatureShapeError
from fusionrec.fusion import FUSION_REGISTRY, build_fusion
from fusionrec.fusion.base import SHARED

DIMS = {"audio": 6, "image": 10, "text": 8}
KINDS = sorted(FUSION_REGISTRY)
SUBSETS = [list(s) for r in range(1, len(DIMS) + 1) for s in itertools.combinations(sorted(DIMS), r)]


def make(kind: str, output_dim: int = 8) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_fusion(kind, DIMS, output_dim).eval()


def features(n: int, names: list[str], seed: int = 0) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return {name: torch.randn(n, DIMS[name], generator=generator) for name in names}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("names", SUBSETS, ids=lambda s: "+".join(s))
def test_output_shape_for_every_subset(kind: str, names: list[str]) -> None:
    out = make(kind)(features(7, names))
    assert out.shape == (7, 8)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=15, deadline=None)
@given(pattern=st.lists(st.tuples(st.booleans(), st.booleans(), st.booleans()), min_size=1, max_size=6))
def test_masked_values_do_not_influence_the_output(kind: str, pattern: list[tuple[bool, bool, bool]]) -> None:
    fusion = make(kind)
    names = sorted(DIMS)
    masks = {name: torch.tensor([row[c] for row in pattern]) for c, name in enumerate(names)}
    clean = features(len(pattern), names, seed=1)
    dirty = {name: torch.where(masks[name][:, None], values, torch.nan) for name, values in clean.items()}
    noisy = {name: torch.where(masks[name][:, None], values, values * 100 + 3) for name, values in clean.items()}
    with torch.no_grad():
        reference = fusion(clean, masks)
        torch.testing.assert_close(fusion(dirty, masks), reference)
        torch.testing.assert_close(fusion(noisy, masks), reference)


@pytest.mark.parametrize("kind", KINDS)
def test_masked_modality_equals_leaving_it_out(kind: str) -> None:
    fusion = make(kind)
    values = features(5, ["image", "text"])
    masked = {"image": torch.ones(5, dtype=torch.bool), "text": torch.zeros(5, dtype=torch.bool)}
    with torch.no_grad():
        torch.testing.assert_close(fusion(values, masked), fusion({"image": values["image"]}))


@pytest.mark.parametrize("kind", KINDS)
def test_items_without_content_share_one_learned_vector(kind: str) -> None:
    fusion = make(kind)
    values = features(4, ["audio", "image"])
    none = {"audio": torch.zeros(4, dtype=torch.bool), "image": torch.zeros(4, dtype=torch.bool)}
    with torch.no_grad():
        out = fusion(values, none)
    torch.testing.assert_close(out, out[:1].expand(4, -1))
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("kind", KINDS)
def test_gradients_reach_every_present_modality(kind: str) -> None:
    fusion = build_fusion(kind, DIMS, 8)
    values = {name: tensor.requires_grad_() for name, tensor in features(6, sorted(DIMS)).items()}
    masks = {"audio": torch.tensor([True, False, True, True, False, True])}
    fusion(values, masks).pow(2).sum().backward()
    for name, tensor in values.items():
        assert tensor.grad is not None and tensor.grad.abs().sum() > 0, name
    assert values["audio"].grad is not None
    assert torch.all(values["audio"].grad[~masks["audio"]] == 0)
    trained = [p for p in fusion.parameters() if p.grad is not None and p.grad.abs().sum() > 0]
    assert trained, "no parameter received a gradient"


@pytest.mark.parametrize("kind", KINDS)
def test_contributions_sum_to_the_output(kind: str) -> None:
    fusion = make(kind)
    values = features(5, ["audio", "text"])
    masks = {"text": torch.tensor([True, False, True, False, True])}
    with torch.no_grad():
        parts = fusion.contributions(values, masks)
        output = fusion(values, masks)
    assert set(parts) == {"audio", "text", SHARED}
    torch.testing.assert_close(sum(parts.values()), output, atol=1e-5, rtol=1e-5)
    if kind != "transformer":  # additive modules: a masked modality contributes exactly nothing
        assert torch.all(parts["text"][~masks["text"]] == 0)


@pytest.mark.parametrize("kind", KINDS)
def test_bad_inputs_are_named(kind: str) -> None:
    fusion = make(kind)
    with pytest.raises(FeatureShapeError, match="unknown modalities"):
        fusion({"video": torch.zeros(2, 3)})
    with pytest.raises(FeatureShapeError, match=r"expected \(2, 10\)"):
        fusion({"image": torch.zeros(2, 9)})
    with pytest.raises(FeatureShapeError, match="mask has shape"):
        fusion({"image": torch.zeros(2, 10)}, {"image": torch.ones(3, dtype=torch.bool)})
    with pytest.raises(FeatureShapeError, match="no features"):
        fusion({})


def test_unknown_kind_lists_the_choices() -> None:
    with pytest.raises(ConfigError, match="gated"):
        build_fusion("sum", DIMS, 8)


def test_weighted_fusion_renormalises_over_present_modalities() -> None:
    fusion = make("weighted")
    present = torch.tensor([[True, True, True], [True, False, False], [False, False, False]])
    weights = fusion.weights(present)
    torch.testing.assert_close(weights.sum(dim=1), torch.tensor([1.0, 1.0, 0.0]))
    assert weights[1, 0] == 1.0


@pytest.mark.parametrize("rate", [0.0, 0.25, 0.5])
def test_byte_dropout_zeroes_its_share_and_keeps_the_mean(rate: float) -> None:
    from fusionrec.fusion.base import ByteDropout

    torch.manual_seed(0)
    dropout, values = ByteDropout(rate), torch.ones(200, 500)
    dropped = dropout.train()(values)
    assert abs(float((dropped == 0).float().mean()) - rate) < 0.01
    assert abs(float(dropped.mean()) - 1.0) < 0.02
    assert torch.equal(dropout.eval()(values), values)


@pytest.mark.parametrize("rate", [-0.1, 1.0])
def test_byte_dropout_refuses_rates_outside_zero_to_one(rate: float) -> None:
    from fusionrec.fusion.base import ByteDropout

    with pytest.raises(ConfigError, match=str(rate)):
        ByteDropout(rate)
