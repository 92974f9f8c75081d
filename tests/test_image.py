"""load_image / image_from_bytes / as_rgb: every Pillow mode, orientation, size limits, and every failure."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from moodtune.errors import ImageError, ParameterError
from moodtune.faces import image_from_bytes, load_image
from moodtune.faces.image import as_rgb


def _check_rgb(a: np.ndarray, shape: tuple[int, int]) -> None:
    assert a.dtype == np.uint8
    assert a.shape == (*shape, 3)
    assert a.flags.c_contiguous


def _png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height but holds no pixel data (a decompression-bomb stand-in)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def _error_message(excinfo, name: str) -> str:
    message = str(excinfo.value)
    assert name in message
    assert "\n" not in message
    return message


# --- modes -----------------------------------------------------------------------------------------------


def test_rgb_png_round_trip(tmp_path: Path):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "rgb.png")
    out = load_image(tmp_path / "rgb.png")
    _check_rgb(out, (30, 40))
    np.testing.assert_array_equal(out, pixels)


def test_rgba_is_composited_onto_white(tmp_path: Path):
    rgba = np.zeros((10, 12, 4), np.uint8)
    rgba[..., 0] = 255  # red ...
    rgba[:, :6, 3] = 255  # ... opaque on the left, fully transparent on the right
    Image.fromarray(rgba).save(tmp_path / "a.png")
    out = load_image(str(tmp_path / "a.png"))
    _check_rgb(out, (10, 12))
    assert (out[:, :6] == (255, 0, 0)).all()
    assert (out[:, 6:] == 255).all()


def test_la_half_transparent_black_becomes_mid_grey(tmp_path: Path):
    la = Image.new("LA", (8, 6), (0, 128))
    la.save(tmp_path / "la.png")
    out = load_image(tmp_path / "la.png")
    _check_rgb(out, (6, 8))
    assert np.all(np.abs(out.astype(int) - 127) <= 2)


def test_palette_with_and_without_transparency(tmp_path: Path):
    p = Image.new("P", (9, 7), 1)
    p.putpalette([0, 0, 0, 0, 0, 255] + [0] * 762)
    p.save(tmp_path / "p.png")
    out = load_image(tmp_path / "p.png")
    _check_rgb(out, (7, 9))
    assert (out == (0, 0, 255)).all()
    p.save(tmp_path / "pt.png", transparency=1)  # palette index 1 is transparent
    assert (load_image(tmp_path / "pt.png") == 255).all()
    p.save(tmp_path / "p.gif")
    assert (load_image(tmp_path / "p.gif") == (0, 0, 255)).all()


def test_cmyk_jpeg(tmp_path: Path):
    Image.new("CMYK", (16, 8), (0, 255, 255, 0)).save(tmp_path / "cmyk.jpg", quality=95)  # pure red
    out = load_image(tmp_path / "cmyk.jpg")
    _check_rgb(out, (8, 16))
    assert np.all(np.abs(out.astype(int) - (255, 0, 0)) <= 8)


def test_one_bit_and_grayscale(tmp_path: Path):
    bits = np.zeros((5, 8), bool)
    bits[:, 4:] = True
    Image.fromarray(bits).convert("1").save(tmp_path / "bits.png")
    out = load_image(tmp_path / "bits.png")
    _check_rgb(out, (5, 8))
    assert (out[:, :4] == 0).all() and (out[:, 4:] == 255).all()

    gray = np.tile(np.arange(0, 256, 16, dtype=np.uint8), (3, 1))
    Image.fromarray(gray).save(tmp_path / "l.png")
    out = load_image(tmp_path / "l.png")
    _check_rgb(out, gray.shape)
    for channel in range(3):
        np.testing.assert_array_equal(out[..., channel], gray)


def test_16_bit_gradient_keeps_order_and_range(tmp_path: Path):
    ramp = np.linspace(0, 65535, 300).astype(np.uint16)
    Image.fromarray(np.tile(ramp, (4, 1))).save(tmp_path / "deep.png")
    with Image.open(tmp_path / "deep.png") as check:
        assert check.mode.startswith("I")  # really a 16-bit file
    out = load_image(tmp_path / "deep.png")
    _check_rgb(out, (4, 300))
    row = out[0, :, 0].astype(int)
    assert row[0] == 0 and row[-1] == 255
    assert np.all(np.diff(row) >= 0)
    assert len(np.unique(row)) > 200  # scaled, not clipped at 255


def test_16_bit_dark_image_stays_dark(tmp_path: Path):
    Image.fromarray(np.full((4, 4), 1000, np.uint16)).save(tmp_path / "dark.png")
    assert load_image(tmp_path / "dark.png").max() <= 5  # 1000 / 65535 of full scale, not stretched


def test_32_bit_int_and_float(tmp_path: Path):
    ints = np.tile(np.arange(-500, 1500, 10, dtype=np.int32), (3, 1))
    Image.fromarray(ints).save(tmp_path / "i.tif")
    row = load_image(tmp_path / "i.tif")[0, :, 0].astype(int)
    assert row[0] == 0 and row[-1] == 255 and np.all(np.diff(row) >= 0)

    floats = np.tile(np.linspace(0.0, 1.0, 50, dtype=np.float32), (3, 1))
    Image.fromarray(floats).save(tmp_path / "f.tif")
    row = load_image(tmp_path / "f.tif")[0, :, 0].astype(int)
    assert row[0] == 0 and row[-1] == 255 and np.all(np.diff(row) >= 0)


def test_exif_orientation_is_applied(tmp_path: Path):
    pixels = np.zeros((20, 40, 3), np.uint8)  # 40 wide, 20 high
    pixels[:5, :5] = (255, 0, 0)  # red mark top-left as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    Image.fromarray(pixels).save(tmp_path / "rot.jpg", exif=exif, quality=95)
    out = load_image(tmp_path / "rot.jpg")
    _check_rgb(out, (40, 20))
    assert out[2, -3, 0] > 200 and out[2, -3, 1] < 60  # the mark is now top-right
    assert out[2, 2].max() < 60


def test_bytes_match_file(tmp_path: Path):
    Image.new("RGB", (12, 10), (10, 200, 30)).save(tmp_path / "x.png")
    data = (tmp_path / "x.png").read_bytes()
    np.testing.assert_array_equal(image_from_bytes(data), load_image(tmp_path / "x.png"))
    np.testing.assert_array_equal(image_from_bytes(bytearray(data), name="s"), load_image(tmp_path / "x.png"))


# --- size ------------------------------------------------------------------------------------------------


def test_large_png_is_downscaled_keeping_aspect(tmp_path: Path):
    Image.new("RGB", (4000, 1000), (0, 128, 255)).save(tmp_path / "wide.png")
    _check_rgb(load_image(tmp_path / "wide.png"), (480, 1920))
    _check_rgb(load_image(tmp_path / "wide.png", max_side=500), (125, 500))
    _check_rgb(load_image(tmp_path / "wide.png", max_side=None), (1000, 4000))


def test_large_jpeg_is_downscaled(tmp_path: Path):
    ramp = np.linspace(0, 255, 3000).astype(np.uint8)
    pixels = np.repeat(np.tile(ramp, (4000, 1))[:, :, None], 3, axis=2)  # 3000 wide, 4000 high
    Image.fromarray(pixels).save(tmp_path / "big.jpg", quality=80)
    out = load_image(tmp_path / "big.jpg")
    _check_rgb(out, (1920, 1440))
    assert abs(int(out[960, 720, 0]) - 128) <= 6  # content survives the reduced-scale decode


def test_small_images_are_not_upscaled(tmp_path: Path):
    Image.new("RGB", (7, 3)).save(tmp_path / "tiny.png")
    _check_rgb(load_image(tmp_path / "tiny.png"), (3, 7))


def test_bomb_header_is_refused(tmp_path: Path):
    (tmp_path / "bomb.png").write_bytes(_png_header(100_000, 100_000))  # beyond Pillow's own limit
    with pytest.raises(ImageError) as excinfo:
        load_image(tmp_path / "bomb.png")
    assert "too large" in _error_message(excinfo, "bomb.png")

    (tmp_path / "big.png").write_bytes(_png_header(8000, 8000))  # 64 Mpx: above ours, below Pillow's
    with pytest.raises(ImageError) as excinfo:
        load_image(tmp_path / "big.png")
    assert "too large" in _error_message(excinfo, "big.png")


def test_pixel_limit_can_be_lowered(tmp_path: Path):
    Image.new("RGB", (100, 100)).save(tmp_path / "hundred.png")
    with pytest.raises(ImageError) as excinfo:
        load_image(tmp_path / "hundred.png", max_pixels=5000)
    assert "too large" in _error_message(excinfo, "hundred.png")
    with pytest.raises(ImageError):
        image_from_bytes((tmp_path / "hundred.png").read_bytes(), name="up.png", max_pixels=5000)


# --- failures --------------------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path):
    with pytest.raises(ImageError) as excinfo:
        load_image(tmp_path / "nope.jpg")
    assert "no such file" in _error_message(excinfo, "nope.jpg")


def test_directory(tmp_path: Path):
    (tmp_path / "photos.jpg").mkdir()
    with pytest.raises(ImageError) as excinfo:
        load_image(tmp_path / "photos.jpg")
    assert "folder" in _error_message(excinfo, "photos.jpg")


def test_empty_file(tmp_path: Path):
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(ImageError) as excinfo:
        load_image(tmp_path / "empty.png")
    assert "empty" in _error_message(excinfo, "empty.png")
    with pytest.raises(ImageError) as excinfo:
        image_from_bytes(b"", name="upload.png")
    assert "empty" in _error_message(excinfo, "upload.png")


def test_text_renamed_jpg(tmp_path: Path):
    (tmp_path / "notes.jpg").write_text("these are my holiday notes, not a photo\n" * 20)
    with pytest.raises(ImageError) as excinfo:
        load_image(tmp_path / "notes.jpg")
    assert "not an image" in _error_message(excinfo, "notes.jpg")
    with pytest.raises(ImageError) as excinfo:
        image_from_bytes(b"hello", name="form-field")
    _error_message(excinfo, "form-field")


@pytest.mark.parametrize("suffix", [".jpg", ".png"])
def test_truncated_file(tmp_path: Path, suffix: str):
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    rng = np.random.default_rng(1)
    Image.fromarray(rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)).save(tmp_path / f"whole{suffix}")
    data = (tmp_path / f"whole{suffix}").read_bytes()
    (tmp_path / f"half{suffix}").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError) as excinfo:
        load_image(tmp_path / f"half{suffix}")
    assert "truncated" in _error_message(excinfo, f"half{suffix}")
    with pytest.raises(ImageError):
        image_from_bytes(data[: len(data) // 2])


def test_bad_arguments():
    with pytest.raises(ParameterError):
        load_image(123)
    with pytest.raises(ParameterError):
        load_image("x.png", max_side=0)
    with pytest.raises(ParameterError):
        image_from_bytes("not bytes")


# --- as_rgb ----------------------------------------------------------------------------------------------


def test_as_rgb_shapes():
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4)
    out = as_rgb(gray)
    assert out.shape == (3, 4, 3) and (out[..., 2] == gray).all()
    rgb = np.zeros((3, 4, 3), np.uint8)
    assert as_rgb(rgb) is rgb
    rgba = np.zeros((3, 4, 4), np.uint8)
    rgba[..., 3] = 0
    assert (as_rgb(rgba) == 255).all()
    assert as_rgb(gray[:, :, None]).shape == (3, 4, 3)


@pytest.mark.parametrize("bad", [np.zeros((3, 4), np.float32), np.zeros((3, 4, 2), np.uint8),
                                 np.zeros((0, 4, 3), np.uint8), np.zeros(5, np.uint8), [[1, 2]]])
def test_as_rgb_refuses(bad):
    with pytest.raises(ParameterError):
        as_rgb(bad)
