"""Train moodtune's audio model on the 4Q sample clips and write ``moodtune/data/audio_model.json``.

    python scripts/train_audio_model.py --data ../shared/data/music [--out moodtune/data/audio_model.json]
                                        [--cache /tmp/audio_4q_features.npz] [--seeds 5]

Reads the 200 clips of ``audio_4q_sample/Q1..Q4`` (50 per quadrant) and their artists from
``4q_panda/panda_dataset_taffc_metadata.csv``; extracts the 58 features of :mod:`moodtune.music.audio` exactly as
moodtune does at import time; fits two L2 logistic regressions (valence sign: Q1/Q4 vs Q2/Q3; arousal sign:
Q1/Q2 vs Q3/Q4) on standardised features. Needs the ``train`` extra (scikit-learn) and the ``audio`` extra.

Measurement: stratified (by quadrant) group k-fold with the artist as group, 5 folds, repeated over ``--seeds``
shuffles; the regularisation C of each axis is chosen (by log-loss) inside each training fold by a further grouped
5-fold CV (nested), so the test fold never tunes anything. Reported: quadrant accuracy (both signs right),
valence-sign and arousal-sign accuracy, mean ± standard deviation over the repeats; and, for comparison on the
same folds, a 4-class softmax regression like the reference's. The shipped coefficients are refitted on all 200
clips with C chosen by grouped CV on all of them. Only numbers are written: no audio, no feature rows.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from moodtune.music.audio import FEATURE_NAMES, file_features  # noqa: E402
from moodtune.music.catalogue import name_key  # noqa: E402

C_GRID = np.logspace(-3, 1, 9)
FOLDS = 5


def read_clips(data: Path) -> tuple[list[Path], np.ndarray, list[str]]:
    """Clip paths, quadrant numbers 1..4 (shape (N,)) and artist keys, in song-id order."""
    meta = {}
    with (data / "4q_panda" / "panda_dataset_taffc_metadata.csv").open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            meta[row["Song"]] = row
    paths, quadrants, artists = [], [], []
    for path in sorted((data / "audio_4q_sample").glob("Q?/*.mp3"), key=lambda p: p.stem):
        row = meta.get(path.stem)
        if row is None or row["Quadrant"] != path.parent.name:
            raise SystemExit(f"{path}: not in the 4Q metadata, or filed under another quadrant")
        paths.append(path)
        quadrants.append(int(path.parent.name[1]))
        artists.append(name_key(row["Artist"]))
    return paths, np.array(quadrants), artists


def extract(paths: list[Path], cache: Path | None) -> np.ndarray:
    """Features of every clip, shape (N, 58); cached in ``cache`` (outside the repository) when given."""
    if cache and cache.is_file():
        stored = np.load(cache, allow_pickle=False)
        if list(stored["names"]) == [p.stem for p in paths] and list(stored["features"]) == list(FEATURE_NAMES):
            return stored["x"]
    x = np.empty((len(paths), len(FEATURE_NAMES)))
    start = time.monotonic()
    for i, path in enumerate(paths):
        x[i] = file_features(path)
        if (i + 1) % 20 == 0:
            print(f"  features {i + 1}/{len(paths)} ({time.monotonic() - start:.0f} s)", file=sys.stderr)
    if cache:
        np.savez(cache, x=x, names=np.array([p.stem for p in paths]), features=np.array(FEATURE_NAMES))
    return x


def signs(quadrants: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(valence positive, arousal positive) as 0/1 arrays of shape (N,): Q1 V+A+, Q2 V-A+, Q3 V-A-, Q4 V+A-."""
    return np.isin(quadrants, (1, 4)).astype(int), np.isin(quadrants, (1, 2)).astype(int)


def fit_axis(x, y, groups):
    """Standardise + logistic regression with C chosen by grouped 5-fold CV on (x, y) only."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, GroupKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    # liblinear: fast for one binary axis on 200 rows (lbfgs crawls at large C); its intercept is penalised
    # too, which changes nothing at inference: the decision is still x @ coef + intercept.
    # Chosen by log-loss, not accuracy: the probabilities become positions, so they should be calibrated, and
    # log-loss varies smoothly with C where accuracy on ~40 clips per fold jumps about.
    pipe = make_pipeline(StandardScaler(), LogisticRegression(solver="liblinear"))
    search = GridSearchCV(pipe, {"logisticregression__C": C_GRID}, cv=GroupKFold(FOLDS), scoring="neg_log_loss")
    search.fit(x, y, groups=groups)
    return search.best_estimator_, float(search.best_params_["logisticregression__C"])


def fit_softmax(x, quadrants, groups):
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, GroupKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
    search = GridSearchCV(pipe, {"logisticregression__C": C_GRID}, cv=GroupKFold(FOLDS), scoring="accuracy")
    search.fit(x, quadrants, groups=groups)
    return search.best_estimator_


def cross_validate(x, quadrants, groups, *, seeds: int) -> dict:
    """Nested, artist-grouped CV; returns mean and std over ``seeds`` repeats of each accuracy."""
    from sklearn.model_selection import StratifiedGroupKFold

    val, aro = signs(quadrants)
    groups = np.asarray(groups)
    scores = {"quadrant": [], "valence_sign": [], "arousal_sign": [], "softmax_quadrant": []}
    chosen_c = []
    for seed in range(seeds):
        pred_v, pred_a, pred_q = (np.empty(len(x), dtype=int) for _ in range(3))
        outer = StratifiedGroupKFold(FOLDS, shuffle=True, random_state=seed)
        for train, test in outer.split(x, quadrants, groups):
            model_v, c_v = fit_axis(x[train], val[train], groups[train])
            model_a, c_a = fit_axis(x[train], aro[train], groups[train])
            chosen_c.append((c_v, c_a))
            pred_v[test] = model_v.predict(x[test])
            pred_a[test] = model_a.predict(x[test])
            pred_q[test] = fit_softmax(x[train], quadrants[train], groups[train]).predict(x[test])
        scores["valence_sign"].append(np.mean(pred_v == val))
        scores["arousal_sign"].append(np.mean(pred_a == aro))
        scores["quadrant"].append(np.mean((pred_v == val) & (pred_a == aro)))
        scores["softmax_quadrant"].append(np.mean(pred_q == quadrants))
        print(f"  repeat {seed}: " + ", ".join(f"{k} {v[-1]:.3f}" for k, v in scores.items()), file=sys.stderr)
    out = {k: {"mean": round(float(np.mean(v)), 4), "std": round(float(np.std(v)), 4)} for k, v in scores.items()}
    cs = np.array(chosen_c)
    out["inner_chosen_C_median"] = {"valence": float(np.median(cs[:, 0])), "arousal": float(np.median(cs[:, 1]))}
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, type=Path, help="shared/data/music")
    parser.add_argument("--out", type=Path, default=ROOT / "moodtune" / "data" / "audio_model.json")
    parser.add_argument("--cache", type=Path, help="feature cache (.npz) outside the repository, to rerun quickly")
    parser.add_argument("--seeds", type=int, default=5, help="repeats of the outer CV (default 5)")
    args = parser.parse_args(argv)

    paths, quadrants, artists = read_clips(args.data)
    print(f"{len(paths)} clips, {len(set(artists))} artists, per quadrant {np.bincount(quadrants)[1:].tolist()}",
          file=sys.stderr)
    x = extract(paths, args.cache)
    metrics = cross_validate(x, quadrants, artists, seeds=args.seeds)

    val, aro = signs(quadrants)
    model_v, c_v = fit_axis(x, val, artists)
    model_a, c_a = fit_axis(x, aro, artists)
    scaler = model_v.named_steps["standardscaler"]  # both pipelines standardise the same x identically
    coef = {axis: m.named_steps["logisticregression"] for axis, m in (("valence", model_v), ("arousal", model_a))}
    model = {
        "format": "moodtune audio model 1",
        "model": "standardised features -> one L2 logistic regression per axis: P(valence > centre), "
                 "P(arousal > centre); position = 0.5 + 0.35 * (2p - 1)",
        "feature_names": list(FEATURE_NAMES),
        "means": [round(float(v), 8) for v in scaler.mean_],
        "stds": [round(float(v), 8) for v in scaler.scale_],
        "coefficients": {axis: [round(float(v), 8) for v in lr.coef_[0]] for axis, lr in coef.items()},
        "intercepts": {axis: round(float(lr.intercept_[0]), 8) for axis, lr in coef.items()},
        "regularisation_C": {"valence": c_v, "arousal": c_a},
        "metrics": {
            "protocol": f"nested CV: outer StratifiedGroupKFold({FOLDS}) by quadrant with artist groups, "
                        f"{args.seeds} shuffles; C from {C_GRID[0]:g}..{C_GRID[-1]:g} chosen by log-loss "
                        f"in an inner GroupKFold({FOLDS}) on each training fold",
            "clips": len(paths), "artists": len(set(artists)),
            **metrics,
            "reference": "62 % / 71 % / 86 % (quadrant / valence sign / arousal sign): softmax regression on the "
                         "same 58 features, 5-fold CV stratified by quadrant, not grouped by artist",
        },
        "training_data": "4Q audio emotion dataset, 200 of its 30-s clips (50 per quadrant): R. Panda, "
                         "R. Malheiro, R. P. Paiva, 'Novel Audio Features for Music Emotion Recognition', IEEE "
                         "Transactions on Affective Computing, 2018. Only fitted coefficients are shipped.",
    }
    args.out.write_text(json.dumps(model, indent=1) + "\n", encoding="utf-8")
    figures = ", ".join(f"{key.replace('_', ' ')} {metrics[key]['mean']:.1%} ± {metrics[key]['std']:.1%}"
                        for key in ("quadrant", "valence_sign", "arousal_sign"))
    print(f"grouped nested CV over {args.seeds} repeats: {figures} (4-class softmax quadrant "
          f"{metrics['softmax_quadrant']['mean']:.1%}); reference 62 % / 71 % / 86 %")
    print(f"wrote {args.out} (C valence {c_v:g}, arousal {c_a:g})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
