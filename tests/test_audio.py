"""Audio features and the shipped audio model. Signals are generated here; the 4Q clips only where present."""

from __future__ import annotations

import csv
import json
from importlib import resources

import numpy as np
import pytest

from moodtune.errors import LibraryError
from moodtune.music.audio import FEATURE_NAMES, SAMPLE_RATE, AudioModel, shipped_model

SR = SAMPLE_RATE


def _signals() -> dict[str, np.ndarray]:
    t = np.arange(3 * SR) / SR
    rng = np.random.default_rng(0)
    return {
        "tone": 0.5 * np.sin(2 * np.pi * 440 * t),
        "chord": sum(0.2 * np.sin(2 * np.pi * f * t) for f in (261.6, 329.6, 392.0)),
        "noise": 0.3 * rng.standard_normal(len(t)),
        "silence": np.zeros(len(t)),
        "short": 0.5 * np.sin(2 * np.pi * 440 * t[: SR // 10]),  # 0.1 s
        "clipped": np.clip(3 * np.sin(2 * np.pi * 110 * t), -1, 1),
    }


@pytest.mark.parametrize("name", list(_signals()))
def test_features_of_generated_signals_are_finite(name):
    pytest.importorskip("librosa")
    from moodtune.music.audio import features_from_signal

    x = features_from_signal(_signals()[name], SR)
    assert x.shape == (len(FEATURE_NAMES),) == (58,)
    assert np.all(np.isfinite(x))
    if name == "silence":
        assert x[FEATURE_NAMES.index("rms_mean")] == 0


def test_other_sample_rates_and_files(tmp_path):
    pytest.importorskip("librosa")
    sf = pytest.importorskip("soundfile")
    from moodtune.music.audio import features_from_signal, file_features

    tone = _signals()["tone"]
    path = tmp_path / "tone.wav"
    sf.write(path, np.stack([tone, tone], axis=1), SR, subtype="FLOAT")  # stereo: mixed down
    from_file = file_features(path)
    assert np.allclose(from_file, features_from_signal(tone, SR), rtol=1e-3, atol=1e-3)
    path44 = tmp_path / "tone44.flac"
    sf.write(path44, 0.5 * np.sin(2 * np.pi * 440 * np.arange(44100) / 44100), 44100)
    centroid = file_features(path44)[FEATURE_NAMES.index("centroid_mean")]
    assert 300 < centroid < 700  # still a 440 Hz tone after resampling


def test_undecodable_file_is_a_library_error_naming_it(tmp_path):
    pytest.importorskip("librosa")
    from moodtune.music.audio import file_features

    bad = tmp_path / "bad.mp3"
    bad.write_bytes(b"\x00garbage" * 50)
    with pytest.raises(LibraryError, match=r"bad\.mp3"):
        file_features(bad)


def test_shipped_model_is_complete_and_numpy_only():
    data = json.loads(resources.files("moodtune").joinpath("data/audio_model.json").read_text(encoding="utf-8"))
    assert data["feature_names"] == list(FEATURE_NAMES)
    for key in ("quadrant", "valence_sign", "arousal_sign"):
        assert 0.25 <= data["metrics"][key]["mean"] <= 1
    assert "Panda" in data["training_data"]
    model = shipped_model()
    x = np.asarray(data["means"]) + np.asarray(data["stds"])  # one standard deviation above the mean
    expected = 1 / (1 + np.exp(-(np.sum(data["coefficients"]["valence"]) + data["intercepts"]["valence"])))
    assert model.probabilities(x)[0] == pytest.approx(expected)
    valence, arousal, confidence = model.predict(np.asarray(data["means"]))
    assert 0.15 <= valence <= 0.85 and 0.15 <= arousal <= 0.85 and 0 <= confidence <= 1


def test_model_rejects_other_features():
    with pytest.raises(LibraryError, match="retrain"):
        AudioModel.from_dict({"feature_names": ["a"], "means": [0], "stds": [1],
                              "coefficients": {"valence": [1], "arousal": [1]},
                              "intercepts": {"valence": 0, "arousal": 0}})


@pytest.mark.shared
def test_extractor_matches_the_reference_feature_file(shared_data):
    """The extractor reproduces the 58 features of 4q_panda/derived for real clips (the model's contract)."""
    pytest.importorskip("librosa")
    from moodtune.music.audio import file_features

    music = shared_data / "music"
    table = music / "4q_panda" / "derived" / "librosa_features_4q.csv"
    if not table.is_file():
        pytest.skip("4Q derived features absent")
    with table.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))[:3]
    for row in rows:
        clip = music / "audio_4q_sample" / row["quadrant"] / f"{row['song']}.mp3"
        ours = file_features(clip)
        reference = np.array([float(row[name]) for name in FEATURE_NAMES])
        assert np.allclose(ours, reference, rtol=1e-3, atol=1e-4), clip.name
