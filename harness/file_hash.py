"""sha256 of a file, read in chunks: release imports and checkpoint sidecars record it."""

from __future__ import annotations

import hashlib
from pathlib import Path


def sha256_of(path: Path, chunk: int = 16 << 20) -> str:
    """Hex sha256 of a file, read in 16 MiB chunks (a multi-GB checkpoint is never held in memory)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()
