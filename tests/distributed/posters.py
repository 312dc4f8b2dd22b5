"""A small poster catalog made with Pillow, for the EfficientNet tests of the Ray image path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from fusionrec.encoders import EncoderSpec

# batch_size 4 over 9 decodable posters: model batches of 4, 4 and a partial 1 (the shape most prone to differ)
POSTER_SPEC = EncoderSpec(modality="image", name="efficientnet-lite0", column="poster", batch_size=4)
POSTER_SIZES = [(96, 140), (140, 96), (64, 64), (300, 200), (120, 180), (80, 80), (200, 300), (50, 75), (160, 120)]
MASKED = {"no poster": ["none"], "not an image": ["broken"]}


def write_poster_catalog(folder: Path) -> Path:
    """``items.csv`` and posters in ``folder``: several sizes, PNG and JPEG, one grey; one item without a
    poster and one whose file is not an image (the reasons in ``MASKED``). Returns ``folder``."""
    rng = np.random.default_rng(0)
    (folder / "posters").mkdir(parents=True)
    rows = []
    for i, (width, height) in enumerate(POSTER_SIZES):
        pixels = rng.integers(0, 255, (height // 8, width // 8, 3), dtype=np.uint8)
        image = Image.fromarray(pixels).resize((width, height), Image.Resampling.BILINEAR)
        poster = f"posters/{i}.{'jpg' if i % 2 else 'png'}"
        (image.convert("L") if i == 2 else image).save(folder / poster)
        rows.append({"item_id": f"m{i}", "title": f"Movie {i}", "poster": poster})
    (folder / "posters" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4)
    rows += [{"item_id": "none", "title": "No poster", "poster": ""},
             {"item_id": "broken", "title": "Broken", "poster": "posters/broken.jpg"}]  # fmt: skip
    pd.DataFrame(rows).to_csv(folder / "items.csv", index=False)
    return folder
