"""confirm_train.py SEED: session 17's fixed_screen.py arm B (the recipe: temperature 0.2, batch 2,048, 27 epochs),
one member trained on the full training set for fixed epochs, valid never read while training; logged to this
folder's confirm_train.jsonl, vectors kept as $SCREEN_VECTORS/s18-B-SEED.npz. Test is never read.
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "session17"))
import fixed_screen  # noqa: E402

fixed_screen.LOG = HERE / "confirm_train.jsonl"

if __name__ == "__main__":
    fixed_screen.main("B", int(sys.argv[1]), prefix="s18")
