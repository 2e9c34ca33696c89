"""SSIM/PSNR against an independent re-derivation of the Gaussian-window formula."""

from __future__ import annotations

import numpy as np
import pytest

from metrics.sample import Sample
from metrics.ssim import SsimPsnrMetric, frame_psnr, frame_ssim


def _gauss_blur(img: np.ndarray, sigma: float = 1.5, truncate: float = 3.5) -> np.ndarray:
    """Separable Gaussian filter of a 2-D float64 array, mirror ('reflect' = half-sample) edges."""
    r = int(truncate * sigma + 0.5)
    t = np.arange(-r, r + 1, dtype=np.float64)
    k = np.exp(-0.5 * (t / sigma) ** 2)
    k /= k.sum()
    padded = np.pad(img, r, mode="symmetric")
    rows = np.stack([np.convolve(row, k, mode="valid") for row in padded])
    return np.stack([np.convolve(col, k, mode="valid") for col in rows.T]).T


def _ssim_by_hand(a: np.ndarray, b: np.ndarray) -> float:
    """Wang et al. (2004): mean over channels of the cropped mean SSIM map; population variances."""
    c1, c2, r = (0.01 * 1.0) ** 2, (0.03 * 1.0) ** 2, 5
    vals = []
    for x, y in zip(a.transpose(2, 0, 1) / 255.0, b.transpose(2, 0, 1) / 255.0):
        mx, my = _gauss_blur(x), _gauss_blur(y)
        vx, vy = _gauss_blur(x * x) - mx * mx, _gauss_blur(y * y) - my * my
        cxy = _gauss_blur(x * y) - mx * my
        s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
        vals.append(s[r:-r, r:-r].mean())
    return float(np.mean(vals))


def _pair(seed: int, shape=(40, 52, 3)) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 256, size=shape, dtype=np.uint8)
    b = np.clip(a.astype(int) + rng.normal(0, 30, size=shape), 0, 255).astype(np.uint8)
    return a, b


@pytest.mark.parametrize("seed", [0, 1])
def test_ssim_equals_rederived_gaussian_formula(seed: int) -> None:
    a, b = _pair(seed)
    ours = frame_ssim(a, b)
    assert ours == pytest.approx(_ssim_by_hand(a, b), rel=1e-6)
    assert 0.0 < ours < 1.0


def test_psnr_formula_and_cap() -> None:
    a, b = _pair(2)
    mse = np.mean((a / 255.0 - b / 255.0) ** 2)
    assert frame_psnr(a, b) == pytest.approx(10 * np.log10(1.0 / mse), rel=1e-9)
    assert frame_psnr(a, a) == 100.0


def test_metric_streams_over_clips_and_resizes() -> None:
    a, b = _pair(3, shape=(4, 32, 32, 3))
    m = SsimPsnrMetric(workers=2)
    m.update(Sample(pred=a, gt=b))
    m.update(Sample(pred=a[:2], gt=a))  # shorter prediction: 2 frames, identical
    ssim, psnr = m.results()
    assert ssim.n == 6 and psnr.n == 6
    expected = (sum(frame_ssim(x, y) for x, y in zip(a, b)) + 2.0) / 6
    assert ssim.value == pytest.approx(expected, rel=1e-12)
    assert ssim.exact and ssim.backend.endswith("reference")
    big = np.repeat(np.repeat(a, 2, axis=1), 2, axis=2)  # 64x64 prediction for 32x32 truth
    m2 = SsimPsnrMetric()
    m2.update(Sample(pred=big, gt=a))
    assert m2.results()[0].parameters["pred_resized_to_gt"] is True
    assert m2.results()[0].value == pytest.approx(1.0, abs=1e-9)
