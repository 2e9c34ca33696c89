"""bench/optimizer_step.py times the three train.optimizer choices on the same parameters, and 8-bit moments
are what the memory count sees (bench/memory_plan.py): the state between steps shrinks by what they save."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _bench(script: str, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "bench" / script), *args],
                          capture_output=True, text=True, timeout=timeout, cwd=REPO)


def test_optimizer_bench_compares_the_three_choices(tmp_path):
    out = tmp_path / "optimizer.json"
    proc = _bench("optimizer_step.py", "--steps", "1", "--json", str(out))
    assert proc.returncode == 0, proc.stderr[-2000:]
    figures = json.loads(out.read_text())
    by = figures["by_optimizer"]
    assert list(by) == ["adamw", "adamw_fused", "adamw_8bit"] and figures["trainable_params"] > 10**6
    assert all(f["step_s"] > 0 for f in by.values())
    assert by["adamw"]["state_bytes_per_param"] == by["adamw_fused"]["state_bytes_per_param"] == pytest.approx(8.0, abs=0.01)
    # tiny: 8-bit moments in the tensors of >= 4096 values (2.03 bytes a value), fp32 in the many small ones
    assert 0.25 <= by["adamw_8bit"]["state_over_adamw"] <= 0.35


def test_optimizer_bench_bad_override_is_one_line():
    proc = _bench("optimizer_step.py", "train.optimizer=sgd", timeout=120)
    assert proc.returncode == 2 and proc.stderr.strip().startswith("error: override 'train.optimizer=sgd': train.optimizer:")
    assert "\n" not in proc.stderr.strip()


@pytest.mark.slow
def test_memory_plan_counts_the_8bit_state(tmp_path):
    held = {}
    for choice in ("adamw_fused", "adamw_8bit"):
        out = tmp_path / f"{choice}.json"
        proc = _bench("memory_plan.py", "--preset", "tiny", "--size", "64", "--skip-plain", f"train.optimizer={choice}",
                      "--frames", "4", "--json", str(out))
        assert proc.returncode == 0, proc.stderr[-2000:]
        ours = json.loads(out.read_text())["by_frames"]["4"]["ours"]
        held[choice] = ours["between_steps_gib"] - ours["built_gib"]  # gradients + optimiser state
    assert held["adamw_8bit"] < 0.75 * held["adamw_fused"]
