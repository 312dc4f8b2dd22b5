"""How far EfficientNet-Lite0 features move with the torch thread count and the model batch size.

The Ray encoding path runs exactly one process's chunks and batches, but each
actor runs as many torch threads as it has CPUs; oneDNN's convolutions may sum
in another order at another thread count or batch size. This encodes the
first ``--limit`` posters of a catalog at every thread count and batch size
given and prints, for each, the largest absolute difference from the first
combination and how many items differ at all.

Usage::

    FUSIONREC_DATA=../shared/data python benchmarks/image_bits.py --limit 32 --threads 1 2 \
        --batch-sizes 32 31 16 9 4 1
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np
import torch

from fusionrec.encoders import EncoderSpec
from fusionrec.encoders.inputs import collect_inputs
from fusionrec.encoders.loading import read_items


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="ml100k-mm", help="MMRec folder under $FUSIONREC_DATA")
    parser.add_argument("--column", default="poster")
    parser.add_argument("--limit", type=int, default=32, help="posters to encode")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[32, 31, 16, 9, 4, 1])
    args = parser.parse_args()
    data = os.environ.get("FUSIONREC_DATA")
    if not data:
        print("set FUSIONREC_DATA to the shared benchmark data folder", file=sys.stderr)
        return 2
    spec = EncoderSpec(modality="image", name="efficientnet-lite0", column=args.column)
    encoder = spec.build()
    encoder.ensure_loaded()
    inputs = collect_inputs(read_items(Path(data) / args.dataset), spec, encoder.kind)
    paths = [value for value, reason in zip(inputs.values, inputs.reasons, strict=True) if not reason][: args.limit]
    pixels = np.stack([encoder.decode(path) for path in paths])  # uint8 (n, 224, 224, 3)
    reference, rows = None, []
    for threads in args.threads:
        torch.set_num_threads(threads)
        for size in args.batch_sizes:
            features = np.concatenate([encoder.embed_pixels(pixels[i : i + size]) for i in range(0, len(pixels), size)])
            reference = features if reference is None else reference
            rows.append(
                {
                    "threads": threads,
                    "batch_size": size,
                    "identical": bool(np.array_equal(features, reference)),
                    "max_abs_difference": float(np.abs(features - reference).max()),
                    "items_differing": int((features != reference).any(axis=1).sum()),
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    largest = max(abs(float(reference.max())), abs(float(reference.min()))) if reference is not None else 0.0
    print(json.dumps({"items": len(paths), "largest_feature_value": largest, "load_average": os.getloadavg()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
