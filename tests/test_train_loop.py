"""Trainer: switches-off equals the plain baseline bit for bit, each switch changes what it
names, exact resume, and the `harness train` / `harness sample` commands."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from harness.config_load import load
from harness.data.pose_maps import draw_pose_maps, region_mask
from harness.model.build import build_model
from harness.train.apdh import apdh_phase_at
from harness.train.batches import TrainingBatches
from harness.train.conditions import build_conditions
from harness.train.objective import make_scheduler
from harness.train.step import compute_loss
from harness.train.trainer import step_generator, train
from tests.conftest import EXPERIMENTS

SMALL = ["data.synthetic.clips=3", "data.synthetic.portrait_clips=2", "data.frames=4", "data.synthetic.seconds=1.0", "train.batch_size=2"]
OFF = ["model.apdh.enabled=false", "data.hpa.enabled=false"] + [f"loss.phd.{t}.enabled=false" for t in ("pose", "detail", "low")]


def _cfg(tmp_path, *overrides):
    return load(EXPERIMENTS / "base.yaml", [f"paths.runs={tmp_path}", *SMALL, *overrides])


def _loss(cfg, step=3):
    torch.manual_seed(0)
    model, codec = build_model(cfg, audio_dim=80)
    phase = apdh_phase_at(cfg.model.apdh, step, cfg.train.steps)
    gen = step_generator(cfg.train.seed, step)
    cond = build_conditions(TrainingBatches(cfg).batch(step), phase, cfg, gen)
    return compute_loss(model, codec, make_scheduler(), cond, cfg, gen), (model, codec, cond)


def test_all_switches_off_equals_plain_baseline(tmp_path):
    cfg = _cfg(tmp_path, *OFF)
    (loss, _), (model, codec, cond) = _loss(cfg)
    # The plain baseline, written out: hands-only pose, no audio mask, no loss mask, MSE on v.
    torch.manual_seed(0)
    model, codec = build_model(cfg, audio_dim=80)
    batch = TrainingBatches(cfg).batch(3)
    gen = step_generator(cfg.train.seed, 3)
    b, f = batch["frames"].shape[:2]
    pose = torch.from_numpy(draw_pose_maps(batch["keypoints"].flatten(0, 1).numpy(), {"hands"}, 64)).view(b, f, 3, 64, 64)
    latents = F.pixel_unshuffle(batch["frames"].flatten(0, 1), 4).unflatten(0, (b, f)).permute(0, 2, 1, 3, 4)
    sched = make_scheduler()
    noise = torch.randn(latents.shape, generator=gen)
    t = torch.randint(0, 1000, (b,), generator=gen)
    u = torch.rand(4, b, generator=gen)
    drop_all = u[3] < cfg.train.drop_all
    keep_ref, keep_audio, keep_pose = (~((u[i] < p) | drop_all) for i, p in enumerate((cfg.train.drop_reference, cfg.train.drop_audio, cfg.train.drop_pose)))
    v = model(sched.add_noise(latents, noise, t), t, F.pixel_unshuffle(batch["reference"], 4),
              batch["audio"] * keep_audio.view(b, 1, 1, 1), pose * keep_pose.view(b, 1, 1, 1, 1), None, keep_ref)
    baseline = F.mse_loss(v, sched.get_velocity(latents, noise, t))
    assert torch.equal(loss, baseline)
    assert cond.audio_mask is None and cond.loss_mask is None


def test_phase_draws_its_pose_parts_and_masks_its_region(tmp_path):
    cfg = _cfg(tmp_path, "data.hpa.enabled=false")
    batch = TrainingBatches(cfg).batch(0)
    kp, boxes = batch["keypoints"].flatten(0, 1).numpy(), batch["boxes"].numpy()
    for phase_cfg in cfg.model.apdh.phases:
        phase = apdh_phase_at(cfg.model.apdh, int(phase_cfg.end * cfg.train.steps) - 1, cfg.train.steps)
        cond = build_conditions(batch, phase, cfg, step_generator(0, 0))
        expected_pose = torch.from_numpy(draw_pose_maps(kp, set(phase.pose_parts), 64).reshape(cond.pose.shape))
        for got, want in zip(cond.pose, expected_pose):  # per sample: the phase's parts, or dropped to zeros
            assert torch.equal(got, want) or (phase.pose_drop_prob > 0 and not got.any())
        if phase.audio_mask == "full":
            assert cond.audio_mask is None
        else:
            expected = torch.stack([torch.from_numpy(region_mask(boxes[i], phase.audio_mask, 64)) for i in range(len(boxes))])
            assert torch.equal(cond.audio_mask[:, :, 0], expected)


def test_hpa_masks_portrait_loss_and_uses_head_audio(tmp_path):
    cfg = _cfg(tmp_path, "data.hpa.portrait_ratio=1.0")
    batch = TrainingBatches(cfg).batch(0)
    assert set(batch["kind"]) == {"portrait"}
    cond = build_conditions(batch, apdh_phase_at(cfg.model.apdh, 0, cfg.train.steps), cfg, step_generator(0, 0))
    assert cond.loss_mask is not None and 0 < cond.loss_mask.mean() < 1  # padding is excluded
    assert cond.audio_mask is not None
    assert (cond.audio_mask[:, :, 0] * (1 - cond.loss_mask)).abs().sum() == 0  # head region inside the portrait
    off = _cfg(tmp_path, "data.hpa.enabled=false", "data.hpa.portrait_ratio=1.0")
    assert set(TrainingBatches(off).batch(0)["kind"]) == {"semibody"}


@pytest.mark.parametrize("term", ["pose", "detail", "low"])
def test_weight_zero_equals_term_off(tmp_path, term):
    base = ["model.apdh.enabled=false", "data.hpa.enabled=false", "loss.phd.bands={pose: 0.34, detail: 0.33, low: 0.33}"]
    (zero, _), _ = _loss(_cfg(tmp_path, *base, f"loss.phd.{term}.weight=0"))
    (off, _), _ = _loss(_cfg(tmp_path, *base, f"loss.phd.{term}.enabled=false"))
    assert torch.equal(zero, off)


def test_phd_term_changes_the_loss(tmp_path):
    base = ["model.apdh.enabled=false", "data.hpa.enabled=false"]
    (with_phd, logs), _ = _loss(_cfg(tmp_path, *base))
    (without, _), _ = _loss(_cfg(tmp_path, *base, *[f"loss.phd.{t}.enabled=false" for t in ("pose", "detail", "low")]))
    assert with_phd > without and logs["loss_v"] == pytest.approx(without.item())


class _Crash(Exception):
    pass


@pytest.mark.parametrize("optimizer", ["adamw_fused", "adamw_8bit"])  # tiny's default; 8-bit moments in the checkpoint
def test_resume_reproduces_the_uninterrupted_losses(tmp_path, optimizer):
    cfg = _cfg(tmp_path, "train.steps=4", "train.checkpoint_every=2", f"train.optimizer={optimizer}")
    full = train(cfg, tmp_path / "full", progress=False)

    def crash_after_two(step, logs):
        if step == 3:
            raise _Crash

    with pytest.raises(_Crash):
        train(cfg, tmp_path / "resumed", on_step=crash_after_two, progress=False)
    resumed = train(cfg, tmp_path / "resumed", progress=False)
    assert [h["step"] for h in resumed.history] == [3, 4]
    assert [h["loss"] for h in resumed.history] == [h["loss"] for h in full.history[2:]]


@pytest.mark.slow
def test_train_and_sample_commands(run_cli, tmp_path):
    res = run_cli("train", "experiments/base.yaml", f"paths.runs={tmp_path}", *SMALL, "train.steps=2", "--run-dir", tmp_path / "run", "--json")
    assert res.returncode == 0, res.stderr
    ckpt = tmp_path / "run" / "checkpoints" / "step_0000002.pt"
    assert ckpt.is_file()
    clip = next((tmp_path / "data" / "synthetic" / "clips").glob("synth-*"))
    res = run_cli("sample", ckpt, clip, "--out", tmp_path / "out.mp4", "--steps", "2")
    assert res.returncode == 0, res.stderr
    from harness.media import read_audio, read_video

    frames, fps = read_video(tmp_path / "out.mp4")
    assert frames.shape[1:] == (64, 64, 3) and fps == pytest.approx(24) and len(read_audio(tmp_path / "out.mp4")) > 0
    bad = run_cli("sample", tmp_path / "missing.pt", clip, "--out", tmp_path / "x.mp4")
    assert bad.returncode == 2 and "missing.pt: no such checkpoint file" in bad.stderr
