"""Ground-truth FID features cached between evaluations (metrics/feature_cache.py): same numbers, no recompute."""

from __future__ import annotations

import numpy as np
import torch

from metrics.feature_cache import FeatureCache, cache_key
from metrics.fid import FidMetric
from metrics.inception import FEATURE_DIM


class CountingNet(torch.nn.Module):
    """A stand-in feature network: (B, 3, H, W) -> (B, 2048), a fixed random projection; counts images seen."""

    def __init__(self) -> None:
        super().__init__()
        self.images = 0
        self.proj = torch.nn.Linear(3 * 8 * 8, FEATURE_DIM)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.images += len(x)
        pooled = torch.nn.functional.adaptive_avg_pool2d(x, 8).flatten(1)  # (B, 192)
        return self.proj(pooled)


def _frames(seed: int, n: int = 12) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 16, 16, 3), dtype=np.uint8)


def _fid(net: CountingNet, pred: np.ndarray, gt: np.ndarray, cache: FeatureCache | None) -> float:
    metric = FidMetric(device="cpu", model=(net, "sha-a"), feature_cache=cache)
    metric.add(pred, "pred")
    metric.add(gt, "gt")
    value = metric.value()
    assert value is not None
    return value


def test_cached_ground_truth_gives_the_same_fid_without_recomputing(tmp_path) -> None:
    torch.manual_seed(0)
    net = CountingNet()
    gt = _frames(1)
    plain = _fid(net, _frames(2), gt, None)
    cache = FeatureCache(tmp_path / "cache")
    first = _fid(net, _frames(2), gt, cache)
    seen = net.images
    second = _fid(net, _frames(2), gt, cache)
    assert first == plain and second == plain  # exactly: the cached features are the computed ones
    assert net.images - seen == len(_frames(2))  # the second run computed only its predictions
    assert (cache.hits, cache.misses) == (1, 1)
    _fid(net, _frames(2), _frames(3), cache)  # other ground truth: computed, not taken from the cache
    assert cache.misses == 2


def test_key_names_the_frames_and_settings() -> None:
    frames = _frames(1)
    assert cache_key(frames, {"w": "a"}) == cache_key(frames.copy(), {"w": "a"})
    assert cache_key(frames, {"w": "a"}) != cache_key(frames, {"w": "b"})
    changed = frames.copy()
    changed[0, 0, 0, 0] ^= 1
    assert cache_key(changed, {"w": "a"}) != cache_key(frames, {"w": "a"})
    assert cache_key(frames.reshape(6, 32, 16, 3), {}) != cache_key(frames, {})  # same bytes, other shape


def test_damaged_entry_is_recomputed_and_unwritable_folder_is_no_error(tmp_path) -> None:
    frames, settings = _frames(1), {"metric": "x"}
    cache = FeatureCache(tmp_path)
    (tmp_path / f"{cache_key(frames, settings)}.npy").write_bytes(b"not an array")
    out = cache.features(frames, settings, lambda f: np.ones((len(f), 4)))
    assert out.shape == (12, 4) and cache.misses == 1
    assert np.array_equal(cache.features(frames, settings, lambda f: np.zeros((len(f), 4))), out)  # now a hit
    blocked = tmp_path / "file"
    blocked.write_text("a file where the folder should be")
    unwritable = FeatureCache(blocked / "sub")
    assert unwritable.features(frames, settings, lambda f: np.ones((len(f), 2))).shape == (12, 2)
