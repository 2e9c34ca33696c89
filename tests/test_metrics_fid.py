"""FID against pytorch-fid itself: same PNGs, same weights in a temporary TORCH_HOME."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from metrics import weights as W
from metrics.fid import FidMetric, inception_features
from metrics.inception import FidInception, map_fid_helper
from metrics.stats import GaussianStats, frechet_distance

REF_FILE = "pt_inception-2015-12-05-6726825d.pth"


def _images(seed: int, n: int, size: int = 48) -> np.ndarray:
    """n smooth random RGB images, uint8 (n, size, size, 3); seed picks the distribution."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 255, size=(n, 6, 6, 3)) * (0.5 + 0.5 * (seed % 2))
    up = np.kron(coarse, np.ones((1, size // 6, size // 6, 1)))
    return np.clip(up + rng.normal(0, 8 + 10 * seed, up.shape), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def mapped_state(tmp_path_factory: pytest.TempPathFactory) -> tuple[FidInception, Path]:
    """The offline-mapped network and its state dict saved where pytorch-fid looks for it."""
    state = map_fid_helper(W.resolve("fid_helper_inception").path)
    torch_home = tmp_path_factory.mktemp("torch_home")
    ckpt = torch_home / "hub" / "checkpoints" / REF_FILE
    ckpt.parent.mkdir(parents=True)
    torch.save(state, ckpt)
    model = FidInception()
    model.net.load_state_dict(state)
    return model, torch_home


def test_frechet_distance_equals_pytorch_fid_formula() -> None:
    from pytorch_fid.fid_score import calculate_frechet_distance

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(300, 40)), rng.normal(0.3, 1.5, size=(200, 40)) @ rng.normal(size=(40, 40))
    args = (a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))
    assert frechet_distance(*args) == pytest.approx(calculate_frechet_distance(*args), rel=1e-9)


def test_streaming_stats_equal_one_shot() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(2.0, 3.0, size=(101, 16))
    streamed = GaussianStats(16)
    for chunk in np.array_split(x, [1, 7, 30, 31, 80]):
        streamed.update(chunk)
    halves = GaussianStats(16).update(x[:50]).merge(GaussianStats(16).update(x[50:]))
    for s in (streamed, halves):
        assert s.n == 101
        np.testing.assert_allclose(s.mean, x.mean(0), rtol=1e-12)
        np.testing.assert_allclose(s.cov(), np.cov(x, rowvar=False), rtol=1e-10, atol=1e-12)


@pytest.mark.slow
def test_offline_mapping_reproduces_fid_helper_torchscript(mapped_state) -> None:
    model, _ = mapped_state
    ts = torch.jit.load(str(W.resolve("fid_helper_inception").path), map_location="cpu").eval()
    x = torch.rand(2, 3, 299, 299, generator=torch.Generator().manual_seed(0)) * 2 - 1
    with torch.inference_mode():
        ours, theirs = model.features_normalized(x), ts(x)
    rel = (ours - theirs).abs().max() / theirs.abs().max()
    assert rel < 1e-5


@pytest.mark.slow
def test_fid_equals_pytorch_fid_on_png_folders(mapped_state, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pytorch_fid.fid_score import calculate_fid_given_paths

    model, torch_home = mapped_state
    sets = {"pred": _images(1, 10), "gt": _images(2, 10)}
    for name, imgs in sets.items():
        (tmp_path / name).mkdir()
        for i, img in enumerate(imgs):
            Image.fromarray(img).save(tmp_path / name / f"{i:03d}.png")
    monkeypatch.setenv("TORCH_HOME", str(torch_home))
    theirs = calculate_fid_given_paths([str(tmp_path / "pred"), str(tmp_path / "gt")], 5, "cpu", 2048, num_workers=0)

    metric = FidMetric(model=(model, "test"), batch_size=4, device="cpu")
    for name, imgs in sets.items():  # re-read the PNGs, as pytorch-fid does
        frames = np.stack([np.asarray(Image.open(p).convert("RGB")) for p in sorted((tmp_path / name).glob("*.png"))])
        metric.add(frames, name)
    ours = metric.value()
    assert ours == pytest.approx(theirs, rel=1e-6)
    assert ours > 1.0  # two different distributions

    # batch-size independence: same frames, other batch sizes -> same features and statistics
    feats_a = inception_features(model, sets["pred"], batch_size=10, device="cpu")
    feats_b = inception_features(model, sets["pred"], batch_size=3, device="cpu")
    np.testing.assert_allclose(feats_a, feats_b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(GaussianStats(2048).update(feats_b).cov(), metric.pred.cov(), rtol=1e-4, atol=1e-9)


def test_frames_to_tensor_is_torchvision_to_tensor_for_every_pixel_value() -> None:
    """The lookup that converts uint8 pixels on the model's device gives ToTensor's float for each of the 256
    values, in ToTensor's (N, 3, H, W) layout; on a GPU the same table travels, so the result is identical."""
    from torchvision.transforms.functional import to_tensor

    from metrics.fid import frames_to_tensor

    frames = np.arange(256, dtype=np.uint8).reshape(1, 16, 16, 1).repeat(3, axis=3)
    frames[..., 1] = frames[..., 1][:, ::-1]  # channels differ, so a wrong permute shows
    got = frames_to_tensor(frames)
    want = torch.stack([to_tensor(f) for f in frames])
    assert got.dtype == torch.float32 and got.shape == (1, 3, 16, 16) and got.is_contiguous()
    assert torch.equal(got, want)
