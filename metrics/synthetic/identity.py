"""Synthetic CSIM: cosine between identity embeddings of the head region, generated frame vs reference.

A synthetic identity is its skin, its hair (colour and length) and what surrounds the head;
the face template is shared by everybody. The embedding of one image is the mean colour of
each head part at fixed probe points of the face template (metrics/synthetic/pixels.py
PROBES: skin, hair cap, beside the head), placed with that frame's ground-truth head pose,
each channel centred at mid-grey (x / 127.5 - 1) and the whole vector L2-normalised; CSIM
is the cosine to the reference image's embedding, averaged over frames like the real CSIM.
Like ArcFace's, the embedding ignores where the head is and how the mouth moves.
"""

from __future__ import annotations

import numpy as np

from metrics.result import MetricResult
from metrics.sample import Sample
from metrics.synthetic import BACKEND
from metrics.synthetic.pixels import PROBES, bilinear, face_points
from metrics.synthetic.truth import reference_of, require_truth

PARTS = ("skin", "hair", "beside")


def identity_embedding(image: np.ndarray, keypoints: np.ndarray) -> np.ndarray:
    """float64 (3 * len(PARTS),) unit vector of the head parts' mean colours in (H, W, 3) image."""
    parts = [bilinear(image, face_points(keypoints, PROBES[p])).mean(axis=0) for p in PARTS]  # each (3,)
    e = np.concatenate(parts) / 127.5 - 1.0
    norm = np.linalg.norm(e)
    return e / norm if norm > 1e-9 else e


def clip_csim(frames: np.ndarray, keypoints: np.ndarray, reference: np.ndarray, ref_kp: np.ndarray) -> list[float]:
    """Cosine of every frame's embedding (frames (F, H, W, 3), keypoints (F, 133, 3)) to the reference's."""
    ref = identity_embedding(reference, ref_kp)
    return [float(ref @ identity_embedding(f, k)) for f, k in zip(frames, keypoints)]


class SyntheticCsimMetric:
    """Streaming synthetic CSIM over every frame of every clip."""

    def __init__(self) -> None:
        self.cos: list[float] = []
        self.clips = 0

    def update(self, sample: Sample) -> None:
        truth = require_truth(sample, "CSIM")
        reference, ref_kp = reference_of(sample, truth, "CSIM")
        n = min(len(sample.pred), len(truth.keypoints))
        self.cos += clip_csim(sample.pred[:n], truth.keypoints[:n], reference, ref_kp)
        self.clips += 1

    def results(self) -> list[MetricResult]:
        return [MetricResult(
            key="csim", value=float(np.mean(self.cos)) if self.cos else None, n=len(self.cos), unit="frames",
            backend=BACKEND, weights_sha256=None, exact=False, note="" if self.cos else "no frames",
            parameters={"embedding": "mean colours of skin, hair cap and beside-head probes, centred, L2-normalised",
                        "parts": list(PARTS), "clips": self.clips},
        )]
