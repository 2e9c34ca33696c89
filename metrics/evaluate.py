"""One entry point for the trainer, sweeps and `harness eval`: clips in, one record per metric out.

    results = evaluate(pred, gt, references, audio, wanted=["fid", "ssim", "sync"],
                       backend="offline", device="auto")

pred:       sequence of uint8 (F, H, W, 3) RGB generated clips
gt:         sequence of uint8 (F', H', W', 3) ground-truth clips (same order), or None
references: sequence of uint8 (H, W, 3) reference images (CSIM identity); None -> first gt frame
audio:      sequence of float32 (S,) 16 kHz mono driving audio (Sync), or None
wanted:     config metric names: "fid", "fvd", "ssim", "psnr", "sync" (-> sync_c, sync_d),
            "hkc" (-> hkc, hkv), "csim"
backend:    "reference" (official weights, exact protocol), "offline" (labelled stand-ins) or
            "synthetic" (Sync, HKC/HKV, CSIM read at the synthetic set's ground truth, which
            arrives as ``truth``; FID, FVD, SSIM, PSNR as "offline"; docs/metrics_synthetic.md)
returns:    list[MetricResult] in the order fid, fvd, ssim, psnr, sync_c, sync_d, hkc, hkv, csim
scored_frames: optional, where the pred frames are stored (one path per clip); every result
            records it as parameters["scored_frames"], so a number names the files it came from

Clips stream through every metric once (``evaluate_samples`` takes any iterable of Samples, so
callers can load clips lazily); each metric keeps only running statistics.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import numpy as np

from harness.errors import HarnessError
from harness.vocabulary import CLIP_FPS, METRIC_NAMES, RESULT_KEYS, RESULT_ORDER
from metrics.result import MetricResult
from metrics.sample import ClipTruth, Metric, Sample

Backend = Literal["reference", "offline", "synthetic"]

SCORED_FRAMES = "scored_frames"  # MetricResult.parameters key: where the scored pred frames are stored
# pred/gt frame counts may differ by this much (resampling and audio-length rounding); more is refused
FRAME_GAP_FRAMES = 2
FRAME_GAP_SHARE = 0.02


@dataclass
class EvalSettings:
    """Every protocol choice that changes a number (each one is recorded in its result)."""

    batch_size: int = 50  # FID/FVD network batch (results do not depend on it)
    fid_frame_stride: int = 1  # use every n-th frame as an FID image
    fvd_clip_len: int = 16
    fvd_clip_stride: int = 16  # frames between consecutive FVD clips taken from one video
    fvd_max_clips_per_video: int = 1
    fvd_resize: Literal["resize", "center_crop"] = "resize"
    fvd_bn_eps: float = 1e-3  # offline I3D BatchNorm eps: 1e-3 matches TF; VideoGPT family uses 1e-5
    hkc_missing: Literal["skip", "zero"] = "skip"  # missing hand: left out, or counted as confidence 0
    hkv_units: Literal["pixels", "normalized"] = "pixels"
    sync_mode: Literal["pipeline", "precropped"] = "pipeline"  # precropped: pred frames are face crops
    weights_dir: Path | None = None  # overrides $HARNESS_WEIGHTS
    weight_files: dict[str, Path] = field(default_factory=dict)  # manifest name -> explicit path
    workers: int | None = None  # CPU threads for per-frame metrics
    feature_cache_dir: Path | None = None  # ground-truth FID features kept here between runs (same numbers)


class Unavailable:
    """Stand-in for a metric that cannot run offline: results with value None and the reason."""

    def __init__(self, keys: tuple[str, ...], backend: str, reason: str) -> None:
        self.keys, self.backend, self.reason = keys, backend, reason

    def update(self, sample: Sample) -> None:
        return None

    def results(self) -> list[MetricResult]:
        return [MetricResult(key=k, value=None, n=0, unit="clips", backend=self.backend, weights_sha256=None,
                             exact=False, note=self.reason) for k in self.keys]


def _build(name: str, backend: Backend, device: str, s: EvalSettings, wanted: set[str]) -> Metric:
    """Construct the metric object for one config name (imports lazily: heavy dependencies)."""
    wf, wd = s.weight_files, s.weights_dir
    if backend == "synthetic" and name in ("sync", "hkc", "csim"):
        return _build_synthetic(name, s)
    if backend == "synthetic":  # the weight-free / offline-weight metrics measure synthetic clips as they are
        backend = "offline"
    if name == "fid":
        from metrics.fid import FidMetric

        key = "fid_inception" if backend == "reference" else "fid_helper_inception"
        from metrics.feature_cache import FeatureCache

        cache = None if s.feature_cache_dir is None else FeatureCache(s.feature_cache_dir)
        return FidMetric(backend, device, s.batch_size, s.fid_frame_stride, wf.get(key), wd, feature_cache=cache)
    if name == "fvd":
        from metrics.fvd import FvdMetric

        return FvdMetric(backend, device, s, wf, wd)
    if name in ("ssim", "psnr"):
        from metrics.ssim import SsimPsnrMetric

        return SsimPsnrMetric("ssim" in wanted, "psnr" in wanted, s.workers)
    if name == "sync":
        from metrics.sync import SyncMetric
        from metrics.weights import WeightError

        try:
            return SyncMetric(backend, device, s.sync_mode, wf, wd)
        except WeightError as exc:  # no offline SyncNet weights exist: report, don't fail the run
            if backend == "reference":
                raise
            return Unavailable(RESULT_KEYS["sync"], "syncnet-python/unavailable", str(exc))
    if name == "hkc":
        from metrics.hands import HandMetric

        return HandMetric(backend, s.hkc_missing, s.hkv_units, wf, wd)
    if name == "csim":
        from metrics.csim import CsimMetric

        return CsimMetric(backend, wf, wd)
    raise ValueError(f"unknown metric {name!r}; known: {METRIC_NAMES}")


def _build_synthetic(name: str, s: EvalSettings) -> Metric:
    """The synthetic-domain backend of a metric without an offline reference (metrics/synthetic/)."""
    if name == "sync":
        from metrics.synthetic.sync import SyntheticSyncMetric

        return SyntheticSyncMetric()
    if name == "hkc":
        from metrics.synthetic.hands import SyntheticHandMetric

        return SyntheticHandMetric(s.hkc_missing, s.hkv_units)
    from metrics.synthetic.identity import SyntheticCsimMetric

    return SyntheticCsimMetric()


def build_metrics(wanted: Iterable[str], backend: Backend = "offline", device: str = "auto",
                  settings: EvalSettings | None = None) -> list[Metric]:
    """Metric objects for the wanted config names (ssim+psnr share one). Loads weights now."""
    s = settings or EvalSettings()
    names = [n for n in METRIC_NAMES if n in set(wanted)]
    unknown = set(wanted) - set(METRIC_NAMES)
    if unknown:
        raise ValueError(f"unknown metric(s) {sorted(unknown)}; known: {list(METRIC_NAMES)}")
    if "ssim" in names and "psnr" in names:
        names.remove("psnr")
    return [_build(n, backend, device, s, set(wanted)) for n in names]


def frame_gap(sample: Sample) -> int:
    """How many frames pred and gt differ by; HarnessError beyond the tolerance.

    A gap of a frame or two comes from resampling to a common fps and rounding the audio
    length, and the metrics score the shorter clip; anything larger means the clips do not
    belong together (a wrong pairing or a truncated file), and scoring them would mislead.
    """
    if sample.gt is None:
        return 0
    gap = abs(len(sample.pred) - len(sample.gt))
    allowed = max(FRAME_GAP_FRAMES, int(FRAME_GAP_SHARE * max(len(sample.pred), len(sample.gt))))
    if gap > allowed:
        raise HarnessError(f"clip {sample.clip_id}: {len(sample.pred)} predicted frames against {len(sample.gt)} "
                           f"ground-truth frames (at most {allowed} may differ)")
    return gap


def evaluate_samples(samples: Iterable[Sample], wanted: Iterable[str], backend: Backend = "offline",
                     device: str = "auto", settings: EvalSettings | None = None,
                     on_sample: Callable[[Sample], None] | None = None,
                     scored_frames: Sequence[str] | None = None) -> list[MetricResult]:
    """Feed every Sample to every wanted metric once; results in RESULT_ORDER.

    scored_frames: where the predicted frames that were scored are stored (one path per clip);
    every result records it as parameters["scored_frames"] (provenance: re-score those files)."""
    metrics = build_metrics(list(wanted), backend, device, settings)
    gaps: list[int] = []
    for sample in samples:
        gaps.append(frame_gap(sample))
        for m in metrics:
            m.update(sample)
        if on_sample is not None:
            on_sample(sample)
    results = [r for m in metrics for r in m.results()]
    if any(gaps):
        note = (f"{sum(1 for g in gaps if g)} clip(s) scored on the shorter of pred/gt "
                f"(frame counts differ by up to {max(gaps)})")
        results = [replace(r, note=f"{r.note}; {note}" if r.note else note) for r in results]
    if scored_frames is not None:
        results = [replace(r, parameters={**r.parameters, SCORED_FRAMES: list(scored_frames)}) for r in results]
    return sorted(results, key=lambda r: RESULT_ORDER.index(r.key) if r.key in RESULT_ORDER else 99)


def evaluate(
    pred: Sequence[np.ndarray],
    gt: Sequence[np.ndarray] | None = None,
    references: Sequence[np.ndarray | None] | None = None,
    audio: Sequence[np.ndarray | None] | None = None,
    wanted: Iterable[str] = METRIC_NAMES,
    backend: Backend = "offline",
    device: str = "auto",
    fps: float | Sequence[float] = CLIP_FPS,
    settings: EvalSettings | None = None,
    truth: Sequence[ClipTruth | None] | None = None,
    clip_ids: Sequence[str] | None = None,
    scored_frames: Sequence[str] | None = None,
) -> list[MetricResult]:
    """Evaluate generated clips against ground truth; one MetricResult per result key.

    truth: per clip, the dataset's ground-truth annotations (the synthetic backend needs them).
    clip_ids: names of the clips in messages (default "0", "1", ...).
    scored_frames: where the pred frames are stored, one path per clip (recorded in every result).
    """
    n = len(pred)
    for label, seq in (("gt", gt), ("references", references), ("audio", audio), ("truth", truth),
                       ("clip_ids", clip_ids), ("scored_frames", scored_frames)):
        if seq is not None and len(seq) != n:
            raise ValueError(f"{label} has {len(seq)} entries for {n} predicted clips")
    rates = [float(fps)] * n if isinstance(fps, (int, float)) else [float(f) for f in fps]
    samples = (
        Sample(pred=np.asarray(pred[i]), gt=None if gt is None else np.asarray(gt[i]),
               reference=None if references is None else references[i],
               audio=None if audio is None else audio[i], fps=rates[i],
               clip_id=str(i) if clip_ids is None else str(clip_ids[i]),
               truth=None if truth is None else truth[i])
        for i in range(n)
    )
    return evaluate_samples(samples, wanted, backend, device, settings, scored_frames=scored_frames)
