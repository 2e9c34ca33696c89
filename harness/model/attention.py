"""Attention processors that wire the reference net, audio and APDH masks into diffusers UNets.

EchoMimicV2 (docs/method.md, "Architecture"): the reference UNet stores the normalised input
of every self-attention ("write"); the denoiser's self-attention reads keys/values from
[own tokens ; reference tokens of the matching block]; the audio cross-attention output is
multiplied by a spatial mask (APDH audio diffusion / HPA head mask).

All processors see transformer-block inputs shaped (batch*, tokens, channels). Per-forward
state (bank, masks, flags) lives in one ``AttentionState`` shared by every processor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from diffusers.models.attention_processor import Attention


@dataclass
class AttentionState:
    """What the processors read during one forward pass.

    bank: block name -> reference tokens (B, N, C), filled by the reference UNet.
    ref_keep: (B,) bool; False drops the reference for that sample (CFG unconditional).
    audio_mask: (B*F, 1, H, W) in [0, 1] at latent resolution, or None for no mask.
    audio_scale: multiplies the audio cross-attention output (1.0 train, 3.0 release inference).
    sdpa: fused scaled_dot_product_attention (True) or the manual softmax path (config train.attention).
    """

    bank: dict[str, torch.Tensor] = field(default_factory=dict)
    ref_keep: torch.Tensor | None = None
    audio_mask: torch.Tensor | None = None
    audio_scale: float = 1.0
    sdpa: bool = True

    def clear(self) -> None:
        self.bank.clear()
        self.ref_keep = self.audio_mask = None


def _attend(attn: Attention, query_in: torch.Tensor, kv_in: torch.Tensor, mask: torch.Tensor | None,
            sdpa: bool) -> torch.Tensor:
    """Multi-head attention: query_in (B, Nq, C), kv_in (B, Nk, Ckv) -> (B, Nq, C) after to_out.

    mask: bool (B, 1, 1, Nk) or None (True = attend). sdpa picks the kernel (train.attention).
    """
    b = query_in.shape[0]
    q, k, v = attn.to_q(query_in), attn.to_k(kv_in), attn.to_v(kv_in)
    head_dim = k.shape[-1] // attn.heads
    q, k, v = (x.view(b, -1, attn.heads, head_dim).transpose(1, 2) for x in (q, k, v))  # (B, heads, N, d)
    if sdpa:  # flash / memory-efficient kernels on a GPU; the (Nq, Nk) scores are never stored
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    else:  # the plain path: the (B, heads, Nq, Nk) score matrix in memory
        out = _manual_attention(q, k, v, mask)
    out = out.transpose(1, 2).reshape(b, -1, attn.heads * head_dim).to(q.dtype)
    return attn.to_out[1](attn.to_out[0](out))


def _manual_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """softmax(q k^T / sqrt(d)) v with a boolean mask: (B, h, Nq, d), (B, h, Nk, d) -> (B, h, Nq, d)."""
    scores = (q @ k.transpose(-1, -2)) * q.shape[-1] ** -0.5  # (B, h, Nq, Nk)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return scores.softmax(dim=-1) @ v


class ReferenceWriteProcessor:
    """Reference UNet self-attention: store the (already normalised) input, then attend normally."""

    def __init__(self, name: str, state: AttentionState):
        self.name, self.state = name, state

    def __call__(self, attn: Attention, hidden_states: torch.Tensor, encoder_hidden_states=None, attention_mask=None, temb=None, **kwargs) -> torch.Tensor:
        self.state.bank[self.name] = hidden_states  # (B, N, C)
        return _attend(attn, hidden_states, hidden_states, None, self.state.sdpa)


class NoAudioProcessor:
    """Reference UNet cross-attention: no audio enters the reference path [inferred], output 0."""

    def __call__(self, attn: Attention, hidden_states: torch.Tensor, encoder_hidden_states=None, attention_mask=None, temb=None, **kwargs) -> torch.Tensor:
        return torch.zeros_like(hidden_states)


class ReferenceReadProcessor:
    """Denoiser self-attention over [own tokens ; reference tokens of the same block]."""

    def __init__(self, name: str, state: AttentionState):
        self.name, self.state = name, state

    def __call__(self, attn: Attention, hidden_states: torch.Tensor, encoder_hidden_states=None, attention_mask=None, temb=None, **kwargs) -> torch.Tensor:
        if not self.state.bank:  # no reference at all (e.g. the bare denoiser in a unit test)
            return _attend(attn, hidden_states, hidden_states, None, self.state.sdpa)
        ref = self.state.bank[self.name]  # a KeyError here means the two UNets' layouts differ
        frames = hidden_states.shape[0] // ref.shape[0]
        ref = ref.repeat_interleave(frames, dim=0)  # (B*F, Nr, C)
        kv = torch.cat([hidden_states, ref], dim=1)  # (B*F, N + Nr, C)
        mask = None
        if self.state.ref_keep is not None and not bool(self.state.ref_keep.all()):
            keep = self.state.ref_keep.repeat_interleave(frames).to(hidden_states.device)  # (B*F,)
            mask = torch.ones(kv.shape[0], 1, 1, kv.shape[1], dtype=torch.bool, device=kv.device)
            mask[:, :, :, hidden_states.shape[1] :] = keep[:, None, None, None]
        return _attend(attn, hidden_states, kv, mask, self.state.sdpa)


class MaskedAudioProcessor:
    """Denoiser audio cross-attention; output x scale x spatial mask (APDH audio diffusion, HPA)."""

    def __init__(self, state: AttentionState):
        self.state = state

    def __call__(self, attn: Attention, hidden_states: torch.Tensor, encoder_hidden_states=None, attention_mask=None, temb=None, **kwargs) -> torch.Tensor:
        out = _attend(attn, hidden_states, encoder_hidden_states, None, self.state.sdpa) * self.state.audio_scale  # (B*F, N, C)
        mask = self.state.audio_mask
        if mask is None:
            return out
        return out * _mask_as_tokens(mask, hidden_states.shape[1])


def _mask_as_tokens(mask: torch.Tensor, tokens: int) -> torch.Tensor:
    """(B*F, 1, H, W) mask -> (B*F, tokens, 1) at the block's resolution (same aspect ratio)."""
    height, width = mask.shape[-2:]
    h = round(math.sqrt(tokens * height / width))
    w = tokens // h
    resized = F.interpolate(mask, size=(h, w), mode="area") if (h, w) != (height, width) else mask
    return resized.flatten(2).transpose(1, 2)


def install_reference_writer(unet: torch.nn.Module, state: AttentionState) -> None:
    """Reference UNet: write banks in attn1, skip attn2. Names key the bank by block."""
    unet.set_attn_processor({name: _writer_for(name, state) for name in unet.attn_processors})


def install_denoiser_readers(unet: torch.nn.Module, state: AttentionState) -> None:
    """Denoiser: read banks in spatial attn1, masked audio in attn2; motion modules unchanged."""
    processors = {}
    for name, proc in unet.attn_processors.items():
        if "motion_modules" in name:
            processors[name] = proc
        elif name.endswith("attn1.processor"):
            processors[name] = ReferenceReadProcessor(_bank_key(name), state)
        elif name.endswith("attn2.processor"):
            processors[name] = MaskedAudioProcessor(state)
        else:
            processors[name] = proc
    unet.set_attn_processor(processors)


def _writer_for(name: str, state: AttentionState):
    if name.endswith("attn1.processor"):
        return ReferenceWriteProcessor(_bank_key(name), state)
    if name.endswith("attn2.processor"):
        return NoAudioProcessor()
    raise ValueError(f"unexpected attention processor {name}")


def _bank_key(processor_name: str) -> str:
    """'down_blocks.0.attentions.0.transformer_blocks.0.attn1.processor' -> same block key in both UNets."""
    return processor_name.removesuffix(".attn1.processor")
