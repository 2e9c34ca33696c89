"""EchoMimicV2 network (docs/method.md, "Architecture"): reference UNet + motion denoiser + pose encoder.

Shapes: B batch, F frames, C latent channels, (h, w) latent size, (H, W) pixel size,
L audio tokens per frame, D audio width.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from diffusers import UNet2DConditionModel, UNetMotionModel
from torch import nn

from harness.model.attention import AttentionState, install_denoiser_readers, install_reference_writer
from harness.model.motion_norm import set_motion_norm
from harness.model.pose_encoder import ConvInWithPose, PoseEncoder


class EchoMimicV2(nn.Module):
    """Predicts v for a noisy latent clip given reference latents, per-frame audio and pose maps.

    Args:
        reference_unet: 2D UNet run once per clip at t=0; its self-attention inputs become the bank.
        denoising_unet: UNetMotionModel (AnimateDiff-style) whose self-attention reads the bank.
        pose_encoder: per-frame pose-map encoder; output added after the denoiser's conv_in.
        motion_norm: "per_frame" or "across_frames" GroupNorm in the motion modules (config model.motion_norm).
    """

    def __init__(
        self,
        reference_unet: UNet2DConditionModel,
        denoising_unet: UNetMotionModel,
        pose_encoder: PoseEncoder,
        *,
        motion_norm: str,
    ):
        super().__init__()
        self.state = AttentionState()
        self.reference_unet = reference_unet
        self.denoising_unet = denoising_unet
        self.pose_encoder = pose_encoder
        install_reference_writer(reference_unet, self.state)
        install_denoiser_readers(denoising_unet, self.state)
        denoising_unet.conv_in = ConvInWithPose(denoising_unet.conv_in)
        set_motion_norm(denoising_unet, motion_norm)  # per_frame: release src/models/motion_module.py

    def forward(
        self,
        noisy_latents: torch.Tensor,  # (B, C, F, h, w)
        timesteps: torch.Tensor,  # (B,) long
        ref_latents: torch.Tensor | None,  # (B, C, h, w); None reuses the bank of the last call
        audio: torch.Tensor,  # (B, F, L, D)
        pose: torch.Tensor,  # (B, F, 3, H, W) in [0, 1]
        audio_mask: torch.Tensor | None = None,  # (B, F, 1, H', W') in [0, 1]; None = unmasked
        ref_keep: torch.Tensor | None = None,  # (B,) bool; False = reference dropped (CFG)
        audio_scale: float = 1.0,
        pose_keep: torch.Tensor | None = None,  # (B,) bool; False = pose FEATURES zeroed (release CFG)
    ) -> torch.Tensor:
        b, _, f, h, w = noisy_latents.shape
        # 1. Reference net writes the bank (reference content is constant over denoising steps).
        if ref_latents is not None:
            self.state.clear()
            zero_t = torch.zeros(b, dtype=torch.long, device=ref_latents.device)
            no_text = audio.new_zeros(b, 1, audio.shape[-1])  # its cross-attention is skipped
            self.reference_unet(ref_latents, zero_t, encoder_hidden_states=no_text)
        elif not self.state.bank:
            raise RuntimeError("ref_latents=None needs a previous call that filled the reference bank")
        # 2. Conditions for this pass; kept until the next call so checkpointed blocks can recompute.
        self.state.ref_keep = ref_keep
        self.state.audio_scale = audio_scale
        self.state.audio_mask = None if audio_mask is None else _to_latent_grid(audio_mask, (h, w))
        self.denoising_unet.conv_in.pose_features = _pose_features(self.pose_encoder, pose, pose_keep)
        # 3. Denoise: per-frame audio tokens are the cross-attention context, (B*F, L, D).
        tokens = audio.flatten(0, 1)
        return self.denoising_unet(noisy_latents, timesteps, encoder_hidden_states=tokens).sample


def _pose_features(encoder: PoseEncoder, pose: torch.Tensor, keep: torch.Tensor | None) -> torch.Tensor:
    """Encoded pose maps (B, F, 3, H, W) -> (B*F, C0, h, w); samples with keep=False get zeros.

    Zeroing after the encoder is the release's unconditional branch (src/pipelines/pipeline_echomimicv2.py);
    a blank pose image instead still adds the encoder's response to black (its biases).
    """
    features = encoder(pose.flatten(0, 1))
    if keep is None:
        return features
    frame_keep = keep.to(features.device).repeat_interleave(pose.shape[1])  # (B*F,)
    return torch.where(frame_keep[:, None, None, None], features, torch.zeros_like(features))


def _to_latent_grid(mask: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(B, F, 1, H, W) -> (B*F, 1, h, w) by area averaging (soft edges at region borders)."""
    flat = mask.flatten(0, 1).float()
    return flat if flat.shape[-2:] == size else F.interpolate(flat, size=size, mode="area")
