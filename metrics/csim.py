"""CSIM: cosine similarity between the identity embedding of the reference image and of each
generated frame, averaged over all frames in which a face is found (docs/metrics.md, "CSIM").

Frames without a face are left out and counted; a clip whose reference has no face contributes
nothing. When no pair is measurable the value is None ("no face"), never 0.
"""

from __future__ import annotations

import numpy as np

from metrics.faces import FaceEmbedder, make_embedder
from metrics.result import MetricResult
from metrics.sample import Sample


def clip_csim(embedder: FaceEmbedder, reference: np.ndarray, frames: np.ndarray) -> tuple[list[float], int] | None:
    """Cosines of reference (H, W, 3) vs each frame of (F, H, W, 3) and the faceless frame count;
    None when the reference has no face."""
    ref = embedder.embed(reference)
    if ref is None:
        return None
    cos, missing = [], 0
    for frame in frames:
        e = embedder.embed(frame)
        if e is None:
            missing += 1
        else:
            cos.append(float(ref @ e))
    return cos, missing


class CsimMetric:
    """Streaming CSIM over clips."""

    def __init__(self, backend: str = "offline", weight_files: dict | None = None, weights_dir=None,
                 frame_stride: int = 1, embedder: FaceEmbedder | None = None) -> None:
        self.embedder = embedder or make_embedder(backend, weight_files, weights_dir)
        self.stride = frame_stride
        self.cos: list[float] = []
        self.missing = 0
        self.no_reference = 0

    def update(self, sample: Sample) -> None:
        ref = sample.reference_image()
        if ref is None:
            self.no_reference += 1
            return
        out = clip_csim(self.embedder, ref, sample.pred[:: self.stride])
        if out is None:
            self.no_reference += 1
            return
        cos, missing = out
        self.cos += cos
        self.missing += missing

    def results(self) -> list[MetricResult]:
        e = self.embedder
        note = "" if self.cos else "no face found in the reference or the generated frames"
        return [MetricResult(
            key="csim", value=float(np.mean(self.cos)) if self.cos else None, n=len(self.cos), unit="frames",
            backend=e.backend, weights_sha256=e.sha256, exact=e.exact, note=note,
            parameters={"frame_stride": self.stride, "frames_without_face": self.missing,
                        "clips_without_reference_face": self.no_reference},
        )]
