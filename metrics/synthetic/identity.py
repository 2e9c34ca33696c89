"""Synthetic CSIM: cosine between identity embeddings of the head region, generated frame vs reference.

A synthetic identity is its skin, its hair (colour and length) and what surrounds the head;
the face template is shared by everybody. The embedding of one image is the mean colour of
each head part at fixed probe points of the face template (metrics/synthetic/pixels.py
PROBES: skin, hair cap, beside the head), placed with that frame's ground-truth head pose,
each channel centred at the population's mean colour of that part (POPULATION_MEAN) and
scaled by 1/127.5, and the whole vector L2-normalised; CSIM is the cosine to the reference
image's embedding, averaged over frames like the real CSIM. Like ArcFace's, the embedding
ignores where the head is and how the mouth moves, and two unrelated identities score about 0
on average: centred at mid-grey instead, they scored 0.31 and an identity-agnostic "average
person" 0.55 (skin is always lighter than grey), more than a model that copies its reference
imperfectly (docs/metrics_synthetic.md, "CSIM").
"""

from __future__ import annotations

import numpy as np

from metrics.result import MetricResult
from metrics.sample import Sample
from metrics.synthetic import BACKEND
from metrics.synthetic.pixels import PROBES, bilinear, face_points
from metrics.synthetic.truth import reference_of, require_truth

PARTS = ("skin", "hair", "beside")
# Mean RGB of each part over 2000 random identities of the generator (harness/data/synth_figure.py),
# read with these probes from 64 px renders; tests/test_metrics_synthetic.py re-estimates it.
POPULATION_MEAN = np.array([188.0, 141.0, 89.0,    # skin
                            119.0, 86.0, 59.0,     # hair cap
                            132.0, 116.0, 103.0])  # beside the head: background or long hair


def part_colours(image: np.ndarray, keypoints: np.ndarray) -> np.ndarray:
    """float64 (3 * len(PARTS),): the mean RGB of each head part's probes in (H, W, 3) image."""
    return np.concatenate([bilinear(image, face_points(keypoints, PROBES[p])).mean(axis=0) for p in PARTS])


def identity_embedding(image: np.ndarray, keypoints: np.ndarray) -> np.ndarray:
    """float64 (3 * len(PARTS),) unit vector of the head parts' mean colours in (H, W, 3) image."""
    e = (part_colours(image, keypoints) - POPULATION_MEAN) / 127.5
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
            parameters={"embedding": "mean colours of skin, hair cap and beside-head probes, centred at the population mean, L2-normalised",
                        "parts": list(PARTS), "clips": self.clips},
        )]
