"""Pixel <-> latent codecs. Frames are (N, 3, H, W) in [-1, 1].

`SpaceToDepthCodec` is the tiny preset's lossless stand-in for the VAE (no weights needed);
`VaeCodec` wraps sd-vae-ft-mse (latent scale 0.18215, docs/method.md, "Architecture").
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SpaceToDepthCodec(nn.Module):
    """Lossless, differentiable: (N, 3, H, W) -> (N, 3*f*f, H/f, W/f) by pixel unshuffle."""

    def __init__(self, factor: int = 4):
        super().__init__()
        self.factor = factor
        self.latent_channels = 3 * factor * factor

    def encode(self, frames: torch.Tensor) -> torch.Tensor:
        return F.pixel_unshuffle(frames, self.factor)

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        return F.pixel_shuffle(latents, self.factor)


class VaeCodec(nn.Module):
    """AutoencoderKL (frozen): mean of the posterior x 0.18215 as latents (deterministic)."""

    scale = 0.18215

    def __init__(self, vae: nn.Module):
        super().__init__()
        self.vae = vae.requires_grad_(False)
        self.factor = 2 ** (len(vae.config.block_out_channels) - 1)
        self.latent_channels = vae.config.latent_channels

    def encode(self, frames: torch.Tensor) -> torch.Tensor:
        return self.vae.encode(frames).latent_dist.mean * self.scale

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        return self.vae.decode(latents / self.scale).sample
