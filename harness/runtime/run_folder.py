"""A sweep's or study's folder on the driver: its id file, the dataset hash, the portable config.

    <folder>/<kind>.json    {"<kind>_id": ..., extra fields, "created": ...}; kind is "sweep" or "study"
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from pathlib import Path
from typing import Any

from harness.config import FILE_KEYS, ExperimentConfig
from harness.errors import HarnessError

# config fields holding paths: made absolute for trials, which run in other working directories
PATH_KEYS = (("paths", "runs"), ("paths", "weights"), *FILE_KEYS)


def absolute_base(cfg: ExperimentConfig) -> dict[str, Any]:
    """The config as a dict with every relative path made absolute (Tune trials run elsewhere)."""
    raw = cfg.to_dict()
    for section, key in PATH_KEYS:
        value = raw[section].get(key)
        if value:
            raw[section][key] = str(Path(value).resolve())
    return raw


def existing_id(folder: Path, resume: bool, kind: str) -> str | None:
    """The id in folder/<kind>.json of a sweep or study (None if new); refuse to silently restart one."""
    state = folder / f"{kind}.json"
    if not state.is_file():
        return None
    if not resume:
        raise HarnessError(f"{folder}: this {kind} already exists; add --resume to continue it "
                           "(finished trials are kept) or delete the folder to start over")
    return json.loads(state.read_text())[f"{kind}_id"]


def new_id(folder: Path, kind: str, extra: dict[str, str] | None = None) -> str:
    """A fresh 16-hex id written to folder/<kind>.json with `extra` fields and the creation time."""
    folder.mkdir(parents=True, exist_ok=True)
    run_id = uuid.uuid4().hex[:16]
    state = {f"{kind}_id": run_id, **(extra or {}), "created": time.strftime("%Y-%m-%dT%H:%M:%S")}
    (folder / f"{kind}.json").write_text(json.dumps(state) + "\n")
    return run_id


def dataset_hash(root: Path) -> str:
    """12-hex hash of the dataset's index.json (params + clip list)."""
    path = Path(root) / "index.json"
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12] if path.is_file() else "unknown"

