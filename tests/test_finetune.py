"""Fine-tuning: weights read back from ONNX (the shipped model), replay of a second set, weight averaging,
another input size. Synthetic gratings only (see test_training.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from moodtune.errors import ParameterError  # noqa: E402
from moodtune.faces.classify import EmotionModel  # noqa: E402
from moodtune.training.export import (  # noqa: E402
    card_from_checkpoint,
    export_onnx,
    load_checkpoint,
    recalibrate_batchnorm,
    state_dict_from_onnx,
)
from moodtune.training.models import SHIPPED_MODEL, create_model, load_weights  # noqa: E402
from moodtune.training.train import (  # noqa: E402
    fit,
    mixup_batch,
    pretrained_normalisation,
    training_input_size,
)

from .synthetic import synthetic_faces  # noqa: E402
from .test_training import fit_interrupted_and_resumed, quick_config, run_cli  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def faces():
    return synthetic_faces()


def test_shipped_model_weights_come_back_from_its_onnx():
    shipped = EmotionModel(SHIPPED_MODEL)
    net = load_weights(create_model(shipped.card.name), "shipped").eval()  # the network its card names
    side = shipped.card.input_size
    x = np.random.default_rng(0).normal(size=(5, 1, side, side)).astype(np.float32)
    with torch.no_grad():
        mine = torch.softmax(net(torch.from_numpy(x)), dim=1).numpy()
    assert np.abs(mine - shipped.predict_tensor(x)).max() < 1e-5
    card = json.loads(SHIPPED_MODEL.with_suffix(".json").read_text())
    assert pretrained_normalisation("shipped") == (card["mean"][0], card["std"][0])


def test_recalibrated_batchnorm_keeps_the_function_and_takes_the_data_statistics():
    net = state_dict_from_onnx(create_model(EmotionModel(SHIPPED_MODEL).card.name), SHIPPED_MODEL).eval()
    x = torch.randn(32, 1, 56, 56)  # the moodnets are fully convolutional: any side the shipped model may use
    with torch.no_grad():
        before = net(x)
    recalibrate_batchnorm(net, x)
    with torch.no_grad():
        after = net(x)
        first = net.features[1]
        conv_out = net.features[0](x)
    assert torch.allclose(before, after, atol=1e-4)
    assert torch.allclose(first.running_mean, conv_out.mean(dim=(0, 2, 3)), atol=1e-5)
    # In training mode the first layer now normalises with its batch statistics to the same outputs.
    first.train()
    assert torch.allclose(first(conv_out), first.eval()(conv_out), atol=1e-3)


def test_onnx_of_another_network_is_refused(tmp_path, faces):
    fit(quick_config(model="moodnet_small", epochs=1), faces, faces, tmp_path, log=lambda _: None)
    model, meta = load_checkpoint(tmp_path / "best.pt")
    path = export_onnx(model, card_from_checkpoint(meta, training={}, metrics={}, licence=""), tmp_path / "s.onnx")
    assert torch.isfinite(load_weights(create_model("moodnet_small"), path).state_dict()["head.3.weight"]).all()
    with pytest.raises(ParameterError, match="s.onnx"):
        load_weights(create_model("lenet5"), path)


def test_fine_tuning_from_an_exported_model_starts_where_it_left_off(tmp_path, faces):
    train, valid = faces.subset(faces.subjects != "S5"), faces.subset(faces.subjects == "S5")
    fit(quick_config(model="moodnet_small", epochs=3, lr=3e-3), train, valid, tmp_path / "a", log=lambda _: None)
    model, meta = load_checkpoint(tmp_path / "a" / "best.pt")
    card = card_from_checkpoint(meta, training={}, metrics={}, licence="")
    onnx_path = export_onnx(model, card, tmp_path / "a.onnx")
    # lr 0: the fine-tuned network is the exported one, so its first validation accuracy is the original's.
    result = fit(quick_config(model="moodnet_small", epochs=1, lr=0.0, weights=str(onnx_path)), train, valid,
                 tmp_path / "b", log=lambda _: None)
    assert result["best_accuracy"] == pytest.approx(meta["record"]["val_accuracy"])
    assert load_checkpoint(tmp_path / "b" / "best.pt")[1]["mean"] == pytest.approx(meta["mean"], abs=1e-6)


def test_replay_teaches_classes_the_training_set_lacks(tmp_path, faces):
    # Train holds classes 0-3 only; the replay set holds 4-6. Validation covers all seven.
    labels = faces.labels
    train = faces.subset((labels < 4) & (faces.subjects != "S5"))
    replay = faces.subset((labels >= 4) & (faces.subjects != "S5"))
    valid = faces.subset(faces.subjects == "S5")
    without = fit(quick_config(epochs=6, lr=3e-3), train, valid, tmp_path / "without", log=lambda _: None)
    with_replay = fit(quick_config(epochs=6, lr=3e-3, replay=1.0), train, valid, tmp_path / "with",
                      log=lambda _: None, replay=replay)
    assert without["best_accuracy"] <= 4 / 7 + 1e-9
    assert with_replay["best_accuracy"] > 4 / 7


def test_weight_average_is_what_is_kept_and_resumes_exactly(tmp_path, faces):
    config = quick_config(model="lenet5", epochs=3, ema=0.9)
    train, valid = faces.subset(faces.subjects != "S0"), faces.subset(faces.subjects == "S0")
    fit(config, train, valid, tmp_path / "whole", log=lambda _: None)
    last = torch.load(tmp_path / "whole" / "last.pt", weights_only=False)
    assert any(not torch.equal(last["model"][k], last["training_model"][k]) for k in last["model"])

    fit_interrupted_and_resumed(config, train, valid, tmp_path / "cut", after_epoch=1)
    cut = torch.load(tmp_path / "cut" / "last.pt", weights_only=False)
    for key, value in last["model"].items():
        assert torch.equal(value, cut["model"][key]), key


def test_other_input_size_is_trained_and_recorded(tmp_path, faces):
    fit(quick_config(model="moodnet_small", epochs=1, input_size=32), faces, faces, tmp_path, log=lambda _: None)
    model, meta = load_checkpoint(tmp_path / "best.pt")
    card = card_from_checkpoint(meta, training={}, metrics={}, licence="")
    assert meta["input_size"] == card.input_size == 32
    with pytest.raises(ParameterError, match="cannot take 64x64"):
        fit(quick_config(model="lenet5", epochs=1, input_size=64), faces, faces, tmp_path / "x", log=lambda _: None)
    # Fine-tuning from that model trains at the side its card records, unless told otherwise.
    onnx_path = export_onnx(model, card, tmp_path / "small32.onnx")
    assert training_input_size("moodnet_small", weights=str(onnx_path)) == 32
    assert training_input_size("moodnet_small", weights=str(onnx_path), input_size=40) == 40
    assert training_input_size("moodnet_small") == 48
    fit(quick_config(model="moodnet_small", epochs=1, weights=str(onnx_path)), faces, faces, tmp_path / "tuned",
        log=lambda _: None)
    assert load_checkpoint(tmp_path / "tuned" / "best.pt")[1]["input_size"] == 32


def test_cli_final_model_on_all_data_with_replay_and_weight_average(tmp_path, manifest, capsys):
    # The recipe of a shipped model: every image trains for fixed epochs, a second set is replayed.
    run = tmp_path / "final"
    status, out, err = run_cli(capsys, "train", "--data", manifest, "--model", "lenet5", "--split", "all",
                               "--epochs", "2", "--replay", manifest, "--replay-ratio", "0.5", "--ema", "0.9",
                               "--threads", "1", "--run", run, "--cache", "none")
    assert status == 0, err
    assert "trained 2 epochs on 70 images, no validation part" in out and "train acc" in err
    meta = torch.load(run / "best.pt", weights_only=False)["meta"]
    assert meta["split"]["kind"] == "all" and meta["n_valid"] == 0
    assert meta["replay"]["n_images"] == 70 and meta["config"]["ema"] == 0.9
    assert not (run / "test").exists()

    status, out, _ = run_cli(capsys, "export", "--run", run)
    assert status == 0, out
    card = json.loads((run / "model.json").read_text())
    assert card["training"]["replay"]["ratio"] == 0.5 and card["training"]["split"]["kind"] == "all"


def test_cli_fixed_epochs_trains_on_the_validation_fold_and_tests_once(tmp_path, manifest, capsys):
    status, out, err = run_cli(capsys, "train", "--data", manifest, "--model", "lenet5", "--fold", "1",
                               "--fixed-epochs", "--epochs", "1", "--threads", "1", "--run", tmp_path,
                               "--cache", "none")
    assert status == 0, err
    meta = torch.load(tmp_path / "best.pt", weights_only=False)["meta"]
    # 5 people: one tests (14 images), the other four train; none validates.
    assert (meta["split"]["n_train"], meta["split"]["n_valid"], meta["split"]["n_test"]) == (56, 0, 14)
    assert "test (14 images" in out and (tmp_path / "test" / "metrics.json").exists()
    status, _, err = run_cli(capsys, "train", "--data", manifest, "--split", "official", "--fixed-epochs",
                             "--run", tmp_path / "x", "--cache", "none")
    assert status == 2 and "--fixed-epochs" in err



def test_mixup_blends_images_and_targets_by_one_weight_and_repeats_on_resume(tmp_path, faces):
    x = torch.rand(16, 1, 8, 8)
    y = torch.eye(7)[torch.arange(16) % 7]
    mixed_x, mixed_y = mixup_batch(x, y, 0.4, torch.Generator().manual_seed(1), seed=(0, 1, 0))
    again_x, _ = mixup_batch(x, y, 0.4, torch.Generator().manual_seed(1), seed=(0, 1, 0))
    assert torch.equal(mixed_x, again_x)
    # Each row is a blend of two rows by one weight: targets stay distributions and the batch keeps its totals.
    assert torch.allclose(mixed_y.sum(dim=1), torch.ones(16))
    assert torch.allclose(mixed_y.sum(dim=0), y.sum(dim=0)) and torch.allclose(mixed_x.sum(0), x.sum(0), atol=1e-5)
    assert not torch.equal(mixed_x, x)

    config = quick_config(model="lenet5", epochs=2, mixup=0.2)
    fit(config, faces, faces, tmp_path / "whole", log=lambda _: None)

    fit_interrupted_and_resumed(config, faces, faces, tmp_path / "cut", after_epoch=1)
    whole = torch.load(tmp_path / "whole" / "last.pt", weights_only=False)["model"]
    cut = torch.load(tmp_path / "cut" / "last.pt", weights_only=False)["model"]
    assert all(torch.equal(whole[k], cut[k]) for k in whole)
    with pytest.raises(ParameterError, match="mixup"):
        fit(quick_config(mixup=-1.0), faces, faces, tmp_path / "x", log=lambda _: None)


def test_cli_refuses_a_negative_mixup_before_reading_data(tmp_path, capsys):
    status, _, err = run_cli(capsys, "train", "--data", tmp_path / "missing.csv", "--mixup", "-1",
                             "--run", tmp_path / "run")
    assert status == 2 and "mixup must be 0" in err and "missing.csv" not in err
    assert not (tmp_path / "run").exists()


def test_cli_distils_teachers_into_the_training_and_replay_targets(tmp_path, manifest, capsys):
    run = tmp_path / "taught"
    status, _, err = run_cli(capsys, "train", "--data", manifest, "--model", "lenet5", "--split", "all",
                             "--epochs", "1", "--replay", manifest, "--replay-ratio", "0.5", "--threads", "1",
                             "--teacher", "emotion_ferplus", "--replay-teacher", "emotion_default",
                             "--teacher-weight", "0.3", "--run", run, "--cache", "none")
    assert status == 0, err
    # Each teacher answered for its faces; the answers are kept beside the run folder for the next fold.
    kept = sorted(p.name.split("-")[1] for p in (tmp_path / ".teachers").glob("teacher-*.npy"))
    assert kept == ["emotion_default", "emotion_ferplus"]
    meta = torch.load(run / "best.pt", weights_only=False)["meta"]
    assert meta["teachers"] == {"train": ["emotion_ferplus"], "replay": ["emotion_default"], "weight": 0.3}
    status, out, _ = run_cli(capsys, "export", "--run", run)
    assert status == 0, out
    taught = json.loads((run / "model.json").read_text())["training"]["distilled_from"]
    assert taught["weight"] == 0.3 and taught["train"][0]["weights"] == "emotion_ferplus.onnx"


@pytest.mark.parametrize("options, message", [
    (["--teacher", "nowhere.onnx"], "nowhere.onnx: teacher model not found"),
    (["--teacher", "emotion_ferplus", "--teacher-weight", "1.5"], "must lie in [0, 1]"),
    (["--replay-teacher", "emotion_ferplus"], "give --replay too"),
])
def test_cli_refuses_bad_teachers_before_reading_data(tmp_path, capsys, options, message):
    status, _, err = run_cli(capsys, "train", "--data", tmp_path / "missing.csv", *options, "--run", tmp_path / "r")
    assert status == 2 and message in err and "missing.csv" not in err
    assert not (tmp_path / "r").exists()


def test_lineage_and_imagenet_licence_follow_a_checkpoint_back_to_its_start(tmp_path, faces):
    from moodtune.training.export import from_imagenet, weights_lineage

    fit(quick_config(model="moodnet_small", epochs=1), faces, faces, tmp_path / "first", log=lambda _: None)
    first = tmp_path / "first" / "best.pt"
    lineage = weights_lineage(first)
    assert lineage["weights"] == str(first) and lineage["training"]["config"]["model"] == "moodnet_small"
    assert lineage["training"]["best_epoch"] == 1 and 0 <= lineage["metrics"]["val_accuracy"] <= 1
    assert "initialised_from" not in lineage["training"] and not from_imagenet(first)

    # A checkpoint that started from ImageNet, and a run fine-tuned from that checkpoint: both carry its licence.
    checkpoint = torch.load(first, weights_only=False)
    checkpoint["meta"]["weights"] = "imagenet"
    torch.save(checkpoint, tmp_path / "imagenet.pt")
    fit(quick_config(model="moodnet_small", epochs=1, weights=str(tmp_path / "imagenet.pt")), faces, faces,
        tmp_path / "tuned", log=lambda _: None)
    tuned = tmp_path / "tuned" / "best.pt"
    assert from_imagenet("imagenet") and from_imagenet(tmp_path / "imagenet.pt") and from_imagenet(tuned)
    assert weights_lineage(tuned)["training"]["initialised_from"]["training"]["initialised_from"] == "imagenet"
    assert not from_imagenet(None) and not from_imagenet(SHIPPED_MODEL)

    # A run fine-tuned in its own folder names itself as its start: the chain ends instead of looping.
    checkpoint["meta"]["weights"] = str(tmp_path / "self.pt")
    torch.save(checkpoint, tmp_path / "self.pt")
    start = weights_lineage(tmp_path / "self.pt")["training"]["initialised_from"]
    assert start == {"weights": str(tmp_path / "self.pt")}
    assert not from_imagenet(tmp_path / "self.pt")
