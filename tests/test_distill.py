"""Distillation targets: teachers run through their own cards, mirror images averaged, targets blended."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from moodtune.errors import ParameterError  # noqa: E402
from moodtune.faces.classify import EmotionModel  # noqa: E402
from moodtune.training.datasets import resize_images  # noqa: E402
from moodtune.training.distill import distilled, teacher_probabilities  # noqa: E402
from moodtune.training.export import card_from_checkpoint, export_onnx, load_checkpoint  # noqa: E402
from moodtune.training.models import MODELS_DIR  # noqa: E402
from moodtune.training.train import fit  # noqa: E402

from .synthetic import synthetic_faces  # noqa: E402
from .test_training import quick_config  # noqa: E402

torch.set_num_threads(1)
SHIPPED_FERPLUS = MODELS_DIR / "emotion_ferplus.onnx"


@pytest.fixture(scope="module")
def faces():
    return synthetic_faces(subjects=2, reps=1)


@pytest.fixture(scope="module")
def small_teacher(tmp_path_factory, faces):
    """A teacher exported at 32 px, so the faces must be resized for it."""
    run = tmp_path_factory.mktemp("teacher")
    fit(quick_config(model="moodnet_small", epochs=1, input_size=32), faces, faces, run, log=lambda _: None)
    model, meta = load_checkpoint(run / "best.pt")
    return export_onnx(model, card_from_checkpoint(meta, training={}, metrics={}, licence=""), run / "t.onnx")


def answers(path, images):
    model = EmotionModel(path)
    return model.predict_tensor(model.crops_to_tensor(resize_images(images, model.card.input_size)))


def test_a_teacher_answers_for_each_face_and_its_mirror_image(faces):
    plain = answers(SHIPPED_FERPLUS, faces.images)
    mirrored = answers(SHIPPED_FERPLUS, np.ascontiguousarray(faces.images[:, :, ::-1]))
    taught = teacher_probabilities(faces, ["emotion_ferplus"])
    assert taught.shape == (len(faces), 7)
    np.testing.assert_allclose(taught, (plain + mirrored) / 2, atol=1e-5)
    np.testing.assert_allclose(teacher_probabilities(faces, [SHIPPED_FERPLUS], flip=False), plain, atol=1e-5)
    assert not np.allclose(plain, mirrored, atol=1e-3)  # the mirror image is a real second opinion


def test_teachers_of_other_input_sides_are_averaged(faces, small_teacher):
    one = teacher_probabilities(faces, [SHIPPED_FERPLUS], flip=False)
    other = teacher_probabilities(faces, [small_teacher], flip=False)
    np.testing.assert_allclose(other, answers(small_teacher, faces.images), atol=1e-5)
    both = teacher_probabilities(faces, [SHIPPED_FERPLUS, small_teacher], flip=False)
    np.testing.assert_allclose(both, (one + other) / 2, atol=1e-5)
    np.testing.assert_allclose(both.sum(axis=1), 1.0, atol=1e-5)


def test_targets_are_blended_by_the_teachers_weight_and_the_input_is_left_alone(faces):
    before = faces.targets.copy()
    taught = teacher_probabilities(faces, ["emotion_ferplus"])
    blend = distilled(faces, ["emotion_ferplus"], weight=0.25)
    np.testing.assert_allclose(blend.targets, 0.75 * before + 0.25 * taught, atol=1e-6)
    np.testing.assert_allclose(distilled(faces, ["emotion_ferplus"], weight=1.0).targets, taught, atol=1e-6)
    np.testing.assert_array_equal(distilled(faces, ["emotion_ferplus"], weight=0.0).targets, before)
    np.testing.assert_array_equal(faces.targets, before)
    assert blend.source["teachers"] == ["emotion_ferplus"] and blend.source["teacher_weight"] == 0.25
    np.testing.assert_array_equal(blend.images, faces.images)


def test_answers_of_teachers_trained_with_class_weights_are_unweighted(faces):
    # A network trained with class weights answers in proportion to weight x probability; a student that
    # weighs classes alike must learn from the answers divided by the weights, not weigh them twice.
    weights = np.array([4.0, 1.0, 8.0, 0.5, 0.5, 1.0, 1.0])
    taught = teacher_probabilities(faces, ["emotion_ferplus"])
    blend = distilled(faces, ["emotion_ferplus"], weight=1.0, class_weights=weights)
    expected = taught / weights
    np.testing.assert_allclose(blend.targets, expected / expected.sum(axis=1, keepdims=True), atol=1e-6)
    np.testing.assert_allclose(distilled(faces, ["emotion_ferplus"], weight=1.0, class_weights=np.ones(7)).targets,
                               taught, atol=1e-6)


def test_bad_distillation_arguments_say_what_was_wrong(faces, tmp_path):
    with pytest.raises(ParameterError, match=r"\[0, 1\]"):
        distilled(faces, ["emotion_ferplus"], weight=1.5)
    with pytest.raises(ParameterError, match="at least one teacher"):
        teacher_probabilities(faces, [])
    with pytest.raises(ParameterError, match="missing.onnx"):
        teacher_probabilities(faces, [tmp_path / "missing.onnx"])


def test_answers_are_kept_per_teacher_and_faces(faces, tmp_path):
    first = teacher_probabilities(faces, ["emotion_ferplus"], cache=tmp_path)
    kept = list(tmp_path.glob("teacher-emotion_ferplus-*.npy"))
    assert len(kept) == 1
    np.testing.assert_allclose(np.load(kept[0]), first, atol=1e-6)
    np.save(kept[0], np.full_like(first, 1 / 7))  # a second run reads the kept answers, not the model
    np.testing.assert_allclose(teacher_probabilities(faces, ["emotion_ferplus"], cache=tmp_path), 1 / 7)
    teacher_probabilities(faces.subset(np.arange(3)), ["emotion_ferplus"], cache=tmp_path)
    teacher_probabilities(faces, ["emotion_ferplus"], flip=False, cache=tmp_path)
    assert len(list(tmp_path.glob("teacher-*.npy"))) == 3  # other faces or views: other answers
