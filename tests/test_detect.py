"""detect_faces / crop_face / annotate / save_image on the example photo and on generated images."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from moodtune.errors import ImageError, ParameterError
from moodtune.faces import Face, annotate, crop_face, detect_faces, load_image, save_image
from moodtune.faces import detect as detect_module

EXAMPLE_PHOTO = Path(__file__).resolve().parents[1] / "examples" / "astronaut.png"
ASTRONAUT_BOX = (178, 63, 89, 112)  # what YuNet finds on the example photo


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return load_image(EXAMPLE_PHOTO)


def _face_crop(astronaut: np.ndarray, size: int, *, gray: bool = False) -> np.ndarray:
    """The astronaut's face with a little room around it, shrunk to size x size."""
    crop = crop_face(astronaut, ASTRONAUT_BOX, margin=0.2, size=size, grayscale=gray)
    return cv2.cvtColor(crop, cv2.COLOR_GRAY2RGB) if gray else crop


def _near(box, expected, tolerance: int) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(box, expected, strict=True))


# --- detect_faces ----------------------------------------------------------------------------------------


def test_yunet_finds_the_astronaut(astronaut):
    faces = detect_faces(astronaut, detector="yunet")
    assert len(faces) == 1
    face = faces[0]
    assert _near(face.box, ASTRONAUT_BOX, 6)
    assert 0.6 <= face.score <= 1.0
    assert face.landmarks.shape == (5, 2)
    right_eye, left_eye, nose, mouth_right, mouth_left = face.landmarks
    assert right_eye[0] < left_eye[0] and mouth_right[0] < mouth_left[0]  # subject's right is image left
    assert max(right_eye[1], left_eye[1]) < nose[1] < min(mouth_right[1], mouth_left[1])
    x, y, w, h = face.box
    assert np.all((face.landmarks >= (x, y)) & (face.landmarks <= (x + w, y + h)))


def test_haar_finds_the_astronaut(astronaut):
    faces = detect_faces(astronaut, detector="haar")
    assert len(faces) == 1
    assert _near(faces[0].box, ASTRONAUT_BOX, 25)
    assert 0.6 <= faces[0].score <= 1.0
    assert faces[0].landmarks is None


def test_auto_uses_yunet(astronaut):
    faces = detect_faces(astronaut)
    assert len(faces) == 1 and faces[0].landmarks is not None


def test_face_to_dict_is_json_ready(astronaut):
    face = detect_faces(astronaut, detector="yunet")[0]
    data = json.loads(json.dumps(face.to_dict()))
    assert data["box"] == list(face.box)
    assert len(data["landmarks"]) == 5
    assert Face((1, 2, 3, 4), 0.5).to_dict() == {"box": [1, 2, 3, 4], "score": 0.5, "landmarks": None}
    assert face == Face(face.box, face.score)  # landmarks take no part in ==, so Face stays hashable
    assert hash(face) == hash(Face(face.box, face.score))


@pytest.mark.parametrize("detector", ["yunet", "haar"])
def test_no_face_in_noise_or_flat_colour(detector):
    rng = np.random.default_rng(0)
    for image in (rng.integers(0, 256, (480, 640, 3), dtype=np.uint8),
                  np.full((300, 300, 3), 128, np.uint8),
                  np.zeros((48, 48, 3), np.uint8)):
        assert detect_faces(image, detector=detector) == []


@pytest.mark.parametrize("detector", ["yunet", "haar"])
@pytest.mark.parametrize("size", [32, 48, 100])
def test_small_face_crops_are_found(astronaut, detector, size):
    for gray in (False, True):
        faces = detect_faces(_face_crop(astronaut, size, gray=gray), detector=detector)
        assert len(faces) == 1, (size, gray)
        x, y, w, h = faces[0].box
        assert w >= size // 2 and h >= size // 2  # the face fills most of the crop


def test_large_image_is_searched_and_mapped_back(astronaut):
    big = cv2.resize(astronaut, (1536, 1536), interpolation=cv2.INTER_LINEAR)  # 3x, above the 960 px cap
    faces = detect_faces(big, detector="yunet")
    assert len(faces) == 1
    assert _near(faces[0].box, [3 * v for v in ASTRONAUT_BOX], 18)
    assert _near(faces[0].landmarks[0], 3 * detect_faces(astronaut)[0].landmarks[0], 15)


def test_face_cut_by_the_edge_is_clipped(astronaut):
    shifted = astronaut[:, 200:]  # the left 22 px of the face are gone
    faces = detect_faces(shifted, detector="yunet")
    assert len(faces) == 1
    x, y, w, h = faces[0].box
    assert x == 0 and w > 40 and x + w <= shifted.shape[1] and y + h <= shifted.shape[0]


def test_boxes_are_clipped_filtered_and_sorted(monkeypatch):
    """Fake detector output in working-copy pixels: clipping, min_size, min_score and order."""
    raw = [((-30, -10, 80, 60), 0.9, None),  # leaves the image top-left: clipped to 50 x 50
           ((150, 150, 100, 100), 0.8, None),  # leaves it bottom-right: clipped to 50 x 50
           ((20, 100, 60, 70), 0.95, None),  # inside, largest
           ((100, 20, 15, 40), 0.99, None),  # too narrow
           ((100, 100, 40, 40), 0.3, None)]  # too unsure
    monkeypatch.setattr(detect_module, "_detect_haar", lambda work, min_size: iter(raw))
    faces = detect_faces(np.zeros((200, 200, 3), np.uint8), detector="haar", min_size=20)
    assert [f.box for f in faces] == [(20, 100, 60, 70), (0, 0, 50, 50), (150, 150, 50, 50)]


def test_bad_arguments(astronaut):
    with pytest.raises(ParameterError, match="yunet.*haar"):
        detect_faces(astronaut, detector="dlib")
    with pytest.raises(ParameterError):
        detect_faces(astronaut, min_score=1.5)
    with pytest.raises(ParameterError):
        detect_faces(astronaut, min_size=0)
    with pytest.raises(ParameterError):
        detect_faces(astronaut.astype(np.float32))


def test_haar_cascade_is_loaded_once():
    assert detect_module._haar_cascade() is detect_module._haar_cascade()


# --- crop_face -------------------------------------------------------------------------------------------


def test_crop_shapes_and_content(astronaut):
    face = Face(ASTRONAUT_BOX, 0.9)
    colour = crop_face(astronaut, face, margin=0.0, size=112, grayscale=False)
    assert colour.shape == (112, 112, 3) and colour.dtype == np.uint8
    # margin 0, side 112 = the box height: no resize, so the centre pixel is the box centre's.
    cx, cy = 178 + 89 / 2, 63 + 112 / 2
    np.testing.assert_array_equal(colour[56, 56], astronaut[round(cy), round(cx)])
    gray = crop_face(astronaut, face, margin=0.4, size=48, grayscale=True)
    assert gray.shape == (48, 48) and gray.dtype == np.uint8
    assert crop_face(astronaut, face, margin=0.2, size=224, grayscale=False).shape == (224, 224, 3)


def test_crop_at_the_image_edge_replicates_the_border():
    image = np.zeros((100, 120, 3), np.uint8)
    image[:, 0] = (255, 0, 0)  # red left column
    image[0, :] = (0, 0, 255)  # blue top row
    crop = crop_face(image, (0, 0, 30, 20), margin=0.5, size=45, grayscale=False)
    assert crop.shape == (45, 45, 3)
    # side 45 centred on (15, 10): 7 px left of and 12 px above the image, filled by repeating its edges.
    assert (crop[20, :7] == (255, 0, 0)).all()
    assert (crop[:12, 20] == (0, 0, 255)).all()
    corner = crop_face(image, (110, 90, 10, 10), margin=1.0, size=8, grayscale=True)
    assert corner.shape == (8, 8)


def test_crop_refuses_bad_boxes():
    image = np.zeros((50, 50, 3), np.uint8)
    with pytest.raises(ParameterError):
        crop_face(image, (60, 60, 10, 10), margin=0.2, size=48, grayscale=False)
    with pytest.raises(ParameterError):
        crop_face(image, (10, 10, 0, 10), margin=0.2, size=48, grayscale=False)
    with pytest.raises(ParameterError):
        crop_face(image, (10, 10, 10, 10), margin=-1, size=48, grayscale=False)
    with pytest.raises(ParameterError):
        crop_face(image, (10, 10, 10, 10), margin=0.2, size=0, grayscale=False)


# --- annotate / save_image -------------------------------------------------------------------------------


def test_annotate_draws_inside_a_copy(astronaut):
    faces = [Face(ASTRONAUT_BOX, 0.93)]
    before = astronaut.copy()
    out = annotate(astronaut, faces, ["happy 0.93"])
    assert out.shape == astronaut.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(astronaut, before)
    x, y, w, h = ASTRONAUT_BOX
    assert (out[y:y + h, x:x + w] != astronaut[y:y + h, x:x + w]).any()
    assert (out[y - 20:y, x:x + w] != astronaut[y - 20:y, x:x + w]).any()  # the label above the box
    assert (out[400:, :100] == astronaut[400:, :100]).all()  # nothing drawn far away


def test_annotate_defaults_and_edges():
    image = np.full((60, 80, 3), 255, np.uint8)
    faces = [Face((0, 0, 30, 30), 0.8), Face((50, 30, 30, 30), 0.7)]
    assert (annotate(image, faces) != 255).any()  # labelled with scores
    assert annotate(image, []).shape == image.shape
    assert annotate(image, faces, [None, ""]).shape == image.shape
    with pytest.raises(ParameterError):
        annotate(image, faces, ["only one"])


def test_save_image_round_trip(tmp_path: Path, astronaut):
    save_image(tmp_path / "out.png", astronaut)
    np.testing.assert_array_equal(load_image(tmp_path / "out.png"), astronaut)
    save_image(tmp_path / "out.jpg", astronaut)
    assert np.abs(load_image(tmp_path / "out.jpg").astype(int) - astronaut).mean() < 4
    save_image(str(tmp_path / "gray.png"), astronaut[:, :, 1])
    with Image.open(tmp_path / "gray.png") as saved:
        assert saved.mode == "L"


def test_save_image_errors(tmp_path: Path, astronaut):
    with pytest.raises(ImageError, match="does not exist") as excinfo:
        save_image(tmp_path / "missing" / "out.png", astronaut)
    assert "out.png" in str(excinfo.value)
    with pytest.raises(ImageError, match="out.xyz"):
        save_image(tmp_path / "out.xyz", astronaut)
    (tmp_path / "taken.png").mkdir()
    with pytest.raises(ImageError, match="taken.png"):
        save_image(tmp_path / "taken.png", astronaut)
    with pytest.raises(ParameterError):
        save_image(tmp_path / "x.png", np.zeros((4, 4, 3), np.float64))
