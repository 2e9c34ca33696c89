"""Data throughput on this machine: synthetic clips/s and `prepare` frames/s.

Usage: .venv/bin/python bench/data_bench.py [--clips 8] [--size 64] [--seconds 2] [--copies 2]
Prepare uses the test media's talking_head/video.avi (linked, never copied) when present:
once in this process (one worker), then `copies` links of it on a local Ray (all cores).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests.conftest import REAL_DATA  # noqa: E402  the one test-media path (docs/design.md, "Test media")

REAL_VIDEO = REAL_DATA / "talking_head" / "video.avi"


def bench_synth(work: Path, clips: int, size: int, seconds: float) -> None:
    """Time generate_dataset for `clips` semi-body clips."""
    from harness.data.synth import generate_dataset

    start = time.perf_counter()
    generate_dataset(work / "synth", clips, 0, size, seconds, 24, 16000, seed=0, progress=False)
    elapsed = time.perf_counter() - start
    frames = clips * round(seconds * 24)
    print(f"synthetic: {clips} clips x {seconds:g} s at {size}px in {elapsed:.2f} s -> "
          f"{clips / elapsed:.2f} clips/s ({frames / elapsed:.0f} frames/s)")


def bench_prepare(work: Path, size: int, copies: int) -> None:
    """Time prepare_video in-process and prepare_dir on a local Ray."""
    from harness.data.prepare import prepare_video
    from harness.data.prepare_run import prepare_dir

    if not REAL_VIDEO.is_file():
        print(f"prepare: skipped ({REAL_VIDEO} is absent)")
        return
    one = work / "one"
    one.mkdir()
    os.symlink(REAL_VIDEO, one / "video.avi")
    start = time.perf_counter()
    result = prepare_video(one / "video.avi", one, work / "out1", size, 24, 16000)
    elapsed = time.perf_counter() - start
    print(f"prepare (1 process): {result['n_frames']} frames at {size}px in {elapsed:.2f} s -> "
          f"{result['n_frames'] / elapsed:.1f} frames/s")
    many = work / "many"
    many.mkdir()
    for i in range(copies):
        os.symlink(REAL_VIDEO, many / f"video{i}.avi")
    start = time.perf_counter()
    report = prepare_dir(many, work / "out2", size, 24, 16000, progress=False)
    elapsed = time.perf_counter() - start
    frames = sum(r["n_frames"] for r in report["done"])
    per_video = [r["n_frames"] / r["seconds"] for r in report["done"]]
    print(f"prepare (local Ray, {os.cpu_count()} cores, {copies} videos, Ray start included): {frames} frames in "
          f"{elapsed:.2f} s -> {frames / elapsed:.1f} frames/s; per worker {min(per_video):.1f}-{max(per_video):.1f} frames/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--copies", type=int, default=2)
    args = parser.parse_args()
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    work = Path(tempfile.mkdtemp(prefix="data-bench-"))
    try:
        bench_synth(work, args.clips, args.size, args.seconds)
        bench_prepare(work, args.size, args.copies)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
