"""Several trained networks as one model: the mean of their probabilities.

Networks of different designs make different mistakes, so their average is right more often than either
(README, "The emotion model", has the figures). The members may have been trained at different input sides
and normalisations; the ensemble takes one crop, at the largest member's side, scaled to [0, 1], and each
member shrinks it to its own side with the weights of OpenCV's INTER_AREA resize (what training used to
shrink crops; two matrix products, so the exported graph stays plain) and normalises it as it was trained.

    ensemble = AveragedNets.from_checkpoints(["runs/a/best.pt", "runs/b/best.pt"])
    probabilities = torch.exp(ensemble(crops))   # crops (N, 1, S, S) in [0, 1]; S = ensemble.input_size
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
from torch import nn

from moodtune.errors import ParameterError


def area_resize_matrix(source: int, target: int) -> np.ndarray:
    """The (target, source) matrix ``R`` with ``R @ image @ R.T`` = cv2's INTER_AREA resize of a square image.

    INTER_AREA is separable and linear, so resizing the identity's rows gives its weights.
    """
    if target > source:
        raise ParameterError(f"an ensemble member's side ({target}) must not exceed the ensemble's ({source})")
    return cv2.resize(np.eye(source, dtype=np.float32), (source, target), interpolation=cv2.INTER_AREA)


class AveragedNets(nn.Module):
    """Mean probabilities of ``members``; returns their log, so a softmax of it gives the mean back exactly.

    Parameters
    ----------
    members : list of (nn.Module, dict)
        Each network with its preprocessing: ``{"input_size", "mean", "std", "channels"}`` (a checkpoint's meta).
    """

    def __init__(self, members: list[tuple[nn.Module, dict]]):
        super().__init__()
        if len(members) < 2:
            raise ParameterError(f"an ensemble needs at least 2 members, got {len(members)}")
        self.input_size = max(int(meta["input_size"]) for _, meta in members)
        self.nets = nn.ModuleList(net for net, _ in members)
        self.preprocessing = [(float(meta["mean"]), float(meta["std"]), int(meta.get("channels", 1)))
                              for _, meta in members]
        self.shrinks = [int(meta["input_size"]) != self.input_size for _, meta in members]
        for i, (_, meta) in enumerate(members):
            if self.shrinks[i]:
                resize = area_resize_matrix(self.input_size, int(meta["input_size"]))
                self.register_buffer(f"resize{i}", torch.from_numpy(resize), persistent=False)

    @classmethod
    def from_checkpoints(cls, paths) -> AveragedNets:
        """The ensemble of moodtune checkpoints (``best.pt``), in eval mode."""
        from moodtune.training.export import load_checkpoint

        return cls([load_checkpoint(path) for path in paths]).eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 1, S, S) gray in [0, 1] -> (N, 7) log of the members' mean probabilities."""
        total = 0
        for i, (net, (mean, std, channels)) in enumerate(zip(self.nets, self.preprocessing, strict=True)):
            resize = getattr(self, f"resize{i}", None)
            y = resize @ x @ resize.T if self.shrinks[i] else x
            y = ((y - mean) / std).expand(-1, channels, -1, -1)
            total = total + torch.softmax(net(y), dim=1)
        return torch.log(total / len(self.nets))
