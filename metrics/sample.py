"""What evaluate() feeds every metric: one predicted clip with its ground truth and inputs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from metrics.result import MetricResult


@dataclass
class Sample:
    """One clip pair.

    pred:      uint8 (F, H, W, 3) RGB generated frames
    gt:        uint8 (F', H', W', 3) RGB ground-truth frames, or None
    reference: uint8 (H'', W'', 3) RGB reference image (CSIM identity), or None -> gt[0]
    audio:     float32 (S,) mono 16 kHz driving audio, or None
    fps:       frame rate of ``pred``
    clip_id:   name used in messages
    """

    pred: np.ndarray
    gt: np.ndarray | None = None
    reference: np.ndarray | None = None
    audio: np.ndarray | None = None
    fps: float = 25.0
    clip_id: str = ""

    def reference_image(self) -> np.ndarray | None:
        """The CSIM reference: the given image, else the first ground-truth frame."""
        if self.reference is not None:
            return self.reference
        return None if self.gt is None else self.gt[0]


class Metric(Protocol):
    """Streaming metric: fed one Sample at a time, then asked for its results."""

    def update(self, sample: Sample) -> None: ...

    def results(self) -> list[MetricResult]: ...
