"""Train an emotion model on FER+ Train, select on FER+ Valid (deduplicated), export ONNX + card.

    python scripts/train_ferplus.py --run runs/moodnet-ferplus [--model moodnet] [--epochs 30] [--resume]
    python scripts/train_ferplus.py --run runs/ferplus-cont --weights emotion_ferplus --lr 4e-4 --ema 0.999
    python scripts/train_ferplus.py --run runs/ferplus64 --weights emotion_ferplus --input-size 64 --mixup 0.2
    python scripts/train_ferplus.py --run runs/distilled --weights emotion_ferplus --teacher emotion_ferplus \
        --teacher runs/ferplus64/model.onnx --lr 4e-4 --ema 0.999   # learn from an ensemble's answers
    python scripts/train_ferplus.py --run runs/moodnet-ferplus --export-only   # re-export best.pt

Writes RUN/model.onnx unless --out names another file (moodtune/models/emotion_ferplus.onnx to ship it).

Needs the `train` extra (torch) and ../shared/data/faces/ferplus.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from moodtune.training.datasets import drop_duplicates_of, load_cached, read_ferplus, resize_images  # noqa: E402
from moodtune.training.distill import distilled  # noqa: E402
from moodtune.training.export import (  # noqa: E402
    IMAGENET_LICENCE,
    card_from_checkpoint,
    export_onnx,
    from_imagenet,
    load_checkpoint,
    max_difference_to_torch,
    weights_lineage,
)
from moodtune.training.metrics import summarize  # noqa: E402
from moodtune.training.train import TrainConfig, class_weights, fit, predict  # noqa: E402

LICENCE = ("Weights trained by moodtune's own code on FER2013 images (research use; Goodfellow et al. 2013) "
           "with FER+ labels (MIT, Microsoft; Barsoum et al. 2016). Use for research and non-commercial purposes.")


def load_data(ferplus: Path, cache: Path):
    train = load_cached(cache / "ferplus_train_soft.npz", lambda: read_ferplus(ferplus, split="FER2013Train"))
    valid = load_cached(cache / "ferplus_valid_majority.npz",
                        lambda: read_ferplus(ferplus, split="FER2013Valid", label_mode="majority"))
    # Honest validation: no Valid image whose pixels also occur in Train (FER2013 has cross-split copies).
    valid = drop_duplicates_of(valid, train)
    return train, valid


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "faces" / "ferplus")
    parser.add_argument("--run", type=Path, default=ROOT / "runs" / "moodnet-ferplus")
    parser.add_argument("--model", default="moodnet")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--patience", type=int, default=6)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--weights", help="start from: a checkpoint, an exported .onnx, or 'shipped' "
                                          "(emotion_ferplus; default: random initialisation)")
    parser.add_argument("--ema", type=float, default=0.0, help="keep a moving average of the weights (e.g. 0.999)")
    parser.add_argument("--mixup", type=float, default=0.0, help="mixup's Beta alpha (e.g. 0.2; 0: none)")
    parser.add_argument("--input-size", type=int, default=0,
                        help="train at this side, the 48x48 crops resized to it (default: the side of the model "
                             "--weights starts from, else the network's own)")
    parser.add_argument("--balance", default="sqrt", choices=["none", "sqrt", "inverse"],
                        help="class weights in the loss: sqrt (default, 1/sqrt(frequency)) or none (plain "
                             "cross-entropy: more accurate on FER+'s own class mix, lower macro-F1)")
    parser.add_argument("--teacher", action="append", default=[],
                        help="distil: blend the training targets with this exported model's probabilities "
                             "(repeat for an ensemble; averaged, with mirror images)")
    parser.add_argument("--teacher-weight", type=float, default=0.5,
                        help="share of the teachers in the blended targets (default 0.5)")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--export-only", action="store_true")
    parser.add_argument("--out", type=Path, help="the .onnx to write (default RUN/model.onnx; never a shipped model "
                                                 "unless you name it)")
    args = parser.parse_args(argv)
    args.out = args.out or args.run / "model.onnx"

    train, valid = load_data(args.data, ROOT / "runs" / "cache")
    print(f"FER+ train {len(train)} images (soft labels), valid {len(valid)} (majority, deduplicated)")
    if args.teacher and not args.export_only:
        # The teachers learned with class weights too: their answers are unweighted before the student's loss
        # weighs them again.
        weights = class_weights(train.targets, args.balance).numpy()
        train = distilled(train, args.teacher, weight=args.teacher_weight, class_weights=weights,
                          threads=max(args.threads, 1), cache=ROOT / "runs" / "cache")
        print(f"targets blended {args.teacher_weight:g} with the teachers {', '.join(args.teacher)}")
    config = TrainConfig(model=args.model, epochs=args.epochs, patience=args.patience, lr=args.lr,
                         batch_size=args.batch_size, seed=args.seed, threads=args.threads, weights=args.weights,
                         ema=args.ema, input_size=args.input_size, mixup=args.mixup,
                         class_balance=args.balance)
    command = " ".join(["python scripts/train_ferplus.py",
                        *(a for a in (argv or sys.argv[1:]) if a != "--export-only")])
    if not args.export_only:
        # The reader's name lets moodtune export (e.g. of an ensemble with this run) give the card FER+'s licence,
        # and the command goes with the run into any card made from it.
        fit(config, train, valid, args.run, resume=args.resume,
            info={"data": {"reader": "ferplus", "path": str(args.data), "n_images": len(train) + len(valid)},
                  "command": command})

    model, meta = load_checkpoint(args.run / "best.pt")
    size = meta["input_size"]
    probabilities = predict(model, valid.images, mean=meta["mean"], std=meta["std"], input_size=size,
                            channels=meta["channels"])
    scores = summarize(valid.labels, probabilities.argmax(axis=1))
    metrics = {"ferplus_valid_dedup": {k: scores[k] for k in ("n", "accuracy", "macro_f1", "recall")},
               "protocol": "FER+ majority labels, 7 KDEF classes, Valid minus images pixel-identical to Train; "
                           "aligned 48x48 crops as distributed (no detector)"
                           + (f", resized to {size}x{size}" if size != 48 else "")}
    training = {"data": "FER+ Train (FER2013 images, FER+ 10-rater votes as soft targets over 7 classes)",
                "selection": "best FER+ Valid accuracy (early stopping, patience "
                             f"{meta['config']['patience']})",
                "best_epoch": meta["record"]["epoch"], "config": meta["config"], "n_train": meta["n_train"],
                "command": command}
    if args.teacher:
        training["distilled_from"] = {"weight": args.teacher_weight,  # as moodtune export writes it
                                      "train": [weights_lineage(t) for t in args.teacher]}
    if args.weights:
        training["initialised_from"] = weights_lineage(args.weights)
    elif meta.get("weights") == "imagenet":  # the network's default start (efficientnet_lite0)
        training["initialised_from"] = {"weights": "imagenet"}
    licence = LICENCE + (" " + IMAGENET_LICENCE if from_imagenet(meta.get("weights")) else "")
    card = card_from_checkpoint(meta, training=training, metrics=metrics, licence=licence)
    export_onnx(model, card, args.out, model_channels=meta["channels"])
    x = ((resize_images(valid.images[:64], size)[:, None].astype(np.float32) / 255.0) - meta["mean"]) / meta["std"]
    print(f"exported {args.out} (+ .json); FER+ Valid accuracy {scores['accuracy']:.4f}, "
          f"macro-F1 {scores['macro_f1']:.4f}; ONNX vs torch max diff "
          f"{max_difference_to_torch(model, args.out, inputs=x, model_channels=meta['channels']):.2e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
