"""Preparing an experiment's data: the split, its content encoded (cached), and automatic settings.

What ``fusionrec train`` and ``fusionrec benchmark`` both run before any model
is fitted (:func:`prepare_split`): a prepared data set (an MMRec folder or an
``.inter`` stem under the data folder) or a raw catalog split as configured;
the content a content model reads, encoded through the feature cache (a
content model without content is an error naming the fix); with an
``[item_profiles]`` table, each item described by a language model and
embedded as the modality ``"profile"``; with a ``[user_profiles]`` table, each user's training history summarised by a
language model and embedded as ``split.user_content``; and, for
``model.name = "auto"``, the model and settings chosen on valid
(:func:`resolve_auto`, evidence in ``auto.json``).

Example:
    >>> split, config = prepare_split(load_config(None, {"data.dataset": "ml100k-mm"}))  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from fusionrec.config import AUTO, ModelSettings
from fusionrec.data import read_mmrec
from fusionrec.data.catalog import read_catalog
from fusionrec.data.splits import make_split
from fusionrec.encoders import encode_dataset
from fusionrec.encoders.behaviour import behaviour_tuned_specs
from fusionrec.encoders.config import default_specs
from fusionrec.errors import ConfigError, DataFileError
from fusionrec.evaluation.auto import AutoChoice, choose_settings
from fusionrec.llm.item_step import attach_item_profiles
from fusionrec.llm.user_step import attach_user_profiles
from fusionrec.models import WRAPPER_MODELS, reads_content

if TYPE_CHECKING:
    from fusionrec.config import DataSettings, ExperimentConfig
    from fusionrec.data.dataset import Protocol, Split
    from fusionrec.encoders.config import EncoderSpec

logger = logging.getLogger(__name__)


def prepare_split(config: ExperimentConfig) -> tuple[Split, ExperimentConfig]:
    """The experiment's split with its content encoded (cached), and the config with the encoders used.

    Raises:
        ConfigError: the model reads content but the data has none (naming the fix), never a silent
            ID-only run.
    """
    split = split_from_settings(config.data)
    encoders = attach_encoded_features(split, config)
    item_profiles = None
    if config.item_profiles is not None:  # LLM descriptions of the items' metadata as one more modality
        item_profiles, _ = attach_item_profiles(split, config.item_profiles)
    require_content(split, config)
    if config.user_profiles is not None:  # summaries of the training histories as user content
        attach_user_profiles(split, config.user_profiles, item_profiles)
    return split, config.model_copy(update={"encoders": encoders})


def require_content(split: Split, config: ExperimentConfig) -> None:
    """Raise when a content model (:func:`~fusionrec.models.reads_content`) would train without content.

    FusionGraph trained on behaviour alone on purpose says so with ``content.modalities = []`` (in
    ``base_params`` of a wrapper such as ``staged``).
    """
    name, params = config.model.name, config.model.params
    own = (params.get("base_params") or {}) if name in WRAPPER_MODELS else params
    content = own.get("content")
    chosen = content.get("modalities") if isinstance(content, dict) else own.get("modalities")  # flat key too
    if not reads_content(name, params) or split.dataset.features or chosen == []:
        return
    table = split.dataset.item_table
    columns = [] if table is None else [str(c) for c in table.columns]
    raise ConfigError(
        f"model {name!r} reads item content, but dataset {split.dataset.name!r} has none: no <modality>_feat.npy "
        f"arrays, and {'no item table' if table is None else f'no text or media column known in {columns}'}. "
        "Add content (an items.csv with text or media columns, [[encoders]] tables naming its columns, or feature "
        "arrays), choose an ID-only model (e.g. --model lightgcn), or leave the model out to let fusionrec choose"
    )


def resolve_auto(split: Split, config: ExperimentConfig) -> ExperimentConfig:
    """With ``model.name = "auto"``, the config with the model and settings chosen on valid (else unchanged).

    The evidence is written to ``output.dir/auto.json``.
    """
    return choose_for_experiment(split, config)[0]


def choose_for_experiment(split: Split, config: ExperimentConfig) -> tuple[ExperimentConfig, AutoChoice | None]:
    """:func:`resolve_auto` and the choice itself (None when the model was named), whose
    :meth:`~fusionrec.evaluation.auto.AutoChoice.first_fit` spares the first seed a second fit."""
    if config.model.name != AUTO:
        return config, None
    user_train = config.train.model_dump(exclude_unset=True, exclude={"seed"})
    choice = choose_settings(split, seed=config.seeds[0], metric=config.evaluation.valid_metric, train=user_train)
    config.output.dir.mkdir(parents=True, exist_ok=True)
    (config.output.dir / "auto.json").write_text(json.dumps(choice.to_dict(), indent=2, default=str) + "\n")
    train = config.train.model_copy(update=choice.train)
    for key in choice.train:  # what the choice set counts as set, so the model's own defaults do not replace it
        train.model_fields_set.add(key)
    model = ModelSettings(name=choice.model, params=choice.params)
    return config.model_copy(update={"model": model, "train": train}), choice


def attach_encoded_features(split: Split, config: ExperimentConfig) -> list[EncoderSpec]:
    """Encode (or read from the cache) the content features of the experiment; returns the specs used.

    The config's ``[[encoders]]`` tables decide. Without any, for a content
    model (:func:`~fusionrec.models.reads_content`: the default model, and a
    wrapper of a content model) or automatic settings, the item table's known
    content columns (text fields, posters, audio...) are encoded with the
    default specs they imply (:func:`implied_specs`), so the model sees all the
    content the data has; ID-only models are left as they are.
    """
    dataset = split.dataset
    specs = list(config.encoders)
    wants_content = reads_content(config.model.name, config.model.params) or config.model.name == AUTO
    if not specs and wants_content and dataset.item_table is not None:
        specs = implied_specs(split)
    if not specs:
        return []
    specs = behaviour_tuned_specs(specs, split)  # text encoders tuned on the training interactions, where asked
    report = encode_dataset(dataset, specs)
    logger.info("encoded features:\n%s", report.to_text())
    return specs


def implied_specs(split: Split) -> list[EncoderSpec]:
    """The default specs of the item table's content columns, less the modalities a feature array already gives.

    A folder with ``image_feat.npy`` and an ``items.csv`` of text gets its text encoded beside the image
    features; a modality given both ways keeps the array (logged, so nothing is left out unsaid).
    """
    table = split.dataset.item_table
    if table is None:
        return []
    specs = []
    for spec in default_specs(list(table.columns), table):
        if spec.modality in split.dataset.features:
            logger.info(
                "%s: the %s_feat.npy array is used; the item table's columns are not encoded", *[spec.modality] * 2
            )
        else:
            specs.append(spec)
    return specs


def load_split(data_dir: str | Path | None, dataset: str, protocol: Protocol | None = None) -> Split:
    """Read ``dataset`` under ``data_dir`` (None: ``$FUSIONREC_DATA``) with :func:`read_mmrec`."""
    folder, stem = resolve_dataset(_data_dir(data_dir), dataset)
    return read_mmrec(folder, name=stem, protocol=protocol)


def resolve_dataset(data_dir: Path, dataset: str) -> tuple[Path, str]:
    """``(folder, .inter stem)`` of ``dataset``: ``data_dir/dataset/`` or the folder holding ``<dataset>.inter``."""
    if (data_dir / dataset).is_dir():
        return data_dir / dataset, dataset
    matches = sorted(data_dir.glob(f"*/{dataset}.inter"))
    if len(matches) == 1:
        return matches[0].parent, dataset
    if matches:
        raise DataFileError(
            f"{dataset}.inter is in {len(matches)} folders under {data_dir} ({[str(m.parent) for m in matches]}); "
            "name the folder as the dataset"
        )
    known = sorted(p.stem for p in data_dir.glob("*/*.inter"))
    raise DataFileError(
        f"no dataset {dataset!r} under {data_dir}: neither a folder {dataset}/ nor a file */{dataset}.inter; "
        f"available: {known}"
    )


def split_from_settings(data: DataSettings) -> Split:
    """The split a config's ``data`` section describes: a prepared dataset or a split raw catalog."""
    if data.dataset is not None:
        return load_split(data.resolved_dir(), data.dataset, data.protocol)
    if data.interactions is None:
        raise ConfigError("data.dataset or data.interactions must be set; neither was given")
    catalog = read_catalog(
        data.interactions,
        data.items,
        columns=data.columns,
        min_rating=data.min_rating,
        unknown_items=data.unknown_items,
    )
    settings = data.split
    split = make_split(catalog, settings.kind, settings.ratios, settings.seed, settings.min_interactions)
    return split if data.protocol is None else split.with_protocol(data.protocol)


def _data_dir(data_dir: str | Path | None) -> Path:
    if data_dir is not None:
        return Path(data_dir)
    value = os.environ.get("FUSIONREC_DATA")
    if not value:
        raise ConfigError("no data folder: pass data_dir or set $FUSIONREC_DATA to the benchmark data folder")
    return Path(value)


__all__ = [
    "attach_encoded_features",
    "choose_for_experiment",
    "implied_specs",
    "load_split",
    "prepare_split",
    "require_content",
    "resolve_auto",
    "resolve_dataset",
    "split_from_settings",
]
