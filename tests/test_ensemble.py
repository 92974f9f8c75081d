"""Ensembles: members of different input sides and normalisations averaged into one exported model, and
scoring one subject fold's test part. Synthetic gratings only (see test_training.py)."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from moodtune.emotions import EMOTIONS  # noqa: E402
from moodtune.errors import ParameterError  # noqa: E402
from moodtune.faces.classify import EmotionModel  # noqa: E402
from moodtune.training.ensemble import AveragedNets, resize_matrix  # noqa: E402
from moodtune.training.models import create_model  # noqa: E402

from .synthetic import grating  # noqa: E402
from .test_training import run_cli  # noqa: E402

torch.set_num_threads(1)


@pytest.mark.parametrize("source, target, interpolation", [(80, 48, cv2.INTER_AREA), (48, 80, cv2.INTER_LINEAR)])
def test_resize_matrix_is_opencvs_resize(source, target, interpolation):
    # Shrinking as crop_face and training shrink (INTER_AREA), growing as they grow (INTER_LINEAR).
    image = np.random.default_rng(0).uniform(0, 1, size=(source, source)).astype(np.float32)
    matrix = resize_matrix(source, target)
    assert matrix.shape == (target, source)
    want = cv2.resize(image, (target, target), interpolation=interpolation)
    np.testing.assert_allclose(matrix @ image @ matrix.T, want, atol=1e-5)


def test_ensemble_is_the_mean_of_each_member_on_its_own_preprocessing():
    torch.manual_seed(0)
    small, large = create_model("lenet5").eval(), create_model("moodnet_small").eval()  # 32 and 48 px
    members = [(small, {"input_size": 32, "mean": 0.4, "std": 0.2}),
               (large, {"input_size": 48, "mean": 0.5, "std": 0.25, "channels": 1})]

    def check(ensemble, crops, at_32, at_48):
        """The ensemble's answer for ``crops`` is the mean of each member's on its own-side crops."""
        with torch.no_grad():
            got = torch.exp(ensemble(torch.from_numpy(crops[:, None]))).numpy()
            want = (torch.softmax(small((torch.from_numpy(at_32[:, None]) - 0.4) / 0.2), 1)
                    + torch.softmax(large((torch.from_numpy(at_48[:, None]) - 0.5) / 0.25), 1)).numpy() / 2
        np.testing.assert_allclose(got, want, atol=1e-5)
        np.testing.assert_allclose(got.sum(axis=1), 1, atol=1e-5)

    ensemble = AveragedNets(members).eval()
    assert ensemble.input_size == 48
    crops = np.random.default_rng(1).uniform(0, 1, size=(3, 48, 48)).astype(np.float32)
    shrunk = np.stack([cv2.resize(c, (32, 32), interpolation=cv2.INTER_AREA) for c in crops])
    check(ensemble, crops, shrunk, crops)
    with pytest.raises(ParameterError, match="at least 2"):
        AveragedNets(members[:1])

    # At a side smaller than a member's, that member grows the crop, as training grew smaller faces.
    grown = np.stack([cv2.resize(c, (48, 48), interpolation=cv2.INTER_LINEAR) for c in shrunk])
    check(AveragedNets(members, input_size=32).eval(), shrunk, shrunk, grown)
    with pytest.raises(ParameterError, match="at least 8 pixels"):
        AveragedNets(members, input_size=4)


def test_cli_exports_an_ensemble_and_scores_a_subject_fold(tmp_path, manifest, capsys):
    runs = []
    for model in ("lenet5", "moodnet_small"):
        run = tmp_path / model
        status, _, err = run_cli(capsys, "train", "--data", manifest, "--model", model, "--fold", "2",
                                 "--fixed-epochs", "--epochs", "1", "--threads", "1", "--run", run,
                                 "--cache", tmp_path / "cache")
        assert status == 0, err
        runs.append(run)
    out_path = tmp_path / "ensemble" / "model.onnx"
    status, out, err = run_cli(capsys, "export", "--member", runs[0] / "best.pt", "--member", runs[1] / "best.pt",
                               "--out", out_path)
    assert status == 0, err
    assert "max difference" in out
    card = json.loads(out_path.with_suffix(".json").read_text())
    assert card["name"] == "ensemble of lenet5 + moodnet_small" and card["input_size"] == 48
    assert (card["mean"], card["std"]) == ([0.0], [1.0])
    assert [m["config"]["model"] for m in card["training"]["members"]] == ["lenet5", "moodnet_small"]
    assert card["training"]["members"][0]["metrics"]["test"]["n"] == 14

    # The exported graph answers as the members do, each through its own exported card.
    crops = np.random.default_rng(2).integers(0, 256, size=(4, 48, 48), dtype=np.uint8)
    ensemble = EmotionModel(out_path)
    got = ensemble.predict_tensor(ensemble.crops_to_tensor(crops))
    singles = []
    for run in runs:
        run_cli(capsys, "export", "--run", run)
        single = EmotionModel(run / "model.onnx")
        side = single.card.input_size
        resized = np.stack([cv2.resize(c, (side, side), interpolation=cv2.INTER_AREA) for c in crops])
        singles.append(single.predict_tensor(single.crops_to_tensor(resized)))
    # Members shrink float crops, the single models rounded uint8 ones: close, not equal.
    np.testing.assert_allclose(got, (singles[0] + singles[1]) / 2, atol=0.02)

    # Scored on the fold the members held out: the same 14 faces (one person of five).
    status, out, err = run_cli(capsys, "evaluate", "--model", out_path, "--data", manifest, "--fold", "2",
                               "--cache", "none", "--out", tmp_path / "eval", "--json")
    assert status == 0, err
    report = json.loads(out)
    assert report["n"] == 14 and report["part"].startswith("subject fold 2 of 5")

    status, _, err = run_cli(capsys, "export", "--member", runs[0] / "best.pt", "--member", runs[1] / "best.pt")
    assert status == 2 and "--out" in err
    assert json.loads((runs[0] / "model.json").read_text())["name"] == "lenet5"  # the member's own export is kept
    status, _, err = run_cli(capsys, "export", "--member", runs[0] / "best.pt", "--out", tmp_path / "one.onnx")
    assert status == 2 and "at least 2 members" in err
    status, _, err = run_cli(capsys, "export", "--member", runs[0] / "best.pt", "--member", tmp_path / "no.pt",
                             "--out", tmp_path / "two.onnx")
    assert status == 2 and "no.pt: checkpoint not found" in err


def test_cli_fold_needs_people(tmp_path, capsys):
    # A manifest without a subject column: no subject folds to score, and the message says so.
    rows = ["path,label"]
    for label, emotion in enumerate(EMOTIONS):
        cv2.imwrite(str(tmp_path / f"{emotion}.png"), grating(label, 0, 0, 48))
        rows.append(f"{emotion}.png,{emotion}")
    (tmp_path / "faces.csv").write_text("\n".join(rows) + "\n")
    status, _, err = run_cli(capsys, "evaluate", "--model", "emotion_ferplus", "--data", tmp_path / "faces.csv",
                             "--fold", "0", "--cache", "none", "--out", tmp_path / "eval")
    assert status == 2 and "faces.csv: no subject is known" in err and "--fold" in err


def test_kdef_protocols_knows_how_to_make_every_ensemble(capsys):
    # The benchmark that measures the shipped ensemble: each ensemble's members are recipes or fixed
    # checkpoints, its export options belong to a known ensemble, and asking for the shipped one lists the
    # fold runs of its two trained members (5 folds each) without training anything.
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "kdef_protocols.py"
    spec = importlib.util.spec_from_file_location("kdef_protocols", path)
    protocols = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(protocols)
    assert set(protocols.EXPORT_OPTIONS) <= set(protocols.ENSEMBLES)
    for members in protocols.ENSEMBLES.values():
        assert all(m in protocols.RECIPES or m.endswith(".pt") for m in members)
    assert protocols.main(["--models", "emotion_default", "--protocols", "subject", "--commands"]) == 0
    commands = capsys.readouterr().out.splitlines()
    assert len(commands) == 10
    assert sum("--model moodnet_wide" in c for c in commands) == 5 and all("--split subject" in c for c in commands)
