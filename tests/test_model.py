"""EchoMimicV2 network: shapes, zero-init pose path, reference and audio wiring, presets."""

from __future__ import annotations

import pytest
import torch

from harness.config import ExperimentConfig
from harness.config_load import load_dict
from harness.errors import HarnessError
from harness.model.build import build_model
from harness.model.codec import SpaceToDepthCodec
from harness.train.context_windows import fixed_windows as context_windows

B, F, S, L, D = 2, 4, 64, 10, 80


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    model, codec = build_model(ExperimentConfig(), audio_dim=D)
    return model.eval(), codec


def _inputs(seed=0):
    g = torch.Generator().manual_seed(seed)
    noisy = torch.randn(B, 48, F, S // 4, S // 4, generator=g)
    ref = torch.randn(B, 48, S // 4, S // 4, generator=g)
    audio = torch.randn(B, F, L, D, generator=g)
    pose = torch.rand(B, F, 3, S, S, generator=g)
    return noisy, torch.tensor([10, 700]), ref, audio, pose


def test_output_shape_and_bank(tiny):
    model, _ = tiny
    noisy, t, ref, audio, pose = _inputs()
    with torch.no_grad():
        v = model(noisy, t, ref, audio, pose)
    assert v.shape == noisy.shape and torch.isfinite(v).all()
    n_readers = sum(name.endswith("attn1.processor") and "motion" not in name for name in model.denoising_unet.attn_processors)
    assert len(model.state.bank) == n_readers > 0  # every reader found its block's bank


def test_pose_encoder_starts_at_zero(tiny):
    model, _ = tiny
    noisy, t, ref, audio, pose = _inputs()
    with torch.no_grad():
        a = model(noisy, t, ref, audio, pose)
        b = model(noisy, t, ref, audio, torch.zeros_like(pose))
    assert torch.equal(a, b)


def test_zero_audio_mask_removes_audio_and_full_mask_equals_none(tiny):
    model, _ = tiny
    noisy, t, ref, audio, pose = _inputs()
    zeros, ones = torch.zeros(B, F, 1, S, S), torch.ones(B, F, 1, S, S)
    with torch.no_grad():
        masked_a = model(noisy, t, ref, audio, pose, zeros)
        masked_b = model(noisy, t, ref, torch.randn_like(audio), pose, zeros)
        unmasked = model(noisy, t, ref, audio, pose, None)
        full = model(noisy, t, ref, audio, pose, ones)
        other_audio = model(noisy, t, ref, torch.randn_like(audio), pose, None)
    assert torch.equal(masked_a, masked_b)
    assert torch.allclose(unmasked, full, atol=1e-6)
    assert not torch.allclose(unmasked, other_audio)


def test_dropped_reference_ignores_reference_content(tiny):
    model, _ = tiny
    noisy, t, ref, audio, pose = _inputs()
    keep = torch.tensor([True, False])  # sample 1's reference is dropped
    with torch.no_grad():
        a = model(noisy, t, ref, audio, pose, None, keep)
        b = model(noisy, t, torch.randn_like(ref), audio, pose, None, keep)
        kept = model(noisy, t, torch.randn_like(ref), audio, pose, None, torch.tensor([True, True]))
    assert not torch.allclose(a[0], b[0])  # sample 0 keeps its (changed) reference
    assert torch.equal(a[1], b[1])  # sample 1 dropped it: reference content has no effect
    assert not torch.allclose(kept[1], b[1])


def test_bank_reuse_equals_recompute(tiny):
    model, _ = tiny
    noisy, t, ref, audio, pose = _inputs()
    with torch.no_grad():
        first = model(noisy, t, ref, audio, pose)
        again = model(noisy, t, None, audio, pose)
    assert torch.equal(first, again)


def test_gradients_reach_every_trainable_part(tiny):
    model, _ = tiny
    model.train()
    noisy, t, ref, audio, pose = _inputs()
    model.zero_grad()
    model(noisy, t, ref, audio, pose).square().mean().backward()
    for part in (model.reference_unet, model.denoising_unet, model.pose_encoder.out):
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in part.parameters())
    model.eval()


def test_space_to_depth_codec_is_lossless():
    codec = SpaceToDepthCodec(4)
    x = torch.rand(3, 3, 32, 48) * 2 - 1
    assert torch.equal(codec.decode(codec.encode(x)), x)


def test_context_windows_cover_with_overlap():
    assert context_windows(8, 12, 3) == [list(range(8))]
    windows = context_windows(30, 12, 3)
    assert windows[0][0] == 0 and windows[-1][-1] == 29 and all(len(w) == 12 for w in windows)
    assert len(set(windows[0]) & set(windows[1])) == 3


def test_sd15_without_weights_is_a_clear_error():
    cfg = load_dict({"model": {"preset": "sd15"}, "data": {"size": 64}})
    with pytest.raises(HarnessError, match="model.pretrained_dir: sd15 needs a local weights folder"):
        build_model(cfg, audio_dim=384)


@pytest.mark.slow
def test_sd15_builds_with_random_init_and_runs_a_step():
    """The paper's shapes (SD-1.5 UNets, VAE) at 64x64, 2 frames: one forward and backward on CPU."""
    cfg = load_dict({"model": {"preset": "sd15", "allow_random_init": True}, "data": {"size": 64}, "train": {"gradient_checkpointing": True}})
    model, codec = build_model(cfg, audio_dim=384)
    assert model.denoising_unet.config.block_out_channels == (320, 640, 1280, 1280)
    model.reference_unet.requires_grad_(False)  # keep CPU memory modest: grads for the denoiser only
    with torch.no_grad():
        frames = torch.rand(1, 2, 3, 64, 64) * 2 - 1
        lat = codec.encode(frames.flatten(0, 1)).unflatten(0, (1, 2)).permute(0, 2, 1, 3, 4)  # (1, 4, 2, 8, 8)
        ref = codec.encode(frames[:, 0])
    v = model(lat, torch.tensor([500]), ref, torch.randn(1, 2, 50, 384), torch.rand(1, 2, 3, 64, 64))
    assert v.shape == lat.shape
    v.square().mean().backward()
    assert model.denoising_unet.conv_in.conv.weight.grad is not None
