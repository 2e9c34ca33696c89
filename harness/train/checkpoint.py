"""Atomic, resumable checkpoints: weights, optimiser, step, config hash (torch.load weights_only)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import torch

CKPT_RE = re.compile(r"step_(\d+)\.pt$")


def save_checkpoint(ckpt_dir: Path, step: int, payload: dict[str, Any], keep: int = 2) -> Path:
    """Write ckpt_dir/step_XXXXXXX.pt via a temporary file + rename; keep the newest `keep`."""
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    path = ckpt_dir / f"step_{step:07d}.pt"
    tmp = path.with_suffix(".pt.tmp")
    torch.save({**payload, "step": step}, tmp)
    os.replace(tmp, path)  # atomic on POSIX: a crash leaves the old checkpoint intact
    for old in list_checkpoints(ckpt_dir)[:-keep]:
        old.unlink(missing_ok=True)
    return path


def list_checkpoints(ckpt_dir: Path) -> list[Path]:
    """Checkpoints in step order (partial .tmp files are ignored)."""
    if not ckpt_dir.is_dir():
        return []
    found = [p for p in ckpt_dir.iterdir() if CKPT_RE.search(p.name)]
    return sorted(found, key=lambda p: int(CKPT_RE.search(p.name).group(1)))


def latest_checkpoint(ckpt_dir: Path) -> Path | None:
    found = list_checkpoints(ckpt_dir)
    return found[-1] if found else None


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    return torch.load(path, map_location=map_location, weights_only=True)
