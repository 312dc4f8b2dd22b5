"""fusionrec: multimodal recommendation that reads a catalog the way people experience it.

The public API is small and flat; heavy libraries (torch, encoders, the
server) are imported only when used, so ``import fusionrec`` stays fast.
"""

from fusionrec.data import Dataset, Interactions, Split, Vocabulary, read_mmrec, write_mmrec
from fusionrec.errors import FusionrecError

__version__ = "0.1.0"

__all__ = [
    "Dataset",
    "FusionrecError",
    "Interactions",
    "Split",
    "Vocabulary",
    "__version__",
    "read_mmrec",
    "write_mmrec",
]
