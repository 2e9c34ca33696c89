"""The hand-pose backend interface of HKC / HKV: what a backend returns and the protocol it follows.

Its own module so that the DWPose backend (metrics/dwpose.py) and the metric with its default
backends (metrics/hands.py) both depend on it instead of on each other (no import cycle).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass
class HandKeypoints:
    """Hands of F frames: slot 0 = left, 1 = right; NaN where the hand is absent.

    xy:   float64 (F, 2, 21, 2) pixel coordinates
    conf: float64 (F, 2, 21) per-keypoint confidence
    size: (height, width) of the frames
    """

    xy: np.ndarray
    conf: np.ndarray
    size: tuple[int, int]


class HandBackend(Protocol):
    """A hand-pose backend: hands(uint8 (F, H, W, 3) RGB) -> HandKeypoints; its name, exactness,
    weights hash and settings go into every HKC/HKV result."""

    backend: str
    exact: bool
    sha256: str | None
    parameters: dict

    def hands(self, frames: np.ndarray) -> HandKeypoints: ...
