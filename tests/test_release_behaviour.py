"""The release's inference behaviours (docs/release_behaviour.md): per-frame motion GroupNorm, zeroed
pose features in the CFG unconditional branch, the closed-loop shifted context windows, and the
preset defaults that pick them. Every reference is written out or computed here."""

from __future__ import annotations

import pytest
import torch
from diffusers.models.unets.unet_motion_model import AnimateDiffTransformer3D
from torch import nn

from harness.config import ExperimentConfig
from harness.config_training import EvalConfig
from harness.config_load import load
from harness.errors import ConfigError
from harness.model.build import build_model
from harness.model.motion_norm import PerFrameGroupNorm
from harness.train.context_windows import windows_at_step
from harness.train.objective import make_scheduler
from harness.train.sampler import sample_clip

D = 80  # mel audio width of the tiny preset
BEHAVIOUR_KEYS = ["model.whisper_levels", "model.motion_norm", "data.hand_map", "eval.uncond_pose", "eval.context_windows"]


def _get(cfg: ExperimentConfig, dotted: str) -> str:
    section, key = dotted.split(".")
    return getattr(getattr(cfg, section), key)


# --------------------------------------------------------------------------- config


def test_sd15_defaults_are_the_release_and_tiny_keeps_the_harness() -> None:
    sd15 = load(None, ["model.preset=sd15"])
    assert [_get(sd15, k) for k in BEHAVIOUR_KEYS] == [
        "release", "per_frame", "release", "zero_features", "closed_loop_shifted"]
    tiny = load(None, [])
    assert [_get(tiny, k) for k in BEHAVIOUR_KEYS] == [
        "transformers", "across_frames", "harness", "zero_image", "fixed"]
    mixed = load(None, ["model.preset=sd15", "eval.context_windows=fixed", "model.motion_norm=across_frames"])
    assert mixed.eval.context_windows == "fixed" and mixed.model.motion_norm == "across_frames"
    assert mixed.data.hand_map == "release"  # the others keep the preset's choice
    assert load(None, ["model.preset=tiny", "data.hand_map=release"]).data.hand_map == "release"
    with pytest.raises(ConfigError, match=r"eval\.context_windows: Input should be 'closed_loop_shifted' or 'fixed'"):
        load(None, ["eval.context_windows=sliding"])
    assert EvalConfig().context_windows == "fixed" and EvalConfig().uncond_pose == "zero_image"  # a section alone
    again = ExperimentConfig.model_validate(mixed.to_dict())  # the resolved config reloads as itself
    assert again == mixed and again.config_hash() == mixed.config_hash()


# --------------------------------------------------------------------------- motion-module GroupNorm


def test_per_frame_group_norm_equals_a_loop_of_group_norm_over_frames() -> None:
    g = torch.Generator().manual_seed(0)
    norm = PerFrameGroupNorm(4, 16, eps=1e-6)
    with torch.no_grad():
        norm.weight.copy_(torch.randn(16, generator=g))
        norm.bias.copy_(torch.randn(16, generator=g))
    scales = torch.tensor([0.5, 1.0, 3.0, 8.0, 0.1]).view(1, 1, 5, 1, 1)  # frames with different statistics
    x = torch.randn(2, 16, 5, 3, 3, generator=g) * scales + torch.arange(5.0).view(1, 1, 5, 1, 1)
    reference = nn.GroupNorm(4, 16, eps=1e-6)
    reference.load_state_dict(norm.state_dict())
    expected = torch.stack([reference(x[:, :, i]) for i in range(5)], dim=2)  # (B, C, F, h, w)
    torch.testing.assert_close(norm(x), expected)
    assert not torch.allclose(reference(x), expected, atol=1e-2)  # across frames is something else


def _motion_modules(model) -> list[AnimateDiffTransformer3D]:
    return [m for m in model.denoising_unet.modules() if isinstance(m, AnimateDiffTransformer3D)]


def test_built_model_normalises_each_frame_in_every_motion_module() -> None:
    torch.manual_seed(0)
    per_frame, _ = build_model(load(None, ["model.motion_norm=per_frame"]), audio_dim=D)
    torch.manual_seed(0)
    across, _ = build_model(load(None, ["model.motion_norm=across_frames"]), audio_dim=D)
    modules = _motion_modules(per_frame)
    assert modules and all(type(m.norm) is PerFrameGroupNorm for m in modules)
    assert all(type(m.norm) is nn.GroupNorm for m in _motion_modules(across))
    assert per_frame.state_dict().keys() == across.state_dict().keys()  # checkpoints load either way
    # The norm inside a motion module during a real forward pass: per-frame statistics.
    seen = {}
    module = modules[0]
    hook = module.norm.register_forward_hook(lambda m, i, o: seen.update(x=i[0], y=o))
    g = torch.Generator().manual_seed(1)
    f = 4
    with torch.no_grad():
        per_frame.eval()(torch.randn(1, 48, f, 16, 16, generator=g), torch.tensor([500]),
                         torch.randn(1, 48, 16, 16, generator=g), torch.randn(1, f, 10, D, generator=g),
                         torch.rand(1, f, 3, 64, 64, generator=g))
    hook.remove()
    x = seen["x"]  # (B, C, F, h, w)
    reference = nn.GroupNorm(module.norm.num_groups, module.norm.num_channels, eps=module.norm.eps)
    reference.load_state_dict(module.norm.state_dict())
    torch.testing.assert_close(seen["y"], torch.stack([reference(x[:, :, i]) for i in range(f)], dim=2))


# --------------------------------------------------------------------------- CFG unconditional pose


def test_unconditional_pose_features_are_zero() -> None:
    torch.manual_seed(0)
    model, _ = build_model(ExperimentConfig(), audio_dim=D)
    model.eval()
    with torch.no_grad():  # a trained-looking pose encoder: its zero-initialised output conv made non-zero
        model.pose_encoder.out.weight.normal_(0, 0.1)
        model.pose_encoder.out.bias.normal_(0, 0.1)
    g = torch.Generator().manual_seed(2)
    f = 3
    pose = torch.rand(2, f, 3, 64, 64, generator=g)
    args = (torch.randn(2, 48, f, 16, 16, generator=g), torch.tensor([10, 10]), torch.randn(2, 48, 16, 16, generator=g),
            torch.randn(2, f, 10, D, generator=g), pose, None, None, 1.0)
    with torch.no_grad():
        model(*args, pose_keep=torch.tensor([True, False]))
        features = model.denoising_unet.conv_in.pose_features  # (B*F, C0, h, w)
        assert features[f:].abs().max() == 0  # the unconditional sample: zero pose features
        torch.testing.assert_close(features[:f], model.pose_encoder(pose[0]))
        blank = model.pose_encoder(torch.zeros_like(pose[0]))
    assert blank.abs().max() > 1e-3  # a blank pose IMAGE is not the same unconditional input


# --------------------------------------------------------------------------- context windows


def _shifted(step: int) -> list[list[int]]:
    return windows_at_step("closed_loop_shifted", step, 40, 12, 3)


def test_release_window_schedule_of_a_40_frame_clip_step_by_step() -> None:
    # The release (context.py "uniform", closed loop, stride 12 - 3 = 9), shifted by 3 frames per step.
    assert _shifted(0) == [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
        [9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20],
        [18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29],
        [27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38],
        [36, 37, 38, 39, 0, 1, 2, 3, 4, 5, 6, 7],
    ]
    assert _shifted(1) == [
        [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14],
        [12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23],
        [21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32],
        [30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 0, 1],
        [39, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    ]
    assert _shifted(2) == [
        [6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17],
        [15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26],
        [24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35],
        [33, 34, 35, 36, 37, 38, 39, 0, 1, 2, 3, 4],
        [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13],
    ]
    assert _shifted(13) == [
        [39, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
        [8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19],
        [17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28],
        [26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37],
        [35, 36, 37, 38, 39, 0, 1, 2, 3, 4, 5, 6],
    ]
    assert windows_at_step("closed_loop_shifted", 2, 8, 12, 3) == [[6, 7, 0, 1, 2, 3, 4, 5]]  # short clip: rotated
    fixed = [list(range(s, s + 12)) for s in (0, 9, 18, 27, 28)]
    assert all(windows_at_step("fixed", step, 40, 12, 3) == fixed for step in range(4))


class _RecordingModel(nn.Module):
    """Stands in for EchoMimicV2: records which frames (audio = frame index) and pose inputs each call gets."""

    def __init__(self) -> None:
        super().__init__()
        self.anchor = nn.Parameter(torch.zeros(()))
        self.calls: list[tuple[list[int], torch.Tensor, torch.Tensor | None]] = []

    def forward(self, x, t, ref, audio, pose, mask, keep, scale, pose_keep=None):
        self.calls.append((audio[0, :, 0, 0].round().long().tolist(), pose.clone(), pose_keep))
        return torch.zeros_like(x)


class _FlatCodec(nn.Module):
    def encode(self, frames: torch.Tensor) -> torch.Tensor:
        return torch.zeros(frames.shape[0], 4, 2, 2)

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        return torch.zeros(latents.shape[0], 3, 16, 16)


@pytest.mark.parametrize("preset", ["sd15", "tiny"])
def test_sampler_follows_the_configured_windows_and_unconditional_pose(preset: str) -> None:
    cfg = load(None, [f"model.preset={preset}", "eval.sampling_steps=3"])
    model, n = _RecordingModel(), 40
    audio = torch.arange(float(n)).view(n, 1, 1)  # (F, L=1, D=1): each frame's audio is its index
    pose = torch.rand(n, 3, 16, 16)
    sample_clip(model, _FlatCodec(), make_scheduler(), torch.zeros(3, 16, 16), audio, pose, cfg.eval,
                torch.Generator().manual_seed(0))
    seen = [frames for frames, _, _ in model.calls]
    if preset == "sd15":  # the release: windows move every step, pose features zeroed after the encoder
        assert seen == _shifted(0) + _shifted(1) + _shifted(2)
        for frames, pose_in, pose_keep in model.calls:
            assert pose_keep.tolist() == [True, False]
            torch.testing.assert_close(pose_in[1], pose[frames])  # the encoder sees the pose; its output is zeroed
    else:
        fixed = [list(range(s, s + 12)) for s in (0, 9, 18, 27, 28)]
        assert seen == fixed * 3
        for frames, pose_in, pose_keep in model.calls:
            assert pose_keep is None and pose_in[1].abs().max() == 0 and torch.equal(pose_in[0], pose[frames])
