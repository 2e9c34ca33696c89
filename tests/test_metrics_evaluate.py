"""metrics.evaluate(): arrays in, one labelled record per result key out, in a fixed order."""

from __future__ import annotations

import json

import numpy as np
import pytest

from metrics import MetricResult, evaluate


def _clip(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(3, 32, 32, 3), dtype=np.uint8)


def test_evaluate_records_and_order() -> None:
    pred, gt = [_clip(0), _clip(1)], [_clip(0), _clip(2)]
    results = evaluate(pred, gt, wanted=["psnr", "hkc", "ssim"], backend="offline", device="cpu")
    assert [r.key for r in results] == ["ssim", "psnr", "hkc", "hkv"]
    assert all(isinstance(r, MetricResult) for r in results)
    ssim = results[0]
    assert ssim.n == 6 and ssim.unit == "frames" and ssim.exact
    assert 0.45 < ssim.value < 0.55  # clip 0 identical (1.0), clip 1 unrelated noise (~0)
    hkc = results[2]
    assert hkc.exact is False and "stand-in" in hkc.backend
    json.dumps([r.to_dict() for r in results])  # JSON-able


def test_evaluate_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="unknown metric"):
        evaluate([_clip(0)], [_clip(0)], wanted=["lpips"])
    with pytest.raises(ValueError, match="gt has 2 entries for 1"):
        evaluate([_clip(0)], [_clip(0), _clip(1)], wanted=["ssim"])


def test_missing_value_is_none_not_zero() -> None:
    r = MetricResult(key="sync_c", value=None, n=0, unit="clips", backend="x", weights_sha256=None, exact=False)
    assert r.display() == "missing" and r.to_dict()["value"] is None
