"""Peak memory above idle for worst-case image uploads to ``PUT /v1/items/{id}`` (target: at most 300 MB).

Serves a small content-aware artifact whose image modality is encoded from
raw pictures (color-histogram by default, ``--encoder efficientnet-lite0``
for the shipped CNN), in this process, and sends each case once as
``content.image.base64``. Before each upload the kernel's peak-RSS mark is
reset (``/proc/self/clear_refs``), so ``VmHWM - VmRSS before`` is the
upload's own peak: base64 and JSON parsing, decoding, encoding. The files
are made in a child process, so their making leaves nothing in this one.

Cases: the reported 876 KB 13000x13000 RGBA PNG, the largest RGBA and RGB
PNGs within the decoding budget, a 12000x12000 JPEG (decoded at reduced
scale), and three budget-sized uploads at once.

Run: ``PYTHONPATH=src python benchmarks/upload_memory.py`` (Linux only; no data folder needed).
"""

from __future__ import annotations

import argparse
import base64
import gc
import math
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from fusionrec.encoders.config import EncoderSpec
from fusionrec.encoders.image import MAX_DECODED_BYTES
from fusionrec.models.artifact import save_artifact
from fusionrec.serve.app import create_app
from fusionrec.serve.demo import ContentFactors, synthetic_split
from fusionrec.serve.settings import ServeSettings
from fusionrec.testing.images import write_flat_png

API_KEY = "benchmark"
_JPEG_SCRIPT = "import sys; from PIL import Image; Image.new('RGB', (12000, 12000), (90, 140, 30)).save(sys.argv[1])"


def rss_mib(field: str) -> float:
    """``VmRSS`` (now) or ``VmHWM`` (peak since the last reset) of this process, in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"/proc/self/status has no {field}; this benchmark needs Linux")


def make_files(folder: Path) -> dict[str, Path]:
    """The uploads, made without holding their pixels here (PNGs streamed; the JPEG in a child process)."""
    rgba_side = int(math.sqrt(MAX_DECODED_BYTES / 8))  # 4 bytes a pixel, twice for the alpha copy
    rgb_side = int(math.sqrt(MAX_DECODED_BYTES / 4))
    files = {
        "13000x13000 RGBA PNG (reported)": (13000, 13000, "RGBA"),
        f"{rgba_side}x{rgba_side} RGBA PNG (budget)": (rgba_side, rgba_side, "RGBA"),
        f"{rgb_side}x{rgb_side} RGB PNG (budget)": (rgb_side, rgb_side, "RGB"),
        "64x64 RGB PNG (warm-up)": (64, 64, "RGB"),
    }
    paths = {}
    for n, (name, (width, height, mode)) in enumerate(files.items()):
        paths[name] = folder / f"{n}.png"
        write_flat_png(paths[name], width, height, mode)
    paths["12000x12000 RGB JPEG"] = folder / "big.jpg"
    subprocess.run([sys.executable, "-c", _JPEG_SCRIPT, str(paths["12000x12000 RGB JPEG"])], check=True)
    return paths


def serve(folder: Path, encoder: str) -> TestClient:
    """A client of a content-aware artifact whose image features ``encoder`` makes."""
    spec = EncoderSpec(modality="image", name=encoder)
    dim = spec.build().dim
    split = synthetic_split(n_users=100, n_items=80, modalities=("image",), feature_dim=dim)
    path = save_artifact(ContentFactors(dim=16).fit(split), folder / "artifact", encoders=[spec])
    settings = ServeSettings(
        artifact=path,
        store_url=f"sqlite:///{folder / 'events.sqlite3'}",
        api_key=API_KEY,
        sync_interval_s=0,
        web_page=False,
        max_body_bytes=8_000_000,
    )
    return TestClient(create_app(settings))


def put(client: TestClient, item_id: str, body: dict[str, Any]) -> str:
    response = client.put(f"/v1/items/{item_id}", json=body, headers={"X-API-Key": API_KEY})
    if response.status_code >= 400:
        return f"{response.status_code}: {response.json()['error']['message'][:110]}"
    return str(response.status_code)


def measure(client: TestClient, bodies: list[dict[str, Any]], tag: str) -> tuple[float, float, list[str]]:
    """Peak MiB above idle and seconds for ``bodies`` sent at once; the answers."""
    gc.collect()
    Path("/proc/self/clear_refs").write_text("5")
    idle, started = rss_mib("VmRSS"), time.perf_counter()
    with ThreadPoolExecutor(len(bodies)) as pool:
        answers = list(pool.map(lambda nb: put(client, f"{tag}-{nb[0]}", nb[1]), enumerate(bodies)))
    return rss_mib("VmHWM") - idle, time.perf_counter() - started, answers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoder", default="color-histogram", help="image encoder (e.g. efficientnet-lite0)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="upload-memory-") as tmp:
        folder = Path(tmp)
        paths = make_files(folder)
        bodies = {
            name: {"content": {"image": {"base64": base64.b64encode(path.read_bytes()).decode()}}}
            for name, path in paths.items()
        }
        with serve(folder, args.encoder) as client:
            warm = bodies.pop("64x64 RGB PNG (warm-up)")
            put(client, "warm", warm)  # loads the encoder: part of idle, not of an upload
            budget = MAX_DECODED_BYTES / 2**20
            print(f"encoder {args.encoder}, decoding budget {budget:.0f} MiB, idle {rss_mib('VmRSS'):.0f} MiB")
            print(f"{'upload':<36} {'file KB':>8} {'peak MiB':>9} {'s':>6}  answer")
            worst = 0.0
            for n, (name, body) in enumerate(bodies.items()):
                peak, seconds, answers = measure(client, [body], f"case{n}")
                worst = max(worst, peak)
                size = paths[name].stat().st_size / 1000
                print(f"{name:<36} {size:>8,.0f} {peak:>9,.0f} {seconds:>6.1f}  {answers[0]}")
            budget_case = next(name for name in bodies if "RGB PNG (budget)" in name)
            peak, seconds, answers = measure(client, [bodies[budget_case]] * 3, "three")
            print(f"{'3 x ' + budget_case:<36} {'':>8} {peak:>9,.0f} {seconds:>6.1f}  {', '.join(answers)}")
            print(f"worst single upload: {worst:,.0f} MiB above idle (target: at most 300 MB = 286 MiB)")


if __name__ == "__main__":
    main()
