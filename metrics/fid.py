"""FID (Heusel et al. 2017) with pytorch-fid 0.3.0's protocol; see metrics/inception.py.

Every frame of every predicted clip is one "image" (``frame_stride`` subsamples); ground-truth
frames likewise. Statistics are float64 and streamed (metrics/stats.py).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from metrics.device import exact_numerics, pick_device
from metrics.feature_cache import FeatureCache
from metrics.inception import FEATURE_DIM, FidInception, load_fid_inception
from metrics.result import MetricResult
from metrics.sample import Sample
from metrics.stats import GaussianStats, stats_distance

RANK_NOTE = "fewer than 2048 images: rank-deficient covariance, not comparable with paper FID"


def frames_to_tensor(frames: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """uint8 (N, H, W, 3) -> float32 (N, 3, H, W) in [0, 1] on ``device``, as torchvision's ToTensor.

    The uint8 pixels travel and are converted there: a quarter of the bytes over PCIe and no CPU pass over
    them (docs/benchmarks.md, "On a GPU"). The conversion is a lookup of the 256 values ToTensor
    computes on the CPU, so it is bit-identical on any device (a GPU may divide by 255 as a multiply by
    its reciprocal, one rounding off)."""
    pixels = torch.from_numpy(np.ascontiguousarray(frames)).to(device)  # (N, H, W, 3) uint8
    levels = torch.arange(256, dtype=torch.float32).div(255).to(pixels.device)  # (256,), made on the CPU
    return levels[pixels.permute(0, 3, 1, 2).long()].contiguous()


def inception_features(model: FidInception, frames: np.ndarray, batch_size: int = 50, device: str = "auto") -> np.ndarray:
    """uint8 (N, H, W, 3) -> float64 (N, 2048) pool3 features, in batches."""
    dev = pick_device(device)
    model.to(dev)
    out = np.empty((len(frames), FEATURE_DIM), dtype=np.float64)
    with exact_numerics():
        for start in range(0, len(frames), batch_size):
            x = frames_to_tensor(frames[start : start + batch_size], dev)  # (B, 3, H, W)
            out[start : start + len(x)] = model(x).cpu().numpy()
    return out


class FidMetric:
    """Streaming FID between all predicted and all ground-truth frames."""

    def __init__(
        self,
        backend: str = "offline",
        device: str = "auto",
        batch_size: int = 50,
        frame_stride: int = 1,
        weights_file: Path | None = None,
        weights_dir: Path | None = None,
        model: tuple[FidInception, str] | None = None,
        feature_cache: FeatureCache | None = None,
    ) -> None:
        if model is None:
            net, res = load_fid_inception(backend, weights_file, weights_dir)
            model = (net, res.sha256)
        self.model, self.sha256 = model
        self.backend, self.device, self.batch_size, self.stride = backend, device, batch_size, frame_stride
        self.cache = feature_cache  # ground-truth features shared by a sweep's trials (metrics/feature_cache.py)
        self.pred = GaussianStats(FEATURE_DIM)
        self.gt = GaussianStats(FEATURE_DIM)

    def add(self, frames: np.ndarray, side: str) -> None:
        """Add uint8 (N, H, W, 3) frames to side "pred" or "gt"."""
        images = frames[:: self.stride]
        if side == "gt" and self.cache is not None:  # the same test clips in every trial: computed once
            feats = self.cache.features(images, {"metric": "fid", "weights_sha256": self.sha256,
                                                "device": str(pick_device(self.device))},
                                        lambda x: inception_features(self.model, x, self.batch_size, self.device))
        else:
            feats = inception_features(self.model, images, self.batch_size, self.device)
        (self.pred if side == "pred" else self.gt).update(feats)

    def update(self, sample: Sample) -> None:
        self.add(sample.pred, "pred")
        if sample.gt is not None:
            self.add(sample.gt, "gt")

    def value(self) -> float | None:
        """The FID, or None when either side has fewer than 2 images."""
        if self.pred.n < 2 or self.gt.n < 2:
            return None
        return stats_distance(self.pred, self.gt)

    def results(self) -> list[MetricResult]:
        n = min(self.pred.n, self.gt.n)
        ref = self.backend == "reference"
        note = "" if n >= 2048 else RANK_NOTE
        if n < 2:
            note = "needs at least 2 predicted and 2 ground-truth frames"
        return [
            MetricResult(
                key="fid",
                value=self.value(),
                n=self.pred.n,
                unit="frames",
                backend="pytorch-fid-inception/reference" if ref else "fid-helper-mapped-inception/offline",
                weights_sha256=self.sha256,
                exact=ref,
                parameters={"n_pred": self.pred.n, "n_gt": self.gt.n, "frame_stride": self.stride,
                            "resize": "bilinear-299-align_corners=False", "dims": FEATURE_DIM, "stats": "float64"},
                note=note,
            )
        ]
