"""Atomic, verified, resumable checkpoints: weights, optimiser, step, config hash.

Each ``step_XXXXXXX.pt`` has a sidecar ``step_XXXXXXX.pt.json`` with its byte size and sha256,
written before the checkpoint is renamed into place. Loading checks both, so a truncated or
zero-byte file (a full disk, a node lost mid-copy on shared storage) is recognised as such and
resume falls back to the newest checkpoint that verifies, with one warning line.
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from harness.errors import HarnessError
from harness.file_hash import sha256_of

CKPT_RE = re.compile(r"step_(\d+)\.pt$")
SIDECAR_SUFFIX = ".json"  # step_0000100.pt -> step_0000100.pt.json


def sidecar_of(path: Path) -> Path:
    """The size/hash record written beside a checkpoint."""
    return path.with_name(path.name + SIDECAR_SUFFIX)


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def save_checkpoint(ckpt_dir: Path, step: int, payload: dict[str, Any], keep: int = 2) -> Path:
    """Write ckpt_dir/step_XXXXXXX.pt (+ its size/hash sidecar) atomically; keep the newest `keep`."""
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    path = ckpt_dir / f"step_{step:07d}.pt"
    tmp = path.with_suffix(".pt.tmp")
    torch.save({**payload, "step": step}, tmp)
    record = {"bytes": tmp.stat().st_size, "sha256": sha256_of(tmp), "config_hash": payload.get("config_hash")}
    _write_atomic(sidecar_of(path), json.dumps(record))  # sidecar first: a checkpoint never lacks one
    os.replace(tmp, path)  # atomic on POSIX: a crash leaves the old checkpoint intact
    for old in list_checkpoints(ckpt_dir)[:-keep]:
        old.unlink(missing_ok=True)
        sidecar_of(old).unlink(missing_ok=True)
    return path


def list_checkpoints(ckpt_dir: Path) -> list[Path]:
    """Checkpoints in step order (partial .tmp files and sidecars are ignored)."""
    if not ckpt_dir.is_dir():
        return []
    found = [p for p in ckpt_dir.iterdir() if CKPT_RE.search(p.name)]
    return sorted(found, key=lambda p: int(CKPT_RE.search(p.name).group(1)))


def latest_checkpoint(ckpt_dir: Path) -> Path | None:
    """The newest checkpoint file by step, verified or not (see :func:`latest_valid_checkpoint`)."""
    found = list_checkpoints(ckpt_dir)
    return found[-1] if found else None


def checkpoint_problem(path: Path) -> str | None:
    """Why ``path`` cannot be trusted (size or hash differs from its sidecar), or None if it verifies.

    A checkpoint without a sidecar (written before sidecars existed) is not rejected here: its
    load is the check.
    """
    if not path.is_file():
        return "no such file"
    size = path.stat().st_size
    if size == 0:
        return "empty file"
    sidecar = sidecar_of(path)
    if not sidecar.is_file():
        return None
    try:
        record = json.loads(sidecar.read_text())
        want_bytes, want_sha = int(record["bytes"]), str(record["sha256"])
    except (ValueError, KeyError, TypeError):
        return f"unreadable record {sidecar.name}"
    if size != want_bytes:
        return f"{size} bytes, {want_bytes} recorded (truncated?)"
    if sha256_of(path) != want_sha:
        return "sha256 differs from the recorded one"
    return None


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Verify and load one checkpoint; a bad file is one line naming it (HarnessError)."""
    problem = checkpoint_problem(path)
    if problem is not None:
        raise HarnessError(f"{path}: not a valid checkpoint ({problem})")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # noqa: BLE001  unpickling errors have many types: one line naming the file
        raise HarnessError(f"{path}: not a valid checkpoint ({exc.__class__.__name__})") from None
    if not isinstance(state, dict) or "step" not in state:
        raise HarnessError(f"{path}: not a harness checkpoint (no 'step')")
    return state


def recorded_config_hashes(ckpt_dir: Path) -> set[str]:
    """Config hashes recorded beside the checkpoints of ``ckpt_dir`` (sidecars that have one)."""
    hashes = set()
    for path in list_checkpoints(ckpt_dir):
        try:
            value = json.loads(sidecar_of(path).read_text()).get("config_hash")
        except (OSError, ValueError, AttributeError):
            continue  # no or unreadable sidecar: load-time verification reports it
        if isinstance(value, str):
            hashes.add(value)
    return hashes


@dataclass(frozen=True)
class Resumed:
    """The checkpoint resume starts from: its path and loaded payload."""

    path: Path
    state: dict[str, Any]


def latest_valid_checkpoint(ckpt_dir: Path, map_location: str | torch.device = "cpu") -> Resumed | None:
    """Newest checkpoint that verifies and loads; one warning line (stderr) per one skipped.

    Returns None when there is none (also when every file is bad: then a line says training
    restarts from step 0).
    """
    found = list_checkpoints(ckpt_dir)
    for path in reversed(found):
        try:
            return Resumed(path, load_checkpoint(path, map_location))
        except HarnessError as exc:
            print(f"warning: {exc}; trying an older checkpoint", file=sys.stderr, flush=True)
    if found:
        print(f"warning: no valid checkpoint in {ckpt_dir}: training restarts from step 0", file=sys.stderr, flush=True)
    return None
