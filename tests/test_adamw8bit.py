"""harness/train/adamw8bit.py: the 8-bit code books keep the error they state, and the optimiser's state
survives a checkpoint (torch.save, torch.load weights_only, load_state_dict) bit for bit. Its closeness to
torch's AdamW through the sd15-shaped network is tested with the other speed/memory options
(tests/test_speed_options.py)."""

from __future__ import annotations

import io

import pytest
import torch

from harness.train.adamw8bit import (
    BLOCK,
    M_CODES_PER_OCTAVE,
    ROOT_V_CODES_PER_OCTAVE,
    AdamW8bit,
    decode_signed,
    decode_unsigned,
    encode_signed,
    encode_unsigned,
)


def _moment_like(shape, seed: int = 0) -> torch.Tensor:
    """Values over several orders of magnitude, as Adam's moments are."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g) * torch.rand(shape, generator=g) ** 4


def _block_max(x: torch.Tensor) -> torch.Tensor:
    flat = torch.nn.functional.pad(x.reshape(-1), (0, -x.numel() % BLOCK)).view(-1, BLOCK)
    return flat.abs().amax(1, keepdim=True).expand(-1, BLOCK).reshape(-1)[: x.numel()].view(x.shape)


def test_signed_codes_keep_sign_and_4_percent_down_to_their_floor():
    x = _moment_like((300, 77))  # not a multiple of the block: the padding is cut off again
    codes, scales = encode_signed(x)
    assert codes.dtype == torch.uint8 and scales.dtype == torch.float32 and scales.numel() == codes.numel() // BLOCK
    back = decode_signed(codes, scales, x)
    on_grid = x.abs() >= _block_max(x) * 2 ** (-(126 - 0.5) / M_CODES_PER_OCTAVE)
    assert on_grid.float().mean() > 0.85  # rand^4: ~9 % of the values fall under the grid
    error = ((back - x).abs() / x.abs())[on_grid]
    assert error.max() <= 2 ** (0.5 / M_CODES_PER_OCTAVE) - 1 + 1e-6  # 4.4 %
    assert torch.equal(torch.sign(back[on_grid]), torch.sign(x[on_grid]))
    assert (back.abs() <= x.abs() * 1.05 + 1e-30).all()  # below the grid: 0, never larger


def test_root_v_codes_keep_2_percent_and_read_tiny_values_as_the_floor():
    x = _moment_like((1000, 33), seed=1).abs()
    x[0, :5] = 0.0
    back = decode_unsigned(*encode_unsigned(x), x)
    floor = _block_max(x) * 2 ** (-255 / ROOT_V_CODES_PER_OCTAVE)
    on_grid = x >= floor * 2 ** (0.5 / ROOT_V_CODES_PER_OCTAVE)
    assert ((back - x).abs() / x)[on_grid].max() <= 2 ** (0.5 / ROOT_V_CODES_PER_OCTAVE) - 1 + 1e-6  # 2.2 %
    assert torch.allclose(back[~on_grid], floor[~on_grid])  # Adam's denominator only grows: a smaller step
    assert (back > 0).all()


def test_a_zero_block_stays_zero():
    zero = torch.zeros(2 * BLOCK)
    assert torch.equal(decode_signed(*encode_signed(zero), zero), zero)
    assert torch.equal(decode_unsigned(*encode_unsigned(zero), zero), zero)


def _train(optimizer: AdamW8bit, params: list[torch.nn.Parameter], steps: range) -> None:
    for step in steps:
        for i, p in enumerate(params):
            p.grad = _moment_like(p.shape, seed=100 * step + i).to(p.dtype)
        optimizer.step()


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_state_survives_a_checkpoint_bit_for_bit(dtype):
    """torch would cast a floating parameter's state to its dtype on load; the codes and scales keep theirs."""
    def fresh():
        torch.manual_seed(0)
        params = [torch.nn.Parameter(torch.randn(64, 96).to(dtype)), torch.nn.Parameter(torch.randn(7).to(dtype))]
        return params, AdamW8bit(params, lr=1e-2, weight_decay=0.1)

    params, optimizer = fresh()
    _train(optimizer, params, range(4))
    straight = [p.detach().clone() for p in params]
    params, optimizer = fresh()
    _train(optimizer, params, range(2))
    buffer = io.BytesIO()
    torch.save({"params": [p.detach() for p in params], "optimizer": optimizer.state_dict()}, buffer)
    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)
    params, optimizer = fresh()
    with torch.no_grad():
        for p, value in zip(params, saved["params"]):
            p.copy_(value)
    optimizer.load_state_dict(saved["optimizer"])
    big = optimizer.state[params[0]]
    assert big["m_codes"].dtype == big["root_v_codes"].dtype == torch.uint8 and big["step"] == 2
    assert big["m_scales"].dtype == torch.float32
    assert "exp_avg" in optimizer.state[params[1]]  # under 4096 values: fp32 moments
    _train(optimizer, params, range(2, 4))
    for p, want in zip(params, straight):
        assert torch.equal(p.detach(), want)
