"""Metric throughput on this machine (and on a GPU when present), plus our FID against
pytorch-fid's own file-based path on the same PNG images.

    .venv/bin/python bench/metrics_bench.py [--images 32] [--clips 2] [--skip-slow] [--devices cuda] [--json F]

Frames come from the test media's talking_head clip when present, else synthetic noise clips.
SyncNet runs with random weights (timing only; no official weights offline).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests.conftest import REAL_DATA  # noqa: E402  the one test-media path (docs/design.md, "Test media")

REAL = REAL_DATA / "talking_head" / "video.avi"


def frames_for_bench(n: int) -> tuple[np.ndarray, str]:
    """n uint8 (H, W, 3) frames: the real clip (cycled) or synthetic."""
    if REAL.is_file():
        from harness.media import read_video

        frames, _ = read_video(REAL)
        return frames[np.arange(n) % len(frames)], f"real clip {frames.shape[2]}x{frames.shape[1]}"
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (n, 256, 256, 3), dtype=np.uint8), "synthetic 256x256"


RESULTS: dict[str, dict] = {}  # label -> {"per_s", "unit", "count"}: what --json writes


def rate(label: str, count: int, unit: str, fn: Callable[[], object]) -> float:
    """Run fn once, print, record and return count / seconds."""
    t = time.perf_counter()
    fn()
    per_s = count / (time.perf_counter() - t)
    print(f"  {label:<44} {per_s:9.2f} {unit}/s  ({count} {unit})")
    RESULTS[label] = {"per_s": round(per_s, 3), "unit": unit, "count": count}
    return per_s


def bench_fid_vs_pytorch_fid(frames: np.ndarray, device: str) -> float:
    """Our streaming FID statistics vs pytorch-fid's calculate_activation_statistics on PNG files."""
    from PIL import Image
    from pytorch_fid.fid_score import calculate_activation_statistics
    from pytorch_fid.inception import InceptionV3

    from metrics.fid import inception_features
    from metrics.inception import FidInception, map_fid_helper
    from metrics.stats import GaussianStats
    from metrics.weights import resolve

    state = map_fid_helper(resolve("fid_helper_inception").path)
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = Path(tmp) / "hub" / "checkpoints" / "pt_inception-2015-12-05-6726825d.pth"
        ckpt.parent.mkdir(parents=True)
        torch.save(state, ckpt)
        os.environ["TORCH_HOME"] = tmp
        files = []
        for i, f in enumerate(frames):
            files.append(Path(tmp) / f"{i:05d}.png")
            Image.fromarray(f).save(files[-1])
        ours_model = FidInception()
        ours_model.net.load_state_dict(state)
        theirs_model = InceptionV3([3]).to(device)  # loads the file placed in TORCH_HOME

        def ours() -> None:
            imgs = np.stack([np.asarray(Image.open(p).convert("RGB")) for p in files])
            GaussianStats(2048).update(inception_features(ours_model, imgs, 50, device))

        def theirs() -> None:
            calculate_activation_statistics([str(p) for p in files], theirs_model, 50, 2048, device, num_workers=0)

        n = len(files)
        a = rate(f"FID stats, ours (PNG files, {device})", n, "img", ours)
        b = rate(f"FID stats, pytorch-fid file path ({device})", n, "img", theirs)
        print(f"  ratio ours / pytorch-fid = {a / b:.2f}x")
        return a / b


def bench_device(device: str, frames: np.ndarray, clips: int, skip_slow: bool) -> None:
    from metrics.fid import inception_features
    from metrics.fvd import I3dExtractor
    from metrics.inception import load_fid_inception

    print(f"device {device}:")
    model, _ = load_fid_inception("offline")
    rate("FID Inception features (batch 50)", len(frames), "img", lambda: inception_features(model, frames, 50, device))
    i3d = I3dExtractor("offline", device=device)
    video = np.stack([frames[:16]] * clips)
    rate("FVD I3D 16x224x224 clips", clips * 16, "frames", lambda: i3d(video, 8))
    if device != "cpu" or skip_slow:
        return
    bench_cpu_only(frames)


def bench_cpu_only(frames: np.ndarray) -> None:
    import cv2

    from metrics.faces import DlibEmbedder
    from metrics.hands import MediaPipeHands
    from metrics.sample import Sample
    from metrics.ssim import SsimPsnrMetric
    from metrics.sync import SyncScorer

    n = min(len(frames), 16)
    sq = np.stack([cv2.resize(f, (512, 512)) for f in frames[:n]])
    noisy = np.clip(sq.astype(int) + 8, 0, 255).astype(np.uint8)
    m = SsimPsnrMetric(want_psnr=False)
    rate(f"SSIM 512x512 ({m.workers} threads)", n, "frames", lambda: m.update(Sample(pred=sq, gt=noisy)))
    p = SsimPsnrMetric(want_ssim=False)
    rate("PSNR 512x512", n, "frames", lambda: p.update(Sample(pred=sq, gt=noisy)))
    emb = DlibEmbedder()
    rate("CSIM dlib (offline stand-in) detect+embed", n, "frames", lambda: [emb.embed(f) for f in frames[:n]])
    hands = MediaPipeHands()
    rate("HKC mediapipe hands (offline stand-in)", n, "frames", lambda: hands.hands(frames[:n]))
    with tempfile.TemporaryDirectory() as tmp:
        from syncnet_python import SyncNetModel

        torch.save(SyncNetModel().state_dict(), Path(tmp) / "s.pth")
        scorer = SyncScorer(Path(tmp) / "s.pth", None, mode="precropped", device="cpu")
        crops = np.stack([cv2.resize(f, (224, 224)) for f in frames[:50]])
        audio = np.zeros(len(crops) * 640, np.float32)
        rate("Sync-C/D SyncNet pre-cropped (random weights)", len(crops), "frames",
             lambda: scorer.score(Sample(pred=crops, audio=audio, fps=25)))


def bench_synthetic(size: int = 64, frames: int = 48) -> None:
    """The synthetic backends (metrics/synthetic/) on one rendered ground-truth clip."""
    from harness.data.synth import render_clip
    from metrics.evaluate import evaluate
    from metrics.sample import ClipTruth

    clip = render_clip(0, "semibody", 0, size, frames, 24, 16000)
    truth = ClipTruth(clip["keypoints"], clip["boxes"], "synthetic-v1:bench")
    print(f"synthetic backends ({size}x{size} synthetic clip, {frames} frames):")
    for metric in ("sync", "hkc", "csim"):
        evaluate([clip["frames"]], [clip["frames"]], audio=[clip["audio"]], wanted=[metric], backend="synthetic",
                 fps=24, truth=[truth])  # warm-up: imports
        rate(f"{metric} synthetic", frames, "frames",
             lambda m=metric: evaluate([clip["frames"]], [clip["frames"]], audio=[clip["audio"]], wanted=[m],
                                       backend="synthetic", fps=24, truth=[truth]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=32, help="images for FID timings")
    ap.add_argument("--clips", type=int, default=2, help="16-frame clips for FVD timings")
    ap.add_argument("--skip-slow", action="store_true", help="only FID/FVD")
    ap.add_argument("--skip-synthetic", action="store_true", help="no synthetic-backend timings")
    ap.add_argument("--devices", default=None, help="comma-separated, e.g. cuda (default: cpu and cuda when present)")
    ap.add_argument("--json", type=Path, default=None, help="also write every figure here as JSON")
    args = ap.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", 0)) or os.cpu_count() or 1)
    frames, source = frames_for_bench(max(args.images, 50))
    print(f"metrics bench: {source}, torch {torch.__version__}, {os.cpu_count()} CPU cores, "
          f"cuda={'yes: ' + torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no'}")
    devices = args.devices.split(",") if args.devices else ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for device in devices:
        bench_device(device, frames[: args.images], args.clips, args.skip_slow)
    if not args.skip_synthetic:
        bench_synthetic()
    print("FID: ours vs pytorch-fid on the same PNG files:")
    ratio = bench_fid_vs_pytorch_fid(frames[: args.images], devices[-1])
    if args.json:
        args.json.write_text(json.dumps({"source": source, "devices": devices, "rates": RESULTS,
                                         "fid_ours_over_pytorch_fid": round(ratio, 3), "loadavg": os.getloadavg()}, indent=1))


if __name__ == "__main__":
    main()
