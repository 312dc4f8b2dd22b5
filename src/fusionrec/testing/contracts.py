"""Contract checks every recommender must pass, reusable by plug-in authors.

Each check takes a *factory* (a zero-argument callable returning a fresh,
unfitted model, e.g. ``lambda: LightGCN(train_config={"epochs": 3})``)
and a small :class:`~fusionrec.data.dataset.Split`, and raises
``AssertionError`` with a message naming the model when the contract is
broken. :data:`CONTRACT_CHECKS` lists them all, so a test module can
parametrise over ``(model, check)`` pairs:

Example:
    >>> import pytest
    >>> from fusionrec.testing.contracts import CONTRACT_CHECKS
    >>> from fusionrec.testing.datasets import checkerboard_split
    >>> @pytest.mark.parametrize("check", CONTRACT_CHECKS, ids=lambda c: c.__name__)
    ... def test_my_model(check):
    ...     check(lambda: MyModel(epochs=2), checkerboard_split())  # doctest: +SKIP

The checks: the defaults build; ``get_params`` round-trips through the
constructor; ``fit`` returns the model itself; the same seed gives the
same scores; saving (``state_arrays``, through an ``.npz`` with pickling
off) and loading gives identical scores; ``recommend`` never returns a
training item; an unknown user raises :class:`~fusionrec.errors.UnknownIdError`;
``score_users`` returns float32 ``(n, n_items)``; a registered model's
settings written to an experiment file (TOML) and read back build a model
with the same parameters and the same scores; the model's typed config
accepts its parameters, refuses an unknown key naming it and has the
constructor's defaults.
"""

from __future__ import annotations

import inspect
import io
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from fusionrec.config import ExperimentConfig, dump_toml, load_config
from fusionrec.errors import ConfigError, UnknownIdError
from fusionrec.models import MODEL_REGISTRY, build_model
from fusionrec.models.model_config import config_of, validated_config

if TYPE_CHECKING:
    from fusionrec.data.dataset import Split
    from fusionrec.models.base import Recommender

ModelFactory = Callable[[], "Recommender"]
"""A zero-argument callable returning a fresh, unfitted model."""

UNKNOWN_USER = "no-such-user-\u2400"


def check_defaults_build(factory: ModelFactory, split: Split) -> None:
    """The model's class builds with no arguments at all."""
    cls = type(factory())
    model = cls()
    assert isinstance(model.get_params(), dict), f"{cls.__name__}().get_params() must return a dict"


def check_params_round_trip(factory: ModelFactory, split: Split) -> None:
    """``type(m)(**m.get_params())`` builds a model with the same parameters."""
    model = factory()
    params = model.get_params()
    rebuilt = type(model)(**params)
    assert rebuilt.get_params() == params, (
        f"{type(model).__name__}: get_params() does not round-trip through the constructor: "
        f"{params} became {rebuilt.get_params()}"
    )


def check_fit_returns_self(factory: ModelFactory, split: Split) -> None:
    """``fit(split)`` returns the very model it was called on."""
    model = factory()
    fitted = model.fit(split)
    assert fitted is model, f"{type(model).__name__}.fit() returned {type(fitted).__name__}, not the model itself"


def check_same_seed_same_scores(factory: ModelFactory, split: Split) -> None:
    """Two fits with the same parameters (hence seed) give the same scores."""
    users = _all_users(split)
    first = factory().fit(split).score_users(users)
    second = factory().fit(split).score_users(users)
    np.testing.assert_allclose(
        first, second, rtol=1e-5, atol=1e-6, err_msg=f"{type(factory()).__name__}: same seed, different scores"
    )


def check_save_load_identical(factory: ModelFactory, split: Split) -> None:
    """State saved with ``state_arrays`` (as npz, no pickle) loads into a fresh model with identical scores."""
    model = factory().fit(split)
    users = _all_users(split)
    arrays = _npz_round_trip(model.state_arrays())
    loaded = type(model)(**model.get_params())
    loaded.load_state_arrays(split, arrays)
    np.testing.assert_array_equal(
        loaded.score_users(users),
        model.score_users(users),
        err_msg=f"{type(model).__name__}: scores changed after save/load",
    )


def check_recommend_excludes_seen(factory: ModelFactory, split: Split) -> None:
    """``recommend`` never returns one of the user's training items."""
    model = factory().fit(split)
    seen = split.train.to_csr()
    user_ids = list(split.dataset.users.ids)
    k = max(1, split.n_items - int(np.diff(seen.indptr).max()))  # as many as every user has unseen
    lists = model.recommend(user_ids, k=k)
    for user_index, ranked in enumerate(lists):
        items = split.dataset.items.index([item for item, _ in ranked])
        overlap = set(items.tolist()) & set(seen[user_index].indices.tolist())
        assert not overlap, f"{type(model).__name__} recommended training items {sorted(overlap)} to user {user_index}"


def check_unknown_user_raises(factory: ModelFactory, split: Split) -> None:
    """An unknown raw user id raises :class:`UnknownIdError` that names the id."""
    model = factory().fit(split)
    try:
        model.recommend([UNKNOWN_USER], k=1)
    except UnknownIdError as error:
        assert UNKNOWN_USER in str(error), f"the UnknownIdError message does not name the id: {error}"
        return
    raise AssertionError(f"{type(model).__name__}.recommend() accepted the unknown user id {UNKNOWN_USER!r}")


def check_score_shape(factory: ModelFactory, split: Split) -> None:
    """``score_users`` returns float32 ``(n, n_items)`` for one user and for many."""
    model = factory().fit(split)
    for users in (np.array([0], dtype=np.int64), _all_users(split)):
        scores = model.score_users(users)
        assert scores.shape == (len(users), split.n_items), (
            f"{type(model).__name__}.score_users gave shape {scores.shape}; ({len(users)}, {split.n_items}) expected"
        )
        assert scores.dtype == np.float32, f"{type(model).__name__}.score_users gave {scores.dtype}; float32 expected"


def check_config_round_trip(factory: ModelFactory, split: Split) -> None:
    """A registered model's settings -> experiment TOML -> config -> model: same parameters, same scores."""
    model = factory()
    if model.name not in MODEL_REGISTRY:  # a plug-in that is not registered has no experiment file to speak of
        return
    params = {key: value for key, value in model.get_params().items() if value is not None}  # TOML has no null
    train = params.pop("train_config", None)
    config = ExperimentConfig.model_validate({"model": {"name": model.name, "params": params}, "train": train or {}})
    with tempfile.TemporaryDirectory() as folder:
        loaded = load_config(dump_toml(config, Path(folder) / "experiment.toml"))
    for section in ("model", "train"):  # data.dir may come from $FUSIONREC_DATA on reading; the model's do not
        read_back, written = getattr(loaded, section), getattr(config, section)
        assert read_back == written, f"{model.name}: [{section}] read back differs: {read_back} != {written}"
    kwargs = dict(loaded.model.params)
    if train is not None:
        kwargs["train_config"] = loaded.train.model_dump(exclude_unset=True)
    rebuilt = build_model(loaded.model.name, **kwargs)
    assert rebuilt.get_params() == model.get_params(), f"{model.name}: parameters changed through the experiment file"
    users = _all_users(split)
    before, after = model.fit(split).score_users(users), rebuilt.fit(split).score_users(users)
    assert np.array_equal(before, after), f"{model.name}: scores changed through the experiment file"


def check_typed_config(factory: ModelFactory, split: Split) -> None:
    """The model's typed config accepts its parameters, refuses an unknown key naming it, and has its defaults."""
    model = factory()
    config_type = config_of(type(model))
    params = {key: value for key, value in model.get_params().items() if key != "train_config"}
    validated_config(model.name, config_type, params)
    if config_type.model_config.get("extra") == "forbid":
        try:
            validated_config(model.name, config_type, {**params, "no_such_key": 1})
        except ConfigError as exc:
            assert "no_such_key" in str(exc), f"{model.name}: the unknown-key error does not name the key: {exc}"
        else:
            raise AssertionError(f"{model.name}: its config accepted the unknown key 'no_such_key'")
    for name, parameter in inspect.signature(type(model).__init__).parameters.items():
        if name not in config_type.model_fields or parameter.default is inspect.Parameter.empty:
            continue
        default = config_type.model_fields[name].get_default(call_default_factory=True)
        same = default == parameter.default or (parameter.default is None and default == {})  # None = no parameters
        assert same, (
            f"{model.name}: config default {name}={default!r} differs from the constructor's {parameter.default!r}"
        )


CONTRACT_CHECKS: tuple[Callable[[ModelFactory, Split], None], ...] = (
    check_defaults_build,
    check_params_round_trip,
    check_fit_returns_self,
    check_same_seed_same_scores,
    check_save_load_identical,
    check_recommend_excludes_seen,
    check_unknown_user_raises,
    check_score_shape,
    check_config_round_trip,
    check_typed_config,
)
"""Every contract check, in a stable order."""


def check_contracts(factory: ModelFactory, split: Split) -> None:
    """Run every check in :data:`CONTRACT_CHECKS`; the first broken contract raises."""
    for check in CONTRACT_CHECKS:
        check(factory, split)


def _all_users(split: Split) -> np.ndarray:
    return np.arange(split.n_users, dtype=np.int64)


def _npz_round_trip(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Write ``arrays`` to an in-memory .npz and read them back with pickling disabled."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]  # the stub types every **kwarg as allow_pickle
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as stored:
        return {name: stored[name] for name in stored.files}
