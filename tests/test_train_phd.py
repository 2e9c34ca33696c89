"""PhD loss (docs/method.md, "PhD loss"): bands, x0 from v, the three terms, the switches."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from harness.config_training import PhdBands, PhdConfig
from harness.errors import HarnessError
from harness.train.phd import (
    detail_term,
    low_term,
    phd_active,
    phd_band_names,
    phd_band_of,
    phd_loss,
    pose_term,
    ssim,
    x0_from_v,
)


@pytest.mark.parametrize(
    ("fractions", "timesteps", "pose_start", "low_end"),
    [
        ((0.1, 0.6, 0.3), 1000, 900, 300),
        ((0.2, 0.5, 0.3), 1000, 800, 300),
        ((0.3, 0.4, 0.3), 1000, 700, 300),
        ((0.07, 0.64, 0.29), 1000, 930, 290),  # (1 - 0.07) * 1000 = 929.999... in floats
        ((0.18, 0.53, 1 - 0.71), 1000, 820, 290),  # 820.0000000000001 and 290.00000000000006
        ((0.05, 0.9, 0.05), 1000, 950, 50),
        ((0.1, 0.6, 0.3), 100, 90, 30),
    ],
)
def test_band_boundaries(fractions: tuple[float, float, float], timesteps: int, pose_start: int, low_end: int) -> None:
    bands = PhdBands(pose=fractions[0], detail=fractions[1], low=fractions[2])
    t = torch.tensor([0, low_end - 1, low_end, pose_start - 1, pose_start, timesteps - 1])
    assert phd_band_of(t, bands, timesteps).tolist() == [2, 2, 1, 1, 0, 0]
    assert phd_band_names(t, bands, timesteps) == ["low", "low", "detail", "detail", "pose", "pose"]


def test_default_bands_at_899_900_299_300() -> None:
    t = torch.tensor([899, 900, 299, 300])
    assert phd_band_names(t, PhdBands()) == ["detail", "pose", "low", "detail"]
    assert phd_band_of(t, PhdBands()).dtype == torch.long
    counts = torch.bincount(phd_band_of(torch.arange(1000), PhdBands()), minlength=3).tolist()
    assert counts == [100, 600, 300]


def _scheduler():  # the reference's training schedule (docs/method.md, "Objective and sampling")
    from diffusers import DDIMScheduler

    return DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="linear",
        rescale_betas_zero_snr=True,
        prediction_type="v_prediction",
        timestep_spacing="trailing",
    )


@pytest.mark.parametrize("shape", [(3, 4, 2, 8, 8), (3, 2, 4, 8, 8)])  # (B, C, F, H, W) / (B, F, C, H, W)
def test_x0_from_v_recovers_x0(shape: tuple[int, ...]) -> None:
    scheduler = _scheduler()
    generator = torch.Generator().manual_seed(0)
    x0 = torch.randn(shape, generator=generator, dtype=torch.float64)
    noise = torch.randn(shape, generator=generator, dtype=torch.float64)
    t = torch.tensor([0, 517, 999])
    x_t = scheduler.add_noise(x0, noise, t)
    v = scheduler.get_velocity(x0, noise, t)
    alphas = scheduler.alphas_cumprod[t]
    assert alphas[2].item() == 0.0  # zero terminal SNR
    x0_hat = x0_from_v(x_t, v, alphas)
    assert torch.allclose(x0_hat, x0, atol=1e-12, rtol=0)
    assert torch.equal(x0_hat[2], -v[2])
    assert not torch.allclose(x0_hat[:2], x_t[:2], atol=1e-3)  # the inputs really were noised


def _pair(n: int = 2, size: int = 24, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    target = torch.rand(n, 3, size, size, generator=generator) * 2 - 1
    pred = (target + 0.2 * torch.randn(target.shape, generator=generator)).clamp(-1, 1)
    return pred, target


def _keypoints(n: int, points: list[tuple[float, float, float]]) -> torch.Tensor:
    keypoints = torch.zeros(n, 133, 3)  # conf 0 everywhere else
    for index, point in enumerate(points):
        keypoints[:, index] = torch.tensor(point)
    return keypoints


TERMS = {
    "pose": lambda p, t: pose_term(p, t, _keypoints(p.shape[0], [(0.3, 0.4, 1.0), (0.7, 0.6, 0.5)]), 2.0),
    "detail": lambda p, t: detail_term(p, t, torch.tensor([[0.2, 0.5, 0.8, 0.9]] * p.shape[0]), 3.0),
    "low": lambda p, t: low_term(p, t, "ssim_l1"),
}


@pytest.mark.parametrize("name", sorted(TERMS))
def test_term_zero_for_identical_positive_otherwise(name: str) -> None:
    pred, target = _pair()
    term = TERMS[name]
    assert term(target.clone(), target).item() == 0.0
    pred.requires_grad_(True)
    value = term(pred, target)
    assert value.ndim == 0 and value.item() > 0
    value.backward()
    assert pred.grad is not None and torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0


@pytest.mark.parametrize("name", sorted(TERMS))
def test_term_gradcheck(name: str) -> None:
    pred, target = _pair(n=1, size=11 if name == "low" else 8, seed=3)
    pred, target = pred.double().requires_grad_(True), target.double()
    term = TERMS[name]
    if name == "pose":
        term = lambda p, t: pose_term(p, t, _keypoints(1, [(0.3, 0.4, 1.0)]).double(), 2.0)  # noqa: E731
    elif name == "detail":
        term = lambda p, t: detail_term(p, t, torch.tensor([[0.2, 0.5, 0.8, 0.9]], dtype=torch.float64), 3.0)  # noqa: E731
    assert torch.autograd.gradcheck(lambda p: term(p, target), (pred,), fast_mode=True)


def _error_patch(size: int, row: int, col: int, amount: float = 0.5) -> tuple[torch.Tensor, torch.Tensor]:
    target = torch.zeros(1, 3, size, size)
    pred = target.clone()
    pred[:, :, row - 1 : row + 2, col - 1 : col + 2] += amount  # a 3x3 error centred at (row, col)
    return pred, target


def test_pose_term_weights_errors_on_keypoints() -> None:
    size = 32
    keypoints = _keypoints(1, [(8.5 / size, 8.5 / size, 1.0), (24.5 / size, 8.5 / size, 0.0)])
    on = pose_term(*_error_patch(size, 8, 8), keypoints, sigma_px=1.5)
    off = pose_term(*_error_patch(size, 24, 24), keypoints, sigma_px=1.5)
    unconfident = pose_term(*_error_patch(size, 8, 24), keypoints, sigma_px=1.5)  # on the conf-0 point
    assert on > 1.5 * off
    assert unconfident.item() == pytest.approx(off.item())


def test_detail_term_emphasises_the_lip_box() -> None:
    size = 32
    box = torch.tensor([[0.0, 0.5, 1.0, 1.0]])  # lower half of the frame
    inside = _error_patch(size, 24, 16)
    outside = _error_patch(size, 8, 16)
    assert detail_term(*inside, box, 1.0) == pytest.approx(detail_term(*outside, box, 1.0).item())
    ratio = detail_term(*inside, box, 2.5) / detail_term(*outside, box, 2.5)
    assert ratio.item() == pytest.approx(2.5, rel=1e-5)
    assert detail_term(*inside, None, 2.5).item() == pytest.approx(detail_term(*outside, None, 2.5).item())


def test_ssim_matches_skimage() -> None:
    from skimage.metrics import structural_similarity

    rng = np.random.default_rng(0)
    base = rng.random((3, 40, 48))
    smooth = (base + np.roll(base, 1, axis=1) + np.roll(base, 1, axis=2)) / 3
    other = np.clip(smooth + 0.08 * rng.standard_normal(smooth.shape), 0, 1)
    expected = structural_similarity(
        smooth, other, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0, channel_axis=0
    )
    ours = ssim(torch.tensor(smooth, dtype=torch.float32)[None], torch.tensor(other, dtype=torch.float32)[None])
    assert abs(ours.item() - expected) < 1e-4
    assert 0.2 < expected < 0.95  # a pair with real structure differences


def test_low_term_mix_and_lpips() -> None:
    pred, target = _pair()
    p01, t01 = (pred + 1) / 2, (target + 1) / 2
    expected = 0.84 * (1 - ssim(p01, t01)) + 0.16 * (p01 - t01).abs().mean()
    assert low_term(pred, target, "ssim_l1").item() == pytest.approx(expected.item(), rel=1e-6)
    assert torch.equal(low_term(pred, target, "ssim_l1"), low_term(pred, target, "ssim_l1"))
    with pytest.raises(HarnessError, match="LPIPS"):
        low_term(pred, target, "lpips")


def _batch() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    pred, target = _pair(n=4, size=24, seed=5)
    bands = torch.tensor([0, 1, 2, 1])  # pose, detail, low, detail
    keypoints = _keypoints(4, [(0.3, 0.4, 1.0), (0.6, 0.5, 0.7)])
    lips = torch.tensor([[0.3, 0.6, 0.7, 0.8]] * 4)
    return pred, target, bands, keypoints, lips


def test_phd_loss_routes_each_row_to_its_band_term() -> None:
    pred, target, bands, keypoints, lips = _batch()
    cfg = PhdConfig.model_validate({"pose": {"weight": 0.3}, "detail": {"weight": 0.2}, "low": {"weight": 0.5}})
    pred.requires_grad_(True)
    total, values = phd_loss(pred, target, bands, keypoints, lips, cfg)
    sigma = cfg.pose.heatmap_sigma * 24
    pose = pose_term(pred[[0]], target[[0]], keypoints[[0]], sigma)
    detail = detail_term(pred[[1, 3]], target[[1, 3]], lips[[1, 3]], cfg.detail.lip_emphasis)
    low = low_term(pred[[2]], target[[2]], "ssim_l1")
    expected = 0.3 * pose * 0.25 + 0.2 * detail * 0.5 + 0.5 * low * 0.25
    assert total.item() == pytest.approx(expected.item(), rel=1e-6)
    assert values["pose"] == pytest.approx(pose.item()) and values["low"] == pytest.approx(low.item())
    assert values["detail"] == pytest.approx(detail.item()) and values["total"] == pytest.approx(total.item())
    total.backward()
    assert all(pred.grad[i].abs().sum() > 0 for i in range(4))


@pytest.mark.parametrize("term", ["pose", "detail", "low"])
def test_weight_zero_equals_term_off(term: str) -> None:
    pred, target, bands, keypoints, lips = _batch()
    zero = PhdConfig.model_validate({term: {"weight": 0.0}})
    off = PhdConfig.model_validate({term: {"enabled": False}})
    total_zero, values_zero = phd_loss(pred, target, bands, keypoints, lips, zero)
    total_off, values_off = phd_loss(pred, target, bands, keypoints, lips, off)
    total_all, _ = phd_loss(pred, target, bands, keypoints, lips, PhdConfig())
    assert torch.equal(total_zero, total_off) and values_zero == values_off
    assert term not in values_off and not torch.equal(total_off, total_all)


def test_no_term_applies_gives_exact_zero_without_graph() -> None:
    pred, target, bands, keypoints, lips = _batch()
    pred.requires_grad_(True)
    all_off = PhdConfig.model_validate({t: {"enabled": False} for t in ("pose", "detail", "low")})
    total, values = phd_loss(pred, target, bands, keypoints, lips, all_off)
    assert torch.equal(total, torch.zeros(())) and not total.requires_grad and values == {}
    only_pose = PhdConfig.model_validate({"detail": {"enabled": False}, "low": {"enabled": False}})
    total, _ = phd_loss(pred, target, torch.tensor([1, 2, 2, 1]), keypoints, lips, only_pose)  # no S1 rows
    assert torch.equal(total, torch.zeros(())) and not total.requires_grad
    assert phd_active(torch.tensor([0, 1, 2, 1]), only_pose).tolist() == [True, False, False, False]


def test_lpips_kind_fails_early_only_when_used() -> None:
    pred, target, _, keypoints, lips = _batch()
    no_low_rows = torch.tensor([0, 1, 1, 0])
    with pytest.raises(HarnessError, match="LPIPS"):
        phd_loss(pred, target, no_low_rows, keypoints, lips, PhdConfig.model_validate({"low": {"kind": "lpips"}}))
    cfg = PhdConfig.model_validate({"low": {"kind": "lpips", "enabled": False}})
    total, _ = phd_loss(pred, target, torch.tensor([0, 1, 2, 1]), keypoints, lips, cfg)
    assert total.item() > 0
