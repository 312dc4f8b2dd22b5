"""Multimodal models: contracts, content-only placement of new items, explanations, known answers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from fusionrec.data.dataset import Split
from fusionrec.errors import ConfigError, ModelError
from fusionrec.evaluation.protocol import evaluate_model
from fusionrec.models import MODEL_REGISTRY, build_model
from fusionrec.models.base import ContentAware, Recommender
from fusionrec.testing.contracts import CONTRACT_CHECKS, ModelFactory
from fusionrec.testing.datasets import checkerboard_split, image_only_split

TINY = {"epochs": 3, "batch_size": 16, "progress": False, "seed": 7, "threads": 1}
KNOWN_ANSWER = {"epochs": 40, "batch_size": 64, "progress": False, "seed": 0, "threads": 1, "patience": 40}


def _factories() -> dict[str, ModelFactory]:
    from fusionrec.models.bm3 import BM3
    from fusionrec.models.content_knn import ContentKNN
    from fusionrec.models.freedom import FREEDOM
    from fusionrec.models.fusion_graph import FusionGraph
    from fusionrec.models.vbpr import VBPR

    return {
        "vbpr": lambda: VBPR(embedding_dim=8, train_config=TINY),
        "freedom": lambda: FREEDOM(embedding_dim=8, knn_k=3, train_config=TINY),
        "bm3": lambda: BM3(embedding_dim=8, train_config=TINY),
        "fusiongraph": lambda: FusionGraph(embedding_dim=8, knn_k=3, train_config=TINY),
        "fusiongraph-transformer": lambda: FusionGraph(
            embedding_dim=8, knn_k=3, fusion="transformer", id_dropout=0.3, train_config=TINY
        ),
        "fusiongraph-content-channel": lambda: FusionGraph(
            embedding_dim=8, knn_k=3, content_similarity_weight=2.0, train_config=TINY
        ),
        "fusiongraph-members": lambda: FusionGraph(embedding_dim=8, knn_k=3, members=2, train_config=TINY),
        "fusiongraph-members-apart": lambda: FusionGraph(
            embedding_dim=8, knn_k=3, members=2, member_training="apart", embedding_noise=0.1, train_config=TINY
        ),
        "fusiongraph-ease": lambda: FusionGraph(
            embedding_dim=8, knn_k=3, members=2, member_training="apart", ease_weight=0.05, train_config=TINY
        ),
        "fusiongraph-second-stage": lambda: FusionGraph(
            embedding_dim=8,
            knn_k=3,
            members=2,
            member_training="apart",
            ease_weight=0.05,
            second_stage=True,
            train_config=TINY,
        ),
        "fusiongraph-unit-layer0": lambda: FusionGraph(
            embedding_dim=8, knn_k=3, members=2, member_training="apart", unit_layer0=True, train_config=TINY
        ),
        "content-knn": ContentKNN,
    }


@pytest.fixture(scope="module")
def checkerboard() -> Split:
    return checkerboard_split(n_users=20, n_items=20, seed=3)


@pytest.fixture(scope="module")
def cold_split() -> Split:
    return image_only_split(seed=1)


@pytest.fixture(
    scope="module",
    params=[
        (0.0, 1, 0.0, 0.0, None, 0.0, False),
        (2.0, 1, 0.0, 0.0, None, 0.0, False),
        (2.0, 2, 0.0, 0.0, None, 0.0, False),
        (0.0, 1, 5.0, 0.0, None, 0.0, False),
        (0.5, 1, 0.0, 3.0, ["image", "text"], 0.0, False),
        (0.2, 2, 0.0, 10.0, None, 2.0, False),
        (0.2, 2, 5.0, 10.0, ["image"], 2.0, True),
    ],
    ids=[
        "learned",
        "with-content-channel",
        "two-members-and-content-channel",
        "content-prior",
        "faded-channel-whitened-graphs",
        "boosted-content-graph",
        "unit-layer0",
    ],
)
def fitted_flagship(cold_split: Split, request: pytest.FixtureRequest) -> Recommender:
    weight, members, prior, channel_prior, whitened, graph_boost, unit_layer0 = request.param
    model = build_model(
        "fusiongraph",
        embedding_dim=16,
        knn_k=5,
        content_similarity_weight=weight,
        content_similarity_prior=channel_prior,
        members=members,
        content_prior=prior,
        graph_whitening=whitened,
        item_graph_boost=graph_boost,
        unit_layer0=unit_layer0,
        train_config=KNOWN_ANSWER,
    )
    return model.fit(cold_split)


@pytest.mark.parametrize("check", CONTRACT_CHECKS, ids=lambda check: check.__name__)
@pytest.mark.parametrize("model", sorted(_factories()))
def test_multimodal_model_meets_contract(
    model: str, check: Callable[[ModelFactory, Split], None], checkerboard: Split
) -> None:
    check(_factories()[model], checkerboard)


def test_registry_builds_the_multimodal_models() -> None:
    for name in ("vbpr", "freedom", "bm3", "fusiongraph"):
        assert build_model(name).name == name
    assert "fusiongraph" in MODEL_REGISTRY


def test_models_without_features_say_how_to_fix_it(checkerboard: Split) -> None:
    from dataclasses import replace

    bare = replace(checkerboard, dataset=replace(checkerboard.dataset, features={}, feature_masks={}))
    for name in ("vbpr", "freedom", "bm3"):
        with pytest.raises(ModelError, match="add_feature"):
            build_model(name, train_config=TINY).fit(bare)
    scores = build_model("fusiongraph", embedding_dim=8, train_config=TINY).fit(bare).score_users(np.arange(3))
    assert scores.shape == (3, bare.n_items), "the flagship falls back to behaviour alone"


def test_flagship_places_cold_items_from_content_exactly(fitted_flagship: Recommender, cold_split: Split) -> None:
    assert isinstance(fitted_flagship, ContentAware)
    cold = np.setdiff1d(np.arange(cold_split.n_items), cold_split.train.item_index)
    dataset = cold_split.dataset
    features = {m: values[cold] for m, values in dataset.features.items()}
    masks = {m: dataset.feature_mask(m)[cold] for m in dataset.features}
    vectors = fitted_flagship.content_item_vectors(features, masks)
    catalog = fitted_flagship.item_embeddings()
    assert catalog is not None
    np.testing.assert_allclose(vectors, catalog[cold], atol=1e-5)


def test_flagship_content_vectors_accept_any_subset_of_modalities(
    fitted_flagship: Recommender, cold_split: Split
) -> None:
    assert isinstance(fitted_flagship, ContentAware)
    dims = {m: v.shape[1] for m, v in cold_split.dataset.features.items()}
    rng = np.random.default_rng(0)
    image = rng.normal(size=(4, dims["image"])).astype(np.float32)
    only_image = fitted_flagship.content_item_vectors({"image": image}, {})
    masked_text = fitted_flagship.content_item_vectors(
        {"image": image, "text": np.full((4, dims["text"]), np.nan, dtype=np.float32)},
        {"text": np.zeros(4, dtype=bool)},
    )
    catalog = fitted_flagship.item_embeddings()
    assert catalog is not None and only_image.shape == (4, catalog.shape[1])
    np.testing.assert_allclose(masked_text, only_image, atol=1e-6)
    learned = 16 * fitted_flagship.config.members.count  # type: ignore[attr-defined]
    np.testing.assert_allclose(np.linalg.norm(only_image[:, :learned], axis=1), 1.0, atol=1e-5)


def test_flagship_explanations_sum_to_the_item_vectors(fitted_flagship: Recommender) -> None:
    assert isinstance(fitted_flagship, ContentAware)
    parts = fitted_flagship.modality_item_vectors()
    assert set(parts) == {"id", "image", "text"}
    catalog = fitted_flagship.item_embeddings()
    np.testing.assert_allclose(sum(parts.values()), catalog, atol=1e-5)


def _cold_recall(model: Recommender, split: Split) -> float:
    return evaluate_model(model, split, "test", ks=(10,), metrics=("recall",))["recall@10"]


@pytest.mark.parametrize(
    ("name", "params"),
    [("fusiongraph", {"embedding_dim": 16, "knn_k": 5}), ("vbpr", {"embedding_dim": 16}), ("content-knn", {})],
)
def test_content_models_rank_cold_items_that_only_images_explain(
    name: str, params: dict[str, Any], cold_split: Split
) -> None:
    """Only the image features reveal an item's class: content models must beat chance on cold items."""
    from fusionrec.models.content_knn import ContentKNN

    if name == "content-knn":
        model: Recommender = ContentKNN().fit(cold_split)
    else:
        model = build_model(name, **params, train_config=KNOWN_ANSWER).fit(cold_split)
    id_only = build_model("lightgcn", embedding_dim=16, train_config=KNOWN_ANSWER).fit(cold_split)
    recall, baseline = _cold_recall(model, cold_split), _cold_recall(id_only, cold_split)
    assert recall > 0.6, f"{name} cold-item recall@10 {recall:.3f}; content explains preference fully"
    assert recall > baseline + 0.2, f"{name} {recall:.3f} does not beat ID-only LightGCN {baseline:.3f}"


def test_freedom_pruner_keeps_the_share_of_edges_and_favours_rare_nodes(checkerboard: Split) -> None:
    from fusionrec.models.freedom import DegreePruner

    train = checkerboard.train.to_csr()
    pruner = DegreePruner(train, dropout=0.5)
    graph = pruner.sample(np.random.default_rng(0))
    n_users = checkerboard.n_users
    assert (graph[:n_users, n_users:] > 0).sum() == round(train.nnz * 0.5)
    np.testing.assert_allclose(pruner.probability.sum(), 1.0)


def test_content_knn_profile_is_the_mean_of_history(checkerboard: Split) -> None:
    from fusionrec.models.content_knn import ContentKNN

    model = ContentKNN().fit(checkerboard)
    train = checkerboard.train.to_csr()
    history = train[0].indices
    assert model.item_vectors_ is not None
    expected = model.item_vectors_[history].mean(axis=0) @ model.item_vectors_.T
    np.testing.assert_allclose(model.score_users(np.array([0]))[0], expected, rtol=1e-5, atol=1e-6)


@pytest.mark.realdata
def test_flagship_cold_items_of_tiktok_are_placed_by_content(data_dir: Any) -> None:
    """On TikTok (465 items never in train) the content path reproduces the cold items' vectors."""
    from fusionrec.data import read_mmrec

    split = read_mmrec(data_dir / "tiktok")
    training = {"epochs": 1, "progress": False, "threads": 1}
    model = build_model("fusiongraph", embedding_dim=16, train_config=training).fit(split)
    cold = np.setdiff1d(np.arange(split.n_items), split.train.item_index)
    assert len(cold) == 465
    assert isinstance(model, ContentAware)
    vectors = model.content_item_vectors({m: v[cold] for m, v in split.dataset.features.items()}, {})
    catalog = model.item_embeddings()
    assert catalog is not None
    np.testing.assert_allclose(vectors, catalog[cold], atol=1e-5)


def test_flagship_uses_only_the_chosen_modalities(cold_split: Split) -> None:
    from fusionrec.models.fusion_graph import FusionGraph

    model = FusionGraph(embedding_dim=8, knn_k=3, modalities=["image"], train_config=TINY).fit(cold_split)
    assert set(model.modality_item_vectors()) == {"id", "image"}
    cold = np.setdiff1d(np.arange(cold_split.n_items), cold_split.train.item_index)
    features = {m: values[cold] for m, values in cold_split.dataset.features.items()}
    with_text = model.content_item_vectors(features, {})
    image_only = model.content_item_vectors({"image": features["image"]}, {})
    np.testing.assert_allclose(with_text, image_only, atol=1e-6)
    catalog = model.item_embeddings()
    assert catalog is not None
    np.testing.assert_allclose(image_only, catalog[cold], atol=1e-5)


def test_flagship_names_a_modality_the_data_lacks(cold_split: Split) -> None:
    from fusionrec.models.fusion_graph import FusionGraph

    with pytest.raises(ConfigError, match=r"\['audio'\].*\['image', 'text'\]"):
        FusionGraph(embedding_dim=8, modalities=["audio"], train_config=TINY).fit(cold_split)


def test_flagship_softmax_runs_over_trained_items_unless_told_otherwise(cold_split: Split) -> None:
    from fusionrec.models.fusion_graph import FusionGraph

    trained = np.unique(cold_split.train.item_index)
    catalog = FusionGraph()._softmax_catalog(np.isin(np.arange(cold_split.n_items), trained))
    assert catalog is not None
    items, position = (tensor.numpy() for tensor in catalog)
    np.testing.assert_array_equal(items, trained)
    np.testing.assert_array_equal(position[trained], np.arange(len(trained)))
    assert np.all(np.delete(position, trained) == -1)
    assert FusionGraph(negatives="all")._softmax_catalog(np.ones(cold_split.n_items, dtype=bool)) is None
    with pytest.raises(ConfigError, match=r"loss.negatives: got 'some'"):
        FusionGraph(negatives="some")  # type: ignore[arg-type]


def test_flagship_edge_dropout_prunes_the_graph_only_inside_a_training_epoch(cold_split: Split) -> None:
    from fusionrec.models.fusion_graph import FusionGraph
    from fusionrec.models.fusion_graph_net import FusionGraphNet

    model = FusionGraph(embedding_dim=8, knn_k=3, edge_dropout=0.5, train_config=TINY).fit(cold_split)
    net = model.module_
    assert isinstance(net, FusionGraphNet) and net.full_graph is not None
    assert net.user_graph is net.full_graph, "evaluation and serving see the full graph"
    epoch = model.batches(cold_split, np.random.default_rng(0))
    next(epoch)
    assert net.user_graph is not net.full_graph
    assert net.user_graph is not None
    pruned, full = net.user_graph.matrix.nnz, net.full_graph.matrix.nnz
    assert pruned == pytest.approx(full / 2, rel=0.05)
    for _ in epoch:
        pass
    assert net.user_graph is net.full_graph


def test_flagship_members_are_distinct_networks_scored_by_their_mean_cosine(cold_split: Split) -> None:
    import torch
    import torch.nn.functional as F

    from fusionrec.models.fusion_graph import FusionGraph
    from fusionrec.models.fusion_graph_net import FusionGraphMembers

    model = FusionGraph(embedding_dim=8, knn_k=3, members=3, content_similarity_weight=0.0, train_config=TINY)
    model.fit(cold_split)
    assert isinstance(model.module_, FusionGraphMembers)
    nets = model.module_.nets()
    assert len(nets) == 3 and not torch.equal(nets[0].user_embedding, nets[1].user_embedding)
    model.module_.eval()
    with torch.no_grad():
        cosines = [F.normalize(users) @ F.normalize(items).T for users, items in (net() for net in nets)]
    users = np.arange(cold_split.n_users)
    np.testing.assert_allclose(model.score_users(users), (sum(cosines) / 3).numpy(), atol=1e-5)
    with pytest.raises(ConfigError, match=r"members.count: got 0"):
        FusionGraph(members=0)


def test_bm3_learns_the_blocks_of_a_checkerboard_without_negatives() -> None:
    board = checkerboard_split(n_users=60, n_items=60, seed=3)  # big enough that valid does not saturate at once

    def recall(model: Recommender) -> float:
        return evaluate_model(model.fit(board), board, "test", ks=(5,), metrics=("recall",))["recall@5"]

    bm3 = build_model("bm3", embedding_dim=16, train_config={**KNOWN_ANSWER, "lr": 0.01})
    assert recall(bm3) > 2 * recall(build_model("pop"))


def test_bm3_leaves_missing_features_out_of_its_content_terms(cold_split: Split) -> None:
    import torch

    model = build_model("bm3", embedding_dim=8, train_config=TINY)
    model.fit(cold_split)
    net = model.module_  # type: ignore[attr-defined]
    mask = torch.arange(cold_split.n_items) % 2 == 0  # every other item has no text, stored as NaN
    net.masks["text"] = mask
    net.features["text"] = torch.where(mask[:, None], net.features["text"], torch.nan)
    items = torch.arange(cold_split.n_items)
    projected, usable = net.projected_features(items)["text"]
    assert torch.equal(usable, mask) and projected.shape[0] == int(mask.sum())
    loss = model.loss(net, (items[:8], items[:8], items[:8]))  # type: ignore[attr-defined]
    loss.backward()
    assert torch.isfinite(loss) and all(torch.isfinite(p.grad).all() for p in net.parameters() if p.grad is not None)


def test_flagship_content_prior_fades_content_with_an_items_interactions(cold_split: Split) -> None:
    from fusionrec.models.fusion_graph import FusionGraph

    model = FusionGraph(embedding_dim=8, knn_k=3, content_prior=5.0, train_config=TINY).fit(cold_split)
    degree = np.bincount(cold_split.train.item_index, minlength=cold_split.n_items)
    scale = model.module_.content_scale  # type: ignore[union-attr]
    assert scale is not None
    np.testing.assert_allclose(scale.numpy()[:, 0], 5.0 / (5.0 + degree), rtol=1e-6)
    assert scale[degree == 0].eq(1.0).all(), "items without interactions keep all their content"
    assert FusionGraph(embedding_dim=8, train_config=TINY).fit(cold_split).module_.content_scale is None  # type: ignore[union-attr]
    with pytest.raises(ConfigError, match=r"content.prior: got -1.0"):
        FusionGraph(content_prior=-1.0)


def test_flagship_item_graph_boost_weighs_content_neighbours_by_an_items_interactions(cold_split: Split) -> None:
    import torch

    from fusionrec.models.fusion_graph import FusionGraph

    model = FusionGraph(embedding_dim=8, knn_k=3, item_graph_boost=2.0, item_graph_prior=4.0, train_config=TINY)
    module = model.fit(cold_split).module_
    degree = np.bincount(cold_split.train.item_index, minlength=cold_split.n_items)
    scale = module.item_graph_scale  # type: ignore[union-attr]
    assert scale is not None
    np.testing.assert_allclose(scale.numpy()[:, 0], 1.0 + 2.0 * 4.0 / (4.0 + degree), rtol=1e-6)
    assert scale[degree == 0].eq(3.0).all(), "items without interactions get 1 + boost"
    module.eval()
    with torch.no_grad():
        _, items = module.propagate_items(module.user_embedding, module.item_embedding)  # type: ignore[union-attr, operator]
        module.item_graph_scale = None  # type: ignore[union-attr]
        _, plain = module.propagate_items(module.user_embedding, module.item_embedding)  # type: ignore[union-attr, operator]
        graph_term = module.item_graph_power(module.item_embedding)  # type: ignore[union-attr, operator]
    np.testing.assert_allclose((items - plain).numpy(), ((scale - 1.0) * graph_term).numpy(), atol=1e-6)
    assert FusionGraph(embedding_dim=8, train_config=TINY).fit(cold_split).module_.item_graph_scale is None  # type: ignore[union-attr]
    with pytest.raises(ConfigError) as error:
        FusionGraph(item_graph_boost=-1.0, item_graph_prior=0.0)
    assert "item_graph.boost: got -1.0" in str(error.value) and "item_graph.prior: got 0.0" in str(error.value)


def test_flagship_embedding_noise_perturbs_training_only(cold_split: Split) -> None:
    import torch

    from fusionrec.models.fusion_graph import FusionGraph

    model = FusionGraph(embedding_dim=8, knn_k=3, embedding_noise=0.2, train_config=TINY).fit(cold_split)
    net = model.module_
    assert net is not None and net.perturbation is not None and net.perturbation.radius == 0.2  # type: ignore[union-attr]
    items = torch.randn(cold_split.n_items, 8)

    def propagated(training: bool) -> torch.Tensor:
        net.train(training)
        with torch.no_grad():
            return net.propagate_items(net.user_embedding, items)[1]  # type: ignore[union-attr,operator]

    torch.testing.assert_close(propagated(False), propagated(False))  # scoring is exact
    assert not torch.allclose(propagated(True), propagated(False))  # training sees perturbed layers
    net.perturbation = None  # type: ignore[union-attr]
    torch.testing.assert_close(propagated(True), propagated(False))  # the noise is the only difference
    with pytest.raises(ConfigError, match=r"core.embedding_noise: got -0.1"):
        FusionGraph(embedding_noise=-0.1)


def test_flagship_unit_layer0_propagates_unit_vectors_times_their_mean_length(cold_split: Split) -> None:
    import torch

    from fusionrec.models.fusion_graph import FusionGraph

    assert FusionGraph().config.core.unit_layer0 is False
    net = FusionGraph(embedding_dim=8, knn_k=3, unit_layer0=True, train_config=TINY).fit(cold_split).module_
    assert net is not None and net.unit_layer0  # type: ignore[union-attr]
    net.eval()
    users = torch.randn(cold_split.n_users, 8) * torch.rand(cold_split.n_users, 1) * 3
    items = torch.randn(cold_split.n_items, 8) * torch.rand(cold_split.n_items, 1) * 3
    with torch.no_grad():
        scaled = net.propagate_items(users, items)  # type: ignore[union-attr, operator]
        net.unit_layer0 = False  # type: ignore[union-attr]
        by_hand = net.propagate_items(  # type: ignore[union-attr, operator]
            torch.nn.functional.normalize(users, dim=1) * users.norm(dim=1).mean(),
            torch.nn.functional.normalize(items, dim=1) * items.norm(dim=1).mean(),
        )
        plain = net.propagate_items(users, items)  # type: ignore[union-attr, operator]
    for got, expected in zip(scaled, by_hand, strict=True):
        torch.testing.assert_close(got, expected)
    assert not torch.allclose(scaled[1], plain[1]), "lengths that differ by row change the plain propagation"


def test_flagship_unit_layer0_length_gets_no_gradient() -> None:
    import torch

    from fusionrec.models.fusion_graph_net import unit_scale

    vectors = torch.tensor([[3.0, 4.0], [0.0, 1.0]], requires_grad=True)
    scaled = vectors * unit_scale(vectors)
    torch.testing.assert_close(scaled.detach().norm(dim=1), torch.tensor([3.0, 3.0]))  # mean of lengths 5 and 1
    scaled.norm(dim=1).sum().backward()
    assert vectors.grad is not None
    torch.testing.assert_close(vectors.grad, torch.zeros_like(vectors))  # lengths are fixed: only directions learn


def test_flagship_members_trained_apart_are_single_models_of_their_own_seeds(cold_split: Split) -> None:
    from fusionrec.models.fusion_graph import FusionGraph
    from fusionrec.models.fusion_graph_apart import MEMBER_SEED_STRIDE

    def single(seed: int) -> FusionGraph:
        return FusionGraph(embedding_dim=8, knn_k=3, train_config={**TINY, "seed": seed}).fit(cold_split)

    ensemble = FusionGraph(embedding_dim=8, knn_k=3, members=2, member_training="apart", train_config=TINY)
    ensemble.fit(cold_split)
    singles = [single(TINY["seed"]), single(TINY["seed"] + MEMBER_SEED_STRIDE)]
    users = np.arange(cold_split.n_users)
    np.testing.assert_allclose(
        ensemble.score_users(users), sum(s.score_users(users) for s in singles) / 2, rtol=1e-5, atol=1e-6
    )
    history, parts = ensemble.history_, [s.history_ for s in singles]
    assert history is not None and all(p is not None for p in parts)
    assert history.epochs_run == sum(p.epochs_run for p in parts)  # type: ignore[union-attr]
    assert history.best_epoch == sum(p.best_epoch for p in parts)  # type: ignore[union-attr]
    new_items = {m: v[:3] for m, v in cold_split.dataset.features.items()}
    catalog = ensemble.item_embeddings()
    assert catalog is not None and ensemble.content_item_vectors(new_items, {}).shape == (3, catalog.shape[1])
    with pytest.raises(ConfigError, match=r"members.training: got 'alone'"):
        FusionGraph(member_training="alone")


def test_flagship_faded_content_channel_adds_weighted_content_similarity(cold_split: Split) -> None:
    from fusionrec.models.content_knn import ContentKNN
    from fusionrec.models.fusion_graph import FusionGraph

    def fitted(weight: float, prior: float) -> FusionGraph:
        config = {**TINY, "epochs": 1}
        params = {"content_similarity_weight": weight, "content_similarity_prior": prior}
        return FusionGraph(embedding_dim=8, knn_k=3, **params, train_config=config).fit(cold_split)

    users = np.arange(cold_split.n_users)
    similarity = ContentKNN().fit(cold_split).score_users(users)  # mean content similarity with the history
    degree = np.bincount(cold_split.train.item_index, minlength=cold_split.n_items)
    learned = fitted(0.0, 0.0).score_users(users)  # same seed and training: the learned part is the same
    np.testing.assert_allclose(
        fitted(0.5, 3.0).score_users(users) - learned, 0.5 * similarity * 3.0 / (3.0 + degree), atol=1e-5
    )
    np.testing.assert_allclose(fitted(0.5, 0.0).score_users(users) - learned, 0.5 * similarity, atol=1e-5)
    with pytest.raises(ConfigError, match=r"content_channel.prior: got -1.0"):
        FusionGraph(content_similarity_prior=-1.0)


@pytest.mark.parametrize("members", [1, 2], ids=["one-model", "members-apart"])
def test_flagship_ease_channel_adds_standardised_ease_scores_after_training(cold_split: Split, members: int) -> None:
    from fusionrec.models.ease_channel import EaseChannel
    from fusionrec.models.fusion_graph import FusionGraph

    def fitted(weight: float) -> FusionGraph:
        params = {"members": members, "member_training": "apart", "ease_weight": weight, "ease_l2": 3.0}
        return FusionGraph(embedding_dim=8, knn_k=3, **params, train_config=TINY).fit(cold_split)

    users = np.arange(cold_split.n_users)
    plain, with_channel = fitted(0.0), fitted(0.2)
    channel = with_channel.ease_channel()
    assert plain.ease_channel() is None and channel is not None
    train = cold_split.train.to_csr()
    expected = EaseChannel.fit(train, l2=3.0, weight=0.2).scores(train)
    np.testing.assert_allclose(with_channel.score_users(users) - plain.score_users(users), expected, atol=1e-5)
    assert plain.history_ is not None and with_channel.history_ is not None
    assert with_channel.history_.best_epoch == plain.history_.best_epoch  # early stopping does not see it
    valid = evaluate_model(with_channel, cold_split, "valid", (20,), ("recall",)).summary()["recall@20"]
    assert with_channel.history_.best_valid == pytest.approx(valid)  # what valid reads is the whole score
    with pytest.raises(ConfigError, match=r"ease_channel.weight: got -1.0"):
        FusionGraph(ease_weight=-1.0)
