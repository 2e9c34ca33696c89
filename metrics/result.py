"""The record every metric returns: backend, weight hash, sample count, exactness (docs/metrics.md, "Backends")."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class MetricResult:
    """One number and everything needed to judge it.

    key:       result key, e.g. "fid", "fvd", "ssim", "psnr", "sync_c", "sync_d", "hkc", "hkv", "csim"
    value:     the number, or None when it could not be measured (e.g. no face track); never a fake 0
    n:         how many samples it averages over, in ``unit`` ("frames" or "clips")
    backend:   implementation label, e.g. "pytorch-fid/reference" or "dlib-resnet/offline-stand-in"
    weights_sha256: sha256 of the weight file used (None for weight-free metrics)
    exact:     True only when both the protocol and the weights are the reference ones
    parameters: every setting that changes the number
    note:      why the value is missing, or a caveat (e.g. rank-deficient covariance)
    """

    key: str
    value: float | None
    n: int
    unit: str
    backend: str
    weights_sha256: str | None
    exact: bool
    parameters: dict[str, Any] = field(default_factory=dict)
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict (NaN/inf values become None)."""
        out = asdict(self)
        if out["value"] is not None and not math.isfinite(out["value"]):
            out["value"] = None
        return out

    def display(self) -> str:
        """The value as printed in tables ("missing" for None)."""
        return "missing" if self.value is None else f"{self.value:.4f}"
