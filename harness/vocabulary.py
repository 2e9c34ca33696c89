"""The project's shared words and fixed defaults: one home each (issue 14).

A leaf module (no project imports), so the schema (harness/config*.py), the training code,
``metrics/`` and ``reports/`` can all import it without an import cycle: ``metrics`` already
depends on ``harness`` (errors, media, data.layout), never the other way at import time.
"""

from __future__ import annotations

from typing import Literal

# --------------------------------------------------------------------------- metrics

# The names ``eval.metrics`` and ``harness eval --metrics`` take, in evaluation order.
METRIC_NAMES: tuple[str, ...] = ("fid", "fvd", "ssim", "psnr", "sync", "hkc", "csim")

# Each metric name -> the result keys it produces (Sync gives confidence and distance, HKC also HKV).
RESULT_KEYS: dict[str, tuple[str, ...]] = {
    "fid": ("fid",), "fvd": ("fvd",), "ssim": ("ssim",), "psnr": ("psnr",),
    "sync": ("sync_c", "sync_d"), "hkc": ("hkc", "hkv"), "csim": ("csim",),
}

# Every result key in the order results are returned and tables list them.
RESULT_ORDER: tuple[str, ...] = tuple(key for name in METRIC_NAMES for key in RESULT_KEYS[name])

Direction = Literal["lower", "higher"]

# Which way is better, as in the paper's tables (Tables 1-3): FID, FVD and Sync-D lower, the rest higher.
DIRECTIONS: dict[str, Direction] = {
    key: "lower" if key in ("fid", "fvd", "sync_d") else "higher" for key in RESULT_ORDER
}

# --------------------------------------------------------------------------- regions, pose parts, bands

# Region boxes of a clip, in the order they are stored ((F, 4, 4) normalised xyxy per frame).
REGIONS: tuple[str, ...] = ("lips", "face", "head", "body")

# Where the audio cross-attention may write (APDH phases): a region box, or the whole frame.
MASK_REGIONS: tuple[str, ...] = ("lips", "face", "head", "full")

# Keypoint groups a pose map can draw (APDH phases remove them one by one).
POSE_PARTS: tuple[str, ...] = ("lips", "face", "body", "hands")

# The PhD loss's timestep bands, noisiest first: S1 pose, S2 detail, S3 low (paper Sec. 3.4).
PHD_BANDS: tuple[str, ...] = ("pose", "detail", "low")

# --------------------------------------------------------------------------- clips

# Frame rate of clips when nothing else says it: data.fps's default and the fallback of the
# metrics for frames without a rate (SyncNet resamples to its own 25 fps from here).
CLIP_FPS = 24

# Share of clips in the test split: the synthetic set (of its semi-body clips) and prepared real videos.
SYNTH_TEST_FRACTION = 0.25
PREPARE_TEST_FRACTION = 0.1
