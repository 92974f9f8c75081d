"""Read photos into RGB uint8 arrays, whatever mode, orientation or size the file has.

Every way a file can fail (missing, a folder, empty, not an image, truncated, too large) becomes one
:class:`~moodtune.errors.ImageError` whose one-line message names the file, says what was wrong, and what
to do.
"""

from __future__ import annotations

import io
import math
import os
import stat
import warnings

import cv2
import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from moodtune.errors import ImageError, ParameterError

#: Longest side, in pixels, that :func:`load_image` returns unless told otherwise.
DEFAULT_MAX_SIDE = 1920
#: Files with more pixels than this are refused before they are decoded (60 Mpx: above any phone camera,
#: well below what would exhaust memory as an RGB array).
DEFAULT_MAX_PIXELS = 60_000_000

_WHITE = (255, 255, 255)


def load_image(
    path: str | os.PathLike, *, max_side: int | None = DEFAULT_MAX_SIDE, max_pixels: int = DEFAULT_MAX_PIXELS
) -> np.ndarray:
    """Read an image file as it would be displayed.

    EXIF orientation is applied, transparency is composited onto white, every Pillow mode (1, L, P, CMYK,
    16-bit and 32-bit integer, float) is mapped onto 8-bit RGB.

    Parameters
    ----------
    path : str or os.PathLike
        The image file.
    max_side : int or None
        Images whose longer side exceeds this are shrunk (aspect kept) so that it equals ``max_side``.
        None keeps the full size.
    max_pixels : int
        Files whose width x height exceeds this are refused before decoding (decompression bombs).

    Returns
    -------
    np.ndarray, shape (H, W, 3), dtype uint8
        RGB pixels, C-contiguous.

    Raises
    ------
    ImageError
        The file is missing, a folder, empty, not an image, truncated or corrupt, or too large.
    ParameterError
        ``path``, ``max_side`` or ``max_pixels`` has a wrong type or value.
    """
    if not isinstance(path, str | os.PathLike):
        raise ParameterError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    name = os.fspath(path)
    _check_limits(max_side, max_pixels)
    try:
        st = os.stat(name)
    except FileNotFoundError:
        raise ImageError(f"{name}: no such file; check the path") from None
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise ImageError(f"{name}: cannot be read ({reason}); check the path and permissions") from None
    if stat.S_ISDIR(st.st_mode):
        raise ImageError(f"{name}: is a folder, not an image file; give the path of a photo inside it")
    if st.st_size == 0:
        raise ImageError(f"{name}: the file is empty (0 bytes); copy or export the photo again")
    return _decode(name, name, max_side, max_pixels)


def image_from_bytes(
    data: bytes,
    *,
    name: str = "upload",
    max_side: int | None = DEFAULT_MAX_SIDE,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> np.ndarray:
    """Decode an image held in memory (an HTTP upload, say) by the same rules as :func:`load_image`.

    Parameters
    ----------
    data : bytes, bytearray or memoryview
        The encoded file (JPEG, PNG, ...).
    name : str
        What error messages call the image.
    max_side, max_pixels
        As for :func:`load_image`.

    Returns
    -------
    np.ndarray, shape (H, W, 3), dtype uint8
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise ParameterError(f"data must be bytes, got {type(data).__name__}")
    _check_limits(max_side, max_pixels)
    if len(data) == 0:
        raise ImageError(f"{name}: the data is empty (0 bytes); send the photo file itself")
    return _decode(io.BytesIO(bytes(data)), name, max_side, max_pixels)


def as_rgb(array: np.ndarray) -> np.ndarray:
    """Take an in-memory uint8 picture as RGB.

    Parameters
    ----------
    array : np.ndarray, dtype uint8, shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4)
        Grayscale, RGB, or RGBA (alpha is composited onto white, as :func:`load_image` does).

    Returns
    -------
    np.ndarray, shape (H, W, 3), dtype uint8
        ``array`` itself when it already is C-contiguous RGB; otherwise a new array.

    Raises
    ------
    ParameterError
        Not a uint8 array of one of those shapes, or empty.
    """
    if not isinstance(array, np.ndarray):
        raise ParameterError(f"expected a numpy array, got {type(array).__name__}")
    if array.dtype != np.uint8:
        raise ParameterError(f"expected a uint8 image array, got dtype {array.dtype}; convert it to 0-255")
    shape = array.shape
    ok = array.ndim == 2 or (array.ndim == 3 and shape[2] in (1, 3, 4))
    if not ok or shape[0] == 0 or shape[1] == 0:
        raise ParameterError(f"expected an image array of shape (H, W), (H, W, 3) or (H, W, 4), got {shape}")
    if array.ndim == 3 and shape[2] == 3:
        return np.ascontiguousarray(array)
    if array.ndim == 3 and shape[2] == 4:
        alpha = array[..., 3:].astype(np.float32) / 255.0
        rgb = array[..., :3] * alpha + 255.0 * (1.0 - alpha)
        return np.ascontiguousarray(np.rint(rgb).astype(np.uint8))
    gray = array.reshape(shape[0], shape[1])
    return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))


def _check_limits(max_side, max_pixels) -> None:
    if max_side is not None and (not isinstance(max_side, int) or isinstance(max_side, bool) or max_side < 1):
        raise ParameterError(f"max_side must be a positive int or None, got {max_side!r}")
    if not isinstance(max_pixels, int) or isinstance(max_pixels, bool) or max_pixels < 1:
        raise ParameterError(f"max_pixels must be a positive int, got {max_pixels!r}")


def _decode(source, name: str, max_side: int | None, max_pixels: int) -> np.ndarray:
    """Open, check size, fully decode and convert ``source`` (a path or a file object) to RGB uint8."""
    # A truncated file must fail, not come back half grey: that setting is Pillow's global default, and
    # nothing here changes it; say so loudly if something else in the process did.
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        warnings.warn("PIL.ImageFile.LOAD_TRUNCATED_IMAGES is True: truncated images will not be detected",
                      stacklevel=3)
    try:
        # Pillow warns above Image.MAX_IMAGE_PIXELS and raises above twice that; both mean "refuse".
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(source)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(f"{name}: the image is too large to open safely ({_first_line(exc)}); "
                         "shrink it and try again") from None
    except UnidentifiedImageError:
        raise ImageError(f"{name}: not an image file moodtune can read (not JPEG, PNG, WebP, BMP, TIFF, "
                         "GIF, ...); check the file or export it again as JPEG or PNG") from None
    except OSError as exc:
        reason = _first_line(exc)
        raise ImageError(f"{name}: cannot be read ({reason}); check the path and permissions") from None

    with img:
        width, height = img.size
        if width * height > max_pixels:
            raise ImageError(f"{name}: the image is too large ({width}x{height} = {width * height / 1e6:.0f} "
                             f"megapixels, limit {max_pixels / 1e6:g}); shrink it and try again")
        if max_side is not None and max(width, height) > max_side:
            # JPEG can decode straight at 1/2, 1/4 or 1/8 scale (never below the size asked for): a 12 Mpx
            # photo then decodes several times faster and in a fraction of the memory. No-op elsewhere.
            scale = max_side / max(width, height)
            img.draft(None, (math.ceil(width * scale), math.ceil(height * scale)))
        fmt = img.format or "image"
        try:
            # Pillow decodes lazily and plugins fail with many exception types (OSError, SyntaxError,
            # ValueError, EOFError, struct.error, zlib.error ...): decode everything now and treat any of
            # them as a corrupt file.
            img.load()
            img = ImageOps.exif_transpose(img)
            rgb = _to_rgb(img)
        except MemoryError:
            raise
        except Exception as exc:
            raise ImageError(f"{name}: the {fmt} file is truncated or corrupt ({_first_line(exc)}); "
                             "copy or export the photo again") from None

    h, w = rgb.shape[:2]
    if max_side is not None and max(h, w) > max_side:
        scale = max_side / max(h, w)
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(rgb)


def _to_rgb(img: Image.Image) -> np.ndarray:
    """Map any Pillow mode onto an (H, W, 3) uint8 RGB array."""
    mode = img.mode
    if mode.startswith("I;16") or mode in ("I", "F"):
        gray = _deep_to_uint8(np.asarray(img), mode)
        return np.repeat(gray[:, :, None], 3, axis=2)
    has_alpha = mode in ("RGBA", "RGBa", "LA", "La", "PA") or "transparency" in img.info
    if has_alpha:
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, _WHITE + (255,))
        return np.asarray(Image.alpha_composite(white, rgba).convert("RGB"))
    return np.asarray(img.convert("RGB"))


def _deep_to_uint8(a: np.ndarray, mode: str) -> np.ndarray:
    """Grayscale with more than 8 bits, shape (H, W), to uint8 keeping order and range.

    16-bit files use the full 0-65535 scale, so they are divided by 257 (65535 -> 255) rather than
    stretched: a dark 16-bit photo stays dark. 32-bit integers that fit 0-65535 are taken as 16-bit (older
    Pillow opened 16-bit PNGs as mode I). Floats on [0, 1] are scaled by 255. Anything else is stretched
    from its minimum to its maximum.
    """
    a = a.astype(np.float64)
    finite = np.isfinite(a)
    if not finite.any():
        return np.zeros(a.shape, np.uint8)
    lo, hi = float(a[finite].min()), float(a[finite].max())
    if mode.startswith("I;16") or (mode == "I" and lo >= 0 and hi <= 65535):
        out = a / 257.0
    elif mode == "F" and lo >= 0 and hi <= 1:
        out = a * 255.0
    elif hi > lo:
        out = (a - lo) * (255.0 / (hi - lo))
    else:
        out = np.zeros_like(a)
    out[~finite] = 0
    return np.rint(np.clip(out, 0, 255)).astype(np.uint8)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0].rstrip(".") if text else type(exc).__name__
