"""Pose encoder (docs/method.md, "Architecture"): per-frame convs, zero-initialised output.

RGB pose image in [0, 1], (N, 3, H, W) -> (N, out_channels, H/2^k, W/2^k), k = len(widths)-1.
Its output is ADDED to the denoiser's conv_in output, so at initialisation it changes nothing.
"""

from __future__ import annotations

import torch
from torch import nn


class PoseEncoder(nn.Module):
    """conv 3->widths[0]; then per next width a [3x3 conv, stride-2 3x3 conv] pair; SiLU after each;
    zero-initialised 3x3 conv widths[-1] -> out_channels. Paper widths (16, 32, 96, 256): 8x reduction.
    """

    def __init__(self, out_channels: int, widths: tuple[int, ...] = (16, 32, 96, 256)):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(3, widths[0], 3, padding=1), nn.SiLU()]
        for c_in, c_out in zip(widths[:-1], widths[1:]):
            layers += [nn.Conv2d(c_in, c_in, 3, padding=1), nn.SiLU()]
            layers += [nn.Conv2d(c_in, c_out, 3, padding=1, stride=2), nn.SiLU()]
        self.body = nn.Sequential(*layers)
        self.out = nn.Conv2d(widths[-1], out_channels, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, pose: torch.Tensor) -> torch.Tensor:
        return self.out(self.body(pose))


class ConvInWithPose(nn.Module):
    """Wraps the denoiser's conv_in: conv_in(x) + pose features set for this forward pass."""

    def __init__(self, conv_in: nn.Conv2d):
        super().__init__()
        self.conv = conv_in
        self.pose_features: torch.Tensor | None = None  # (B*F, C, h, w), set by EchoMimicV2.forward

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv(x)
        return out if self.pose_features is None else out + self.pose_features.to(out.dtype)
