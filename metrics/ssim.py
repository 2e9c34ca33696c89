"""SSIM (Wang et al. 2004) and PSNR with scikit-image, per frame, mean over frames and clips.

Settings (docs/metrics.md, "SSIM and PSNR"; identical to the widely copied cv2 implementation): float [0, 1] CHW
frames, ``data_range=1.0, channel_axis=0, gaussian_weights=True, sigma=1.5,
use_sample_covariance=False``. scikit-image's defaults give a different number.
Predicted frames are compared with the ground-truth frame of the same index (the shorter clip
decides the count); a prediction of another size is resized to the ground truth's (INTER_AREA)
and the result records it. PSNR of identical frames is capped at ``psnr_cap_db``.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from metrics.result import MetricResult
from metrics.sample import Sample

SSIM_SETTINGS = {"data_range": 1.0, "channel_axis": 0, "gaussian_weights": True, "sigma": 1.5,
                 "use_sample_covariance": False}


def _chw(frame: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 3) -> float64 (3, H, W) in [0, 1]."""
    return frame.transpose(2, 0, 1).astype(np.float64) / 255.0


def frame_ssim(pred: np.ndarray, gt: np.ndarray) -> float:
    """SSIM of two uint8 (H, W, 3) frames with the reference settings."""
    return float(structural_similarity(_chw(pred), _chw(gt), **SSIM_SETTINGS))


def frame_psnr(pred: np.ndarray, gt: np.ndarray, cap_db: float = 100.0) -> float:
    """PSNR in dB of two uint8 (H, W, 3) frames on [0, 1] data, capped at cap_db."""
    if np.array_equal(pred, gt):
        return cap_db
    return min(cap_db, float(peak_signal_noise_ratio(_chw(gt), _chw(pred), data_range=1.0)))


def align(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    """Trim to the common length and resize pred (F, H, W, 3) to gt's size; returns resized flag."""
    n = min(len(pred), len(gt))
    pred, gt = pred[:n], gt[:n]
    if pred.shape[1:3] == gt.shape[1:3]:
        return pred, gt, False
    size = (gt.shape[2], gt.shape[1])  # cv2 wants (W, H)
    return np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in pred]), gt, True


class SsimPsnrMetric:
    """Streaming mean SSIM and PSNR over frames (frames of a clip run in parallel threads)."""

    def __init__(self, want_ssim: bool = True, want_psnr: bool = True, workers: int | None = None,
                 psnr_cap_db: float = 100.0) -> None:
        self.want_ssim, self.want_psnr = want_ssim, want_psnr
        self.workers = workers or os.cpu_count() or 1
        self.cap = psnr_cap_db
        self.ssim: list[float] = []
        self.psnr: list[float] = []
        self.clips = 0
        self.resized = False

    def update(self, sample: Sample) -> None:
        if sample.gt is None:
            return
        pred, gt, resized = align(sample.pred, sample.gt)
        self.resized |= resized
        self.clips += 1
        with ThreadPoolExecutor(self.workers) as pool:
            if self.want_ssim:
                self.ssim += list(pool.map(frame_ssim, pred, gt))
            if self.want_psnr:
                self.psnr += list(pool.map(lambda a, b: frame_psnr(a, b, self.cap), pred, gt))

    def results(self) -> list[MetricResult]:
        params = {**SSIM_SETTINGS, "clips": self.clips, "pred_resized_to_gt": self.resized}
        out = []
        for key, vals, want in (("ssim", self.ssim, self.want_ssim), ("psnr", self.psnr, self.want_psnr)):
            if not want:
                continue
            p = params if key == "ssim" else {"data_range": 1.0, "cap_db": self.cap, "clips": self.clips,
                                              "pred_resized_to_gt": self.resized}
            out.append(MetricResult(
                key=key, value=float(np.mean(vals)) if vals else None, n=len(vals), unit="frames",
                backend="scikit-image/reference", weights_sha256=None, exact=True, parameters=p,
                note="" if vals else "no ground-truth frames",
            ))
        return out
