"""Motion modules start right: zero output projections (the untrained denoiser equals its 2D UNet
frame by frame), or an AnimateDiff motion-adapter file loaded through diffusers' converter."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch
from diffusers import MotionAdapter

from harness.config_load import load_dict
from harness.errors import HarnessError
from harness.model.build import build_model, fresh_unets, motion_denoiser
from harness.model.motion_init import motion_modules
from harness.model.presets import SD15, TINY, ModelPreset

# The sd15 preset's block types and depth at small widths: same code path, seconds on a CPU.
SMALL_SD15 = ModelPreset(name="sd15_small", block_out_channels=(32, 32, 64, 64), layers_per_block=2, attention_heads=2,
                         motion_heads=2, norm_num_groups=8, pose_widths=(8, 16, 32, 32), codec="vae", latent_factor=8)
B, F, C, S, L, D = 2, 2, 4, 8, 5, 24


def _small_unet2d(seed: int = 0):
    torch.manual_seed(seed)
    unet2d, _ = fresh_unets(SMALL_SD15, C, D, S)
    return unet2d.eval()


def _inputs():
    g = torch.Generator().manual_seed(1)
    return torch.randn(B, C, F, S, S, generator=g), torch.tensor([10, 900]), torch.randn(B * F, L, D, generator=g)


@torch.no_grad()
def _per_frame_2d(unet2d, x, t, context):
    """The 2D UNet on every frame: (B, C, F, h, w) -> (B*F, C, h, w) frames, b-major, t per frame."""
    frames = x.permute(0, 2, 1, 3, 4).reshape(B * F, C, S, S)
    out = unet2d(frames, t.repeat_interleave(F), encoder_hidden_states=context).sample
    return out.reshape(B, F, C, S, S).permute(0, 2, 1, 3, 4)


def test_sd15_blocks_match_the_small_stand_in():
    assert SMALL_SD15.down_block_types(True) == SD15.down_block_types(True)
    assert SMALL_SD15.up_block_types(True) == SD15.up_block_types(True)
    assert SMALL_SD15.layers_per_block == SD15.layers_per_block


def test_untrained_denoiser_equals_its_2d_unet_frame_by_frame():
    """In float64, so that the only float32 difference (the motion UNet embeds the timestep once
    per clip, the 2D UNet once per frame: GEMMs of other sizes round differently, ~1e-6) vanishes."""
    unet2d = _small_unet2d().double()
    denoiser = motion_denoiser(unet2d, None).eval()
    found = motion_modules(denoiser)
    assert len(found) == 21  # 4 down blocks x 2 + mid + 4 up blocks x 3, as in sd15
    assert all(m.proj_out.weight.abs().max() == 0 and m.proj_out.bias.abs().max() == 0 for _, m in found)
    assert all(m.proj_in.weight.abs().max() > 0 for _, m in found)  # the rest of each module is random
    x, t, context = (v.double() if v.is_floating_point() else v for v in _inputs())
    with torch.no_grad():
        motion = denoiser(x, t, encoder_hidden_states=context).sample
    reference = _per_frame_2d(unet2d, x, t, context)
    assert (motion - reference).abs().max() < 1e-12 * reference.abs().max()


def test_zero_output_motion_modules_are_exact_identities():
    """float32: the zero-start denoiser equals, bit for bit, the same denoiser with its motion modules removed."""
    unet2d = _small_unet2d()
    denoiser = motion_denoiser(unet2d, None).eval()
    x, t, context = _inputs()
    with torch.no_grad():
        motion = denoiser(x, t, encoder_hidden_states=context).sample
        for _, module in motion_modules(denoiser):
            module.forward = lambda hidden_states, *args, **kwargs: hidden_states
        without = denoiser(x, t, encoder_hidden_states=context).sample
    assert torch.equal(motion, without)


def test_a_nonzero_output_projection_breaks_the_equality():
    """The comparison above can fail: the old start (random proj_out) gives another result."""
    unet2d = _small_unet2d()
    denoiser = motion_denoiser(unet2d, None).eval()
    torch.manual_seed(3)
    for _, module in motion_modules(denoiser):
        torch.nn.init.normal_(module.proj_out.weight, std=0.05)
    x, t, context = _inputs()
    with torch.no_grad():
        motion = denoiser(x, t, encoder_hidden_states=context).sample
    assert (motion - _per_frame_2d(unet2d, x, t, context)).abs().max() > 1e-3


def test_tiny_preset_starts_with_zero_motion_outputs():
    model, _ = build_model(load_dict({}), audio_dim=80)
    found = motion_modules(model.denoising_unet)
    assert found and all(m.proj_out.weight.abs().max() == 0 for _, m in found)


# --------------------------------------------------------------------------- AnimateDiff adapter files


def _original_name(key: str) -> list[str]:
    """diffusers motion-module name -> the original AnimateDiff name(s), written out independently."""
    head, sep, rest = key.partition(".motion_modules.")
    index, _, tail = rest.partition(".")
    prefix = f"{head}{sep}{index}.temporal_transformer."
    if tail.endswith("pos_embed.pe"):  # diffusers keeps one table per block, AnimateDiff one per attention
        block = tail.removesuffix("pos_embed.pe")
        return [f"{prefix}{block}attention_blocks.{i}.pos_encoder.pe" for i in (0, 1)]
    for new, old in ((".attn1.", ".attention_blocks.0."), (".attn2.", ".attention_blocks.1."), (".norm1.", ".norms.0."),
                     (".norm2.", ".norms.1."), (".norm3.", ".ff_norm.")):
        tail = tail.replace(new, old)
    return [prefix + tail]


def _write_adapter(path: Path, preset: ModelPreset, seed: int = 0, drop_mid: bool = False) -> dict[str, torch.Tensor]:
    """A random AnimateDiff file in the original layout from a diffusers MotionAdapter; returns its
    diffusers state dict (random values everywhere, proj_out included)."""
    torch.manual_seed(seed)
    adapter = MotionAdapter(block_out_channels=preset.block_out_channels, motion_layers_per_block=preset.layers_per_block,
                            motion_norm_num_groups=preset.norm_num_groups, motion_num_attention_heads=preset.motion_heads)
    state = {k: torch.randn_like(v) if not k.endswith("pos_embed.pe") else v for k, v in adapter.state_dict().items()}
    original = {old: v for k, v in state.items() for old in _original_name(k) if not (drop_mid and k.startswith("mid_block."))}
    torch.save(original, path)
    return state


def test_adapter_file_fills_every_motion_module(tmp_path: Path):
    state = _write_adapter(tmp_path / "mm.ckpt", SMALL_SD15)
    unet2d = _small_unet2d()
    denoiser = motion_denoiser(unet2d, tmp_path / "mm.ckpt")
    loaded = denoiser.state_dict()
    motion_keys = [k for k in loaded if ".motion_modules." in k]
    assert len(motion_keys) == len(state)
    for key in motion_keys:  # diffusers names on both sides: the file went through the original names
        assert torch.equal(loaded[key], state[key]), key
    assert torch.equal(loaded["down_blocks.0.resnets.0.conv1.weight"], unet2d.state_dict()["down_blocks.0.resnets.0.conv1.weight"])


def test_adapter_from_the_config_reaches_the_built_model(tmp_path: Path):
    state = _write_adapter(tmp_path / "mm_tiny.ckpt", TINY, seed=5)
    cfg = load_dict({"model": {"motion_adapter": str(tmp_path / "mm_tiny.ckpt")}})
    model, _ = build_model(cfg, audio_dim=80)
    key = "up_blocks.1.motion_modules.1.proj_out.weight"
    assert torch.equal(model.denoising_unet.state_dict()[key], state[key])


@pytest.mark.parametrize("problem, message", [
    ("v1", "missing key 'mid_block.motion_modules.0."),
    ("shape", "has shape"),
    ("foreign", "unexpected key 'vae.decoder.weight'"),
    ("absent", "no such file"),
    ("garbage", "not a PyTorch checkpoint"),
])
def test_adapter_mistakes_are_one_line_errors(tmp_path: Path, problem: str, message: str):
    path = tmp_path / "mm.ckpt"
    if problem == "v1":
        _write_adapter(path, SMALL_SD15, drop_mid=True)
    elif problem == "shape":
        _write_adapter(path, replace(SMALL_SD15, block_out_channels=(32, 32, 64, 128)))  # the deepest blocks wider
    elif problem == "foreign":
        _write_adapter(path, SMALL_SD15)
        torch.save({**torch.load(path, weights_only=True), "vae.decoder.weight": torch.zeros(2)}, path)
    elif problem == "garbage":
        path.write_bytes(b"not a checkpoint")
    with pytest.raises(HarnessError, match="model.motion_adapter") as info:
        motion_denoiser(_small_unet2d(), path)
    assert message in str(info.value) and "\n" not in str(info.value)
