"""Positive controls (model.controls): each removes exactly the condition it names, in training
(build_conditions, compute_loss) and in sampling (generate_for_clip, sample_clip), and nothing else."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from harness.config import ExperimentConfig
from harness.data.clip_format import clip_dir, load_clip, read_index
from harness.data.pose_maps import draw_pose_maps
from harness.train.apdh import ActivePhase
from harness.train.conditions import build_conditions
from harness.train.objective import make_scheduler
from harness.train.step import compute_loss

CONTROLS = ("no_audio", "no_hand_pose", "no_reference")
ALL_PARTS = frozenset({"lips", "face", "body", "hands"})


def _cfg(control: str | None) -> ExperimentConfig:
    cfg = ExperimentConfig()
    cfg.loss.phd.pose.enabled = cfg.loss.phd.detail.enabled = cfg.loss.phd.low.enabled = False
    cfg.train.drop_reference = cfg.train.drop_audio = cfg.train.drop_pose = cfg.train.drop_all = 0.0
    if control:
        setattr(cfg.model.controls, control, True)
    return cfg


def _batch(root: Path) -> dict:
    """Two windows of 3 frames of a semi-body clip (real keypoints: the hands are drawn)."""
    cid = next(c["id"] for c in read_index(root)["clips"] if c["kind"] == "semibody")
    clip = load_clip(clip_dir(root, cid))
    frames = torch.from_numpy(clip["frames"][:3].transpose(0, 3, 1, 2).astype(np.float32) / 127.5 - 1)
    gen = torch.Generator().manual_seed(0)
    return {"frames": frames[None].repeat(2, 1, 1, 1, 1), "reference": frames[0][None].repeat(2, 1, 1, 1),
            "audio": torch.randn(2, 3, 10, 80, generator=gen) + 1.0,
            "keypoints": torch.from_numpy(clip["keypoints"][:3])[None].repeat(2, 1, 1, 1),
            "boxes": torch.from_numpy(clip["boxes"][:3])[None].repeat(2, 1, 1, 1), "kind": ["semibody"] * 2}


@pytest.mark.parametrize("control", CONTROLS)
def test_training_conditions_change_only_the_named_input(synthetic_clips: Path, control: str) -> None:
    batch = _batch(synthetic_clips)
    phase = ActivePhase("initial_pose", ALL_PARTS, "full", 0.0)
    plain = build_conditions(batch, phase, _cfg(None), torch.Generator().manual_seed(0))
    ctrl = build_conditions(batch, phase, _cfg(control), torch.Generator().manual_seed(0))
    size = batch["frames"].shape[-1]
    no_hands = torch.from_numpy(draw_pose_maps(batch["keypoints"].flatten(0, 1).numpy(), ALL_PARTS - {"hands"}, size))
    assert torch.equal(ctrl.frames, plain.frames) and torch.equal(ctrl.reference, plain.reference)
    if control == "no_audio":
        assert plain.audio.abs().sum() > 0 and torch.equal(ctrl.audio, torch.zeros_like(plain.audio))
    else:
        assert torch.equal(ctrl.audio, plain.audio)
    if control == "no_hand_pose":
        assert not torch.equal(ctrl.pose, plain.pose)  # the hands were in the map and are gone
        assert torch.equal(ctrl.pose.flatten(0, 1), no_hands)  # body, face and lips are still drawn
    else:
        assert torch.equal(ctrl.pose, plain.pose)


class _Recorder(torch.nn.Module):
    """Stands in for EchoMimicV2: records what it is given, predicts v = 0 (with a gradient)."""

    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(()))
        self.calls: list[dict] = []

    def forward(self, noisy, timesteps, ref_latents, audio, pose, audio_mask=None, ref_keep=None, *rest):
        self.calls.append({"audio": audio.clone(), "pose": pose.clone(), "ref_keep": ref_keep, "ref": ref_latents})
        return noisy * self.w


class _Identity(torch.nn.Module):
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def decode(self, x: torch.Tensor) -> torch.Tensor:
        return x


@pytest.mark.parametrize("control", CONTROLS)
def test_training_step_drops_the_reference_only_under_no_reference(synthetic_clips: Path, control: str) -> None:
    batch = _batch(synthetic_clips)
    phase = ActivePhase("audio_body", frozenset({"hands"}), "full", 0.0)
    cfg = _cfg(control)
    model = _Recorder()
    cond = build_conditions(batch, phase, cfg, torch.Generator().manual_seed(0))
    compute_loss(model, _Identity(), make_scheduler(), cond, cfg, torch.Generator().manual_seed(1))
    (call,) = model.calls
    assert call["ref_keep"].tolist() == ([False, False] if control == "no_reference" else [True, True])
    assert torch.equal(call["audio"], cond.audio) and torch.equal(call["pose"], cond.pose)  # CFG drops are 0


@pytest.mark.parametrize("control", CONTROLS)
def test_sampling_inputs_change_only_the_named_input(synthetic_clips: Path, control: str, monkeypatch) -> None:
    import harness.train.generate as generate

    seen: dict[str, dict] = {}

    def fake_sample(model, codec, scheduler, reference, audio, pose, settings, generator, progress=False,
                    use_reference=True, *rest):
        seen[label] = {"audio": audio, "pose": pose, "reference": reference, "use_reference": use_reference}
        return torch.zeros(audio.shape[0], 3, *reference.shape[-2:])

    monkeypatch.setattr(generate, "sample_clip", fake_sample)
    cid = next(c["id"] for c in read_index(synthetic_clips)["clips"] if c["kind"] == "semibody")
    for label, cfg in (("plain", _cfg(None)), ("ctrl", _cfg(control))):
        cfg.data.size = 32
        generate.generate_for_clip(cfg, None, None, clip_dir(synthetic_clips, cid))
    plain, ctrl = seen["plain"], seen["ctrl"]
    assert torch.equal(ctrl["reference"], plain["reference"]) and plain["use_reference"]
    assert ctrl["use_reference"] is (control != "no_reference")
    assert plain["audio"].abs().sum() > 0 and plain["pose"].sum() > 0  # hands only, drawn
    assert torch.equal(ctrl["audio"], torch.zeros_like(plain["audio"]) if control == "no_audio" else plain["audio"])
    assert torch.equal(ctrl["pose"], torch.zeros_like(plain["pose"]) if control == "no_hand_pose" else plain["pose"])


def test_sampler_without_reference_masks_it_in_the_conditional_half_too() -> None:
    from harness.config_training import EvalConfig
    from harness.train.sampler import sample_clip

    model, settings = _Recorder(), EvalConfig(sampling_steps=2, context_frames=4, context_overlap=1)
    reference, audio, pose = torch.zeros(3, 8, 8), torch.ones(4, 10, 80), torch.ones(4, 3, 8, 8)
    for use in (True, False):
        model.calls.clear()
        sample_clip(model, _Identity(), make_scheduler(), reference, audio, pose, settings,
                    torch.Generator().manual_seed(0), use_reference=use)
        assert [c["ref_keep"].tolist() for c in model.calls] == [[use, False]] * 2
