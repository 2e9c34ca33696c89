"""What evaluate() feeds every metric: one predicted clip with its ground truth and inputs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from harness.vocabulary import CLIP_FPS
from metrics.result import MetricResult


@dataclass(frozen=True)
class ClipTruth:
    """Ground truth a dataset knows about one clip (the synthetic backends read it; others ignore it).

    keypoints: float32 (F, 133, 3) COCO-WholeBody, x, y normalised to [0, 1], confidence
    boxes:     float32 (F, 4, 4) lips, face, head, body boxes, normalised xyxy
    source:    the clip's meta.json ``source`` (e.g. "synthetic-v1:seed=0:semibody:3")
    reference_keypoints: float32 (133, 3) keypoints of the reference image; None -> keypoints[0]
    """

    keypoints: np.ndarray
    boxes: np.ndarray
    source: str
    reference_keypoints: np.ndarray | None = None


@dataclass
class Sample:
    """One clip pair.

    pred:      uint8 (F, H, W, 3) RGB generated frames
    gt:        uint8 (F', H', W', 3) RGB ground-truth frames, or None
    reference: uint8 (H'', W'', 3) RGB reference image (CSIM identity), or None -> gt[0]
    audio:     float32 (S,) mono 16 kHz driving audio, or None
    fps:       frame rate of ``pred``
    clip_id:   name used in messages
    truth:     the clip's ground-truth annotations, or None (needed by the synthetic backends only)
    """

    pred: np.ndarray
    gt: np.ndarray | None = None
    reference: np.ndarray | None = None
    audio: np.ndarray | None = None
    fps: float = CLIP_FPS
    clip_id: str = ""
    truth: ClipTruth | None = None

    def reference_image(self) -> np.ndarray | None:
        """The CSIM reference: the given image, else the first ground-truth frame."""
        if self.reference is not None:
            return self.reference
        return None if self.gt is None else self.gt[0]


class Metric(Protocol):
    """Streaming metric: fed one Sample at a time, then asked for its results."""

    def update(self, sample: Sample) -> None: ...

    def results(self) -> list[MetricResult]: ...
