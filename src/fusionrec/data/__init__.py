"""Data layer: vocabularies, interactions, datasets, readers and splitters."""

from fusionrec.data.dataset import Dataset, Split
from fusionrec.data.interactions import Interactions
from fusionrec.data.mmrec import read_mmrec, write_mmrec
from fusionrec.data.vocabulary import Vocabulary

__all__ = ["Dataset", "Interactions", "Split", "Vocabulary", "read_mmrec", "write_mmrec"]
