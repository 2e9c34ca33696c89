"""bench/gpu.sh runs before a GPU sees it: its --dry mode (tiny shapes, CPU, this checkout's .venv) prints one
JSON with every part's figures, and the script refuses bad arguments in one line."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
GPU_SH = REPO / "bench" / "gpu.sh"


def _run(*args: str, timeout: float) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHON": sys.executable, "OMP_NUM_THREADS": "1"}
    return subprocess.run(["bash", str(GPU_SH), *args], capture_output=True, text=True, timeout=timeout, env=env, cwd=REPO)


@pytest.mark.slow
def test_dry_mode_prints_every_figure_as_one_json(tmp_path):
    out = tmp_path / "bench.json"
    proc = _run("--dry", "--out", str(out), timeout=400)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout)
    assert result == json.loads(out.read_text())
    assert result["dry"] is True and result["ok"] is True, result["parts"]
    assert set(result["parts"]) == {"train_step", "train_step_motion", "codec_memory", "train_channels_last", "train_8bit",
                                    "metrics", "tiny_learns"}
    assert all(not p["timed_out"] for p in result["parts"].values())
    step = result["train_step"]
    assert step["peak_dtype"] == "float32" and step["peak_tflops"] > 0
    assert set(step["by_frames"]) == {"2", "4"}
    for shape in step["by_frames"].values():
        for runner in ("plain", "ours"):
            figures = shape[runner]
            assert figures["fits"] is True and figures["step_s"] > 0 and figures["tflop_per_step"] > 0
            assert 0 < figures["mfu"] == pytest.approx(figures["tflops"] / step["peak_tflops"], rel=1e-2)
            assert figures["peak_memory_gib"] > 0
        assert shape["ours_throughput_over_plain"] == pytest.approx(shape["plain"]["step_s"] / shape["ours"]["step_s"], rel=1e-2)
    assert result["train_step"]["by_frames"]["2"]["options"]["stage"] == "joint"
    motion = result["train_step_motion"]["by_frames"]["2"]
    assert motion["options"]["stage"] == "motion" and motion["options"]["latent_cache"] is True
    assert motion["ours"]["fits"] is True and motion["ours"]["tflop_per_step"] > 0
    assert result["train_channels_last"]["by_frames"]["2"]["options"]["channels_last"] is True
    assert "plain" not in result["train_channels_last"]["by_frames"]["2"]
    eight_bit = result["train_8bit"]["by_frames"]["2"]
    assert eight_bit["options"]["optimizer"] == "adamw_8bit" and eight_bit["ours"]["fits"] is True
    assert result["metrics"]["fid_ours_over_pytorch_fid"] > 0
    assert {"FID Inception features (batch 50)", "FVD I3D 16x224x224 clips"} <= set(result["metrics"]["rates"])
    codec = result["codec_memory"]["counted_gib"]  # counted only: no GPU here
    assert codec["encode 12 frames"] > codec["encode 4 frames"] > 0 and codec["decode 1 frame, forward and backward"] > 0
    learns = result["tiny_learns"]
    assert learns["steps"] == 3 and learns["steps_per_s"] > 0 and "loss_falls" in learns
    assert result["machine"]["torch"] and result["total_s"] > 0


def test_the_gpu_parts_fit_8_minutes_and_dry_mode_mirrors_them():
    """The issue's budget: every GPU figure within 8 minutes; each part's `timeout` bounds it."""
    text = GPU_SH.read_text()
    dry, gpu = text.split('if [ "$DRY" = 1 ]; then')[1].split("\nelse")[:2]
    gpu = gpu.split("\nfi\n")[0]
    limits = {name: int(limit) for name, limit in re.findall(r"^  part (\w+) (\d+) ", gpu, flags=re.M)}
    assert sum(limits.values()) <= 480, limits
    assert {"train_step", "train_step_motion", "train_8bit"} <= set(limits)
    assert set(re.findall(r"^  part (\w+) ", dry, flags=re.M)) == set(limits) - {"train_encoding"}  # no encode in dry


def test_bad_arguments_are_one_line(tmp_path):
    proc = _run("--frobnicate", timeout=30)
    assert proc.returncode == 2 and proc.stderr.strip() == "error: bench/gpu.sh: unknown argument --frobnicate (see --help)"
    proc = _run("--wheels", "/nonexistent-wheels-folder", timeout=30)
    assert proc.returncode == 2 and proc.stderr.strip() == "error: --wheels /nonexistent-wheels-folder: no such folder"
    proc = _run("--wheels", str(tmp_path), timeout=30)
    assert proc.returncode == 2 and proc.stderr.strip() == f"error: --wheels {tmp_path}: no .whl or .tar.gz files in it"


def test_codec_cost_counts_flops_and_what_backward_keeps():
    """bench/codec_cost.py on the meta device: FLOPs counted; the parts add up to the whole decoder, and one frame per
    checkpoint holds 1/n of what one checkpoint over n frames holds."""
    proc = subprocess.run([sys.executable, str(REPO / "bench" / "codec_cost.py"), "--size", "256", "--frames", "3"],
                          capture_output=True, text=True, timeout=300, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout)
    whole = out["decoder_saved_gib_per_frame"]
    assert whole > 0 and sum(out["by_part"].values()) == pytest.approx(whole, abs=0.05)
    flops = out["tflop_per_frame"]
    assert 0 < flops["encode"] < flops["decode"] < flops["decode forward and backward"]
    assert out["recompute_held_gib"] == {"all frames in one checkpoint": pytest.approx(3 * whole, abs=0.02),
                                         "one frame per checkpoint": whole}


@pytest.mark.slow
def test_metrics_bench_times_random_weights_where_the_files_are_absent(tmp_path):
    """What the GPU machine runs (no offline weight files there): --weights random times the same networks, says
    so in its JSON, and compares our FID statistics with pytorch-fid's on the same PNG files."""
    out = tmp_path / "metrics.json"
    proc = subprocess.run([sys.executable, str(REPO / "bench" / "metrics_bench.py"), "--devices", "cpu", "--images", "16",
                           "--clips", "1", "--skip-slow", "--skip-synthetic", "--weights", "random", "--json", str(out)],
                          capture_output=True, text=True, timeout=300, cwd=REPO, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(out.read_text())
    assert result["weights"] == "random" and "random weights" in proc.stdout
    assert {"FID Inception features (batch 50)", "FVD I3D 16x224x224 clips", "PNG decode (harness read_frames)"} <= set(result["rates"])
    assert result["fid_ours_over_pytorch_fid"] > 0
    assert result["fid_stats_ours_vs_pytorch_fid"]["mu"] < 1e-6
