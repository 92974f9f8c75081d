"""Draw detected faces and their labels onto a picture, and write pictures to disk."""

from __future__ import annotations

import io
import os
from collections.abc import Sequence

import cv2
import numpy as np
from PIL import Image

from moodtune.errors import ImageError, ParameterError
from moodtune.faces.detect import Face
from moodtune.faces.image import as_rgb

# Box colours (RGB), one per face in turn; each is dark or light enough to pick black or white text for it.
_PALETTE = ((46, 204, 64), (255, 133, 27), (0, 116, 217), (240, 18, 190), (255, 220, 0), (57, 204, 204))
_FONT = cv2.FONT_HERSHEY_SIMPLEX


def annotate(
    image: np.ndarray, faces: Sequence[Face], labels: Sequence[str | None] | None = None
) -> np.ndarray:
    """Draw each face's box and a label on a copy of ``image``.

    Parameters
    ----------
    image : np.ndarray, shape (H, W, 3), dtype uint8
        RGB pixels the faces were found in (grayscale and RGBA are accepted, see :func:`as_rgb`).
    faces : sequence of Face
    labels : sequence of str or None, optional
        One text per face (e.g. "happy 0.93"); None or "" draws no text for that face. When ``labels`` is
        omitted each face is labelled with its detection score.

    Returns
    -------
    np.ndarray, shape (H, W, 3), dtype uint8
        A new RGB array; ``image`` is left unchanged.
    """
    out = as_rgb(image).copy()
    faces = list(faces)
    if labels is None:
        labels = [f"face {face.score:.2f}" for face in faces]
    labels = list(labels)
    if len(labels) != len(faces):
        raise ParameterError(f"got {len(labels)} labels for {len(faces)} faces; give one label per face")
    height, width = out.shape[:2]
    # Line width and text size grow with the picture so labels stay legible on phone photos and crops alike.
    thickness = max(1, round(min(height, width) / 320))
    font_scale = max(0.4, min(height, width) / 900)

    for i, (face, label) in enumerate(zip(faces, labels, strict=True)):
        if not isinstance(face, Face):
            raise ParameterError(f"faces must hold Face objects, got {type(face).__name__} at position {i}")
        colour = _PALETTE[i % len(_PALETTE)]
        x, y, w, h = face.box
        cv2.rectangle(out, (x, y), (x + w - 1, y + h - 1), colour, thickness, cv2.LINE_AA)
        if label:
            _draw_label(out, str(label), x, y, y + h, colour, font_scale, thickness)
    return out


def _draw_label(out: np.ndarray, text: str, x: int, top: int, bottom: int, colour, font_scale, thickness):
    """Write ``text`` on a filled box of ``colour`` above the face box (below it, or inside, if no room)."""
    height, width = out.shape[:2]
    text_thickness = max(1, thickness // 2 + 1)
    (tw, th), baseline = cv2.getTextSize(text, _FONT, font_scale, text_thickness)
    pad = max(2, thickness)
    box_w, box_h = tw + 2 * pad, th + baseline + 2 * pad
    if top - box_h >= 0:
        y0 = top - box_h
    elif bottom + box_h <= height:
        y0 = bottom
    else:
        y0 = max(0, top)
    x0 = min(max(0, x), max(0, width - box_w))
    cv2.rectangle(out, (x0, y0), (x0 + box_w - 1, y0 + box_h - 1), colour, cv2.FILLED)
    # Black on light fills, white on dark ones (ITU-R BT.601 luma).
    luma = 0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2]
    ink = (0, 0, 0) if luma > 140 else (255, 255, 255)
    cv2.putText(out, text, (x0 + pad, y0 + pad + th), _FONT, font_scale, ink, text_thickness, cv2.LINE_AA)


def save_image(path: str | os.PathLike, image: np.ndarray) -> None:
    """Write an image file; the format follows the extension (.png, .jpg / .jpeg, .webp, .bmp, ...).

    Parameters
    ----------
    path : str or os.PathLike
        Where to write; the folder must exist. An existing file is replaced.
    image : np.ndarray, dtype uint8, shape (H, W) (written as grayscale), (H, W, 3) RGB or (H, W, 4) RGBA
        (alpha composited onto white).

    Raises
    ------
    ImageError
        The folder does not exist, the extension names no image format, or the file cannot be written.
    """
    if not isinstance(path, str | os.PathLike):
        raise ParameterError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    name = os.fspath(path)
    if isinstance(image, np.ndarray) and image.ndim == 2 and image.dtype == np.uint8 and image.size:
        pil = Image.fromarray(np.ascontiguousarray(image))
    else:
        pil = Image.fromarray(as_rgb(image))

    folder = os.path.dirname(os.path.abspath(name))
    if not os.path.isdir(folder):
        raise ImageError(f"{name}: the folder {folder} does not exist; create it first or pick another path")
    ext = os.path.splitext(name)[1].lower()
    fmt = Image.registered_extensions().get(ext)
    if fmt is None or fmt not in Image.SAVE:
        raise ImageError(f"{name}: {ext or 'no extension'} is not an image format that can be written; "
                         "end the name in .png or .jpg")
    # Encode in memory first, so a failing encoder never leaves a half-written file behind.
    buffer = io.BytesIO()
    options = {"quality": 92} if fmt == "JPEG" else {}
    try:
        pil.save(buffer, format=fmt, **options)
    except (OSError, ValueError, KeyError) as exc:
        raise ImageError(f"{name}: could not be encoded as {fmt} ({exc}); save it as .png instead") from None
    try:
        with open(name, "wb") as fh:
            fh.write(buffer.getbuffer())
    except OSError as exc:
        raise ImageError(f"{name}: could not be written ({exc.strerror or exc}); check the path, permissions "
                         "and free space") from None
