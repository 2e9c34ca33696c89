"""One training step's loss: L = L_v (masked for HPA portraits) + PhD terms of each sample's band."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from diffusers import DDIMScheduler

from harness.config import ExperimentConfig
from harness.model.echomimic import EchoMimicV2
from harness.train.conditions import Conditions
from harness.train.controls import controlled_reference_keep
from harness.train.hpa import masked_mse
from harness.train.objective import NUM_TRAIN_TIMESTEPS, add_noise, sample_cfg_drops
from harness.train.phd import phd_band_of, phd_loss, x0_from_v


def encode_clip(codec: torch.nn.Module, frames: torch.Tensor) -> torch.Tensor:
    """(B, F, 3, H, W) pixels -> (B, C, F, h, w) latents (the UNetMotionModel layout)."""
    b, f = frames.shape[:2]
    latents = codec.encode(frames.flatten(0, 1))  # (B*F, C, h, w)
    return latents.unflatten(0, (b, f)).permute(0, 2, 1, 3, 4)


def decode_frames(codec: torch.nn.Module, latents: torch.Tensor, frame_idx: torch.Tensor) -> torch.Tensor:
    """(B, C, F, h, w) latents, chosen frames -> (B * len(frame_idx), 3, H, W) pixels."""
    chosen = latents[:, :, frame_idx].permute(0, 2, 1, 3, 4)  # (B, n, C, h, w)
    return codec.decode(chosen.flatten(0, 1))


def phd_terms_enabled(cfg: ExperimentConfig) -> bool:
    """Any PhD term that can contribute (on, with a weight > 0): otherwise skip decoding."""
    phd = cfg.loss.phd
    return any(term.enabled and term.weight > 0 for term in (phd.pose, phd.detail, phd.low))


def compute_loss(
    model: EchoMimicV2,
    codec: torch.nn.Module,
    scheduler: DDIMScheduler,
    cond: Conditions,
    cfg: ExperimentConfig,
    generator: torch.Generator,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Return (total loss, logged values) for one batch of conditions (all on the model's device)."""
    b, f = cond.frames.shape[:2]
    # 1. Latents of the clip and the reference (frozen codec).
    with torch.no_grad():
        latents = encode_clip(codec, cond.frames)  # (B, C, F, h, w)
        ref_latents = codec.encode(cond.reference)  # (B, C, h, w)
    # 2. Noise, timesteps and classifier-free-guidance drops (all from the step's generator).
    noised = add_noise(scheduler, latents, generator)
    drops = sample_cfg_drops(cfg.train, b, generator)
    device = latents.device
    audio = cond.audio * drops.audio.to(device).view(b, 1, 1, 1)
    pose = cond.pose * drops.pose.to(device).view(b, 1, 1, 1, 1)
    ref_keep = controlled_reference_keep(cfg.model.controls, drops.reference)  # positive control: no reference
    # 3. Predict v; MSE on v, over the unpadded region for HPA portraits.
    v_pred = model(noised.noisy, noised.timesteps, ref_latents, audio, pose, cond.audio_mask, ref_keep.to(device))
    latent_mask = None
    if cond.loss_mask is not None:
        latent_mask = F.interpolate(cond.loss_mask, size=latents.shape[-2:], mode="area")  # (B, 1, h, w)
    loss_v = masked_mse(v_pred.float(), noised.v_target.float(), latent_mask)
    logs = {"loss_v": loss_v.item()}
    if not phd_terms_enabled(cfg):
        return loss_v, {**logs, "loss": loss_v.item()}
    # 4. PhD loss (paper Sec. 3.4): decode a few frames of x0_hat, add the term of each sample's band.
    alphas = scheduler.alphas_cumprod.to(device)[noised.timesteps].view(b, 1, 1, 1, 1)
    x0_hat = x0_from_v(noised.noisy, v_pred, alphas)
    n = min(cfg.loss.phd.decode_frames, f)
    idx = torch.linspace(0, f - 1, n).round().long()
    pred_px = decode_frames(codec, x0_hat, idx)  # (B*n, 3, H, W)
    target_px = cond.frames[:, idx].flatten(0, 1)
    bands = phd_band_of(noised.timesteps, cfg.loss.phd.bands, NUM_TRAIN_TIMESTEPS)  # (B,)
    bands_per_frame = bands.repeat_interleave(n)  # (B*n,): a sample's band for each decoded frame
    extra, terms = phd_loss(
        pred_px, target_px, bands_per_frame, cond.keypoints[:, idx].flatten(0, 1), cond.lips_boxes[:, idx].flatten(0, 1), cfg.loss.phd
    )
    total = loss_v + extra
    return total, {**logs, **terms, "loss": total.item()}
