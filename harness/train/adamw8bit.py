"""AdamW with 8-bit moments (train.optimizer=adamw_8bit): a memory option, not a speed one.

AdamW keeps two fp32 moments a parameter, 8 bytes; with the 2.15 B trainable parameters of sd15's joint stage
that is 17.2 GB of a step's memory. Here each moment is stored as one byte a value plus one fp32 scale per
block of 256 values (2.03 bytes a parameter for both), and decoded to fp32 one parameter at a time for the
update, which is torch.optim.AdamW's (decoupled weight decay, bias corrections, eps outside the root).

Codes are logarithmic, as moments span orders of magnitude within a block (the idea of block-wise dynamic
quantization, Dettmers et al. 2022, "8-bit Optimizers via Block-wise Quantization"; this code book is ours):
    first moment m:            sign bit + 7-bit |m| / block max on a log2 grid of 8 codes an octave, down to
                               2^-15.75; below that, 0. Rounding error <= 2^(1/16) - 1 = 4.4 % of |m|.
    root of the second, sqrt(v): 8 bits on a log2 grid of 16 codes an octave, down to 2^-15.94 (no zero code:
                               below that it reads as the floor, which only makes the step smaller). Storing
                               the root halves v's dynamic range and puts the error where it acts, in Adam's
                               denominator: <= 2^(1/32) - 1 = 2.2 %.
Tensors under 4096 values (biases, norms) keep fp32 moments: their bytes do not matter.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import torch
import torch.nn.functional as F

BLOCK = 256  # values sharing one fp32 scale
MIN_QUANTIZED = 4096  # smaller tensors keep fp32 moments
M_CODES_PER_OCTAVE = 8  # 127 magnitudes: 2^(-126/8) .. 1 of the block's max |m|
ROOT_V_CODES_PER_OCTAVE = 16  # 256 codes: 2^(-255/16) .. 1 of the block's max sqrt(v)
SIGN = 128  # the first moment's sign bit


def _blocks(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """x (any shape) -> (x in blocks (n_blocks, BLOCK), zero-padded at the end; each block's max |x| (n_blocks, 1))."""
    flat = x.detach().float().reshape(-1)
    if flat.numel() % BLOCK:
        flat = F.pad(flat, (0, -flat.numel() % BLOCK))
    blocks = flat.view(-1, BLOCK)
    return blocks, blocks.abs().amax(dim=1, keepdim=True)


def _log_codes(blocks: torch.Tensor, scale: torch.Tensor, per_octave: int, top: int) -> torch.Tensor:
    """round(log2(|x| / block max) * per_octave) + top, clipped to [0, top], as uint8 (0 for x = 0).
    In place on one buffer: these run over every trainable value each step."""
    ratio = blocks.abs().div_(scale.clamp_min(torch.finfo(torch.float32).tiny))
    return ratio.log2_().mul_(per_octave).add_(top).round_().clamp_(0, top).to(torch.uint8)


def _exp_values(codes: torch.Tensor, scales: torch.Tensor, per_octave: int, top: int) -> torch.Tensor:
    """_log_codes's inverse: 2^((code - top) / per_octave) x block max, fp32 (n_blocks, BLOCK)."""
    return codes.float().sub_(top).div_(per_octave).exp2_().mul_(scales[:, None])


def encode_signed(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """First moment -> (uint8 codes (n_blocks * BLOCK,), fp32 scales (n_blocks,)): sign bit + magnitude, where
    magnitude 0 is zero."""
    blocks, scale = _blocks(x)
    codes = _log_codes(blocks, scale, M_CODES_PER_OCTAVE, SIGN - 1)
    codes.bitwise_or_((blocks < 0).to(torch.uint8).mul_(SIGN))
    return codes.reshape(-1), scale.reshape(-1)


def decode_signed(codes: torch.Tensor, scales: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """encode_signed's codes -> fp32 tensor of `like`'s shape."""
    codes = codes.view(-1, BLOCK)
    magnitude = codes.bitwise_and(SIGN - 1)
    value = _exp_values(magnitude, scales, M_CODES_PER_OCTAVE, SIGN - 1).masked_fill_(magnitude == 0, 0.0)
    value.copysign_(codes.view(torch.int8).float())  # read as int8, a code with the sign bit set is negative
    return value.reshape(-1)[: like.numel()].view(like.shape)


def encode_unsigned(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """sqrt(v) (>= 0) -> (uint8 codes, fp32 scales); values under the grid's floor read back as the floor."""
    blocks, scale = _blocks(x)
    return _log_codes(blocks, scale, ROOT_V_CODES_PER_OCTAVE, 255).reshape(-1), scale.reshape(-1)


def decode_unsigned(codes: torch.Tensor, scales: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """encode_unsigned's codes -> fp32 tensor of `like`'s shape."""
    value = _exp_values(codes.view(-1, BLOCK), scales, ROOT_V_CODES_PER_OCTAVE, 255)
    return value.reshape(-1)[: like.numel()].view(like.shape)


class AdamW8bit(torch.optim.Optimizer):
    """torch.optim.AdamW's update with the moments of every tensor of >= MIN_QUANTIZED values kept in 8 bits.

    State per quantized parameter: m_codes, m_scales, root_v_codes, root_v_scales (the codes uint8); per small
    one: exp_avg, exp_avg_sq (fp32); both: step (int).
    """

    def __init__(self, params: Iterable[torch.Tensor], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2):
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor] | None = None) -> torch.Tensor | None:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    self._update(p, self.state[p], group)
        return loss

    def _update(self, p: torch.Tensor, state: dict, group: dict) -> None:
        """One AdamW step of p: decode its moments, update them and p in fp32, encode them again."""
        beta1, beta2 = group["betas"]
        grad = p.grad.float()
        quantized = p.numel() >= MIN_QUANTIZED
        if not state:
            state["step"] = 0
            if not quantized:
                state["exp_avg"], state["exp_avg_sq"] = torch.zeros_like(grad), torch.zeros_like(grad)
        state["step"] += 1
        if quantized and state["step"] == 1:
            m, v = torch.zeros_like(grad), torch.zeros_like(grad)
        elif quantized:
            m = decode_signed(state["m_codes"], state["m_scales"], grad)
            v = decode_unsigned(state["root_v_codes"], state["root_v_scales"], grad).square_()
        else:
            m, v = state["exp_avg"], state["exp_avg_sq"]
        # 1. Moments, as torch.optim.AdamW: m <- b1 m + (1 - b1) g, v <- b2 v + (1 - b2) g^2.
        m.lerp_(grad, 1 - beta1)
        v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        # 2. Decoupled weight decay, then the bias-corrected step.
        p.mul_(1 - group["lr"] * group["weight_decay"])
        bias1, bias2 = 1 - beta1 ** state["step"], 1 - beta2 ** state["step"]
        root_v = v.sqrt()
        denominator = (root_v / math.sqrt(bias2)).add_(group["eps"])
        p.addcdiv_(m.to(p.dtype), denominator.to(p.dtype), value=-group["lr"] / bias1)
        # 3. Keep the moments in 8 bits.
        if quantized:
            state["m_codes"], state["m_scales"] = encode_signed(m)
            state["root_v_codes"], state["root_v_scales"] = encode_unsigned(root_v)

    def load_state_dict(self, state_dict: dict) -> None:
        """Load as saved: torch.optim.Optimizer would cast a floating parameter's state to its dtype (uint8 codes
        to fp32, fp32 scales to a bf16 parameter's bf16, losing bits), so only the steps go through it."""
        saved = state_dict["state"]
        super().load_state_dict({**state_dict, "state": {i: {"step": s["step"]} for i, s in saved.items()}})
        ids = [i for group in state_dict["param_groups"] for i in group["params"]]
        params = [p for group in self.param_groups for p in group["params"]]
        for param_id, param in zip(ids, params, strict=True):
            if param_id in saved:
                self.state[param] = {key: value.to(param.device) if torch.is_tensor(value) else value
                                     for key, value in saved[param_id].items()}


def state_bytes(optimizer: torch.optim.Optimizer) -> int:
    """Bytes held in an optimiser's state tensors (what the moments cost)."""
    return sum(t.numel() * t.element_size() for s in optimizer.state.values() for t in s.values()
               if isinstance(t, torch.Tensor))
