"""Positive controls (issue 13): each removes one condition in training AND sampling.

A harness that can measure an ablation must at least see the effect of taking a condition
away entirely: without audio the mouth cannot follow the speech (Sync-C), without hand pose
maps the hands cannot follow their paths (HKC), without the reference the identity cannot be
copied (CSIM). These are not paper ablations; they check the benchmark itself
(experiments/validity.yaml). Every function is the identity when its switch is off.
"""

from __future__ import annotations

import torch

from harness.config_model import ControlsConfig


def controlled_pose_parts(controls: ControlsConfig, parts: set[str]) -> set[str]:
    """The pose parts to draw: without the hands under `no_hand_pose` (the other parts stay)."""
    if controls.no_hand_pose:
        return set(parts) - {"hands"}
    return set(parts)


def controlled_audio(controls: ControlsConfig, audio: torch.Tensor) -> torch.Tensor:
    """Audio features (..., L, D), zeroed under `no_audio` (same shape, so the network is unchanged)."""
    if controls.no_audio:
        return torch.zeros_like(audio)
    return audio


def controlled_reference_keep(controls: ControlsConfig, keep: torch.Tensor) -> torch.Tensor:
    """Per-sample reference keep flags (B,) bool, all False under `no_reference`: the denoiser's
    self-attention then masks every reference-bank token out (the CFG-drop path of attention.py)."""
    if controls.no_reference:
        return torch.zeros_like(keep, dtype=torch.bool)
    return keep
