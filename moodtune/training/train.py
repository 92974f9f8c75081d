"""The training loop: Adam, soft-target cross-entropy, augmentation, early stopping, best checkpoint, resume.

A run lives in one folder: ``last.pt`` (everything needed to resume: weights, optimiser, epoch, history,
random states) is written after every epoch, ``best.pt`` whenever validation accuracy improves, and
``history.json`` for people. Re-running with ``resume=True`` continues where an interrupted run stopped.
"""

from __future__ import annotations

import json
import math
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from moodtune.training.datasets import FaceSet
from moodtune.training.metrics import summarize
from moodtune.training.models import create_model, model_spec


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


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W) gray -> float (N, 1, H, W) in [0, 1]; normalisation comes after augmentation."""
    return torch.from_numpy(images).float().unsqueeze(1) / 255.0


def normalize(x: torch.Tensor, mean: float, std: float) -> torch.Tensor:
    return (x - mean) / std


@torch.no_grad()
def predict(model, images: np.ndarray, *, mean: float, std: float, batch_size: int = 256) -> np.ndarray:
    """Softmax probabilities of shape (N, 7) for uint8 gray images of shape (N, H, W)."""
    model.eval()
    out = []
    for start in range(0, len(images), batch_size):
        x = normalize(to_tensor(images[start:start + batch_size]), mean, std)
        x = x.contiguous(memory_format=torch.channels_last)
        out.append(torch.softmax(model(x), dim=1).numpy())
    return np.concatenate(out) if out else np.zeros((0, 7), np.float32)


def fit(config: TrainConfig, train: FaceSet, valid: FaceSet, run_dir, *, resume: bool = False,
        log=print) -> dict:
    """Train ``config.model`` on ``train``, select on ``valid`` accuracy; return the best epoch's record.

    Writes ``run_dir/last.pt``, ``run_dir/best.pt`` and ``run_dir/history.json``.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if config.threads:
        torch.set_num_threads(config.threads)
    seed_everything(config.seed)
    spec = model_spec(config.model)
    model = create_model(config.model).to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    # Cosine decay over the planned epochs; early stopping may end sooner.
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs)
    mean = float(train.images.mean() / 255.0)
    std = float(train.images.std() / 255.0)
    weights = class_weights(train.targets, config.class_balance)
    generator = torch.Generator().manual_seed(config.seed)
    state = {"epoch": 0, "best_accuracy": -1.0, "best_epoch": 0, "history": []}

    last = run_dir / "last.pt"
    if resume and last.exists():
        checkpoint = torch.load(last, weights_only=False)
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        scheduler.load_state_dict(checkpoint["scheduler"])
        generator.set_state(checkpoint["generator"])
        torch.set_rng_state(checkpoint["torch_rng"])
        state = checkpoint["state"]
        log(f"resumed {run_dir} after epoch {state['epoch']} (best {state['best_accuracy']:.4f})")

    images = to_tensor(train.images)
    targets = torch.from_numpy(train.targets)
    meta = {"config": asdict(config), "mean": mean, "std": std, "input_size": spec.input_size,
            "channels": spec.channels, "n_train": len(train), "n_valid": len(valid)}

    while state["epoch"] < config.epochs and state["epoch"] - state["best_epoch"] < config.patience:
        epoch = state["epoch"] + 1
        model.train()
        started = time.time()
        order = torch.randperm(len(images), generator=generator)
        total, seen = 0.0, 0
        for start in range(0, len(order), config.batch_size):
            index = order[start:start + config.batch_size]
            x = images[index]
            if config.augment:
                x = augment_batch(x, generator)
            x = normalize(x, mean, std).contiguous(memory_format=torch.channels_last)
            logits = model(x)
            # Soft-target cross-entropy weighted per class: handles FER+ vote distributions and one-hots alike.
            loss = -(targets[index] * F.log_softmax(logits, dim=1) * weights).sum(dim=1).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(index)
            seen += len(index)
        scheduler.step()
        probabilities = predict(model, valid.images, mean=mean, std=std)
        scores = summarize(valid.labels, probabilities.argmax(axis=1))
        record = {"epoch": epoch, "loss": total / max(seen, 1), "val_accuracy": scores["accuracy"],
                  "val_macro_f1": scores["macro_f1"], "seconds": round(time.time() - started, 1)}
        state["history"].append(record)
        state["epoch"] = epoch
        improved = scores["accuracy"] > state["best_accuracy"]
        if improved:
            state["best_accuracy"], state["best_epoch"] = scores["accuracy"], epoch
            torch.save({"model": model.state_dict(), "meta": meta, "record": record, "scores": scores},
                       run_dir / "best.pt")
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(), "generator": generator.get_state(),
                    "torch_rng": torch.get_rng_state(), "state": state, "meta": meta}, last)
        (run_dir / "history.json").write_text(json.dumps({"meta": meta, **state}, indent=2))
        log(f"epoch {epoch:3d}  loss {record['loss']:.4f}  val acc {record['val_accuracy']:.4f}  "
            f"macro-F1 {record['val_macro_f1']:.4f}  {record['seconds']:.0f}s{'  *best' if improved else ''}")
    if state["epoch"] - state["best_epoch"] >= config.patience:
        log(f"early stop: no gain for {config.patience} epochs; best epoch {state['best_epoch']}")
    return {"best_epoch": state["best_epoch"], "best_accuracy": state["best_accuracy"], "epochs": state["epoch"]}
