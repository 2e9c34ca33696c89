"""Paper metrics (FID, FVD, SSIM/PSNR, Sync-C/D, HKC/HKV, CSIM): one file per metric, no training code.

Entry point: ``metrics.evaluate(pred, gt, references, audio, wanted, backend, device)`` ->
``list[MetricResult]`` (metrics/evaluate.py). Weights: metrics/manifest.py + metrics/weights.py.
"""

from metrics.evaluate import EvalSettings, evaluate, evaluate_samples
from metrics.result import MetricResult
from metrics.sample import ClipTruth, Sample

__all__ = ["ClipTruth", "EvalSettings", "MetricResult", "Sample", "evaluate", "evaluate_samples"]
