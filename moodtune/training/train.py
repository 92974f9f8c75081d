"""The training loop: Adam, soft-target cross-entropy, augmentation, early stopping, best checkpoint, resume.

A run lives in one folder: ``last.pt`` (everything needed to resume: weights, optimiser, epoch, history,
random states) is written after every epoch, ``best.pt`` whenever validation accuracy improves, and
``history.json`` for people. Re-running with ``resume=True`` continues where an interrupted run stopped, and
ends with the same weights as a run that was never interrupted.

Images arrive as gray uint8 (N, S, S) of any size: they are resized once to the network's input size (the
registry's), scaled to [0, 1], augmented, normalised, and the gray channel is repeated for 3-channel networks.
Runs on CUDA when it is available, else on the CPU.
"""

from __future__ import annotations

import json
import math
import random
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from moodtune.errors import ParameterError
from moodtune.training.datasets import FaceSet, resize_images
from moodtune.training.metrics import summarize
from moodtune.training.models import create_model, model_spec, weights_path


@dataclass
class TrainConfig:
    model: str = "moodnet"
    epochs: int = 30
    patience: int = 6
    lr: float = 2e-3
    weight_decay: float = 1e-4
    batch_size: int = 64
    seed: int = 0
    augment: bool = True
    class_balance: str = "sqrt"  # "none", "sqrt" (weights ∝ 1/sqrt(frequency)) or "inverse"
    threads: int = 0  # 0 = torch's default
    weights: str | None = None  # None: the registry's default (ImageNet for efficientnet_lite0); "none"; a file
    ema: float = 0.0  # decay of an exponential moving average of the weights, evaluated and kept (0: none)
    input_size: int = 0  # 0: the registry's; else train (and export) at this side, e.g. 128 for a CPU budget
    replay: float = 0.0  # images drawn from the replay set per training image each epoch (0: no replay)
    mixup: float = 0.0  # alpha of mixup's Beta(alpha, alpha) blend of image pairs and their targets (0: none)

    def __post_init__(self):
        # Checked here, so a bad value fails before any data is read.
        if self.mixup < 0:
            raise ParameterError(f"mixup must be 0 (off) or a positive Beta alpha such as 0.2, got {self.mixup}")


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def class_weights(targets: np.ndarray, mode: str) -> torch.Tensor:
    """Per-class loss weights of shape (7,), normalised so that an average sample weighs 1."""
    frequency = targets.sum(axis=0) + 1.0
    if mode == "none":
        weights = np.ones_like(frequency)
    elif mode == "sqrt":
        weights = 1.0 / np.sqrt(frequency)
    elif mode == "inverse":
        weights = 1.0 / frequency
    else:
        raise ValueError(f"class_balance must be none, sqrt or inverse, got {mode!r}")
    weights = weights / (weights * frequency).sum() * frequency.sum()
    return torch.tensor(weights, dtype=torch.float32)


def mixup_batch(x: torch.Tensor, y: torch.Tensor, alpha: float, generator: torch.Generator, *,
                seed: tuple) -> tuple[torch.Tensor, torch.Tensor]:
    """Mixup (Zhang et al. 2018): each image blended with another of the batch, targets blended alike.

    ``x`` is (B, C, H, W), ``y`` (B, 7) soft targets. The blend weight is drawn from Beta(alpha, alpha) by a
    NumPy generator seeded with ``seed`` (seed, epoch, batch start), so a resumed run draws what it would have.
    """
    weight = float(np.random.default_rng(list(seed)).beta(alpha, alpha))
    partner = torch.randperm(len(x), generator=generator).to(x.device)
    return weight * x + (1 - weight) * x[partner], weight * y + (1 - weight) * y[partner]


def augment_batch(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random affine (rotation ±12°, scale ±12 %, shift ±8 %, mirror), brightness/contrast, and erasing.

    ``x`` is (B, C, H, W) in [0, 1]. Done on whole batches with affine_grid because per-image OpenCV calls
    would dominate the epoch time on two cores.
    """
    b = x.shape[0]

    def uniform(low, high):
        return torch.empty(b).uniform_(low, high, generator=generator)

    angle = uniform(-12, 12) * math.pi / 180
    scale = uniform(0.88, 1.12)
    flip = torch.where(torch.rand(b, generator=generator) < 0.5, -1.0, 1.0)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([
        torch.stack([cos * flip, -sin, uniform(-0.08, 0.08)], dim=1),
        torch.stack([sin * flip, cos, uniform(-0.08, 0.08)], dim=1),
    ], dim=1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, padding_mode="border", align_corners=False)
    contrast = uniform(0.7, 1.3).view(b, 1, 1, 1)
    brightness = uniform(-0.15, 0.15).view(b, 1, 1, 1)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = ((x - mean) * contrast + mean + brightness).clamp(0, 1)
    # Random erasing of one box in a quarter of the images: robustness to hands, glasses, hair.
    h, w = x.shape[2:]
    for i in torch.nonzero(torch.rand(b, generator=generator) < 0.25).flatten().tolist():
        eh, ew = (torch.randint(h // 8, h // 3, (2,), generator=generator)).tolist()
        top = int(torch.randint(0, h - eh, (1,), generator=generator))
        left = int(torch.randint(0, w - ew, (1,), generator=generator))
        x[i, :, top:top + eh, left:left + ew] = torch.rand(1, generator=generator).item()
    return x


def to_tensor(images: np.ndarray, *, channels: int = 1) -> torch.Tensor:
    """uint8 (N, H, W) gray -> float (N, C, H, W) in [0, 1]; normalisation comes after augmentation."""
    return expand_channels(torch.from_numpy(np.ascontiguousarray(images)).float().unsqueeze(1) / 255.0, channels)


def expand_channels(x: torch.Tensor, channels: int) -> torch.Tensor:
    """(N, 1, H, W) -> (N, channels, H, W) by repeating the gray channel (a view; no copy)."""
    return x if channels == 1 else x.expand(-1, channels, -1, -1)


def normalize(x: torch.Tensor, mean: float, std: float) -> torch.Tensor:
    return (x - mean) / std


def pretrained_preprocessing(weights) -> dict | None:
    """``{"input_size", "mean", "std"}`` that a moodtune checkpoint or exported model was trained with.

    None for other weights (ImageNet, a foreign state dict). Fine-tuning keeps them, so the first layer sees
    inputs on the scale it learned and the later layers features of the size they learned.
    """
    if weights is None or weights == "imagenet":
        return None
    path = weights_path(weights)
    if path.suffix == ".onnx" and path.with_suffix(".json").is_file():
        card = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
        return {"input_size": int(card["input_size"]), "mean": float(card["mean"][0]), "std": float(card["std"][0])}
    if path.suffix == ".pt" and path.is_file():
        meta = torch.load(path, map_location="cpu", weights_only=False).get("meta", {})
        if "mean" in meta:
            return {"input_size": int(meta.get("input_size", 0)), "mean": float(meta["mean"]),
                    "std": float(meta["std"])}
    return None


def pretrained_normalisation(weights) -> tuple[float, float] | None:
    """(mean, std) that a moodtune checkpoint or exported model was trained with; None for other weights."""
    known = pretrained_preprocessing(weights)
    return (known["mean"], known["std"]) if known else None


def training_input_size(model: str, *, input_size: int = 0, weights=None) -> int:
    """The side a run trains at: ``input_size`` if given, else the starting model's, else the registry's."""
    known = pretrained_preprocessing(weights) if weights is not None else None
    return input_size or (known and known["input_size"]) or model_spec(model).input_size


def pick_device(device: str | None = None) -> torch.device:
    """``device`` if given, else CUDA when present, else the CPU."""
    if device in (None, "auto"):
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(device)


@torch.no_grad()
def predict(model, images: np.ndarray, *, mean: float, std: float, batch_size: int = 256,
            input_size: int | None = None, channels: int = 1) -> np.ndarray:
    """Softmax probabilities of shape (N, 7) for uint8 gray images of shape (N, H, W).

    ``input_size`` resizes the images first (None: as they are); ``channels`` = 3 repeats the gray channel.
    Runs on the device the model is on.
    """
    model.eval()
    device = next(model.parameters()).device
    if input_size is not None:
        images = resize_images(images, input_size)
    out = []
    for start in range(0, len(images), batch_size):
        x = normalize(to_tensor(images[start:start + batch_size]), mean, std)
        x = expand_channels(x, channels).to(device).contiguous(memory_format=torch.channels_last)
        out.append(torch.softmax(model(x), dim=1).float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 7), np.float32)


class _Progress:
    """Per-batch progress: a tqdm bar with live loss/accuracy on a terminal, a plain line per tenth otherwise."""

    def __init__(self, mode: str, epoch: int, total: int, log):
        if mode == "auto":
            mode = "bar" if sys.stderr.isatty() else "plain"
        self.mode, self.epoch, self.total, self.log, self.done = mode, epoch, total, log, 0
        self.bar = None
        if mode == "bar":
            try:
                from tqdm import tqdm
            except ImportError:  # tqdm is in the train extra, but a bar is not worth failing for
                self.mode = "plain"
            else:
                self.bar = tqdm(total=total, desc=f"epoch {epoch}", unit="batch", leave=False, file=sys.stderr,
                                dynamic_ncols=True)
        self.every = max(1, math.ceil(total / 10))

    def update(self, loss: float, accuracy: float) -> None:
        self.done += 1
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{loss:.4f}", acc=f"{accuracy:.3f}", refresh=False)
        elif self.mode == "plain" and self.total >= 20 and self.done % self.every == 0 and self.done < self.total:
            self.log(f"  epoch {self.epoch}  batch {self.done}/{self.total}  loss {loss:.4f}  acc {accuracy:.3f}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def fit(config: TrainConfig, train: FaceSet, valid: FaceSet, run_dir, *, resume: bool = False,
        log=print, progress: str = "none", info: dict | None = None, device: str | None = None,
        replay: FaceSet | None = None) -> dict:
    """Train ``config.model`` on ``train``, select on ``valid`` accuracy; return the best epoch's record.

    Writes ``run_dir/last.pt``, ``run_dir/best.pt`` and ``run_dir/history.json``.

    Parameters
    ----------
    train, valid : FaceSet
        Gray images of any size (resized to the network's input size here). ``valid`` None: no selection,
        every epoch is kept as the best (train on all the data for a fixed number of epochs).
    resume : bool
        Continue from ``run_dir/last.pt`` when it exists.
    log : callable
        Receives one line per epoch (and per tenth of an epoch with ``progress="plain"``).
    progress : {"none", "auto", "bar", "plain"}
        Per-batch progress; "auto" is a tqdm bar on a terminal, plain lines otherwise.
    replay : FaceSet, optional
        A second set mixed into every epoch (``config.replay`` of its images per training image, drawn
        afresh each epoch), e.g. FER+ while fine-tuning on KDEF, so the network keeps what it knew.
    info : dict, optional
        Stored in the checkpoints' ``meta`` (data, split, crop rule) for the model card.
    device : str, optional
        "cpu", "cuda", ...; default CUDA when present.

    Returns
    -------
    dict
        ``best_epoch``, ``best_accuracy`` (validation), ``epochs`` run, ``stopped_early``.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if config.threads:
        torch.set_num_threads(config.threads)
    if len(train) == 0 or (valid is not None and len(valid) == 0):
        raise ParameterError(f"need training and validation images, got {len(train)} and "
                             f"{len(valid) if valid is not None else 'none'}")
    seed_everything(config.seed)
    spec = model_spec(config.model)
    device = pick_device(device)
    last = run_dir / "last.pt"
    resuming = resume and last.exists()
    checkpoint = torch.load(last, map_location="cpu", weights_only=False) if resuming else None
    if checkpoint is not None and checkpoint["meta"]["config"]["model"] != config.model:
        raise ParameterError(f"{last}: this run trains {checkpoint['meta']['config']['model']!r}, not "
                             f"{config.model!r}; resume with the same model or choose another run folder")
    # Pretrained weights matter only for a fresh start; a resumed run loads its own.
    weights = None if resuming else (config.weights if config.weights is not None else spec.default_weights)
    model = create_model(config.model, weights=weights)
    size = (checkpoint["meta"]["input_size"] if checkpoint is not None
            else training_input_size(config.model, input_size=config.input_size, weights=weights))
    if size != spec.input_size:
        try:
            with torch.no_grad():
                model.eval()(torch.zeros(1, spec.channels, size, size))
        except RuntimeError:
            raise ParameterError(f"{config.model} cannot take {size}x{size} inputs (it is built for "
                                 f"{spec.input_size}); leave the input size at its default") from None
    train_images = resize_images(train.images, size)
    valid_images = resize_images(valid.images, size) if valid is not None else None
    # Pretrained networks keep the normalisation their weights were trained with; others use the data's.
    mean, std = spec.mean, spec.std
    if mean is None:
        mean, std = pretrained_normalisation(weights) or (float(train_images.mean() / 255.0),
                                                          float(train_images.std() / 255.0))
    if weights is not None and weights != "imagenet" and weights_path(weights).suffix == ".onnx":
        # Weights read back from ONNX have identity batch-norms; give them this data's statistics.
        from moodtune.training.export import recalibrate_batchnorm

        sample = torch.from_numpy(train_images[:512]).float().unsqueeze(1) / 255.0  # readers' order mixes classes
        recalibrate_batchnorm(model, expand_channels(normalize(sample, mean, std), spec.channels))
    model = model.to(device).to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    # Cosine decay over the planned epochs; early stopping may end sooner.
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs)
    generator = torch.Generator().manual_seed(config.seed)
    state = {"epoch": 0, "best_accuracy": -1.0, "best_epoch": 0, "history": []}

    # The moving average of the weights is what is validated and saved: it smooths the last steps' noise.
    ema = None
    if config.ema:
        from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

        ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(config.ema), use_buffers=True)
    if checkpoint is not None:
        model.load_state_dict(checkpoint["model"] if ema is None else checkpoint["training_model"])
        if ema is not None:
            ema.load_state_dict(checkpoint["ema"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        scheduler.load_state_dict(checkpoint["scheduler"])
        generator.set_state(checkpoint["generator"])
        torch.set_rng_state(checkpoint["torch_rng"])
        state = checkpoint["state"]
        mean, std = checkpoint["meta"]["mean"], checkpoint["meta"]["std"]
        log(f"resumed {run_dir} after epoch {state['epoch']} (best {state['best_accuracy']:.4f})")

    images = torch.from_numpy(train_images)  # uint8: 4x less memory than float for large inputs
    targets = torch.from_numpy(train.targets)
    n_replay = round(config.replay * len(train)) if replay is not None and len(replay) else 0
    # Class weights follow what an epoch holds: the training set plus the expected replay draw.
    counts = train.targets.sum(axis=0) + (n_replay * replay.targets.mean(axis=0) if n_replay else 0)
    weights_per_class = class_weights(counts[None, :], config.class_balance).to(device)
    if n_replay:
        images = torch.cat([images, torch.from_numpy(resize_images(replay.images, size))])
        targets = torch.cat([targets, torch.from_numpy(replay.targets)])
    meta = {"config": asdict(config), "mean": mean, "std": std, "input_size": size,
            "channels": spec.channels, "n_train": len(train), "n_valid": len(valid) if valid is not None else 0,
            "weights": weights,
            **(info or {})}
    if checkpoint is not None:
        meta["weights"] = checkpoint["meta"].get("weights")

    while state["epoch"] < config.epochs and state["epoch"] - state["best_epoch"] < config.patience:
        epoch = state["epoch"] + 1
        model.train()
        started = time.time()
        order = torch.randperm(len(train), generator=generator)
        if n_replay:  # a fresh draw of replay images each epoch, shuffled in among the training images
            pool = len(images) - len(train)
            drawn = (torch.randperm(pool, generator=generator)[:n_replay] if n_replay <= pool
                     else torch.randint(pool, (n_replay,), generator=generator))  # a small pool: with replacement
            order = torch.cat([order, len(train) + drawn])
            order = order[torch.randperm(len(order), generator=generator)]
        total, hits, seen = 0.0, 0, 0
        bar = _Progress(progress, epoch, math.ceil(len(order) / config.batch_size), log)
        for start in range(0, len(order), config.batch_size):
            index = order[start:start + config.batch_size]
            x = images[index].float().unsqueeze(1) / 255.0
            if config.augment:
                x = augment_batch(x, generator)
            x = expand_channels(normalize(x, mean, std), spec.channels)
            x = x.to(device).contiguous(memory_format=torch.channels_last)
            y = targets[index].to(device)
            if config.mixup:
                x, y = mixup_batch(x, y, config.mixup, generator, seed=(config.seed, epoch, start))
            logits = model(x)
            # Soft-target cross-entropy weighted per class: handles FER+ vote distributions and one-hots alike.
            loss = -(y * F.log_softmax(logits, dim=1) * weights_per_class).sum(dim=1).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if ema is not None:
                ema.update_parameters(model)
            total += loss.item() * len(index)
            hits += int((logits.argmax(dim=1) == y.argmax(dim=1)).sum())
            seen += len(index)
            bar.update(total / seen, hits / seen)
        bar.close()
        scheduler.step()
        kept = model if ema is None else ema.module
        if valid is not None:
            probabilities = predict(kept, valid_images, mean=mean, std=std, channels=spec.channels)
            scores = summarize(valid.labels, probabilities.argmax(axis=1))
        else:  # nothing to select on: the latest epoch is kept
            scores = {"accuracy": None, "macro_f1": None}
        record = {"epoch": epoch, "loss": total / max(seen, 1), "train_accuracy": hits / max(seen, 1),
                  "val_accuracy": scores["accuracy"], "val_macro_f1": scores["macro_f1"],
                  "seconds": round(time.time() - started, 1)}
        state["history"].append(record)
        state["epoch"] = epoch
        improved = valid is None or scores["accuracy"] > state["best_accuracy"]
        if improved:
            state["best_epoch"] = epoch
            state["best_accuracy"] = scores["accuracy"] if valid is not None else state["best_accuracy"]
            torch.save({"model": kept.state_dict(), "meta": meta, "record": record, "scores": scores},
                       run_dir / "best.pt")
        extra = {} if ema is None else {"training_model": model.state_dict(), "ema": ema.state_dict()}
        torch.save({"model": kept.state_dict(), **extra, "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(), "generator": generator.get_state(),
                    "torch_rng": torch.get_rng_state(), "state": state, "meta": meta}, last)
        (run_dir / "history.json").write_text(json.dumps({"meta": meta, **state}, indent=2))
        validated = (f"val acc {record['val_accuracy']:.4f}  macro-F1 {record['val_macro_f1']:.4f}"
                     if valid is not None else f"train acc {record['train_accuracy']:.4f}")
        log(f"epoch {epoch:3d}  loss {record['loss']:.4f}  {validated}  {record['seconds']:.0f}s"
            f"{'  *best' if improved and valid is not None else ''}")
    stopped_early = state["epoch"] - state["best_epoch"] >= config.patience
    if stopped_early:
        log(f"early stop: no gain for {config.patience} epochs; best epoch {state['best_epoch']}")
    return {"best_epoch": state["best_epoch"], "best_accuracy": state["best_accuracy"], "epochs": state["epoch"],
            "stopped_early": stopped_early}
