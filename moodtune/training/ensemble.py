"""Several trained networks as one model: the mean of their probabilities.

Networks of different designs make different mistakes, so their average is right more often than either
(README, "The emotion model", has the figures). The members may have been trained at different input sides
and normalisations; the ensemble takes one crop scaled to [0, 1], by default at the largest member's side, and
each member resizes it to its own side with the weights of the OpenCV resize that training used (INTER_AREA
to shrink, INTER_LINEAR to grow; two matrix products, so the exported graph stays plain) and normalises it as
it was trained.

The ensemble's side matters when a member was trained on upscaled faces: a network that learned FER+'s 48 px
faces at 80 px has only ever seen 48 px of detail, so an ensemble at 48 px gives it exactly what it was
trained on, and the 48 px members their crop without a round trip through 80 px.

    ensemble = AveragedNets.from_checkpoints(["runs/a/best.pt", "runs/b/best.pt"])
    probabilities = torch.exp(ensemble(crops))   # crops (N, 1, S, S) in [0, 1]; S = ensemble.input_size
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
from torch import nn

from moodtune.errors import ParameterError


def resize_matrix(source: int, target: int) -> np.ndarray:
    """The (target, source) matrix ``R`` with ``R @ image @ R.T`` = cv2's resize of a square image.

    INTER_AREA when shrinking and INTER_LINEAR when growing, as ``crop_face`` and training resize. Both are
    separable and linear, so resizing the identity's rows gives their weights.
    """
    interpolation = cv2.INTER_AREA if target < source else cv2.INTER_LINEAR
    return cv2.resize(np.eye(source, dtype=np.float32), (source, target), interpolation=interpolation)


class AveragedNets(nn.Module):
    """Mean probabilities of ``members``; returns their log, so a softmax of it gives the mean back exactly.

    Parameters
    ----------
    members : list of (nn.Module, dict)
        Each network with its preprocessing: ``{"input_size", "mean", "std", "channels"}`` (a checkpoint's meta).
    input_size : int, optional
        Side of the crop the ensemble takes (default: the largest member's).
    """

    def __init__(self, members: list[tuple[nn.Module, dict]], *, input_size: int | None = None):
        super().__init__()
        if len(members) < 2:
            raise ParameterError(f"an ensemble needs at least 2 members, got {len(members)}")
        sides = [int(meta["input_size"]) for _, meta in members]
        if input_size is not None and (not isinstance(input_size, int) or input_size < 8):
            raise ParameterError(f"an ensemble's input side must be an int of at least 8 pixels, got {input_size!r}")
        self.input_size = input_size or max(sides)
        self.nets = nn.ModuleList(net for net, _ in members)
        self.preprocessing = [(float(meta["mean"]), float(meta["std"]), int(meta.get("channels", 1)))
                              for _, meta in members]
        self.resizes = [side != self.input_size for side in sides]
        for i, side in enumerate(sides):
            if self.resizes[i]:
                resize = resize_matrix(self.input_size, side)
                self.register_buffer(f"resize{i}", torch.from_numpy(resize), persistent=False)

    @classmethod
    def from_checkpoints(cls, paths, *, input_size: int | None = None) -> AveragedNets:
        """The ensemble of moodtune checkpoints (``best.pt``), in eval mode."""
        from moodtune.training.export import load_checkpoint

        return cls([load_checkpoint(path) for path in paths], input_size=input_size).eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 1, S, S) gray in [0, 1] -> (N, 7) log of the members' mean probabilities."""
        total = 0
        for i, (net, (mean, std, channels)) in enumerate(zip(self.nets, self.preprocessing, strict=True)):
            resize = getattr(self, f"resize{i}", None)
            y = resize @ x @ resize.T if self.resizes[i] else x
            y = ((y - mean) / std).expand(-1, channels, -1, -1)
            total = total + torch.softmax(net(y), dim=1)
        return torch.log(total / len(self.nets))
