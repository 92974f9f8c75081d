"""Accuracy and speed of a shipped emotion model, measured through onnxruntime as users run it.

    python benchmarks/emotion_model.py [--model emotion_default] [--data ../shared/data/faces]

Prints FER+ Valid accuracy (majority labels, 7 classes, deduplicated against Train, the 48x48 crops as
distributed), KDEF frontal accuracy with the detector in the loop when the model never trained on KDEF,
per-face classifier latency on one thread, and detector / end-to-end time on the example photo.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from moodtune.emotions import EMOTIONS  # noqa: E402
from moodtune.faces import analyze, detect_faces, load_image  # noqa: E402
from moodtune.faces.classify import load_model  # noqa: E402
from moodtune.training.datasets import drop_duplicates_of, read_ferplus, resize_images  # noqa: E402
from moodtune.training.metrics import summarize  # noqa: E402


def timed(fn, *, repeat: int) -> float:
    """Median milliseconds of ``fn()`` over ``repeat`` runs after a warm-up."""
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def ferplus_accuracy(model, ferplus: Path) -> dict:
    train = read_ferplus(ferplus, split="FER2013Train")
    valid = drop_duplicates_of(read_ferplus(ferplus, split="FER2013Valid", label_mode="majority"), train)
    # The 48x48 crops are resized to the card's input side the way training resized them.
    crops = resize_images(valid.images, model.card.input_size)
    probabilities = np.concatenate([model.predict_tensor(model.crops_to_tensor(crops[i:i + 256]))
                                    for i in range(0, len(valid), 256)])
    return summarize(valid.labels, probabilities.argmax(axis=1))


def kdef_accuracy(kdef_front: Path, model) -> dict:
    """Cross-dataset check: every KDEF frontal photo through the detector and classifier, as users run it.

    The model never saw KDEF, so all 979 photos are test data. A photo with no face found counts as wrong.
    """
    import csv

    truth, predicted, missed = [], [], 0
    with open(kdef_front / "labels.csv", newline="") as f:
        for row in csv.DictReader(f):
            results = analyze(load_image(kdef_front / row["path"]), model=model)
            truth.append(EMOTIONS.index(row["label"]))
            if results:
                predicted.append(EMOTIONS.index(results[0].emotion))
            else:
                missed += 1
                predicted.append((truth[-1] + 1) % len(EMOTIONS))  # any wrong class
    return {**summarize(truth, predicted), "no_face": missed}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="emotion_default")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "faces")
    parser.add_argument("--json", type=Path, help="also write the figures here (moodtune export --metrics FILE)")
    args = parser.parse_args(argv)

    model = load_model(args.model)
    figures = {}
    size = model.path.stat().st_size / 1e6
    bits = ", 8-bit" if "quantization" in model.card.training else ""
    print(f"model {model.path.name} ({model.card.name}, {size:.1f} MB{bits}, input {model.card.input_size}px "
          f"{model.card.colour})")
    if (args.data / "ferplus").is_dir():
        scores = ferplus_accuracy(model, args.data / "ferplus")
        recall = ", ".join(f"{k} {v:.2f}" for k, v in scores["recall"].items() if v is not None)
        print(f"FER+ Valid (dedup, n={scores['n']}): accuracy {scores['accuracy']:.4f}  "
              f"macro-F1 {scores['macro_f1']:.4f}\n  recall: {recall}")
        figures["ferplus_valid_dedup"] = {
            **{k: scores[k] for k in ("n", "accuracy", "macro_f1", "recall")},
            "protocol": "FER+ majority labels, 7 KDEF classes, Valid minus images pixel-identical to Train; aligned "
                        "48x48 crops as distributed (no detector)", "command": "python benchmarks/emotion_model.py"}
    else:
        print(f"{args.data / 'ferplus'} absent: accuracy skipped")
    training = model.card.training
    parts = [training, *training.get("members", [])]  # an ensemble: what each member trained on
    trained_on_kdef = "kdef" in json.dumps([(p.get("data"), p.get("replay")) for p in parts]).lower()
    if trained_on_kdef:
        recipe = model.card.name if "members" not in training else (
            "emotion_default" if str(args.model) == "emotion_default" else "<the ensemble's name in ENSEMBLES>")
        print("KDEF frontal: this model trained on all of it, so it is no test set here; the subject-independent "
              f"figure comes from k-fold runs of its recipe: python benchmarks/kdef_protocols.py --models "
              f"{recipe}")
    elif (args.data / "kdef_front").is_dir():
        scores = kdef_accuracy(args.data / "kdef_front", args.model)
        recall = ", ".join(f"{k} {v:.2f}" for k, v in scores["recall"].items() if v is not None)
        print(f"KDEF frontal, never trained on, detector in the loop (n={scores['n']}, no face {scores['no_face']}): "
              f"accuracy {scores['accuracy']:.4f}  macro-F1 {scores['macro_f1']:.4f}\n  recall: {recall}")
        figures["kdef_front_zero_shot"] = {k: scores[k] for k in ("n", "accuracy", "macro_f1", "recall")}

    one = np.zeros((1, 1 if model.card.colour == "gray" else 3, model.card.input_size, model.card.input_size),
                   np.float32)
    per_face = timed(lambda: model.predict_tensor(one), repeat=300)
    print(f"classifier per face, 1 thread: {per_face:.2f} ms (median)")
    figures["classifier_ms_per_face_1_thread"] = round(per_face, 2)
    image = load_image(ROOT / "examples" / "astronaut.png")
    for detector in ("yunet", "haar"):
        ms = timed(lambda d=detector: detect_faces(image, detector=d), repeat=20)
        print(f"detector {detector} on the 512x512 example: {ms:.1f} ms")
    end_to_end = timed(lambda: analyze(image, model=args.model), repeat=20)
    print(f"analyze (detect + classify) on the example: {end_to_end:.1f} ms")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
