"""Network features of ground-truth frames, kept on disk between evaluations.

Every trial of a sweep evaluates against the same ground-truth test clips, so their Inception
features (FID) are the same in every trial; recomputing them was half of a CPU trial's FID time.
A cached entry is keyed by the exact frames (sha256 of their bytes and shape) and by everything
that changes the features (the metric, the network's weights hash, the protocol settings), so a
hit returns exactly the features a fresh computation would: no number changes.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np


def cache_key(frames: np.ndarray, settings: dict[str, object]) -> str:
    """sha256 hex of the frames (bytes, shape, dtype) and the settings (sorted JSON)."""
    digest = hashlib.sha256()
    digest.update(json.dumps(settings, sort_keys=True, default=str).encode())
    digest.update(f"{frames.shape}|{frames.dtype}".encode())
    digest.update(np.ascontiguousarray(frames).tobytes())
    return digest.hexdigest()


class FeatureCache:
    """A folder of ``<key>.npy`` feature arrays; writes are atomic (tmp + rename), so trials that
    run at the same time may share one folder (the last identical write wins)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.hits = self.misses = 0

    def features(self, frames: np.ndarray, settings: dict[str, object],
                 compute: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """compute(frames), read from the cache when these frames and settings were seen before."""
        path = self.folder / f"{cache_key(frames, settings)}.npy"
        if path.is_file():
            try:
                cached = np.load(path, allow_pickle=False)
                self.hits += 1
                return cached
            except (OSError, ValueError):  # a damaged entry: recompute and overwrite it
                pass
        self.misses += 1
        feats = compute(frames)
        try:
            self._write(path, feats)
        except OSError:  # a read-only or full disk costs the next run the time, never this result
            pass
        return feats

    def _write(self, path: Path, feats: np.ndarray) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                np.save(f, feats, allow_pickle=False)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
