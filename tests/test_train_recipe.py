"""Training recipe options (docs/training_recipe.md): the training audio scale, min-SNR weighting,
noise offset, whole-batch unconditional steps, the two ancestor stages, and the HPA mask on the
PhD terms. Every reference is computed here from the formula, not by the harness's code."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

import harness.train.step as step_module
from harness.config_training import TrainConfig
from harness.config_load import load
from harness.data.audio_features import audio_feature_shape
from harness.model.build import build_model
from harness.train.apdh import apdh_phase_at
from harness.train.batches import TrainingBatches
from harness.train.checkpoint import load_checkpoint
from harness.train.conditions import build_conditions
from harness.config_training import PhdConfig
from harness.train.objective import add_noise, make_scheduler, min_snr_weights, sample_cfg_drops
from harness.train.phd import phd_loss
from harness.train.stages import apply_stage, last_up_block_prefix
from harness.train.step import compute_loss
from harness.train.trainer import step_generator, train
from tests.conftest import EXPERIMENTS

SMALL = ["data.synthetic.clips=3", "data.synthetic.portrait_clips=2", "data.frames=4", "data.synthetic.seconds=1.0", "train.batch_size=2"]
NO_PHD = [f"loss.phd.{t}.enabled=false" for t in ("pose", "detail", "low")]
OFF = ["model.apdh.enabled=false", "data.hpa.enabled=false", *NO_PHD]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One runs folder for the module: the synthetic clips are generated once."""
    return tmp_path_factory.mktemp("recipe")


def _cfg(runs, *overrides):
    return load(EXPERIMENTS / "base.yaml", [f"paths.runs={runs}", *SMALL, *overrides])


def _model(cfg):
    torch.manual_seed(cfg.train.seed)
    return build_model(cfg, audio_dim=audio_feature_shape(cfg.model.audio_encoder)[1])


def _loss(cfg, step=3, spy=None):
    """compute_loss of one step; spy(args, output) sees every model call."""
    model, codec = _model(cfg)
    if spy is not None:
        forward = model.forward

        def recorded(*args):
            out = forward(*args)
            spy(args, out)
            return out

        model.forward = recorded
    gen = step_generator(cfg.train.seed, step)
    cond = build_conditions(TrainingBatches(cfg).batch(step), apdh_phase_at(cfg.model.apdh, step, cfg.train.steps), cfg, gen)
    loss, logs = compute_loss(model, codec, make_scheduler(), cond, cfg, gen)
    return loss, logs, model, cond


# --------------------------------------------------------------------------- defaults


def test_defaults_are_off_and_zero_equals_off(runs):
    train_cfg = TrainConfig()
    assert (train_cfg.snr_gamma, train_cfg.noise_offset, train_cfg.uncond_batch_prob, train_cfg.stage) == (None, 0.0, 0.0, "joint")
    default, _, _, _ = _loss(_cfg(runs, *OFF))
    zeros, _, _, _ = _loss(_cfg(runs, *OFF, "train.snr_gamma=0", "train.noise_offset=0", "train.uncond_batch_prob=0", "train.stage=joint"))
    assert torch.equal(default, zeros)


# --------------------------------------------------------------------------- audio scale


def test_model_audio_attn_scale_is_used_in_training(runs):
    seen = []
    one, _, _, _ = _loss(_cfg(runs, *OFF), spy=lambda args, out: seen.append(args[7]))
    three, _, model, _ = _loss(_cfg(runs, *OFF, "model.audio_attn_scale=3.0"), spy=lambda args, out: seen.append(args[7]))
    assert seen == [1.0, 3.0] and model.state.audio_scale == 3.0  # the value reaches the attention state
    assert not torch.equal(one, three)


# --------------------------------------------------------------------------- min-SNR


def test_min_snr_weights_follow_the_formula():
    sched = make_scheduler()
    t = torch.tensor([0, 1, 100, 500, 900, 998, 999])
    alpha = sched.alphas_cumprod[t].double()
    snr = (alpha.sqrt() / (1 - alpha).sqrt()) ** 2 + 1  # v-prediction: SNR + 1
    for gamma in (1.0, 5.0, 1e6):
        expected = torch.minimum(snr, torch.full_like(snr, gamma)) / snr
        assert torch.allclose(min_snr_weights(sched, t, gamma).double(), expected, rtol=1e-6, atol=0)
    assert min_snr_weights(sched, torch.tensor([999]), 5.0).item() == 1.0  # zero terminal SNR: weight 1, finite


@pytest.mark.parametrize("hpa", [False, True])
def test_min_snr_loss_is_the_weighted_per_sample_mse(runs, hpa):
    extra = ["data.hpa.portrait_ratio=1.0"] if hpa else ["data.hpa.enabled=false"]
    cfg = _cfg(runs, "model.apdh.enabled=false", *NO_PHD, *extra, "train.snr_gamma=5.0")
    noised, calls = [], []
    original = step_module.add_noise
    step_module.add_noise = lambda *a: noised.append(original(*a)) or noised[-1]
    try:
        loss, _, _, cond = _loss(cfg, spy=lambda args, out: calls.append(out))
    finally:
        step_module.add_noise = original
    v_pred, target, t = calls[0].float(), noised[0].v_target.float(), noised[0].timesteps
    alpha = make_scheduler().alphas_cumprod[t].double()
    snr1 = alpha / (1 - alpha) + 1
    weight = (snr1.clamp(max=5.0) / snr1).float()
    squared = (v_pred - target) ** 2  # (B, C, F, h, w)
    if hpa:
        mask = torch.nn.functional.interpolate(cond.loss_mask, size=squared.shape[-2:], mode="area")[:, :, None]
        per_sample = torch.stack([(squared[i] * mask[i]).sum() / (mask[i].sum() * squared.shape[1] * squared.shape[2]) for i in range(len(t))])
    else:
        per_sample = torch.stack([squared[i].mean() for i in range(len(t))])
    assert torch.allclose(loss, (per_sample * weight).mean(), rtol=1e-5)


# --------------------------------------------------------------------------- noise offset


def test_noise_offset_adds_a_seeded_per_channel_constant():
    sched = make_scheduler()
    latents = torch.randn(3, 4, 5, 6, 6)
    out = add_noise(sched, latents, torch.Generator().manual_seed(7), noise_offset=0.1)
    g = torch.Generator().manual_seed(7)
    base = torch.randn(latents.shape, generator=g)
    offset = torch.randn(3, 4, generator=g)
    assert torch.equal(out.timesteps, torch.randint(0, 1000, (3,), generator=g))
    alpha = sched.alphas_cumprod[out.timesteps].view(3, 1, 1, 1, 1)
    noise = (1 - alpha).sqrt() * out.noisy + alpha.sqrt() * out.v_target  # eps recovered from (x_t, v)
    diff = noise - base  # (B, C, F, h, w): the offset, constant over frames and space
    assert torch.allclose(diff, (0.1 * offset)[:, :, None, None, None].expand_as(diff), atol=1e-5)
    plain = add_noise(sched, latents, torch.Generator().manual_seed(7))
    g = torch.Generator().manual_seed(7)
    torch.randn(latents.shape, generator=g)
    assert torch.equal(plain.timesteps, torch.randint(0, 1000, (3,), generator=g))  # offset 0 draws nothing


# --------------------------------------------------------------------------- whole-batch uncond


def test_whole_batch_uncond_drops_every_condition_at_its_rate():
    cfg = TrainConfig(drop_reference=0.0, drop_audio=0.0, drop_pose=0.0, drop_all=0.0, uncond_batch_prob=0.3)
    dropped = 0
    trials = 2000
    for seed in range(trials):
        drops = sample_cfg_drops(cfg, 4, torch.Generator().manual_seed(seed))
        keep = torch.stack([drops.reference, drops.audio, drops.pose])  # (3, B)
        assert bool(keep.all()) or not bool(keep.any())  # the whole batch, every condition, or nothing
        dropped += int(not keep.any())
    assert abs(dropped / trials - 0.3) < 4 * (0.3 * 0.7 / trials) ** 0.5
    # Seeded: the batch draw comes after the four per-sample draws.
    g = torch.Generator().manual_seed(11)
    torch.rand(4, 4, generator=g)
    expect_drop = bool(torch.rand(1, generator=g) < 0.3)
    drops = sample_cfg_drops(cfg, 4, torch.Generator().manual_seed(11))
    assert bool(drops.reference.any()) is not expect_drop


def test_whole_batch_uncond_reaches_the_model(runs):
    calls = []
    _loss(_cfg(runs, *OFF, "train.uncond_batch_prob=1.0"), spy=lambda args, out: calls.append(args))
    _, _, _, audio, pose, _, ref_keep, _, pose_keep = calls[0]
    assert not audio.any() and not pose.any() and not ref_keep.any() and pose_keep is None  # tiny: zero_image


def test_dropped_pose_trains_as_the_sampler_feeds_it(runs):
    # eval.uncond_pose=zero_features (sd15's default): a dropped pose keeps its image and its encoder
    # features are zeroed, as in the release's unconditional branch; zero_image blanks the image instead.
    drop = [*OFF, "train.drop_pose=1.0", "train.drop_reference=0", "train.drop_audio=0", "train.drop_all=0"]
    seen = []

    def spy(args, out):
        seen.append((args[4], args[8], model.denoising_unet.conv_in.pose_features.clone()))

    cfg = _cfg(runs, *drop, "eval.uncond_pose=zero_features")
    model, codec = _model(cfg)
    torch.nn.init.normal_(model.pose_encoder.out.weight)  # zero-initialised: make its output visible
    forward = model.forward
    model.forward = lambda *args: _spied(forward, spy, args)
    gen = step_generator(cfg.train.seed, 3)
    cond = build_conditions(TrainingBatches(cfg).batch(3), apdh_phase_at(cfg.model.apdh, 3, cfg.train.steps), cfg, gen)
    compute_loss(model, codec, make_scheduler(), cond, cfg, gen)
    pose, pose_keep, features = seen[0]
    assert pose.any() and not pose_keep.any() and not features.any()
    calls = []
    _loss(_cfg(runs, *drop, "eval.uncond_pose=zero_image"), spy=lambda args, out: calls.append(args))
    assert not calls[0][4].any() and calls[0][8] is None


def _spied(forward, spy, args):
    out = forward(*args)
    spy(args, out)
    return out


# --------------------------------------------------------------------------- stages


def test_last_up_block_is_up_blocks_3_on_sd15_shapes():
    assert last_up_block_prefix(SimpleNamespace(up_blocks=[None] * 4)) == "up_blocks.3."


def _trained_once(runs, stage):
    cfg = _cfg(runs, *OFF, "train.steps=1", f"train.stage={stage}", "train.weight_decay=0.1")
    before = {k: v.clone() for k, v in _model(cfg)[0].named_parameters()}
    result = train(cfg, runs / stage, progress=False)
    after = load_checkpoint(result.checkpoint)["model"]
    changed = {k for k, v in before.items() if not torch.equal(v, after[k])}
    return cfg, before, changed


@pytest.mark.slow  # one real training step (~20 s on 2 busy cores)
def test_stage_images_freezes_motion_modules_and_the_last_reference_up_block(runs):
    cfg, before, changed = _trained_once(runs, "images")
    model, _ = _model(cfg)
    apply_stage(model, "images")
    last = "reference_unet." + last_up_block_prefix(model.reference_unet)
    for name, param in model.named_parameters():
        frozen = "motion_modules" in name or name.startswith(last)
        assert param.requires_grad is not frozen, name
    assert not {k for k in changed if "motion_modules" in k or k.startswith(last)}
    assert any(k.startswith("denoising_unet.") for k in changed) and any(k.startswith("reference_unet.") for k in changed)
    # Single frames: the denoiser sees F = 1.
    frames = []
    _loss(cfg, spy=lambda args, out: frames.append(args[0].shape[2]))
    assert frames == [1]
    # With every switch on (APDH, HPA portraits, PhD on the single decoded frame) it still runs.
    loss, logs, _, _ = _loss(_cfg(runs, "train.stage=images", "data.hpa.portrait_ratio=0.5"))
    assert torch.isfinite(loss) and "loss_v" in logs


@pytest.mark.slow  # one real training step (~20 s on 2 busy cores)
def test_stage_motion_changes_only_motion_modules(runs):
    _, before, changed = _trained_once(runs, "motion")
    assert changed and all("motion_modules" in k for k in changed)
    assert {k for k in before if "motion_modules" in k} >= changed


# --------------------------------------------------------------------------- HPA mask on PhD


def _phd_rows(seed=0):
    g = torch.Generator().manual_seed(seed)
    pred = (torch.rand(3, 3, 24, 24, generator=g) * 2 - 1).requires_grad_(True)
    target = torch.rand(3, 3, 24, 24, generator=g) * 2 - 1
    valid = torch.ones(3, 1, 24, 24)
    valid[:, :, :, :9] = 0  # a padded left strip on every row
    keypoints = torch.zeros(3, 133, 3)  # no confident keypoint: L_pose is a plain MSE
    boxes = torch.tensor([[0.4, 0.4, 0.6, 0.6]]).repeat(3, 1)
    return pred, target, valid, keypoints, boxes


def test_phd_terms_ignore_the_padding():
    pred, target, valid, keypoints, boxes = _phd_rows()
    bands = torch.tensor([0, 1, 2])  # one row per term
    cfg = PhdConfig()
    total, values = phd_loss(pred, target, bands, keypoints, boxes, cfg, valid)
    total.backward()
    assert pred.grad[:, :, :, :9].abs().sum() == 0 and pred.grad[:, :, :, 9:].abs().sum() > 0
    changed = pred.detach().clone()
    changed[:, :, :, :9] = torch.randn(3, 3, 24, 9) * 5  # anything at all in the padding
    total2, values2 = phd_loss(changed, target, bands, keypoints, boxes, cfg, valid)
    assert torch.equal(total.detach(), total2) and values == values2
    _, unmasked = phd_loss(changed, target, bands, keypoints, boxes, cfg)
    assert unmasked["pose"] != values["pose"]  # without the mask the padding would count
    # L_pose with no keypoints: the mean squared error over the unpadded pixels of row 0.
    err = ((pred[0] - target[0]) ** 2)[:, :, 9:]
    assert values["pose"] == pytest.approx(err.mean().item(), rel=1e-5)


def test_all_ones_mask_changes_nothing():
    pred, target, _, keypoints, boxes = _phd_rows(1)
    bands = torch.tensor([0, 1, 2])
    masked, _ = phd_loss(pred, target, bands, keypoints, boxes, PhdConfig(), torch.ones(3, 1, 24, 24))
    plain, _ = phd_loss(pred, target, bands, keypoints, boxes, PhdConfig())
    assert torch.equal(masked, plain)


def test_compute_loss_hands_the_loss_mask_to_the_phd_terms(runs):
    cfg = _cfg(runs, "model.apdh.enabled=false", "data.hpa.portrait_ratio=1.0")
    seen = []
    original = step_module.phd_loss
    step_module.phd_loss = lambda *a: seen.append(a) or original(*a)
    try:
        _, _, _, cond = _loss(cfg)
    finally:
        step_module.phd_loss = original
    n = min(cfg.loss.phd.decode_frames, cfg.data.frames)
    assert torch.equal(seen[0][-1], cond.loss_mask.repeat_interleave(n, dim=0)) and seen[0][-1].mean() < 1
