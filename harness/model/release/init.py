"""``model.init``: start the whole network from a checkpoint's ``model`` weights.

The checkpoint is an imported release (``harness weights import-release``) or any harness
checkpoint of the same preset. The network is built on the meta device and the checkpoint's
tensors are assigned to it (memory-mapped, strict): nothing is randomly initialised first and
no second copy of the 2.2 B sd15 parameters is made.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from harness.errors import HarnessError
from harness.model.weights_file import read_weights_file
from harness.runs.schema import InitTags

INIT_FORMAT = "harness.echomimicv2-release/1"  # the `format` of an imported release's checkpoint


def read_checkpoint(path: Path) -> dict[str, Any]:
    """The checkpoint's payload, tensors memory-mapped; one line naming the file when it is not one."""
    path = Path(path)
    if not path.is_file():
        raise HarnessError(f"model.init: {path}: no such file (import the release with `harness weights import-release`)")
    payload = read_weights_file(path, f"model.init: {path}")
    if not isinstance(payload, dict) or not isinstance(payload.get("model"), dict):
        raise HarnessError(f"model.init: {path}: has no 'model' weights (an imported release or a harness checkpoint)")
    return payload


def load_init(model: nn.Module, path: Path) -> dict[str, Any]:
    """Assign the checkpoint's weights to `model` (built on meta), strictly; returns its provenance."""
    payload = read_checkpoint(path)
    state: dict[str, torch.Tensor] = payload["model"]
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        first = f"missing {missing[0]!r}" if missing else f"unexpected {unexpected[0]!r}"
        raise HarnessError(f"model.init: {path}: does not fit model.preset ({first}; {len(missing)} missing, "
                           f"{len(unexpected)} unexpected keys)")
    for key, value in expected.items():
        if state[key].shape != value.shape:
            raise HarnessError(f"model.init: {path}: {key!r} has shape {list(state[key].shape)}, the network needs {list(value.shape)}")
    model.load_state_dict(state, strict=True, assign=True)
    left = [name for name, t in [*model.named_parameters(), *model.named_buffers()] if t.is_meta]
    if left:  # a buffer outside the state dict would stay unallocated
        raise HarnessError(f"model.init: {path}: {left[0]!r} is not in the checkpoint and cannot be computed")
    return dict(payload.get("provenance") or {})


def init_tags(init: Path | None) -> dict[str, str]:
    """MLflow tags of a run that starts from `init`: its path and every recorded input's sha256."""
    if init is None:
        return {}
    tags = {InitTags.INIT: str(init)}
    try:
        provenance = read_checkpoint(Path(init)).get("provenance") or {}
    except HarnessError as exc:
        return {**tags, InitTags.ERROR: str(exc)}  # the trial itself will fail with this line
    for name, digest in (provenance.get("sha256") or {}).items():
        tags[f"{InitTags.SHA256_PREFIX}{name}"] = digest
    if provenance.get("source"):
        tags[InitTags.SOURCE] = provenance["source"]
    return tags
