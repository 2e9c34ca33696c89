"""Device choice and exact numerics for feature extractors."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from harness.errors import HarnessError


def pick_device(device: str | torch.device = "auto") -> torch.device:
    """"auto" -> cuda when available, else cpu; anything else must exist on this machine.

    Checked up front (one line, exit 2) so a typo does not surface as a CUDA traceback
    minutes into an evaluation.
    """
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        chosen = torch.device(device)
    except (RuntimeError, ValueError):
        raise HarnessError(f"--device {device}: not a device name (auto, cpu, cuda, cuda:N)") from None
    if chosen.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if (chosen.index or 0) >= count:
            raise HarnessError(f"--device {device}: this machine has {count} CUDA device(s)")
    elif chosen.type != "cpu":
        raise HarnessError(f"--device {device}: only cpu and cuda devices are supported")
    return chosen


@contextlib.contextmanager
def exact_numerics() -> Iterator[None]:
    """TF32 off for matmul and cuDNN (TF32 moved FID features 6e-4 relative on an H100)."""
    old = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    try:
        with torch.inference_mode():
            yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = old
