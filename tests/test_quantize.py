"""8-bit export: the quantized model answers as the float one does, carries its card, and a refused or failed
quantization leaves nothing behind. Synthetic gratings only (see test_training.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from moodtune.errors import ParameterError
from moodtune.faces.classify import EmotionModel
from moodtune.training.models import weights_path

from .synthetic import synthetic_faces

onnx = pytest.importorskip("onnx")  # the train extra
pytest.importorskip("onnxruntime.quantization")


def _predict(model: EmotionModel, crops: np.ndarray) -> np.ndarray:
    return model.predict_tensor(model.crops_to_tensor(crops))


def _in_8_bit_steps(probabilities: np.ndarray) -> bool:
    return bool(np.allclose(probabilities * 256, np.round(probabilities * 256), atol=1e-3))


def test_quantized_model_answers_as_the_float_one(tmp_path):
    from moodtune.training.quantize import quantize_model

    source = weights_path("emotion_ferplus")  # a real trained network, shipped with the package
    faces = synthetic_faces(subjects=6, reps=2).images  # 84 gray 48 px crops
    out = tmp_path / "int8.onnx"
    report = quantize_model(source, out, calibration=faces[::2], check=faces[1::2])
    assert report["faces"] == 42 and report["checked"] == 42

    before, after = _predict(EmotionModel(source), faces[1::2]), _predict(EmotionModel(out), faces[1::2])
    np.testing.assert_allclose(after.sum(axis=1), 1, atol=1e-5)
    assert not _in_8_bit_steps(after)  # the head and the softmax stayed float
    assert np.abs(after - before).max() == pytest.approx(report["max_difference"], abs=1e-6)
    assert report["agreement"] == pytest.approx((after.argmax(1) == before.argmax(1)).mean())
    assert report["agreement"] >= 0.9 and report["max_difference"] < 0.2

    # Convolution weights are stored as int8 (a quarter of the bytes); the classifier head is left float.
    graph = onnx.load(str(out)).graph
    int8 = [t for t in graph.initializer if t.data_type == onnx.TensorProto.INT8]
    assert len(int8) >= 8 and out.stat().st_size < 0.4 * source.stat().st_size
    assert all(node.op_type != "QLinearSoftmax" for node in graph.node)

    card = json.loads(out.with_suffix(".json").read_text())
    original = json.loads(source.with_suffix(".json").read_text())
    assert card["labels"] == original["labels"] and card["input_size"] == 48
    assert card["training"]["quantization"]["agreement"] == report["agreement"]
    assert "int8" in card["training"]["quantization"]["method"]


def test_quantize_refuses_faces_of_the_wrong_side(tmp_path):
    from moodtune.training.quantize import quantize_model

    with pytest.raises(ParameterError, match=r"shape \(N, 48, 48\)"):
        quantize_model(weights_path("emotion_ferplus"), tmp_path / "x.onnx",
                       calibration=np.zeros((4, 32, 32), np.uint8))
    assert not (tmp_path / "x.onnx").exists()


def test_cli_exports_an_8_bit_ensemble_and_refuses_one_that_strays(tmp_path, manifest, capsys):
    pytest.importorskip("torch")
    from .test_training import run_cli

    runs = []
    for model in ("lenet5", "moodnet_small"):  # 32 and 48 px
        run = tmp_path / model
        status, _, err = run_cli(capsys, "train", "--data", manifest, "--model", model, "--fold", "0",
                                 "--fixed-epochs", "--epochs", "2", "--threads", "1", "--run", run,
                                 "--cache", tmp_path / "cache")
        assert status == 0, err
        runs.append(run / "best.pt")
    members = [a for run in runs for a in ("--member", run)]
    out = tmp_path / "int8" / "model.onnx"
    status, printed, err = run_cli(capsys, "export", *members, "--input-size", "32", "--out", out,
                                   "--quantize-with", manifest, "--calibration-faces", "40", "--min-agreement", "0",
                                   "--cache", "none")
    assert status == 0, err
    assert "8-bit model: calibrated on 40 faces" in printed and "on 30 faces" in printed  # 70 in the manifest
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["name"] == "ensemble of lenet5 + moodnet_small" and card["input_size"] == 32
    assert card["training"]["quantization"]["faces"] == 40
    assert "--quantize-with" in card["training"]["command"]
    assert any(t.data_type == onnx.TensorProto.INT8 for t in onnx.load(str(out)).graph.initializer)
    model = EmotionModel(out)
    probabilities = _predict(model, synthetic_faces(subjects=2, reps=1, size=32).images)
    assert not _in_8_bit_steps(probabilities)  # the members' heads, softmaxes and their average stayed float

    # An 8-bit model is no starting point for training, and says so.
    status, _, err = run_cli(capsys, "train", "--data", manifest, "--model", "moodnet_small", "--weights", out,
                             "--epochs", "1", "--run", tmp_path / "again", "--cache", "none")
    assert status == 2 and "8-bit model" in err and "cannot be trained further" in err

    # No 8-bit model can agree with the float one on more than all faces: refused, and nothing is written.
    refused = tmp_path / "refused.onnx"
    status, _, err = run_cli(capsys, "export", "--checkpoint", runs[0], "--out", refused, "--quantize-with", manifest,
                             "--min-agreement", "1.01", "--cache", "none")
    assert status != 0 and "refused.onnx" in err and "not written" in err
    assert not refused.exists() and not refused.with_suffix(".json").exists()

    status, _, err = run_cli(capsys, "export", "--checkpoint", runs[0], "--out", tmp_path / "y.onnx",
                             "--input-size", "32")
    assert status == 2 and "--input-size sets an ensemble's side" in err
    status, _, err = run_cli(capsys, "export", "--checkpoint", runs[0], "--out", tmp_path / "z.onnx",
                             "--quantize-with", tmp_path / "nowhere")
    assert status == 2 and "nowhere: calibration data not found" in err
    assert not (tmp_path / "z.onnx").exists()
