"""Read a PyTorch weight file safely, with one line naming the file when it is not one.

Every weight file the model side reads (an imported release, an AnimateDiff motion module, a
release ``.pth``) goes through :func:`read_weights_file`: ``weights_only=True`` (no arbitrary
unpickling) and memory-mapped where the format allows it, so a 4 GB checkpoint is not copied
into RAM before its tensors are assigned.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from harness.errors import HarnessError


def read_weights_file(path: Path, label: str) -> Any:
    """The unpickled payload of ``path`` (tensors memory-mapped when possible).

    ``label`` starts every error line (e.g. ``"model.init: weights/x.pt"``), so the user sees
    the config key or file that pointed here. Legacy (non-zip) files cannot be memory-mapped
    and are read whole.
    """
    path = Path(path)
    if not path.is_file():
        raise HarnessError(f"{label}: no such file")
    try:
        try:
            return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as exc:
            if "mmap" not in str(exc):
                raise
            return torch.load(path, map_location="cpu", weights_only=True)  # legacy (non-zip) format
    except Exception as exc:  # noqa: BLE001  unpickling errors have many types: one line naming the file
        raise HarnessError(f"{label}: not a PyTorch checkpoint ({exc.__class__.__name__})") from None


def is_tensor_dict(value: Any) -> bool:
    """True for a non-empty flat ``{name: tensor}`` mapping (a state dict)."""
    return isinstance(value, dict) and bool(value) and all(isinstance(v, torch.Tensor) for v in value.values())
