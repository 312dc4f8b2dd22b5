"""inner_train.py SEED: session 16's inner_train.py ``base`` member (TikTok's TUNED recipe, temperature 0.2, one
member, EASE off) trained on session 15's train', early stopping on valid half A; logged to this folder's
inner_train.jsonl, vectors kept as $SCREEN_VECTORS/s16-base-SEED.npz. Test is never read.
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "session16"))
import inner_train as session16  # noqa: E402

session16.LOG = HERE / "inner_train.jsonl"

if __name__ == "__main__":
    session16.main(int(sys.argv[1]), "base")
