"""Inference (docs/method.md, "Objective and sampling"): trailing DDIM, classifier-free guidance,
sliding context windows with overlap (averaged; schedules in context_windows.py), initial noise
clamped to [-1.5, 1.5]."""

from __future__ import annotations

import torch
from diffusers import DDIMScheduler
from tqdm.auto import tqdm

from harness.config_training import EvalConfig
from harness.model.echomimic import EchoMimicV2
from harness.train.context_windows import windows_at_step


@torch.no_grad()
def sample_clip(
    model: EchoMimicV2,
    codec: torch.nn.Module,
    scheduler: DDIMScheduler,
    reference: torch.Tensor,  # (3, H, W) in [-1, 1]
    audio: torch.Tensor,  # (F, L, D)
    pose: torch.Tensor,  # (F, 3, H, W) in [0, 1]: hands only at inference
    settings: EvalConfig,
    generator: torch.Generator,
    progress: bool = False,
    use_reference: bool = True,
) -> torch.Tensor:
    """Generate (F, 3, H, W) frames in [-1, 1] for one clip (use_reference=False: the conditional
    half attends to no reference either, the no_reference positive control)."""
    device = next(model.parameters()).device
    model.eval()
    ref_latents = codec.encode(reference[None].to(device))  # (1, C, h, w)
    f = audio.shape[0]
    shape = (1, ref_latents.shape[1], f, *ref_latents.shape[-2:])
    latents = torch.randn(shape, generator=generator).clamp(-1.5, 1.5).to(device)
    scheduler.set_timesteps(settings.sampling_steps)
    # Cond and uncond run as one batch of 2: the uncond half has no reference, audio or pose.
    both_ref = ref_latents.repeat(2, 1, 1, 1)
    keep = torch.tensor([use_reference, False], device=device)
    # Uncond pose: release (pipeline_echomimicv2.py) zeroes the encoded pose; else a blank pose image.
    zero_features = settings.uncond_pose == "zero_features"
    pose_keep = torch.tensor([True, False], device=device) if zero_features else None
    first = True
    for step, t in enumerate(tqdm(scheduler.timesteps, desc="sample", disable=not progress, leave=False)):
        v_sum = torch.zeros_like(latents)
        counts = torch.zeros(1, 1, f, 1, 1, device=device)
        windows = windows_at_step(settings.context_windows, step, f, settings.context_frames, settings.context_overlap)
        for idx in windows:
            x = latents[:, :, idx].repeat(2, 1, 1, 1, 1)
            a = torch.stack([audio[idx], torch.zeros_like(audio[idx])]).to(device)
            p = torch.stack([pose[idx], pose[idx] if zero_features else torch.zeros_like(pose[idx])]).to(device)
            v = model(x, t.repeat(2).to(device), both_ref if first else None, a, p, None, keep, settings.audio_attn_scale,
                      pose_keep)
            first = False  # the reference bank is constant: computed once per clip
            v_cond, v_uncond = v.chunk(2)
            v_sum[:, :, idx] += v_uncond + settings.guidance_scale * (v_cond - v_uncond)
            counts[:, :, idx] += 1
        latents = scheduler.step(v_sum / counts, t, latents).prev_sample
    frames = codec.decode(latents[0].permute(1, 0, 2, 3))  # (F, 3, H, W)
    return frames.clamp(-1, 1).cpu()

