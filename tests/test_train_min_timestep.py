"""train.min_timestep: t is drawn from [min_timestep, T) only; 0 is the paper's draw, bit for bit."""

from __future__ import annotations

import torch

from harness.train.objective import NUM_TRAIN_TIMESTEPS, add_noise, make_scheduler


def test_min_timestep_bounds_the_draw_and_zero_keeps_the_stream() -> None:
    latents = torch.randn(64, 4, 2, 4, 4)
    default = add_noise(make_scheduler(), latents, torch.Generator().manual_seed(3))
    zero = add_noise(make_scheduler(), latents, torch.Generator().manual_seed(3), min_timestep=0)
    assert torch.equal(default.timesteps, zero.timesteps) and torch.equal(default.noisy, zero.noisy)
    assert default.timesteps.min() < 900  # 64 uniform draws: P(all >= 900) = 0.1 ** 64
    high = add_noise(make_scheduler(), latents, torch.Generator().manual_seed(3), min_timestep=900)
    assert high.timesteps.min() >= 900 and high.timesteps.max() < NUM_TRAIN_TIMESTEPS
    assert len(set(high.timesteps.tolist())) > 10  # still a draw, not a constant
