"""Data layer: vocabularies, interactions, datasets, readers, validation, splitters, demo and synthetic catalogs."""

from fusionrec.data.catalog import CatalogColumns, read_catalog
from fusionrec.data.dataset import Dataset, Split, UserContent
from fusionrec.data.demo import demo_split, make_demo_catalog
from fusionrec.data.inspect import inspect_dataset
from fusionrec.data.interactions import Interactions
from fusionrec.data.mmrec import read_mmrec, write_mmrec
from fusionrec.data.splits import (
    cold_start_split,
    leave_one_out_split,
    random_split,
    split_from_file,
    temporal_split,
)
from fusionrec.data.synthetic import SyntheticConfig, generate_synthetic, write_synthetic
from fusionrec.data.validation import validate_split
from fusionrec.data.vocabulary import Vocabulary

__all__ = [
    "CatalogColumns",
    "Dataset",
    "Interactions",
    "Split",
    "SyntheticConfig",
    "UserContent",
    "Vocabulary",
    "cold_start_split",
    "demo_split",
    "generate_synthetic",
    "inspect_dataset",
    "leave_one_out_split",
    "make_demo_catalog",
    "random_split",
    "read_catalog",
    "read_mmrec",
    "split_from_file",
    "temporal_split",
    "validate_split",
    "write_mmrec",
    "write_synthetic",
]
