"""train.latent_cache (harness/train/latent_cache.py): the frozen codec's latents read from the clip folder give
the steps of encoding every window, they are written once per clip, and a stale or torn file is encoded again.

Tolerances: the tiny codec (pixel unshuffle) is exact, so training with the cache equals training without it
bit for bit; the sd15-shaped VAE encodes a clip 16 frames a call where the step encodes a window in one call, so
the two sum convolutions over other batch sizes: relative L2 error <= 1e-5 (measured ~3e-7). Under bf16 autocast
the same comparison measures 0; its bound, 1e-3, sits below the 7.2e-3 measured when the cache fed the encoder
channels-last pixels (the image decoder's strides) where the step feeds contiguous ones.
"""

from __future__ import annotations

import pytest
import torch
from diffusers import AutoencoderKL

from harness.config_load import load
from harness.data.clip_format import clip_dir
from harness.errors import HarnessError
from harness.model.codec import SpaceToDepthCodec, VaeCodec
from harness.train.batches import TrainingBatches
from harness.train.latent_cache import LatentCache, codec_fingerprint
from harness.train.step import encode_clip
from harness.train.trainer import train
from tests.conftest import EXPERIMENTS

SMALL = ["data.synthetic.clips=3", "data.synthetic.portrait_clips=2", "data.frames=4", "data.synthetic.seconds=1.0",
         "train.batch_size=2", "train.steps=4", "train.checkpoint_every=4"]


def _cfg(tmp_path, *overrides):
    return load(EXPERIMENTS / "base.yaml", [f"paths.runs={tmp_path}", *SMALL, *overrides])


def _cache_files(root):
    return sorted(root.glob("clips/*/latents_*.pt"))


@pytest.mark.parametrize("stage", ["joint", "images"])
def test_training_with_the_cache_equals_encoding_every_window(tmp_path, stage):
    """Same losses, step for step, with HPA portraits in the batches (encoded on the fly) and without."""
    plain = train(_cfg(tmp_path, f"train.stage={stage}"), tmp_path / "plain", progress=False)
    cached = train(_cfg(tmp_path, f"train.stage={stage}", "train.latent_cache=true"), tmp_path / "cached", progress=False)
    assert [h["loss"] for h in cached.history] == [h["loss"] for h in plain.history]
    files = _cache_files(tmp_path / "data" / "synthetic")
    assert files and all(f.name == files[0].name for f in files)  # one fingerprint for one codec, size, precision


def test_each_clip_is_encoded_once_and_read_after(tmp_path):
    cfg = _cfg(tmp_path, "train.latent_cache=true")
    train(cfg, tmp_path / "first", progress=False)
    root = tmp_path / "data" / "synthetic"
    written = {f: f.stat().st_mtime_ns for f in _cache_files(root)}
    assert written
    train(cfg, tmp_path / "second", progress=False)
    assert {f: f.stat().st_mtime_ns for f in _cache_files(root)} == written


def test_a_torn_or_stale_cache_file_is_encoded_again(tmp_path, capsys):
    cfg = _cfg(tmp_path)
    batches = TrainingBatches(cfg)
    codec = SpaceToDepthCodec()
    cache = LatentCache(codec, batches.root, cfg.data.size, "no", 0, torch.device("cpu"))
    clip_id = batches.semibody.clip_ids[0]
    good = cache.clip_latents(clip_id).clone()
    path = clip_dir(batches.root, clip_id) / cache.file_name
    path.write_bytes(path.read_bytes()[:100])  # torn: a writer killed mid-file
    fresh = LatentCache(codec, batches.root, cfg.data.size, "no", 0, torch.device("cpu"))
    assert torch.equal(fresh.clip_latents(clip_id), good)
    torch.save(good[:3].clone(), path)  # another clip length
    assert torch.equal(LatentCache(codec, batches.root, cfg.data.size, "no", 0, torch.device("cpu")).clip_latents(clip_id), good)
    err = capsys.readouterr().err
    assert "unreadable latent cache" in err and "do not match the clip's" in err


def _small_vae(seed: int) -> VaeCodec:
    torch.manual_seed(seed)
    return VaeCodec(AutoencoderKL(block_out_channels=(8, 16, 16), down_block_types=("DownEncoderBlock2D",) * 3,
                                  up_block_types=("UpDecoderBlock2D",) * 3, layers_per_block=1, norm_num_groups=4,
                                  latent_channels=4, sample_size=64)).eval()


def test_vae_latents_from_the_cache_equal_the_steps_encode(tmp_path):
    cfg = _cfg(tmp_path)
    batches = TrainingBatches(cfg)
    codec = _small_vae(0)
    batch = LatentCache(codec, batches.root, cfg.data.size, "no", 0, torch.device("cpu")).attach(batches.batch(1))
    with torch.no_grad():
        windows = encode_clip(codec, batch["frames"]).permute(0, 2, 1, 3, 4)  # (B, F, C, h, w)
        references = codec.encode(batch["reference"])
    for cached, encoded in ((batch["latents"], windows), (batch["reference_latents"], references)):
        assert cached.shape == encoded.shape
        assert ((cached - encoded).norm() / encoded.norm()).item() <= 1e-5


def test_the_fingerprint_names_weights_size_and_precision():
    base = codec_fingerprint(_small_vae(0), 64, "no")
    assert codec_fingerprint(_small_vae(0), 64, "no") == base
    assert len({base, codec_fingerprint(_small_vae(1), 64, "no"), codec_fingerprint(_small_vae(0), 32, "no"),
                codec_fingerprint(_small_vae(0), 64, "bf16"), codec_fingerprint(SpaceToDepthCodec(), 64, "no")}) == 5


def test_unwritable_clip_folders_are_one_line_with_the_way_out(tmp_path):
    """Refused before the first step. The tests may run as root, to whom only a path under a regular file is
    unwritable, so that stands in for a read-only dataset mount (the probe is the same, harness/writable.py)."""
    (tmp_path / "dataset").write_text("a file where the clip root should be")
    with pytest.raises(HarnessError) as refused:
        LatentCache(SpaceToDepthCodec(), tmp_path / "dataset", 64, "no", 0, torch.device("cpu"))
    assert str(refused.value) == (f"train.latent_cache: the clip folders {tmp_path / 'dataset' / 'clips'}: cannot write "
                                  "there (Not a directory); set train.latent_cache=false to encode in every step instead")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dataset"]


def test_bf16_latents_from_the_cache_match_the_steps_autocast_encode(tmp_path):
    """train.mixed_precision=bf16: the cache encodes under the same autocast as the step, so it stores the dtype
    the step would get; values agree to bf16 rounding (the two encode other batch sizes)."""
    cfg = _cfg(tmp_path)
    batches = TrainingBatches(cfg)
    codec = _small_vae(0)
    batch = LatentCache(codec, batches.root, cfg.data.size, "bf16", 0, torch.device("cpu")).attach(batches.batch(1))
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        windows = encode_clip(codec, batch["frames"]).permute(0, 2, 1, 3, 4)  # (B, F, C, h, w)
        references = codec.encode(batch["reference"])
    for cached, encoded in ((batch["latents"], windows), (batch["reference_latents"], references)):
        assert cached.dtype == encoded.dtype and cached.shape == encoded.shape
        error = ((cached.float() - encoded.float()).norm() / encoded.float().norm()).item()
        assert error <= 1e-3
