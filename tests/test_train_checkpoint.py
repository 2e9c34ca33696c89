"""Checkpoints are verified on load: a truncated, empty or altered newest checkpoint is skipped
with one warning line and resume continues from the newest one that verifies; with none valid,
training restarts from step 0 and says so; `harness sample` on a bad file is one line, exit 2."""

from __future__ import annotations

import json

import pytest
import torch

from harness.errors import HarnessError
from harness.train.checkpoint import (checkpoint_problem, latest_valid_checkpoint, list_checkpoints, load_checkpoint,
                                      save_checkpoint, sidecar_of)
from harness.train.trainer import train
from tests.test_train_loop import _cfg


def _two_checkpoints(tmp_path):
    ckpt_dir = tmp_path / "checkpoints"
    for step in (1, 2):
        save_checkpoint(ckpt_dir, step, {"model": {"w": torch.full((64,), float(step))}, "optimizer": {}})
    return ckpt_dir, list_checkpoints(ckpt_dir)


def test_sidecar_records_size_and_hash_and_old_ones_are_pruned(tmp_path):
    ckpt_dir = tmp_path / "checkpoints"
    for step in (1, 2, 3):
        save_checkpoint(ckpt_dir, step, {"model": None}, keep=2)
    names = sorted(p.name for p in ckpt_dir.iterdir())
    assert names == ["step_0000002.pt", "step_0000002.pt.json", "step_0000003.pt", "step_0000003.pt.json"]
    record = json.loads(sidecar_of(ckpt_dir / "step_0000003.pt").read_text())
    assert record["bytes"] == (ckpt_dir / "step_0000003.pt").stat().st_size and len(record["sha256"]) == 64


@pytest.mark.parametrize("damage", ["truncate", "empty", "flip_byte"])
def test_resume_skips_a_damaged_newest_checkpoint(tmp_path, capsys, damage):
    ckpt_dir, (older, newest) = _two_checkpoints(tmp_path)
    data = newest.read_bytes()
    if damage == "truncate":
        newest.write_bytes(data[: len(data) // 2])
    elif damage == "empty":
        newest.write_bytes(b"")
    else:  # same size, one byte changed: only the hash can tell
        newest.write_bytes(data[:-40] + bytes([data[-40] ^ 0xFF]) + data[-39:])
    assert checkpoint_problem(newest) is not None and checkpoint_problem(older) is None
    resumed = latest_valid_checkpoint(ckpt_dir)
    assert resumed is not None and resumed.path == older and resumed.state["step"] == 1
    warning = capsys.readouterr().err.strip().splitlines()
    assert len(warning) == 1 and warning[0].startswith(f"warning: {newest}: not a valid checkpoint")
    with pytest.raises(HarnessError, match="step_0000002.pt: not a valid checkpoint"):
        load_checkpoint(newest)


def test_no_valid_checkpoint_restarts_from_zero_and_says_so(tmp_path, capsys):
    ckpt_dir, paths = _two_checkpoints(tmp_path)
    for path in paths:
        path.write_bytes(b"")
    assert latest_valid_checkpoint(ckpt_dir) is None
    assert "training restarts from step 0" in capsys.readouterr().err


def test_train_resumes_from_the_older_checkpoint_after_truncation(tmp_path):
    cfg = _cfg(tmp_path, "train.steps=4", "train.checkpoint_every=2")
    full = train(cfg, tmp_path / "full", progress=False)
    run = tmp_path / "resumed"
    train(cfg, run, until=4, progress=False)
    newest = run / "checkpoints" / "step_0000004.pt"
    newest.write_bytes(newest.read_bytes()[:1000])  # a node lost mid-write on shared storage
    resumed = train(cfg, run, progress=False)
    assert [h["step"] for h in resumed.history] == [3, 4]  # from step 2, not from 0, not a crash
    assert [h["loss"] for h in resumed.history] == [h["loss"] for h in full.history[2:]]
    assert checkpoint_problem(resumed.checkpoint) is None


@pytest.mark.slow
def test_sample_command_refuses_a_truncated_checkpoint(run_cli, tmp_path):
    run = tmp_path / "run"
    train(_cfg(tmp_path, "train.steps=1"), run, progress=False)
    ckpt = run / "checkpoints" / "step_0000001.pt"
    recorded = json.loads(sidecar_of(ckpt).read_text())["bytes"]
    ckpt.write_bytes(ckpt.read_bytes()[:100])
    clip = next((tmp_path / "data" / "synthetic" / "clips").glob("synth-*"))
    res = run_cli("sample", ckpt, clip, "--out", tmp_path / "x.mp4")
    assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr
    assert res.stderr.strip().splitlines()[-1] == (
        f"error: {ckpt}: not a valid checkpoint (100 bytes, {recorded} recorded (truncated?))")
    assert not (tmp_path / "x.mp4").exists()


@pytest.mark.slow
def test_train_command_refuses_a_changed_config_in_the_same_run_dir(run_cli, tmp_path):
    from tests.test_train_loop import SMALL

    run = tmp_path / "run"
    args = ["train", "experiments/base.yaml", f"paths.runs={tmp_path}", *SMALL, "train.steps=1", "--run-dir", run]
    assert run_cli(*args).returncode == 0
    before = (run / "config.yaml").read_text()
    res = run_cli(*args, "train.lr=0.5")
    assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr
    line = res.stderr.strip().splitlines()[-1]
    assert line.startswith(f"error: {run}: its checkpoints were written by config ") and "pass another --run-dir" in line
    assert (run / "config.yaml").read_text() == before  # nothing overwritten
