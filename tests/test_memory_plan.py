"""bench/memory_plan.py counts what a training step holds on fake tensors: exact on known sums, CUDA's fp32 norms,
and the command on the tiny preset."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch._subclasses.fake_tensor import FakeTensorMode

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
import memory_plan  # noqa: E402

MIB = 2**20


def test_counter_adds_what_operators_create_and_takes_off_what_is_freed():
    counter = memory_plan.StorageCounter()
    with FakeTensorMode(), counter:
        x = torch.zeros(1024, 1024)  # 4 MiB
        y = x * 2  # 8 MiB live
        view = y[:10]  # a view: same storage, nothing more
        del y, view  # 4 MiB live
        z = x + 1  # 8 MiB live again; the peak stays 8
        assert counter.now == 8 * MIB and counter.peak == 8 * MIB
        big = torch.ones(3 * 1024, 1024)  # 12 MiB more
        del big
        assert counter.now == 8 * MIB and counter.peak == 20 * MIB
        assert z.sum().item() == 0  # .item() of a fake tensor reads 0 (it has no value)


def test_nonzero_answers_every_element():
    with FakeTensorMode(), memory_plan.StorageCounter():
        rows = (torch.zeros(5) == 1).nonzero(as_tuple=True)[0]
        assert rows.shape == (5,)


def test_norms_run_in_float32_under_autocast_as_on_cuda():
    x = torch.randn(2, 32, 4, 4, dtype=torch.bfloat16)
    norm = torch.nn.GroupNorm(8, 32)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert norm(x).dtype == torch.bfloat16  # CPU autocast alone keeps bf16
        with memory_plan.cuda_float32_norms():
            out = norm(x)
            assert out.dtype == torch.float32
            assert torch.nn.functional.layer_norm(x, (4,)).dtype == torch.float32
        assert norm(x).dtype == torch.bfloat16  # restored
    torch.testing.assert_close(out, norm(x.float()))  # the same numbers as an fp32 norm


@pytest.mark.slow
def test_command_predicts_plain_and_ours(tmp_path):
    """The CLI on the tiny preset: both steps predicted, peaks above what was built; between the steps ours holds
    AdamW's state and the last gradients (the joint stage trains everything), which the plain step does not have."""
    out = tmp_path / "plan.json"
    proc = subprocess.run([sys.executable, str(REPO / "bench" / "memory_plan.py"), "--preset", "tiny", "--size", "64",
                           "--frames", "4", "--json", str(out)],
                          capture_output=True, text=True, timeout=300, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-2000:]
    shape = json.loads(out.read_text())["by_frames"]["4"]
    assert shape["options"]["stage"] == "joint"
    for name in ("plain", "ours"):
        assert shape[name]["predicted_peak_gib"] > shape[name]["built_gib"] > 0
        assert shape[name]["events"], name
    plain, ours = shape["plain"], shape["ours"]
    assert plain["between_steps_gib"] == plain["built_gib"]  # no optimiser, gradients dropped each step
    assert ours["between_steps_gib"] > 2 * ours["built_gib"]
    assert any(e["where"].startswith("denoising unet") for e in ours["events"])
    # FLOPs counted on fake tensors are those train_step.py counts on the real step of the same shape.
    timed = tmp_path / "step.json"
    proc = subprocess.run([sys.executable, str(REPO / "bench" / "train_step.py"), "--device", "cpu", "--size", "64",
                           "--frames", "4", "--steps", "1", "--json", str(timed)], capture_output=True, text=True, timeout=300, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-2000:]
    real = json.loads(timed.read_text())["by_frames"]["4"]
    for name in ("plain", "ours"):
        assert shape[name]["tflop_per_step"] == pytest.approx(real[name]["tflop_per_step"], rel=1e-3), name


def test_a_bad_override_is_one_line():
    proc = subprocess.run([sys.executable, str(REPO / "bench" / "memory_plan.py"), "bogus.key=1", "--frames", "4"],
                          capture_output=True, text=True, timeout=120, cwd=REPO)
    assert proc.returncode == 2 and proc.stderr.strip() == "error: override 'bogus.key=1': bogus: unknown key"
