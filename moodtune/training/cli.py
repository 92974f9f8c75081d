"""``moodtune train``, ``moodtune evaluate`` and ``moodtune export``.

Registered on the main parser by :func:`add_training_commands`. Nothing here imports torch at module level:
the CLI starts without it, and a command that needs it says how to install it.
"""

from __future__ import annotations

import hashlib
import json
import shlex
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

from moodtune.emotions import EMOTIONS
from moodtune.errors import MoodtuneError, ParameterError
from moodtune.training.datasets import DEFAULT_CROP_MARGIN, FaceSet, detect_format, load_cached, read_any

#: Registry names, listed here so ``--help`` needs no torch (a test keeps it equal to models.list_models()).
MODEL_NAMES = ("alexnet", "efficientnet_lite0", "inception_v3", "lenet5", "moodnet", "moodnet_small",
               "moodnet_wide")
SPLITS = ("subject", "random", "official", "all")
TORCH_MISSING = "this command needs PyTorch: install the train extra: pip install -e '.[train]'"

LICENCES = {
    "kdef": "Weights trained by moodtune's own code on KDEF (Lundqvist, Flykt & Öhman 1998), which may be used "
            "for non-commercial research only (kdef.se). Use these weights for research and non-commercial "
            "purposes only.",
    "ferplus": "Weights trained by moodtune's own code on FER2013 images (research use; Goodfellow et al. 2013) "
               "with FER+ labels (MIT, Microsoft; Barsoum et al. 2016). Use for research and non-commercial purposes.",
    "fer2013": "Weights trained by moodtune's own code on FER2013 (Goodfellow et al. 2013; research use). Use for "
               "research and non-commercial purposes.",
}
OTHER_LICENCE = ("Weights trained by moodtune's own code on user-supplied data: check that data's licence before "
                 "sharing them.")


def _require_torch() -> None:
    try:
        import torch  # noqa: F401
    except ImportError:
        raise MoodtuneError(TORCH_MISSING) from None


def add_training_commands(sub) -> None:
    """Add ``train``, ``evaluate`` and ``export`` to an argparse sub-parser collection."""
    tr = sub.add_parser("train", help="train an expression model (Adam, early stopping, best checkpoint)",
                        description="Train a network from the registry on a face dataset. Writes RUN/best.pt, "
                                    "RUN/last.pt (for --resume), RUN/history.json and, where the split has a test "
                                    "part, RUN/test/metrics.json and confusion.png.")
    tr.add_argument("--data", required=True, help="FER+ folder, KDEF folder, FER2013 CSV, path,label CSV or class "
                                                  "folders (detected)")
    tr.add_argument("--model", default="moodnet", choices=MODEL_NAMES, help="network (default moodnet)")
    tr.add_argument("--split", choices=SPLITS, help="subject: k-fold by person (default where people are known); "
                                                    "random: the original 70/30; official: the dataset's own; "
                                                    "all: train on everything for --epochs, no selection (for a "
                                                    "final model, once k-fold runs have chosen the epochs)")
    tr.add_argument("--fixed-epochs", action="store_true",
                    help="no validation part: what would validate trains too, for exactly --epochs, and the last "
                         "epoch is kept (subject: 4 of 5 folds train; random: the 70 %%)")
    tr.add_argument("--folds", type=int, default=5, help="folds for --split subject (default 5)")
    tr.add_argument("--fold", type=int, default=0, help="test fold for --split subject; the next one validates")
    tr.add_argument("--test-fraction", type=float, default=0.3, help="held-out share for --split random")
    tr.add_argument("--epochs", type=int, default=30)
    tr.add_argument("--patience", type=int, default=6, help="epochs without a better validation accuracy")
    tr.add_argument("--lr", type=float, default=2e-3)
    tr.add_argument("--batch-size", type=int, default=64)
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--resume", action="store_true", help="continue RUN/last.pt")
    tr.add_argument("--run", type=Path, dest="run_dir", help="run folder (default runs/MODEL-DATA-SPLIT)")
    tr.add_argument("--weights", help="start from: none, imagenet (efficientnet_lite0's default), shipped "
                                      "(emotion_ferplus, for moodnet), an exported float .onnx, or a state-dict "
                                      "file (inception_v3's torchvision weights, an earlier run's best.pt)")
    tr.add_argument("--balance", default="sqrt", choices=["none", "sqrt", "inverse"],
                    help="class weights in the loss (default sqrt: 1/sqrt(frequency))")
    tr.add_argument("--labels", default="soft", choices=["soft", "majority"],
                    help="FER+ training targets: the raters' vote distribution (default) or the majority one-hot")
    tr.add_argument("--no-augment", action="store_true", help="no random affine, contrast, erasing")
    tr.add_argument("--ema", type=float, default=0.0,
                    help="validate and keep a moving average of the weights with this decay per step (e.g. 0.999 "
                         "for FER+-sized data, 0.98 for KDEF); 0: the weights as trained")
    tr.add_argument("--mixup", type=float, default=0.0,
                    help="blend random pairs of training images and their labels, the weight drawn from "
                         "Beta(ALPHA, ALPHA) (e.g. 0.2); 0: no mixup")
    tr.add_argument("--input-size", type=int, default=0,
                    help="train at this side in pixels (e.g. 128 for efficientnet_lite0 on a CPU); default: the "
                         "side of the model --weights starts from, else the network's own; the card records it")
    tr.add_argument("--replay", help="a second dataset (e.g. FER+) mixed into every epoch while fine-tuning, so "
                                     "the network keeps what it knew; only its training part is used")
    tr.add_argument("--replay-ratio", type=float, default=1.0,
                    help="replay images drawn per training image each epoch (default 1)")
    tr.add_argument("--teacher", action="append", default=[], metavar="MODEL",
                    help="distil: blend the training targets with this exported model's answers (a shipped name "
                         "or an .onnx, trained with the same --balance; repeat for several, averaged, mirror "
                         "images too)")
    tr.add_argument("--replay-teacher", action="append", default=[], metavar="MODEL",
                    help="blend the replay set's targets with this model's answers (e.g. the starting model, so "
                         "the replayed faces keep what it knew of them)")
    tr.add_argument("--teacher-weight", type=float, default=0.5,
                    help="share of the teachers' answers in the blended targets, 0 to 1 (default 0.5)")
    tr.add_argument("--threads", type=int, default=0, help="CPU threads (default: torch's choice)")
    tr.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda")
    _add_data_options(tr)
    tr.set_defaults(run=cmd_train)

    ev = sub.add_parser("evaluate", help="accuracy, macro-F1, recall per class and confusion matrix of a model",
                        description="Score a model on labelled data; writes OUT/metrics.json and "
                                    "OUT/confusion.png.")
    ev.add_argument("--model", required=True, help="exported .onnx (with its card), checkpoint .pt, run folder, "
                                                   "or a shipped model name")
    ev.add_argument("--data", required=True, help="any dataset train reads")
    ev.add_argument("--part", default="auto", help="the dataset's own part to score (e.g. FER2013Valid, "
                                                   "PublicTest, test), 'all', or auto: the validation part "
                                                   "where there is one, else all")
    ev.add_argument("--fold", type=int, help="score only this fold's test part of a subject split (the faces "
                                             "that moodtune train --split subject --fold K held out)")
    ev.add_argument("--folds", type=int, default=5, help="number of subject folds, with --fold (default 5)")
    ev.add_argument("--seed", type=int, default=0, help="the split's seed, with --fold (as train's --seed)")
    ev.add_argument("--out", type=Path, help="report folder (default runs/eval-MODEL-DATA-CROPS)")
    ev.add_argument("--json", action="store_true", help="print the metrics as JSON")
    _add_data_options(ev)
    ev.set_defaults(run=cmd_evaluate)

    ex = sub.add_parser("export", help="ONNX model + model card from a training run",
                        description="Export RUN/best.pt to ONNX with its card; checks ONNX against PyTorch.")
    source = ex.add_mutually_exclusive_group(required=True)
    source.add_argument("--run", type=Path, dest="run_dir", help="run folder (its best.pt)")
    source.add_argument("--checkpoint", type=Path, help="a checkpoint .pt")
    source.add_argument("--member", type=Path, action="append",
                        help="a checkpoint .pt to average with the others given (repeat: 2 or more): one model "
                             "whose probabilities are the mean of the members'")
    ex.add_argument("--out", type=Path, help="the .onnx to write (default RUN/model.onnx); card beside it")
    ex.add_argument("--input-size", type=int,
                    help="with --member: the side of the crop the ensemble takes (default: the largest member's); "
                         "each member resizes it to its own")
    ex.add_argument("--quantize-with", metavar="DATA",
                    help="write an 8-bit model (about 3x faster, 4x smaller), its ranges calibrated on faces "
                         "from DATA (any --data the readers know; its training part where it has one)")
    ex.add_argument("--calibration-faces", type=int, default=512,
                    help="faces drawn from --quantize-with DATA to calibrate, and as many others to compare the "
                         "8-bit model with the float one (default 512)")
    ex.add_argument("--min-agreement", type=float, default=0.95,
                    help="refuse an 8-bit model whose top emotion matches the float model's on less than this "
                         "share of the compared faces (default 0.95)")
    ex.add_argument("--licence", help="licence line for the card (default: from the training data)")
    ex.add_argument("--metrics", type=Path, action="append", default=[],
                    help="a JSON file of measured figures to add to the card's metrics (e.g. what "
                         "benchmarks/emotion_model.py --json or kdef_protocols.py --json wrote); repeatable")
    _add_data_options(ex)  # how --quantize-with DATA is read
    ex.set_defaults(run=cmd_export)


def _add_data_options(p) -> None:
    p.add_argument("--crops", default="given", choices=["given", "detector"],
                   help="given: images are face crops; detector: find and cut faces as inference does")
    p.add_argument("--detector", default="auto", choices=["auto", "yunet", "haar"], help="for --crops detector")
    p.add_argument("--margin", type=float, help="crop margin for --crops detector (default: the model card's, "
                                                f"{DEFAULT_CROP_MARGIN} for new models)")
    p.add_argument("--angles", default="S", help="KDEF angles, comma-separated (FL,HL,S,HR,FR) or 'all'")
    p.add_argument("--cache", default="runs/cache", help="folder caching decoded datasets, or 'none'")


# ---------------------------------------------------------------------------------------------------------
# Data


def _read_data(args, *, size: int, margin: float, train_labels: str = "soft", log=None, data=None,
               crops: str | None = None) -> FaceSet:
    """Read ``args.data`` (or ``data``) at ``size`` with the crop options, through the cache."""
    log = log or (lambda line: print(line, file=sys.stderr))
    data = Path(data or args.data)
    kind = detect_format(data)
    crop = "none" if (crops or args.crops) == "given" else "detector"
    angles = None if args.angles.lower() == "all" else tuple(a.strip().upper() for a in args.angles.split(","))
    options = {"size": size, "crop": crop, "margin": margin, "detector": args.detector, "angles": angles,
               "train_labels": train_labels}

    def build() -> FaceSet:
        log(f"reading {data} ({kind}, {crop} crops, {size}x{size}) ...")
        return read_any(data, **options)

    if args.cache == "none":
        faces = build()
    else:
        stamp = data.stat().st_mtime_ns
        key = hashlib.md5(json.dumps([str(data.resolve()), stamp, kind, options], sort_keys=True).encode())
        faces = load_cached(Path(args.cache) / f"{data.stem}-{key.hexdigest()[:12]}.npz", build)
    counts = ", ".join(f"{e} {n}" for e, n in zip(EMOTIONS, faces.targets.sum(axis=0).round().astype(int),
                                                   strict=True))
    log(f"{data}: {len(faces)} images ({counts}); {len(set(faces.subjects.tolist()))} subjects")
    if faces.problems:
        log(f"{len(faces.problems)} file(s) skipped or read with a fallback, e.g.:")
        for line in faces.problems[:5]:
            log(f"  {line}")
    return faces


def _subject_parts(faces: FaceSet, args, *, instead: str):
    """Train, validation and test indices of subject fold ``args.fold``, duplicates kept off the test side.

    One rule for ``train --split subject`` and ``evaluate --fold``, so an evaluation scores exactly the faces a
    fold's run held out. ``instead`` says what to do when the data names no people.
    """
    from moodtune.training.splits import separate_duplicates, subject_split

    if not faces.subjects_known:
        raise ParameterError(f"{args.data}: no subject is known for these images, so there are no subject folds "
                             f"that keep a person on one side; {instead}")
    return separate_duplicates(faces.hashes, *subject_split(faces.subjects, k=args.folds, fold=args.fold,
                                                            seed=args.seed))


def _split(faces: FaceSet, args):
    """(train, valid, test or None, description) following ``args.split`` or the dataset's natural default."""
    from moodtune.training.splits import official_split, random_split, separate_duplicates

    split = args.split or ("official" if faces.parts is not None else "subject" if faces.subjects_known
                           else "random")
    about = {"kind": split, "seed": args.seed}
    if getattr(args, "fixed_epochs", False) and split == "official":
        raise ParameterError("--fixed-epochs works with --split subject or random (or all), not official")
    if split == "official":
        train, valid, test = separate_duplicates(faces.hashes, *official_split(faces.parts), drop=True)
        about["note"] = "the dataset's own split; validation and test images pixel-identical to earlier parts dropped"
    elif split == "all":
        train, valid, test = list(range(len(faces))), None, None
        about["note"] = "every image trains; no validation or test part (figures come from k-fold runs of the recipe)"
    elif split == "subject":
        train, valid, test = _subject_parts(faces, args, instead="use --split random (or add a subject column)")
        about.update(folds=args.folds, fold=args.fold,
                     note=f"by subject: fold {args.fold} tests, fold {(args.fold + 1) % args.folds} validates "
                          "(early stopping), the rest trains; no person on two sides")
        if args.fixed_epochs:
            train, valid = np.sort(np.concatenate([train, valid])), None
            about["note"] = (f"by subject: fold {args.fold} tests, the other folds train for a fixed number of "
                             "epochs (no selection); no person on two sides")
    else:
        train, valid = separate_duplicates(faces.hashes, *random_split(len(faces), test_fraction=args.test_fraction,
                                                                        seed=args.seed))
        test = None
        about.update(test_fraction=args.test_fraction,
                     note="the original work's protocol: one random cut, the held-out part used both for early "
                          "stopping and for the reported score (optimistic), and people on both sides")
        if args.fixed_epochs:
            valid, test = None, valid
            about["note"] = ("the original work's random cut, trained for a fixed number of epochs: the held-out "
                             "part only tests, but people are on both sides (optimistic)")
    test = faces.subset(test) if test is not None and len(test) else None
    about.update(n_train=len(train), n_valid=len(valid) if valid is not None else 0,
                 n_test=len(test) if test is not None else 0)
    return faces.subset(train), faces.subset(valid) if valid is not None else None, test, about


# ---------------------------------------------------------------------------------------------------------
# Commands


def cmd_train(args) -> int:
    _require_torch()
    from moodtune.training.evaluate import checkpoint_predictor, evaluate, write_report
    from moodtune.training.models import model_spec
    from moodtune.training.train import TrainConfig, fit, training_input_size

    # An unknown model, a missing replay set or a bad option fails here, before minutes of reading the data.
    model_spec(args.model)
    if args.replay and not Path(args.replay).exists():
        raise ParameterError(f"{args.replay}: replay data not found; give --replay a dataset folder or CSV "
                             "(e.g. FER+), or leave it out")
    _check_teachers(args)
    config = TrainConfig(model=args.model, epochs=args.epochs, patience=args.patience, lr=args.lr,
                         batch_size=args.batch_size, seed=args.seed, augment=not args.no_augment,
                         class_balance=args.balance, threads=args.threads, weights=args.weights,
                         ema=args.ema, input_size=args.input_size, replay=args.replay_ratio if args.replay else 0.0,
                         mixup=args.mixup)
    margin = DEFAULT_CROP_MARGIN if args.margin is None else args.margin
    size = training_input_size(args.model, input_size=args.input_size, weights=args.weights)
    faces = _read_data(args, size=size, margin=margin, train_labels=args.labels)
    train, valid, test, about = _split(faces, args)
    data_name = Path(args.data).stem
    fold = f"-fold{args.fold}" if about["kind"] == "subject" else ""
    run = args.run_dir or Path("runs") / f"{args.model}-{data_name}-{about['kind']}{fold}"
    print(f"split {about['kind']}: train {about['n_train']}, validation {about['n_valid']}, test {about['n_test']}"
          f" -> {run}", file=sys.stderr)
    info = {"command": shlex.join(["moodtune", *getattr(args, "argv", [])]),
            "data": {**faces.source, "path": str(args.data), "n_images": len(faces), "problems": len(faces.problems)},
            "split": about, "crop_margin": margin,
            "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "run"}}
    replay = None
    if args.replay:
        # Replay sets are aligned crops (FER+) in practice; only their training part, never their validation.
        replay = _read_data(args, size=size, margin=margin, train_labels=args.labels, data=args.replay,
                            crops="given")
        if replay.parts is not None:
            from moodtune.training.splits import official_split

            try:
                replay = replay.subset(official_split(replay.parts)[0])
            except ParameterError:  # no train/validation parts named: all of it is training material
                pass
        info["replay"] = {**replay.source, "root": str(args.replay), "path": str(args.replay), "n_images": len(replay),
                          "ratio": args.replay_ratio}
    if args.teacher or args.replay_teacher:
        from moodtune.training.distill import distilled
        from moodtune.training.train import class_weights

        def teach(faces, teachers):
            # Only what trains is relabelled; validation and test keep their own labels. A teacher is taken to
            # have learned with this --balance on faces like these, so its answers are unweighted first. They
            # are kept beside the run folders, so the folds of one protocol ask the teachers once.
            return distilled(faces, teachers, weight=args.teacher_weight, threads=max(args.threads, 1),
                             class_weights=class_weights(faces.targets, args.balance).numpy(),
                             cache=run.parent / ".teachers")

        train = teach(train, args.teacher) if args.teacher else train
        replay = teach(replay, args.replay_teacher) if args.replay_teacher else replay
        info["teachers"] = {"train": args.teacher, "replay": args.replay_teacher, "weight": args.teacher_weight}
    run.mkdir(parents=True, exist_ok=True)
    if faces.problems:
        (run / "problems.txt").write_text("\n".join(faces.problems) + "\n", encoding="utf-8")
    result = fit(config, train, valid, run, resume=args.resume, progress="auto", info=info, device=args.device,
                 log=lambda line: print(line, file=sys.stderr), replay=replay)
    if valid is None:
        print(f"trained {result['epochs']} epochs on {len(train)} images, no validation part -> {run / 'best.pt'}")
    else:
        print(f"best epoch {result['best_epoch']} of {result['epochs']}: validation accuracy "
              f"{result['best_accuracy']:.4f} -> {run / 'best.pt'}")
    if test is not None:
        scores = evaluate(checkpoint_predictor(run / "best.pt"), test)
        title = f"{args.model} on {data_name}, test part of a {about['kind']} split"
        json_path, _ = write_report(scores, run / "test", title=title, extra={"split": about})
        print(f"test ({len(test)} images never used for training or selection): accuracy {scores['accuracy']:.4f}, "
              f"macro-F1 {scores['macro_f1']:.4f} -> {json_path}")
    print(f"export it with: moodtune export --run {run}")
    return 0


def _check_teachers(args) -> None:
    """Refuse missing teacher models and a bad weight before any data is read."""
    from moodtune.training.models import weights_path

    if (args.teacher or args.replay_teacher) and not 0.0 <= args.teacher_weight <= 1.0:
        raise ParameterError(f"--teacher-weight must lie in [0, 1], got {args.teacher_weight}")
    if args.replay_teacher and not args.replay:
        raise ParameterError("--replay-teacher relabels the replay set: give --replay too, or use --teacher")
    for teacher in args.teacher + args.replay_teacher:
        path = weights_path(teacher)
        if path.suffix != ".onnx" or not path.is_file():
            raise ParameterError(f"{teacher}: teacher model not found; give a shipped model's name or an .onnx "
                                 "exported by moodtune (its card .json beside it)")


def cmd_evaluate(args) -> int:
    from moodtune.training.evaluate import evaluate, load_predictor, write_report

    model = Path(args.model)
    if model.suffix == ".pt" or model.is_dir():
        _require_torch()
    predictor = load_predictor(args.model)
    margin = predictor.crop_margin if args.margin is None else args.margin
    faces = _read_data(args, size=predictor.input_size, margin=margin, train_labels="majority")
    part = args.part
    if part == "auto":
        valid_names = ("FER2013Valid", "PublicTest", "valid", "validation", "val")
        present = set(faces.parts.tolist()) if faces.parts is not None else set()
        part = next((p for p in valid_names if p in present), "all")
    if part != "all":
        if faces.parts is None or part not in set(faces.parts.tolist()):
            found = sorted(set(faces.parts.tolist())) if faces.parts is not None else []
            raise ParameterError(f"{args.data}: no part {part!r}; parts are {found or 'none'} (or use --part all)")
        faces = faces.subset(faces.parts == part)
    if args.fold is not None:
        faces = faces.subset(_subject_parts(faces, args, instead="leave out --fold")[2])
        part = f"subject fold {args.fold} of {args.folds} (seed {args.seed}), test part"
    scores = evaluate(predictor, faces)
    no_face = sum("no face found" in line for line in faces.problems)
    extra = {"model": str(args.model), "data": str(args.data), "part": part, "crops": args.crops,
             "crop_margin": margin, "problems": len(faces.problems), "no_face_centre_crop": no_face}
    out = args.out or Path("runs") / f"eval-{Path(args.model).stem}-{Path(args.data).stem}-{args.crops}"
    title = f"{Path(args.model).name} on {Path(args.data).name} ({part}, {args.crops} crops)"
    json_path, png_path = write_report(scores, out, title=title, extra=extra)
    if args.json:
        print(json.dumps({**extra, **scores}, indent=2))
        return 0
    print(f"{title}: n {scores['n']}, accuracy {scores['accuracy']:.4f}, macro-F1 {scores['macro_f1']:.4f}")
    for emotion in EMOTIONS:
        recall = scores["recall"][emotion]
        print(f"  {emotion:10s} recall {'-' if recall is None else f'{recall:.3f}'}  "
              f"(n {scores['support'][emotion]})")
    if no_face:
        print(f"  {no_face} image(s) had no face found and were scored on the centre square")
    print(f"wrote {json_path} and {png_path}")
    return 0


def cmd_export(args) -> int:
    _require_torch()
    from moodtune.training.ensemble import AveragedNets
    from moodtune.training.export import (
        card_from_checkpoint,
        export_onnx,
        load_checkpoint,
        max_difference_to_torch,
    )

    if args.member and not args.out:
        # The default, the first member's run folder, would overwrite that run's own exported model.
        raise ParameterError("an ensemble needs --out FILE.onnx (where to write it)")
    if args.input_size is not None and not args.member:
        raise ParameterError("--input-size sets an ensemble's side: give two or more --member checkpoints")
    if args.quantize_with and args.calibration_faces < 1:
        raise ParameterError(f"--calibration-faces must be at least 1, got {args.calibration_faces}")
    if args.quantize_with and not Path(args.quantize_with).exists():
        raise ParameterError(f"{args.quantize_with}: calibration data not found; give --quantize-with a face "
                             "dataset (FER+ folder, KDEF folder, manifest CSV or class folders)")
    checkpoints = args.member or [args.checkpoint or args.run_dir / "best.pt"]
    for checkpoint in checkpoints:
        if not checkpoint.is_file():
            raise ParameterError(f"{checkpoint}: checkpoint not found; train first (moodtune train) or give "
                                 "--checkpoint")
    out = args.out or checkpoints[0].parent / "model.onnx"
    if out.suffix != ".onnx":
        raise ParameterError(f"{out}: the output must end in .onnx (the card is written beside it as .json)")
    extra = {}
    for path in args.metrics:
        try:
            extra.update(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, AttributeError) as err:
            raise ParameterError(f"{path}: not a JSON object of metrics ({err}); give the file a benchmark "
                                 "wrote with --json") from None
    members = [(checkpoint, *load_checkpoint(checkpoint)) for checkpoint in checkpoints]
    described = [_describe_checkpoint(checkpoint, meta) for checkpoint, _, meta in members]
    # One licence sentence per dataset or weights the model learned from, each once.
    licence = args.licence or " ".join(dict.fromkeys(c for _, _, clauses in described for c in clauses))
    if args.member:
        margins = {float(meta.get("crop_margin", DEFAULT_CROP_MARGIN)) for _, _, meta in members}
        if len(margins) > 1:
            raise ParameterError(f"members cut faces with different margins ({sorted(margins)}); an ensemble "
                                 "reads one crop: give members trained with the same --margin")
        model = AveragedNets([(net, meta) for _, net, meta in members], input_size=args.input_size)
        channels = 1
        meta = {"config": {"model": "ensemble of " + " + ".join(m["config"]["model"] for _, _, m in members)},
                "input_size": model.input_size, "mean": 0.0, "std": 1.0, "crop_margin": margins.pop()}
        training = {"ensemble": "the mean of the members' probabilities; each member's crop is shrunk from the "
                                "ensemble's side to its own (INTER_AREA weights) and normalised as it was trained",
                    "members": [{"checkpoint": str(checkpoint), **training, "metrics": measured}
                                for checkpoint, (training, measured, _) in zip(checkpoints, described,
                                                                                strict=True)]}
        training["command"] = shlex.join(["moodtune", *getattr(args, "argv", [])])
        metrics = extra
    else:
        _, model, meta = members[0]
        training, metrics, _ = described[0]
        metrics = {**metrics, **extra}
        channels = meta["channels"]
    card = card_from_checkpoint(meta, training=training, metrics=metrics, licence=licence)
    # Written in a scratch folder and moved into place only once checked: a failed export keeps what was there.
    with tempfile.TemporaryDirectory() as scratch:
        exported = Path(scratch) / "float.onnx"
        export_onnx(model, card, exported, model_channels=channels)
        inputs = np.random.default_rng(0).normal(size=(4, 1, card.input_size, card.input_size)).astype(np.float32)
        difference = max_difference_to_torch(model, exported, inputs=inputs, model_channels=channels)
        print(f"ONNX vs PyTorch max difference {difference:.2e}")
        if difference > 1e-4:
            raise MoodtuneError(f"{out}: ONNX output differs from PyTorch by {difference:.2e} (> 1e-4); not written")
        if args.quantize_with:
            exported = _quantize(args, exported, Path(scratch) / "int8.onnx", final=out)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(exported.with_suffix(".json"), out.with_suffix(".json"))
        shutil.move(exported, out)
    print(f"wrote {out} and {out.with_suffix('.json')}")
    return 0


def _quantize(args, float_path: Path, out: Path, *, final: Path) -> Path:
    """8-bit copy of an exported model, calibrated on faces from ``--quantize-with``; refused if it strays."""
    from moodtune.faces.card import ModelCard
    from moodtune.training.quantize import quantize_model

    card = ModelCard.load(float_path.with_suffix(".json"))
    faces = _read_data(args, size=card.input_size, margin=card.crop_margin, data=args.quantize_with,
                       train_labels="majority")
    if faces.parts is not None:  # calibrate on the training part: validation faces stay unseen
        training = np.array(["train" in str(part).lower() for part in faces.parts])
        faces = faces.subset(training) if training.any() else faces
    if len(faces) == 0:
        raise ParameterError(f"{args.quantize_with}: no faces to calibrate on")
    order = np.random.default_rng(0).permutation(len(faces))
    n = min(args.calibration_faces, len(faces))
    calibration = faces.images[order[:n]]
    check = faces.images[order[n:2 * n]] if len(faces) > n else None
    report = quantize_model(float_path, out, calibration=calibration, check=check, source=str(args.quantize_with))
    print(f"8-bit model: calibrated on {report['faces']} faces from {args.quantize_with}; on {report['checked']} "
          f"faces its top emotion matches the float model's on {report['agreement']:.1%} (largest probability "
          f"change {report['max_difference']:.3f})")
    if report["agreement"] < args.min_agreement:
        raise MoodtuneError(f"{final}: the 8-bit model's top emotion matches the float model's on "
                            f"only {report['agreement']:.1%} of faces (< --min-agreement {args.min_agreement}); "
                            "not written. Calibrate on faces like those it will see, or export without "
                            "--quantize-with")
    return out


def _describe_checkpoint(checkpoint: Path, meta: dict) -> tuple[dict, dict, list[str]]:
    """A checkpoint's card parts: (how it was trained, what its run measured, its licence sentences)."""
    from moodtune.training.export import IMAGENET_LICENCE, from_imagenet, weights_lineage

    record = meta.get("record") or {}
    scores = meta.get("scores") or {}
    metrics = {}
    if scores.get("accuracy") is not None:  # runs on all the data (--split all) validated nothing
        metrics["validation"] = {k: scores.get(k) for k in ("n", "accuracy", "macro_f1", "recall")}
    test_json = checkpoint.parent / "test" / "metrics.json"
    if test_json.exists():
        test = json.loads(test_json.read_text(encoding="utf-8"))
        metrics["test"] = {k: test.get(k) for k in ("n", "accuracy", "macro_f1", "recall")}
    split = meta.get("split", {})
    if split.get("note"):
        metrics["protocol"] = split["note"]
    data = meta.get("data", {})
    training = {"data": data, "split": split, "config": meta["config"], "weights": meta.get("weights"),
                "best_epoch": record.get("epoch"), "n_train": meta.get("n_train"), "n_valid": meta.get("n_valid")}
    replay = meta.get("replay")
    if replay:
        training["replay"] = replay
    teachers = meta.get("teachers")
    if teachers:
        training["distilled_from"] = {"weight": teachers["weight"],
                                      **{part: [weights_lineage(t) for t in teachers[part]]
                                         for part in ("train", "replay") if teachers[part]}}
    if meta.get("command"):
        training["command"] = meta["command"]
    if meta.get("weights") not in (None, "imagenet"):
        training["initialised_from"] = weights_lineage(meta["weights"])
    # The datasets the weights learned from (the training data and any replay set), and ImageNet's weights.
    readers = [data.get("reader")] + ([replay.get("reader")] if replay else [])
    licence = [LICENCES.get(r, OTHER_LICENCE) for r in readers]
    if from_imagenet(meta.get("weights")):
        licence.append(IMAGENET_LICENCE)
    return training, metrics, licence
