"""The original work's networks on KDEF frontal under both protocols: its random 70/30 cut and subject 5-fold.

    python benchmarks/kdef_protocols.py [--models lenet5,alexnet,efficientnet_lite0,moodnet] [--report-only]

Trains whatever run is missing (``moodtune train``, one run folder per model, protocol and fold under
``runs/kdef/``; an interrupted run resumes) and prints one table row per model and protocol:

- random 70/30: the original work's protocol. The 30 % both stops training and is reported, and the two
  sessions of an actor fall on both sides, so the figure is optimistic.
- subject 5-fold: each fold's actors (both sessions) are the test set, the next fold's actors validate for
  early stopping, the other three train; the figure is the mean (± standard deviation) over the 5 test folds.

Each model's recipe (learning rate, epochs, patience, crops, starting weights) is in ``RECIPES`` below, and
the command for one run is printed with ``--commands``. An ensemble in ``ENSEMBLES`` (e.g. ``--models
moodnet+efficientnet_lite0_ferplus``, or ``emotion_default``, the shipped one) trains its members' fold runs,
averages each fold's members into one ONNX model, exported with the ensemble's ``EXPORT_OPTIONS`` (8-bit for
the shipped one), and scores that on the fold's test part. Needs the train extra and ../shared/data/faces.
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: Per-model options for ``moodtune train`` on KDEF frontal. lenet5 and alexnet learn from scratch as in the
#: original work; efficientnet_lite0 starts from ImageNet; moodnet (the default) from the shipped FER+ model.
RECIPES = {
    "lenet5": ["--epochs", "40", "--patience", "8"],
    "alexnet": ["--epochs", "30", "--patience", "8", "--lr", "1e-4"],
    # 128 px instead of its native 224: a fifth of the compute, which is what makes 6 runs fit on 2 CPU cores.
    "efficientnet_lite0": ["--epochs", "12", "--patience", "4", "--lr", "5e-4", "--batch-size", "32",
                           "--input-size", "128"],
    # The default model's recipe: from the FER+-only model, detector crops as at run time, FER+ replayed (twice
    # as many FER+ faces as KDEF ones per epoch) so it keeps what it knew, a moving average of the weights, and
    # 12 epochs fixed in advance, so the fold that validated elsewhere trains here too.
    "moodnet": ["--weights", "emotion_ferplus", "--crops", "detector", "--replay", "{ferplus}", "--replay-ratio", "2",
                "--ema", "0.98", "--lr", "5e-4", "--epochs", "12", "--fixed-epochs"],
    # The shipped default: the same recipe on the wider network, from its own FER+ model (not shipped; README,
    # "The emotion model", gives the two train_ferplus.py commands that make it).
    "moodnet_wide": ["--weights", "{root}/runs/wide-cont/model.onnx", "--crops", "detector", "--replay", "{ferplus}",
                     "--replay-ratio", "2", "--ema", "0.98", "--lr", "5e-4", "--epochs", "12", "--fixed-epochs"],
    # The same recipe on EfficientNet-Lite0 at 80 px, from ImageNet and then FER+ (train_ferplus.py, not shipped;
    # README, "The emotion model"), at a lower learning rate: at 5e-4 it kept less of FER+ (82.5 %).
    "efficientnet_lite0_ferplus": ["--weights", "{root}/runs/effl0-ferplus/best.pt", "--crops", "detector",
                                   "--replay", "{ferplus}", "--replay-ratio", "2", "--ema", "0.98", "--lr", "2e-4",
                                   "--epochs", "12", "--fixed-epochs"],
    # The same at 96 px (2.0 ms a face), from its own FER+ model (train_ferplus.py --input-size 96).
    "efficientnet_lite0_96": ["--weights", "{root}/runs/effl0-96/best.pt", "--crops", "detector",
                              "--replay", "{ferplus}", "--replay-ratio", "2", "--ema", "0.98", "--lr", "2e-4",
                              "--epochs", "12", "--fixed-epochs"],
}
#: The network a recipe trains, where the recipe's name is not the network's own.
NETWORKS = {"efficientnet_lite0_ferplus": "efficientnet_lite0", "efficientnet_lite0_96": "efficientnet_lite0"}
#: Ensembles, scored under subject 5-fold only: each fold's member runs are averaged into one model
#: (``moodtune export --member``), which is scored on that fold's test part (``moodtune evaluate --fold``).
#: A member may also be one checkpoint for every fold, one that never saw KDEF (a FER+ model).
ENSEMBLES = {
    "moodnet+efficientnet_lite0_ferplus": ["moodnet", "efficientnet_lite0_ferplus"],
    # Each fold's moodnet with the FER+-only EfficientNet-Lite0 (train_ferplus.py; README, "The emotion model"),
    # which never saw KDEF, so it can serve every fold.
    "moodnet+efficientnet_lite0_fer_only": ["moodnet", "{root}/runs/effl0-ferplus/best.pt"],
    # The shipped default: both moodnet recipes with the FER+-only EfficientNet-Lite0, exported as below.
    "emotion_default": ["moodnet", "moodnet_wide", "{root}/runs/effl0-ferplus/best.pt"],
    # Not shipped (README, "What has not lifted them"): the KDEF-tuned 96 px EfficientNet instead, or as well.
    "moodnet+moodnet_wide+efficientnet_lite0_96": ["moodnet", "moodnet_wide", "efficientnet_lite0_96"],
    "emotion_default+efficientnet_lite0_96": ["moodnet", "moodnet_wide", "efficientnet_lite0_96",
                                              "{root}/runs/effl0-ferplus/best.pt"],
    "emotion_default+efficientnet_lite0_ferplus": ["moodnet", "moodnet_wide", "efficientnet_lite0_ferplus",
                                                   "{root}/runs/effl0-ferplus/best.pt"],
}
#: ``moodtune export`` options of an ensemble beyond its members. The shipped default takes 48 px crops, the
#: side at which every member learned its detail (the EfficientNet saw FER+'s 48 px faces grown to 80), and is
#: 8-bit, calibrated on FER+ Train faces (never the fold's test actors).
EXPORT_OPTIONS = {"emotion_default": ["--input-size", "48", "--quantize-with", "{ferplus}"],
                  "moodnet+moodnet_wide+efficientnet_lite0_96": ["--quantize-with", "{ferplus}"],
                  "emotion_default+efficientnet_lite0_96": ["--quantize-with", "{ferplus}"],
                  "emotion_default+efficientnet_lite0_ferplus": ["--input-size", "48", "--quantize-with", "{ferplus}"]}
FOLDS = 5


def run_dir(runs: Path, model: str, protocol: str, fold: int | None) -> Path:
    return runs / (f"{model}-{protocol}" + (f"-fold{fold}" if fold is not None else ""))


def train_arguments(data: Path, runs: Path, model: str, protocol: str, fold: int | None, threads: int,
                    ferplus: Path) -> list[str]:
    recipe = [a.format(ferplus=ferplus, root=ROOT) for a in RECIPES[model]]
    args = ["train", "--data", str(data), "--model", NETWORKS.get(model, model), "--split", protocol, *recipe,
            "--run", str(run_dir(runs, model, protocol, fold)), "--threads", str(threads)]
    return args + (["--fold", str(fold), "--folds", str(FOLDS)] if fold is not None else [])


def _missing_start(model: str) -> str | None:
    """The starting model a recipe names (one of this checkout's runs) when it is not there yet, else None."""
    recipe = RECIPES[model]
    start = recipe[recipe.index("--weights") + 1] if "--weights" in recipe else ""
    if not start.startswith("{root}"):  # a shipped model's name or "imagenet": always there
        return None
    path = start.format(root=ROOT)
    return None if Path(path).is_file() else path


def score_ensemble(ensemble: str, args) -> int:
    """Average each fold's member runs into one exported model and score it on that fold's test part."""
    from moodtune.app.cli import main as moodtune

    for fold in range(FOLDS):
        run = run_dir(args.runs, ensemble, "subject", fold)
        if finished(run, "subject") is not None:
            continue
        runs = [run_dir(args.runs, m, "subject", fold) for m in ENSEMBLES[ensemble] if m in RECIPES]
        fixed = [Path(m.format(root=ROOT)) for m in ENSEMBLES[ensemble] if m not in RECIPES]
        if not all(finished(r, "subject") for r in runs) or not all(f.is_file() for f in fixed):
            print(f"skipped {run.name}: its members are not all there yet (fold runs: "
                  f"{', '.join(r.name for r in runs)}; checkpoints: {', '.join(map(str, fixed)) or 'none'})",
                  file=sys.stderr)
            continue
        members = [str(r / "best.pt") for r in runs] + [str(f) for f in fixed]
        options = [a.format(ferplus=args.ferplus) for a in EXPORT_OPTIONS.get(ensemble, [])]
        status = (moodtune(["export", *(a for m in members for a in ("--member", m)), *options,
                            "--out", str(run / "model.onnx")])
                  or moodtune(["evaluate", "--model", str(run / "model.onnx"), "--data", str(args.data),
                               "--crops", "detector", "--fold", str(fold), "--folds", str(FOLDS),
                               "--out", str(run / "test")]))
        if status:
            return status
    return 0


def finished(run: Path, protocol: str) -> dict | None:
    """The run's reported scores, or None while it has not finished.

    The test part's scores where the run has one (every subject fold; random cuts trained for fixed epochs),
    else the best validation epoch (the original work's random protocol: the 30 % selects and is reported).
    """
    path = run / "test" / "metrics.json"
    if path.exists():
        return json.loads(path.read_text())
    if protocol == "subject":
        return None
    history = run / "history.json"
    if not history.exists():
        return None
    state = json.loads(history.read_text())
    config = state["meta"]["config"]
    if state["epoch"] < config["epochs"] and state["epoch"] - state["best_epoch"] < config["patience"]:
        return None  # interrupted: resume it
    best = next(r for r in state["history"] if r["epoch"] == state["best_epoch"])
    return {"accuracy": best["val_accuracy"], "macro_f1": best["val_macro_f1"]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "faces" / "kdef_front")
    parser.add_argument("--ferplus", type=Path, default=ROOT.parent / "shared" / "data" / "faces" / "ferplus",
                        help="FER+, replayed while the default model fine-tunes")
    parser.add_argument("--runs", type=Path, default=ROOT / "runs" / "kdef")
    parser.add_argument("--models", default=",".join(RECIPES))
    parser.add_argument("--protocols", default="random,subject")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per run (1 is fastest for small nets)")
    parser.add_argument("--report-only", action="store_true", help="print the table from finished runs only")
    parser.add_argument("--commands", action="store_true", help="print the training commands and stop")
    parser.add_argument("--json", type=Path, help="also write one model's figures here, for its model card "
                                                  "(moodtune export --metrics FILE)")
    args = parser.parse_args(argv)

    models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = sorted(set(models) - set(RECIPES) - set(ENSEMBLES))
    if unknown:
        parser.error(f"no KDEF recipe for {', '.join(unknown)}; choose from {', '.join([*RECIPES, *ENSEMBLES])}")
    if args.json and len(models) != 1:
        parser.error("--json describes one model: give one with --models")
    protocols = [p.strip() for p in args.protocols.split(",")]
    # An ensemble's members train first, on the subject folds.
    trained = list(dict.fromkeys(r for m in models for r in ENSEMBLES.get(m, [m]) if r in RECIPES))
    jobs = [(m, p, f) for m in trained for p in protocols if p == "subject" or m in models
            for f in ([None] if p == "random" else range(FOLDS))]
    if args.commands:
        for job in jobs:
            print(shlex.join(["moodtune", *train_arguments(args.data, args.runs, *job, args.threads, args.ferplus)]))
        return 0
    if not args.report_only:
        if not args.data.is_dir():
            print(f"{args.data}: KDEF frontal not found; give --data", file=sys.stderr)
            return 2
        from moodtune.app.cli import main as moodtune

        for model, protocol, fold in jobs:
            run = run_dir(args.runs, model, protocol, fold)
            if finished(run, protocol) is not None:
                continue
            missing = _missing_start(model)
            if missing:
                print(f"skipped {run.name}: {missing}, the FER+ model its recipe starts from, is missing; train "
                      "it first (README, \"The emotion model\")", file=sys.stderr)
            else:
                resume = ["--resume"] if (run / "last.pt").exists() else []
                status = moodtune(train_arguments(args.data, args.runs, model, protocol, fold, args.threads,
                                                  args.ferplus) + resume)
                if status:
                    return status
        for ensemble in (m for m in models if m in ENSEMBLES and "subject" in protocols):
            status = score_ensemble(ensemble, args)
            if status:
                return status

    figures = {}
    print("| model | protocol | accuracy | macro-F1 | runs |")
    print("|---|---|---:|---:|---:|")
    for model in models:
        for protocol in (["subject"] if model in ENSEMBLES else protocols):
            folds = [None] if protocol == "random" else range(FOLDS)
            scores = [s for f in folds if (s := finished(run_dir(args.runs, model, protocol, f), protocol))]
            if not scores:
                continue
            accuracy = [s["accuracy"] for s in scores]
            spread = f" ± {statistics.stdev(accuracy) * 100:.1f}" if len(accuracy) > 1 else ""
            name = "random 70/30 (optimistic)" if protocol == "random" else f"subject {FOLDS}-fold"
            print(f"| {model} | {name} | {statistics.mean(accuracy) * 100:.1f} %{spread} | "
                  f"{statistics.mean(s['macro_f1'] for s in scores):.3f} | {len(scores)}/{len(folds)} |")
            fold = next(f for f in folds if finished(run_dir(args.runs, model, protocol, f), protocol))
            if model in ENSEMBLES:
                note = ("by subject: each fold's member runs averaged into one model, scored on the actors that "
                        "fold's runs held out; no person on two sides")
            else:
                history = json.loads((run_dir(args.runs, model, protocol, fold) / "history.json").read_text())
                note = history["meta"]["split"].get("note", "").replace(f"fold {fold} tests",
                                                                        "each fold tests in turn")
            figures[f"kdef_front_{protocol}"] = {
                "accuracy": statistics.mean(accuracy), "macro_f1": statistics.mean(s["macro_f1"] for s in scores),
                "per_run_accuracy": accuracy, "runs": len(scores), "protocol": name, "note": note,
                "command": "python benchmarks/kdef_protocols.py --models " + model}
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
