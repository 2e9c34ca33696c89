"""Diffusion objective (docs/method.md, "Objective and sampling"): v-prediction on a
zero-terminal-SNR, trailing-spaced DDIM schedule, plus classifier-free-guidance dropout."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from diffusers import DDIMScheduler

from harness.config_training import TrainConfig

NUM_TRAIN_TIMESTEPS = 1000


def make_scheduler() -> DDIMScheduler:
    """The release's scheduler: linear betas 0.00085..0.012, v-prediction, zero SNR, trailing."""
    return DDIMScheduler(
        num_train_timesteps=NUM_TRAIN_TIMESTEPS,
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="linear",
        prediction_type="v_prediction",
        rescale_betas_zero_snr=True,
        timestep_spacing="trailing",
        clip_sample=False,
        set_alpha_to_one=True,
        steps_offset=0,
    )


@dataclass
class NoisedBatch:
    """x_t, its timesteps and the v target for latents x0 (B, C, F, h, w)."""

    noisy: torch.Tensor
    timesteps: torch.Tensor  # (B,) long in [0, T)
    v_target: torch.Tensor


def add_noise(
    scheduler: DDIMScheduler, latents: torch.Tensor, generator: torch.Generator, noise_offset: float = 0.0,
    min_timestep: int = 0,
) -> NoisedBatch:
    """Sample t ~ U{0..T-1} and noise per sample; v = sqrt(a) eps - sqrt(1-a) x0.

    noise_offset > 0 adds ``noise_offset * N(0, 1)`` per sample and channel, constant over
    frames and space (ancestor: train_stage_1.py / train_stage_2.py, ``cfg.noise_offset``),
    drawn right after the noise; 0 draws nothing, so the random stream is unchanged.
    min_timestep > 0 draws t ~ U{min_timestep..T-1} (issue 13: a few-step CPU sampler only visits
    the noisiest timesteps; 0 is the paper's uniform draw, with the same random stream).
    """
    b = latents.shape[0]
    noise = torch.randn(latents.shape, generator=generator, dtype=latents.dtype).to(latents.device)
    if noise_offset > 0:
        offset_shape = latents.shape[:2] + (1,) * (latents.ndim - 2)  # (B, C, 1, 1, 1)
        offset = torch.randn(offset_shape, generator=generator, dtype=latents.dtype).to(latents.device)
        noise = noise + noise_offset * offset
    t = torch.randint(min_timestep, NUM_TRAIN_TIMESTEPS, (b,), generator=generator).to(latents.device)
    noisy = scheduler.add_noise(latents, noise, t)
    return NoisedBatch(noisy=noisy, timesteps=t, v_target=scheduler.get_velocity(latents, noise, t))


@dataclass
class CfgDrops:
    """Per-sample condition keep flags (B,) bool: False = dropped for classifier-free guidance."""

    reference: torch.Tensor
    audio: torch.Tensor
    pose: torch.Tensor


def sample_cfg_drops(train: TrainConfig, batch_size: int, generator: torch.Generator) -> CfgDrops:
    """Drop reference / audio / pose independently, plus all three together ([inferred] 5% each)."""
    u = torch.rand(4, batch_size, generator=generator)
    drop_all = u[3] < train.drop_all
    if train.uncond_batch_prob > 0:
        # Whole-batch unconditional step (ancestor: train_stage_*.py, ``uncond_fwd = random.random()
        # < cfg.uncond_ratio``): one draw for the batch. The ancestor skips the reference net and
        # zeroes its cross-attention context (CLIP) but keeps the pose, as its sampler's uncond
        # branch does; the release's uncond branch drops the pose too, so all three go here.
        drop_all = drop_all | (torch.rand(1, generator=generator) < train.uncond_batch_prob)
    return CfgDrops(
        reference=~((u[0] < train.drop_reference) | drop_all),
        audio=~((u[1] < train.drop_audio) | drop_all),
        pose=~((u[2] < train.drop_pose) | drop_all),
    )


def min_snr_weights(scheduler: DDIMScheduler, timesteps: torch.Tensor, gamma: float) -> torch.Tensor:
    """Min-SNR-gamma loss weights (B,) for a v-prediction loss (ancestor: train_stage_*.py).

    ``min(SNR + 1, gamma) / (SNR + 1)`` with ``SNR = a_t / (1 - a_t)`` (a_t = alphas_cumprod):
    the ancestor adds 1 to the SNR for the velocity objective. With zero terminal SNR,
    SNR(T-1) = 0 gives weight min(1, gamma), so nothing divides by zero.
    """
    alphas = scheduler.alphas_cumprod.to(timesteps.device)[timesteps].double()  # (B,)
    snr_plus_one = alphas / (1.0 - alphas) + 1.0  # = 1 / (1 - a_t); inf at a_t = 1 never occurs (t >= 0 has a_t < 1)
    return (snr_plus_one.clamp(max=gamma) / snr_plus_one).float()
