"""Real media made on this machine once per session: speech (espeak-ng), tones and noise (sox),
a short video (ffmpeg), images (Pillow), and broken files of each kind.

Tests that need a tool are marked ``media`` and skipped with the tool's name when it is missing.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

TOOLS = ("espeak-ng", "sox", "ffmpeg")


def _run(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True, timeout=60)


def need(tool: str) -> None:
    """Skip the calling test when ``tool`` is not installed."""
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed; it makes the test media (apt-get install {tool})")


def _truncate(source: Path, target: Path, keep: float) -> Path:
    data = source.read_bytes()
    target.write_bytes(data[: int(len(data) * keep)])
    return target


def make_images(folder: Path) -> dict[str, Path]:
    """Pictures in every mode a catalog throws at us, plus broken files."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    gradient = np.linspace(0, 255, 96, dtype=np.uint8)
    red = np.zeros((120, 80, 3), np.uint8)
    red[..., 0] = 200
    red[:40, :, 2] = gradient[:80]  # a blue band on top, so rotation is visible
    paths = {"red": folder / "red.jpg", "blue": folder / "blue.png"}
    Image.fromarray(red).save(paths["red"], quality=95)
    Image.new("RGB", (64, 64), (20, 40, 220)).save(paths["blue"])
    Image.fromarray(np.tile(gradient, (96, 1))).save(paths.setdefault("grey", folder / "grey.png"))
    Image.fromarray(red).convert("CMYK").save(paths.setdefault("cmyk", folder / "cmyk.jpg"))
    rgba = Image.fromarray(red).convert("RGBA")
    rgba.putalpha(128)
    rgba.save(paths.setdefault("rgba", folder / "rgba.png"))
    paths["palette"], paths["grey16"] = folder / "palette.gif", folder / "grey16.png"
    Image.fromarray(red).convert("P", palette=Image.Palette.ADAPTIVE).save(paths["palette"])
    Image.fromarray(np.tile(gradient, (96, 1)).astype(np.uint16) * 256).save(paths["grey16"])
    _exif_rotated(Image.fromarray(red), paths.setdefault("rotated", folder / "rotated.jpg"))
    huge = Image.fromarray(rng.integers(0, 255, (100, 150, 3), dtype=np.uint8)).resize((6000, 4000))
    huge.save(paths.setdefault("huge", folder / "huge.jpg"), quality=70)
    paths["empty"] = folder / "empty.jpg"
    paths["empty"].write_bytes(b"")
    paths["corrupt"] = folder / "corrupt.jpg"
    paths["corrupt"].write_bytes(b"\xff\xd8\xff\xe0" + rng.integers(0, 255, 2000, dtype=np.uint8).tobytes())
    paths["truncated"] = _truncate(paths["huge"], folder / "truncated.jpg", 0.3)
    paths["text"] = folder / "notes.png"
    paths["text"].write_text("this is not an image\n")
    paths["missing"] = folder / "missing.jpg"
    return paths


def _exif_rotated(upright: Image.Image, path: Path) -> None:
    """Store the picture turned on its side with EXIF orientation 6 (display rotated 90 degrees clockwise)."""
    stored = upright.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    stored.save(path, exif=exif.tobytes(), quality=95)


def make_audio(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = {name: folder / f"{name}.wav" for name in ("tone", "tone2", "noise", "silence", "short")}
    _run("sox", "-n", "-r", "16000", "-c", "1", str(paths["tone"]), "synth", "1.5", "sine", "440")
    _run("sox", "-n", "-r", "44100", "-c", "2", str(paths["tone2"]), "synth", "1.5", "sine", "440")
    _run("sox", "-n", "-r", "22050", "-c", "1", str(paths["noise"]), "synth", "1.5", "whitenoise", "vol", "0.5")
    _run("sox", "-n", "-r", "22050", "-c", "1", str(paths["silence"]), "trim", "0", "1.0")
    _run("sox", "-n", "-r", "22050", "-c", "1", str(paths["short"]), "synth", "0.02", "sine", "440")
    paths["flac"] = folder / "tone.flac"
    _run("sox", str(paths["tone"]), str(paths["flac"]))
    paths["speech"] = folder / "speech.wav"
    if shutil.which("espeak-ng"):
        _run("espeak-ng", "-w", str(paths["speech"]), "The quick brown fox jumps over the lazy dog.")
    paths["truncated"] = _truncate(paths["tone"], folder / "truncated.wav", 0.4)
    paths["empty"] = folder / "empty.wav"
    paths["empty"].write_bytes(b"")
    paths["corrupt"] = folder / "corrupt.wav"
    paths["corrupt"].write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(range(200)))
    paths["text"] = folder / "notes.mp3"
    paths["text"].write_text("not audio at all\n" * 20)
    return paths


def make_video(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"clip": folder / "clip.mp4", "mute": folder / "mute.mp4"}
    common = ("ffmpeg", "-y", "-loglevel", "error")
    _run(*common, "-f", "lavfi", "-i", "testsrc=duration=2:size=160x120:rate=12",
         "-f", "lavfi", "-i", "sine=frequency=440:duration=2",
         "-c:v", "mpeg4", "-c:a", "aac", "-shortest", str(paths["clip"]))  # fmt: skip
    _run(*common, "-f", "lavfi", "-i", "color=c=red:duration=2:size=160x120:rate=12",
         "-c:v", "mpeg4", "-an", str(paths["mute"]))  # fmt: skip
    paths["truncated"] = _truncate(paths["clip"], folder / "truncated.mp4", 0.5)
    paths["empty"] = folder / "empty.mp4"
    paths["empty"].write_bytes(b"")
    paths["corrupt"] = folder / "corrupt.mp4"
    paths["corrupt"].write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    return paths


@pytest.fixture(scope="session")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_images(tmp_path_factory.mktemp("images"))


@pytest.fixture(scope="session")
def audio(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    need("sox")
    return make_audio(tmp_path_factory.mktemp("audio"))


@pytest.fixture(scope="session")
def speech(audio: dict[str, Path]) -> Path:
    """A spoken sentence (espeak-ng)."""
    need("espeak-ng")
    return audio["speech"]


@pytest.fixture(scope="session")
def video(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    need("ffmpeg")
    return make_video(tmp_path_factory.mktemp("video"))


@pytest.fixture
def catalog(tmp_path: Path, images: dict[str, Path]) -> Path:
    """A small raw catalog folder: items.csv with text fields and poster paths (some missing or broken)."""
    posters = tmp_path / "posters"
    posters.mkdir()
    rows = []
    kinds = ["red", "blue", "grey", "", "corrupt", "empty", "rotated", "missing"]
    texts = ["A red film about fire.", "A blue film about the sea.", "", "A film with no poster.",
             "Broken poster file.", "Empty poster file.", "", "Poster path that does not exist."]  # fmt: skip
    for i, (kind, overview) in enumerate(zip(kinds, texts, strict=True)):
        poster = ""
        if kind:
            poster = f"posters/{i}{images[kind].suffix}"
            if images[kind].exists():
                shutil.copy(images[kind], tmp_path / poster)
        rows.append({"item_id": f"m{i}", "title": f"Movie {i}", "genres": "Drama|Comedy", "overview": overview,
                     "poster": poster})  # fmt: skip
    pd.DataFrame(rows).to_csv(tmp_path / "items.csv", index=False)
    return tmp_path
