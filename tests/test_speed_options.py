"""Speed and memory options (harness/model/speed.py, train.* and loss.phd.decode_checkpointing): each gives
the plain path's loss and gradients within the tolerance stated below, on a reduced-width sd15-shaped
network (VAE codec, motion modules, reference bank, masked audio) with fixed seeds, fp32 on CPU.

Tolerances (relative: max over tensors of |a - b| / |b| in the L2 norm):
    SDPA vs manual attention             1e-5  (same math, another summation order; measured 3.5e-6)
    gradient checkpointing (UNets,       1e-6  (the same kernels recomputed; measured 0)
      motion modules)
    decode checkpointing                 1e-5  (frames decoded one at a time: convolutions of batch 1 sum
                                               in another order than of batch 2; measured 1.7e-6)
    channels-last                        5e-5  (NHWC convolutions sum in another order; measured 9e-6)
    fused vs foreach AdamW               parameters after 3 steps on the same gradients: rtol 1e-6 + atol 1e-8
    8-bit vs fp32 AdamW moments          first step rtol 1e-6 (moments start at 0 in fp32); the updates of 5
                                         steps: relative L2 1.5e-2, cosine >= 0.9998 (measured 9.4e-3, 0.99992;
                                         a root-v grid of 4 codes an octave instead of 16 gives 1.65e-2)
    torch.compile (dynamo capture)       1e-5
    bf16 autocast vs fp32                loss 1e-2, every gradient 0.25, cosine >= 0.999 over all of them
                                         (measured 1e-3, 0.0996 for the worst tensor, 0.99996)
"""

from __future__ import annotations

import pytest
import torch
from diffusers import AutoencoderKL

from harness.config_load import load, load_dict
from harness.model.build import assemble, fresh_unets
from harness.model.codec import VaeCodec
from harness.model.presets import ModelPreset
from harness.model.speed import CheckpointedMotionModule, apply_speed_options, compile_unets
from harness.train.conditions import Conditions
from harness.train.adamw8bit import state_bytes
from harness.train.objective import make_scheduler
from harness.train.step import make_optimizer, training_step

B, F, S, L, D = 2, 4, 32, 5, 16
# sd15's layout (VAE codec, cross-attention down/up blocks, motion modules, mid block) at toy widths.
SMALL_SD15 = ModelPreset(name="small_sd15", block_out_channels=(16, 32), layers_per_block=1, attention_heads=2,
                         motion_heads=2, norm_num_groups=8, pose_widths=(8, 16, 32), codec="vae", latent_factor=4)
PLAIN = {"train": {"attention": "manual", "drop_reference": 0.5, "drop_audio": 0.0, "drop_pose": 0.0, "drop_all": 0.0},
         "data": {"size": S, "frames": F}}


def _config(**train_options):
    raw = {**PLAIN, "train": {**PLAIN["train"], **train_options}}
    phd = {key: raw["train"].pop(key) for key in ("decode_checkpointing", "decode_block_checkpointing") if key in raw["train"]}
    if phd:
        raw["loss"] = {"phd": phd}
    return load_dict(raw)


def _network(cfg):
    """(model, codec) of SMALL_SD15, seeded; every part starts non-zero so every gradient is tested."""
    torch.manual_seed(0)
    vae = AutoencoderKL(block_out_channels=(8, 16, 16), down_block_types=("DownEncoderBlock2D",) * 3,
                        up_block_types=("UpDecoderBlock2D",) * 3, layers_per_block=1, norm_num_groups=4,
                        latent_channels=4, sample_size=S)
    reference, denoiser = fresh_unets(SMALL_SD15, 4, D, S // 4)
    model = assemble(SMALL_SD15, reference, denoiser, "per_frame")
    torch.nn.init.normal_(model.pose_encoder.out.weight, std=0.02)  # zero-initialised in the real network
    codec = VaeCodec(vae)
    apply_speed_options(model, codec, cfg.train, cfg.loss.phd.decode_block_checkpointing)
    return model.train(), codec


def _conditions() -> Conditions:
    g = torch.Generator().manual_seed(1)
    mask = torch.zeros(B, F, 1, S, S)
    mask[..., 8:24, 4:20] = 1.0  # APDH: audio writes inside a box only
    keypoints = torch.rand(B, F, 133, 3, generator=g)
    return Conditions(frames=torch.rand(B, F, 3, S, S, generator=g) * 2 - 1, reference=torch.rand(B, 3, S, S, generator=g) * 2 - 1,
                      audio=torch.randn(B, F, L, D, generator=g), pose=torch.rand(B, F, 3, S, S, generator=g),
                      audio_mask=mask, loss_mask=None, keypoints=keypoints,
                      lips_boxes=torch.tensor([0.3, 0.5, 0.7, 0.7]).expand(B, F, 4).clone())


def _loss_and_grads(cfg, model=None, codec=None, seed: int = 2) -> tuple[float, dict[str, torch.Tensor]]:
    """One training_step with a zero-lr SGD: the trainer's own autocast/loss/backward; the gradients stay."""
    if model is None:
        model, codec = _network(cfg)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    logs = training_step(model, codec, make_scheduler(), optimizer, _conditions(), cfg, torch.Generator().manual_seed(seed))
    grads = {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}
    return logs["loss"], grads


def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.float() - b.float()).norm() / b.float().norm().clamp_min(1e-30))


def _assert_close(got, want, tol: float) -> None:
    loss, grads = got
    ref_loss, ref_grads = want
    assert abs(loss - ref_loss) <= tol * abs(ref_loss), (loss, ref_loss)
    for name in grads.keys() | ref_grads.keys():  # no gradient (None) and an all-zero one are the same
        grads.setdefault(name, torch.zeros_like(ref_grads.get(name, grads.get(name))))
        ref_grads.setdefault(name, torch.zeros_like(grads[name]))
        if ref_grads[name].norm() == 0:
            assert grads[name].norm() == 0, name
    worst = max(grads, key=lambda n: _relative(grads[n], ref_grads[n]) if ref_grads[n].norm() > 0 else 0.0)
    assert _relative(grads[worst], ref_grads[worst]) <= tol, (worst, _relative(grads[worst], ref_grads[worst]))


@pytest.fixture(scope="module")
def plain():
    """The plain path: manual attention, no checkpointing, fp32, contiguous, eager."""
    cfg = _config()
    result = _loss_and_grads(cfg)
    assert result[1]["denoising_unet.down_blocks.0.motion_modules.0.proj_out.weight"].norm() > 0
    assert any("pose_encoder" in n and g.norm() > 0 for n, g in result[1].items())
    return result


def test_the_phd_decode_and_a_dropped_reference_are_on_the_tested_path():
    """The comparisons below cover the VAE decode of the PhD term and the masked reference attention."""
    cfg = _config()
    model, codec = _network(cfg)
    logs = training_step(model, codec, make_scheduler(), torch.optim.SGD(model.parameters(), lr=0.0), _conditions(), cfg,
                         torch.Generator().manual_seed(2))
    assert logs.get("total", 0.0) > 0  # a PhD term ran on decoded frames
    assert not bool(model.state.ref_keep.all())  # one sample's reference dropped: the boolean-mask kernel ran


def test_sdpa_equals_manual_attention(plain):
    _assert_close(_loss_and_grads(_config(attention="sdpa")), plain, 1e-5)


def test_sdpa_equals_manual_with_a_dropped_reference_and_an_audio_mask():
    """The masked kernels directly: one sample's reference dropped (boolean mask), audio masked."""
    outputs = []
    for kind in ("manual", "sdpa"):
        model, _ = _network(_config(attention=kind))
        c = _conditions()
        noisy = torch.randn(B, 4, F, S // 4, S // 4, generator=torch.Generator().manual_seed(3))
        v = model(noisy, torch.tensor([100, 900]), torch.randn(B, 4, S // 4, S // 4), c.audio, c.pose, c.audio_mask,
                  torch.tensor([True, False]))
        v.square().mean().backward()
        outputs.append((v.detach(), model.denoising_unet.conv_in.conv.weight.grad.clone()))
    assert _relative(outputs[1][0], outputs[0][0]) <= 1e-5
    assert _relative(outputs[1][1], outputs[0][1]) <= 1e-5


def test_gradient_checkpointing_equals_plain_and_recomputes_the_motion_modules(plain):
    cfg = _config(gradient_checkpointing=True)
    model, codec = _network(cfg)
    swapped = [m for m in model.denoising_unet.modules() if isinstance(m, CheckpointedMotionModule)]
    assert len(swapped) == 6  # 2 down blocks x 1 + 2 up blocks x 2 (the mid block's: diffusers checkpoints them)
    calls = []
    swapped[0].proj_in.register_forward_hook(lambda *_: calls.append(1))
    _assert_close(_loss_and_grads(cfg, model, codec), plain, 1e-6)
    assert len(calls) == 2  # forward, then recomputed in backward


def test_decode_checkpointing_equals_plain(plain):
    _assert_close(_loss_and_grads(_config(decode_checkpointing=True)), plain, 1e-5)


def test_decoder_block_checkpointing_equals_plain(plain):
    """loss.phd.decode_block_checkpointing inside the per-frame checkpoint: two levels of recomputation."""
    cfg = _config(decode_checkpointing=True, decode_block_checkpointing=True)
    model, codec = _network(cfg)
    assert codec.vae.decoder.gradient_checkpointing
    _assert_close(_loss_and_grads(cfg, model, codec), plain, 1e-5)


def test_encoding_one_frame_per_call_equals_plain(plain):
    """train.encode_frames_per_call: frames encoded in several calls give the latents of one call."""
    _assert_close(_loss_and_grads(_config(encode_frames_per_call=1)), plain, 1e-5)


def test_channels_last_equals_plain(plain):
    cfg = _config(channels_last=True)
    model, codec = _network(cfg)
    assert model.denoising_unet.conv_in.conv.weight.is_contiguous(memory_format=torch.channels_last)
    _assert_close(_loss_and_grads(cfg, model, codec), plain, 5e-5)


def test_bf16_autocast_is_close_to_fp32(plain):
    loss, grads = _loss_and_grads(_config(mixed_precision="bf16"))
    ref_loss, ref_grads = plain
    assert abs(loss - ref_loss) <= 1e-2 * abs(ref_loss)
    names = [n for n in grads if ref_grads[n].norm() > 0]
    assert max(_relative(grads[n], ref_grads[n]) for n in names) <= 0.25
    flat, ref_flat = (torch.cat([g[n].flatten().float() for n in names]) for g in (grads, ref_grads))
    assert torch.nn.functional.cosine_similarity(flat, ref_flat, dim=0) >= 0.999


def test_fused_adamw_equals_foreach_adamw(plain):
    """Both optimisers on the same gradients for 3 steps (through the network, Adam's division by sqrt(v)
    would turn the first step's rounding into different gradients of near-zero entries)."""
    _, grads = plain
    params = {}
    for choice in ("adamw", "adamw_fused"):
        cfg = _config(optimizer=choice)
        model, _ = _network(cfg)
        optimizer = make_optimizer(model, cfg)
        assert optimizer.defaults["fused"] is (True if choice == "adamw_fused" else None)
        for step in range(3):
            for name, p in model.named_parameters():
                p.grad = grads[name] * (1.0 + step) if name in grads else None
            optimizer.step()
        params[choice] = {n: p.detach().clone() for n, p in model.named_parameters()}
    start = dict(_network(_config())[0].named_parameters())
    assert sum(not torch.equal(p, start[n]) for n, p in params["adamw"].items()) > 0.9 * len(start)  # they moved
    for name, value in params["adamw"].items():  # updates are ~3e-4 (lr 1e-4, 3 steps): atol is 3e-5 of one
        torch.testing.assert_close(params["adamw_fused"][name], value, rtol=1e-6, atol=1e-8)


def _updates_after(choice: str, grads: dict, steps: int) -> tuple[dict, torch.optim.Optimizer]:
    """Parameter changes after `steps` steps of train.optimizer=choice on the given gradients, scaled by step."""
    cfg = _config(optimizer=choice)
    model, _ = _network(cfg)
    start = {n: p.detach().clone() for n, p in model.named_parameters()}
    optimizer = make_optimizer(model, cfg)
    for step in range(steps):
        for name, p in model.named_parameters():
            p.grad = grads[name] * (1.0 + step) if name in grads else None
        optimizer.step()
    return {n: p.detach() - start[n] for n, p in model.named_parameters()}, optimizer


def test_8bit_adamw_is_close_to_adamw(plain):
    """train.optimizer=adamw_8bit (harness/train/adamw8bit.py) against adamw on the same gradients."""
    _, grads = plain
    first, _ = _updates_after("adamw_8bit", grads, 1)
    for name, want in _updates_after("adamw", grads, 1)[0].items():
        torch.testing.assert_close(first[name], want, rtol=1e-6, atol=1e-9)
    got, eight_bit = _updates_after("adamw_8bit", grads, 5)
    want, fp32 = _updates_after("adamw", grads, 5)
    quantized = [p for p, s in eight_bit.state.items() if "m_codes" in s]  # tensors of >= 4096 values
    assert sum(p.numel() for p in quantized) > 0.6 * sum(p.numel() for p in eight_bit.state)
    held = sum(t.numel() * t.element_size() for p in quantized for t in eight_bit.state[p].values() if torch.is_tensor(t))
    assert held <= 0.26 * 8 * sum(p.numel() for p in quantized)  # 2.03 bytes a value for both moments, not 8
    flat, ref_flat = (torch.cat([u[n].flatten() for n in sorted(u)]) for u in (got, want))
    print(f"8-bit AdamW: relative L2 {_relative(flat, ref_flat):.2e}, "
          f"cosine {torch.nn.functional.cosine_similarity(flat, ref_flat, dim=0):.6f}, "
          f"state {state_bytes(eight_bit)} of {state_bytes(fp32)} bytes")
    assert _relative(flat, ref_flat) <= 1.5e-2
    assert torch.nn.functional.cosine_similarity(flat, ref_flat, dim=0) >= 0.9998


@pytest.mark.slow
def test_compiled_unets_equal_eager(plain):
    """torch.compile's graph capture holds through the custom processors (backend 'eager': dynamo only;
    inductor's C++ codegen takes minutes on 2 cores, aot_eager ~100 s; measured 45 s for this at load 7)."""
    cfg = _config()
    model, codec = _network(cfg)
    compile_unets(model, backend="eager")
    _assert_close(_loss_and_grads(cfg, model, codec), plain, 1e-5)


def test_sd15_defaults_are_the_fast_choices_and_tiny_keeps_the_plain_path_but_fused_adamw():
    sd15 = load(None, ["model.preset=sd15"])
    t = sd15.train
    assert (t.mixed_precision, t.gradient_checkpointing, t.optimizer, t.attention) == ("bf16", True, "adamw_fused", "sdpa")
    assert sd15.loss.phd.decode_checkpointing and not t.channels_last and not t.compile and t.encode_frames_per_call == 4
    assert t.latent_cache
    tiny = load(None, [])
    t = tiny.train
    assert (t.mixed_precision, t.gradient_checkpointing, t.optimizer, t.attention) == ("no", False, "adamw_fused", "sdpa")
    assert load(None, ["train.optimizer=adamw"]).train.optimizer == "adamw"  # a config's own choice stays
    assert not tiny.loss.phd.decode_checkpointing and t.encode_frames_per_call == 0 and not t.latent_cache
    own = load(None, ["model.preset=sd15", "train.mixed_precision='no'", "loss.phd.decode_checkpointing=false"])
    assert own.train.mixed_precision == "no" and not own.loss.phd.decode_checkpointing and own.train.gradient_checkpointing


def test_build_model_applies_the_configured_options():
    """The trainer's and sampler's build_model goes through apply_speed_options."""
    from harness.model.build import build_model

    cfg = load(None, ["train.gradient_checkpointing=true", "train.attention=manual", "train.channels_last=true"])
    model, _ = build_model(cfg, audio_dim=80)
    assert any(isinstance(m, CheckpointedMotionModule) for m in model.denoising_unet.modules())
    assert model.state.sdpa is False and model.reference_unet.is_gradient_checkpointing
    assert model.denoising_unet.conv_in.conv.weight.is_contiguous(memory_format=torch.channels_last)
    plain, _ = build_model(load(None, []), audio_dim=80)
    assert not any(isinstance(m, CheckpointedMotionModule) for m in plain.denoising_unet.modules())
    assert plain.state.sdpa is True and not plain.reference_unet.is_gradient_checkpointing
