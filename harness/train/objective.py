"""Diffusion objective (echomimicv2.md, "Objective and sampling"): v-prediction on a
zero-terminal-SNR, trailing-spaced DDIM schedule, plus classifier-free-guidance dropout."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from diffusers import DDIMScheduler

from harness.config import TrainConfig

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


def add_noise(scheduler: DDIMScheduler, latents: torch.Tensor, generator: torch.Generator) -> NoisedBatch:
    """Sample t ~ U{0..T-1} and noise per sample; v = sqrt(a) eps - sqrt(1-a) x0."""
    b = latents.shape[0]
    noise = torch.randn(latents.shape, generator=generator, dtype=latents.dtype).to(latents.device)
    t = torch.randint(0, NUM_TRAIN_TIMESTEPS, (b,), generator=generator).to(latents.device)
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
    return CfgDrops(
        reference=~((u[0] < train.drop_reference) | drop_all),
        audio=~((u[1] < train.drop_audio) | drop_all),
        pose=~((u[2] < train.drop_pose) | drop_all),
    )
