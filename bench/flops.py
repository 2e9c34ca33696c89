"""FLOP counting for the bench scripts: torch's FlopCounterMode, taught SDPA's CPU kernel.

FlopCounterMode has formulas for the CUDA kernels of scaled_dot_product_attention (flash, memory-efficient,
cuDNN) but none for aten._scaled_dot_product_flash_attention_for_cpu, the kernel SDPA runs on a CPU and on
fake tensors, so a CPU count left attention out: sd15 at 768 px, 12 frames, the plain step counted 93.5
TFLOP on fake tensors where the H200 counted 128.0. The CPU kernel computes the same attention, so it is
counted with the CUDA flash kernel's formulas (forward 4 b h s_q s_k d, backward 2.5x that).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.utils.flop_counter import FlopCounterMode, flop_registry

aten = torch.ops.aten


def _as_raw(formula: Callable) -> Callable:
    """A registered formula already takes the raw operator arguments; custom_mapping must not wrap it again."""
    def raw(*args, **kwargs):
        return formula(*args, **kwargs)

    raw._get_raw = True  # type: ignore[attr-defined]  # FlopCounterMode's mark for "no shape wrapper"
    return raw


CPU_ATTENTION = {
    aten._scaled_dot_product_flash_attention_for_cpu: _as_raw(flop_registry[aten._scaled_dot_product_flash_attention]),
    aten._scaled_dot_product_flash_attention_for_cpu_backward:
        _as_raw(flop_registry[aten._scaled_dot_product_flash_attention_backward]),
}


def flop_counter() -> FlopCounterMode:
    """A FlopCounterMode (display off) that also counts SDPA on a CPU or on fake tensors."""
    return FlopCounterMode(display=False, custom_mapping=CPU_ATTENTION)
