"""Speed and memory options of the network (config ``train.*``; docs/benchmarks.md, "Training step").

Each option changes how the step is computed, not what it computes: tests/test_speed_options.py
shows each equal to the plain path within a stated tolerance. The options:

* ``train.attention``: ``sdpa`` (torch.nn.functional.scaled_dot_product_attention: flash or
  memory-efficient kernels on a GPU) in every processor, or ``manual`` (softmax(QK^T/sqrt(d)) V,
  the plain path the tests compare with).
* ``train.gradient_checkpointing``: both UNets (diffusers: resnets, spatial transformers, mid-block
  motion modules) AND the down/up-block motion modules, which diffusers 0.42 does not checkpoint.
* ``train.channels_last``: 4D weights (UNets, pose encoder, VAE) in NHWC order.
* ``train.compile``: ``torch.compile`` of both UNets (nn.Module.compile: parameter names unchanged).
* ``loss.phd.decode_block_checkpointing``: diffusers' own checkpointing of each VAE decoder block.
"""

from __future__ import annotations

import torch
from diffusers.models.attention_processor import AttnProcessor, AttnProcessor2_0
from diffusers.models.unets.unet_motion_model import AnimateDiffTransformer3D
from torch import nn
from torch.utils.checkpoint import checkpoint

from harness.config_training import TrainConfig
from harness.model.echomimic import EchoMimicV2


class CheckpointedMotionModule(AnimateDiffTransformer3D):
    """A motion module whose activations are recomputed in backward (gradient checkpointing).

    diffusers 0.42 checkpoints only the mid block's motion modules; the down/up blocks call theirs
    directly, and at 768 x 768 with 24 frames those activations are a large share of the memory.
    Installed by swapping the class of an existing module: parameters and their names stay.
    """

    def forward(self, hidden_states: torch.Tensor, encoder_hidden_states: torch.Tensor | None = None,
                timestep: torch.Tensor | None = None, class_labels: torch.Tensor | None = None,
                num_frames: int = 1, cross_attention_kwargs: dict | None = None) -> torch.Tensor:
        plain = super().forward
        if not torch.is_grad_enabled():
            return plain(hidden_states, encoder_hidden_states, timestep, class_labels, num_frames, cross_attention_kwargs)
        return checkpoint(plain, hidden_states, encoder_hidden_states, timestep, class_labels, num_frames,
                          cross_attention_kwargs, use_reentrant=False)


def enable_checkpointing(model: EchoMimicV2) -> int:
    """Gradient checkpointing on both UNets and every motion module; returns the motion modules swapped."""
    model.reference_unet.enable_gradient_checkpointing()
    model.denoising_unet.enable_gradient_checkpointing()  # mid block's motion modules included (diffusers)
    swapped = 0
    for blocks in (model.denoising_unet.down_blocks, model.denoising_unet.up_blocks):
        for module in blocks.modules():
            if type(module) is AnimateDiffTransformer3D:
                module.__class__ = CheckpointedMotionModule
                swapped += 1
    return swapped


def set_attention_kernel(model: EchoMimicV2, kind: str) -> None:
    """``sdpa`` or ``manual`` attention in the custom processors (AttentionState) and the motion modules."""
    if kind not in ("sdpa", "manual"):
        raise ValueError(f"unknown attention kernel {kind!r}")
    model.state.sdpa = kind == "sdpa"
    motion = {name: (AttnProcessor2_0() if kind == "sdpa" else AttnProcessor())
              for name in model.denoising_unet.attn_processors if "motion_modules" in name}
    current = dict(model.denoising_unet.attn_processors)
    model.denoising_unet.set_attn_processor({**current, **motion})


def apply_speed_options(model: EchoMimicV2, codec: nn.Module, train: TrainConfig, decoder_blocks: bool = False) -> None:
    """Apply ``train``'s speed/memory options to a freshly built network and its codec (in place);
    decoder_blocks (loss.phd.decode_block_checkpointing): checkpoint each block of the VAE decoder."""
    set_attention_kernel(model, train.attention)
    if decoder_blocks and hasattr(codec, "vae"):  # the encoder runs without grad: only the decoder is affected
        codec.vae.enable_gradient_checkpointing()
    if train.gradient_checkpointing:
        enable_checkpointing(model)
    if train.channels_last:  # NHWC convs (tensor cores prefer them for bf16 convolutions)
        model.to(memory_format=torch.channels_last)
        codec.to(memory_format=torch.channels_last)
    if train.compile:
        compile_unets(model)


def compile_unets(model: EchoMimicV2, backend: str = "inductor") -> None:
    """torch.compile both UNets in place (the tests use backend 'aot_eager': capture without codegen)."""
    model.reference_unet.compile(backend=backend)
    model.denoising_unet.compile(backend=backend)
