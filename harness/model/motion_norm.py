"""Where the motion modules' input GroupNorm takes its statistics (config ``model.motion_norm``).

diffusers' AnimateDiffTransformer3D normalises its input (B, C, F, h, w) with one GroupNorm over
all F frames at once ("across_frames"). The release's motion module folds the frames into the
batch first, (B*F, C, h, w), so every frame is normalised on its own ("per_frame"; release:
src/models/motion_module.py, TemporalTransformer3DModel.forward). The released motion weights
were trained with per-frame statistics.

The swap keeps the norm's parameters (same objects, same state-dict names), so checkpoints load
either way.
"""

from __future__ import annotations

import torch
from diffusers.models.unets.unet_motion_model import AnimateDiffTransformer3D
from torch import nn

MOTION_NORMS: tuple[str, ...] = ("per_frame", "across_frames")


class PerFrameGroupNorm(nn.GroupNorm):
    """GroupNorm of a (B, C, F, h, w) clip with statistics per frame; other ranks as nn.GroupNorm."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 5:
            return super().forward(x)
        b, c, f, h, w = x.shape
        frames = x.transpose(1, 2).reshape(b * f, c, h, w)  # (B*F, C, h, w): each frame its own sample
        return super().forward(frames).reshape(b, f, c, h, w).transpose(1, 2)


def _rebuilt(norm: nn.GroupNorm, cls: type[nn.GroupNorm]) -> nn.GroupNorm:
    """A `cls` norm with norm's settings and the very same weight and bias parameters."""
    new = cls(norm.num_groups, norm.num_channels, eps=norm.eps, affine=norm.affine)
    if norm.affine:
        new.weight, new.bias = norm.weight, norm.bias
    return new


def set_motion_norm(denoiser: nn.Module, choice: str) -> int:
    """Make every AnimateDiff motion module of `denoiser` normalise per frame or across frames.

    Returns the number of motion modules changed or confirmed (0 for a network without any).
    """
    if choice not in MOTION_NORMS:
        raise ValueError(f"unknown motion norm {choice!r}; choose from {MOTION_NORMS}")
    cls = PerFrameGroupNorm if choice == "per_frame" else nn.GroupNorm
    count = 0
    for module in denoiser.modules():
        if isinstance(module, AnimateDiffTransformer3D):
            if type(module.norm) is not cls:
                module.norm = _rebuilt(module.norm, cls)
            count += 1
    return count
