"""One training step: its loss L = L_v (masked for HPA portraits, min-SNR weighted when set) + PhD terms
of each sample's band (masked alike), and the optimiser step the trainer and bench/train_step.py share."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from diffusers import DDIMScheduler
from torch.utils.checkpoint import checkpoint

from harness.config import ExperimentConfig
from harness.model.echomimic import EchoMimicV2
from harness.train.adamw8bit import AdamW8bit
from harness.train.conditions import Conditions
from harness.train.controls import controlled_reference_keep
from harness.train.hpa import masked_mse
from harness.train.objective import NUM_TRAIN_TIMESTEPS, add_noise, min_snr_weights, sample_cfg_drops
from harness.train.phd import phd_band_of, phd_loss, x0_from_v
from harness.train.stages import single_frames


def encode_clip(codec: torch.nn.Module, frames: torch.Tensor, frames_per_call: int = 0) -> torch.Tensor:
    """(B, F, 3, H, W) pixels -> (B, C, F, h, w) latents (the UNetMotionModel layout).

    frames_per_call (train.encode_frames_per_call): encode at most this many frames at once (0 = all): the
    encoder's activations grow with the frames it sees, e.g. ~24 GiB for 24 frames at 768 px, counted by
    bench/memory_plan.py. Each frame is encoded on its own either way, so the latents are the same.
    """
    b, f = frames.shape[:2]
    flat = frames.flatten(0, 1)  # (B*F, 3, H, W)
    step = frames_per_call or flat.shape[0]
    latents = torch.cat([codec.encode(part) for part in flat.split(step)])  # (B*F, C, h, w)
    return latents.unflatten(0, (b, f)).permute(0, 2, 1, 3, 4)


def decode_frames(codec: torch.nn.Module, latents: torch.Tensor, frame_idx: torch.Tensor,
                  checkpointed: bool = False) -> torch.Tensor:
    """(B, C, F, h, w) latents, chosen frames -> (B * len(frame_idx), 3, H, W) pixels.

    checkpointed (loss.phd.decode_checkpointing): the decoder's activations are recomputed in
    backward instead of kept, one frame per checkpoint, so backward holds one frame's decoder at a
    time: at 768 px the sd15 VAE decoder saves 14.1 GiB for backward per frame in fp32 (counted on
    the meta device, docs/benchmarks.md, "On a GPU"), and this recompute happens while the UNets'
    saved tensors are all still held.
    """
    chosen = latents[:, :, frame_idx].permute(0, 2, 1, 3, 4).flatten(0, 1)  # (B*n, C, h, w)
    if checkpointed and torch.is_grad_enabled():
        return torch.cat([checkpoint(codec.decode, frame[None], use_reentrant=False) for frame in chosen])
    return codec.decode(chosen)


def per_sample_masked_mse(pred: torch.Tensor, target: torch.Tensor, valid_mask: torch.Tensor | None) -> torch.Tensor:
    """(B,) mean squared error of each sample over its valid positions (min-SNR weights it per sample).

    pred, target: (B, C, F, h, w); valid_mask: (B, 1, h, w) in [0, 1] or None (every position).
    """
    squared = (pred - target) ** 2  # (B, C, F, h, w)
    if valid_mask is None:
        return squared.flatten(1).mean(dim=1)
    mask = valid_mask.to(squared.dtype).unsqueeze(2)  # (B, 1, 1, h, w)
    per_position = squared.shape[1] * squared.shape[2]  # channels x frames share a mask position
    valid_count = (mask.flatten(1).sum(dim=1) * per_position).clamp_min(1.0)  # (B,)
    return (squared * mask).flatten(1).sum(dim=1) / valid_count


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
    if cfg.train.stage == "images":  # ancestor train_stage_1.py: single frames (harness/train/stages.py)
        cond = single_frames(cond, generator)
    b, f = cond.frames.shape[:2]
    # 1. Latents of the clip and the reference (frozen codec; train.latent_cache: read from the clip folder).
    if cond.latents is not None:
        latents, ref_latents = cond.latents.permute(0, 2, 1, 3, 4), cond.reference_latents  # (B, C, F, h, w), (B, C, h, w)
    else:
        with torch.no_grad():
            latents = encode_clip(codec, cond.frames, cfg.train.encode_frames_per_call)  # (B, C, F, h, w)
            ref_latents = codec.encode(cond.reference)  # (B, C, h, w)
    # 2. Noise, timesteps and classifier-free-guidance drops (all from the step's generator).
    noised = add_noise(scheduler, latents, generator, cfg.train.noise_offset, cfg.train.min_timestep)
    drops = sample_cfg_drops(cfg.train, b, generator)
    device = latents.device
    audio = cond.audio * drops.audio.to(device).view(b, 1, 1, 1)
    # A dropped pose is trained the way the sampler's unconditional branch feeds it (eval.uncond_pose):
    # zeroed encoder features (release: src/pipelines/pipeline_echomimicv2.py) or a blank pose image.
    pose_keep = drops.pose.to(device) if cfg.eval.uncond_pose == "zero_features" else None
    pose = cond.pose if pose_keep is not None else cond.pose * drops.pose.to(device).view(b, 1, 1, 1, 1)
    ref_keep = controlled_reference_keep(cfg.model.controls, drops.reference)  # positive control: no reference
    # 3. Predict v; MSE on v, over the unpadded region for HPA portraits.
    # model.audio_attn_scale: the audio cross-attention scale in training (sampling uses eval.audio_attn_scale).
    v_pred = model(
        noised.noisy, noised.timesteps, ref_latents, audio, pose, cond.audio_mask, ref_keep.to(device),
        cfg.model.audio_attn_scale, pose_keep,
    )
    latent_mask = None
    if cond.loss_mask is not None:
        latent_mask = F.interpolate(cond.loss_mask, size=latents.shape[-2:], mode="area")  # (B, 1, h, w)
    if cfg.train.snr_gamma:  # min-SNR weighting (ancestor: train_stage_*.py, cfg.snr_gamma; 0/None = off)
        weights = min_snr_weights(scheduler, noised.timesteps, cfg.train.snr_gamma)  # (B,)
        per_sample = per_sample_masked_mse(v_pred.float(), noised.v_target.float(), latent_mask)  # (B,)
        loss_v = (per_sample * weights.to(per_sample.device)).mean()
    else:
        loss_v = masked_mse(v_pred.float(), noised.v_target.float(), latent_mask)
    logs = {"loss_v": loss_v.item()}
    if not phd_terms_enabled(cfg):
        return loss_v, {**logs, "loss": loss_v.item()}
    # 4. PhD loss (paper Sec. 3.4): decode a few frames of x0_hat, add the term of each sample's band.
    alphas = scheduler.alphas_cumprod.to(device)[noised.timesteps].view(b, 1, 1, 1, 1)
    x0_hat = x0_from_v(noised.noisy, v_pred, alphas)
    n = min(cfg.loss.phd.decode_frames, f)
    idx = torch.linspace(0, f - 1, n).round().long()
    pred_px = decode_frames(codec, x0_hat, idx, cfg.loss.phd.decode_checkpointing)  # (B*n, 3, H, W)
    target_px = cond.frames[:, idx].flatten(0, 1)
    # HPA: the portrait padding is not penalised in pixel space either, (B*n, 1, H, W) or None.
    valid_px = None if cond.loss_mask is None else cond.loss_mask.repeat_interleave(n, dim=0)
    bands = phd_band_of(noised.timesteps, cfg.loss.phd.bands, NUM_TRAIN_TIMESTEPS)  # (B,)
    bands_per_frame = bands.repeat_interleave(n)  # (B*n,): a sample's band for each decoded frame
    extra, terms = phd_loss(
        pred_px, target_px, bands_per_frame, cond.keypoints[:, idx].flatten(0, 1), cond.lips_boxes[:, idx].flatten(0, 1), cfg.loss.phd,
        valid_px,
    )
    total = loss_v + extra
    return total, {**logs, **terms, "loss": total.item()}


def make_optimizer(model: torch.nn.Module, cfg: ExperimentConfig) -> torch.optim.Optimizer:
    """AdamW over the trainable parameters; train.optimizer adamw_fused = torch's fused kernel (same update),
    adamw_8bit = the same update with the moments stored in 8 bits (harness/train/adamw8bit.py)."""
    params = [p for p in model.parameters() if p.requires_grad]
    if cfg.train.optimizer == "adamw_8bit":
        return AdamW8bit(params, lr=cfg.train.lr, weight_decay=cfg.train.weight_decay)
    fused = cfg.train.optimizer == "adamw_fused"  # one kernel per step instead of torch's foreach loop
    return torch.optim.AdamW(params, lr=cfg.train.lr, weight_decay=cfg.train.weight_decay, fused=fused or None)


def training_step(
    model: EchoMimicV2,
    codec: torch.nn.Module,
    scheduler: DDIMScheduler,
    optimizer: torch.optim.Optimizer,
    cond: Conditions,
    cfg: ExperimentConfig,
    generator: torch.Generator,
) -> dict[str, float]:
    """One optimiser step on a batch (conditions on the model's device): loss under train.mixed_precision's
    autocast, backward, AdamW. Returns the logged values of compute_loss."""
    device_type = cond.frames.device.type
    # The last step's gradients go before the forward, not after it: joint at 768 px holds 8 GiB of them
    # (2.15 B fp32), and the forward's peak would carry them (bench/memory_plan.py).
    optimizer.zero_grad(set_to_none=True)
    with torch.autocast(device_type, dtype=torch.bfloat16, enabled=cfg.train.mixed_precision == "bf16"):
        loss, logs = compute_loss(model, codec, scheduler, cond, cfg, generator)
    loss.backward()
    optimizer.step()
    return logs
