"""Audio features: shapes, frame alignment (c = floor(i * 50 / fps), steps c-4..c+5), Whisper loading, cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harness.data.audio_features import (
    audio_feature_shape,
    clip_audio_features,
    compute_audio_features,
    window_indices,
)
from harness.data.clip_format import clip_dir, read_index
from harness.errors import HarnessError

SR = 16000


def _burst_at(seconds: float, t: float) -> np.ndarray:
    wav = np.zeros(int(seconds * SR), np.float32)
    start = int(round(t * SR))
    wav[start : start + 160] = np.sin(np.arange(160) * 0.7)  # a 10 ms burst
    return wav


def test_shapes() -> None:
    assert audio_feature_shape("whisper") == (50, 384)
    assert audio_feature_shape("mel") == (10, 80)
    with pytest.raises(HarnessError):
        audio_feature_shape("wav2vec")
    feats = compute_audio_features(np.zeros(SR, np.float32), SR, 24, 24, "mel")
    assert feats.shape == (24, 10, 80) and feats.dtype == np.float32


def test_window_indices_follow_the_paper_rule() -> None:
    idx = window_indices(n_frames=30, fps=24, n_steps=60)
    assert idx.shape == (30, 10)
    for i in (0, 7, 29):
        c = (i * 50) // 24
        assert list(idx[i]) == [min(max(s, 0), 59) for s in range(c - 4, c + 6)]


@pytest.mark.parametrize("fps", [24, 25, 30])
def test_frame_i_hears_time_i_over_fps(fps: int) -> None:
    for i in (5, 17, 30):
        feats = compute_audio_features(_burst_at(2.0, i / fps), SR, fps, int(2 * fps), "mel")
        energy = feats.mean(axis=2)  # (F, 10) per frame and window step
        assert int(np.argmax(energy[i])) in (4, 5), "the burst must sit at the window centre of frame i"
        loudest_centre = np.argmax(energy[:, 4:6].max(1))
        assert abs(int(loudest_centre) - i) <= 1
        assert energy[i, 4:6].max() > energy[i, [0, 9]].max() + 1.0


def test_shifting_the_audio_shifts_the_features() -> None:
    fps, k = 25, 6  # at 25 fps a frame is exactly two 20 ms steps
    rng = np.random.default_rng(0)
    wav = (rng.normal(size=3 * SR) * np.repeat(rng.uniform(0, 1, 30), SR // 10)).astype(np.float32)
    delayed = np.concatenate([np.zeros(k * SR // fps, np.float32), wav])[: len(wav)]
    a = compute_audio_features(wav, SR, fps, 75, "mel")
    b = compute_audio_features(delayed, SR, fps, 75, "mel")
    np.testing.assert_allclose(b[k + 3 : 70], a[3 : 70 - k], atol=1e-4)
    assert not np.allclose(a[10:60], b[10:60], atol=1e-2)


def test_whisper_missing_weights_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wav = np.zeros(SR, np.float32)
    with pytest.raises(HarnessError, match=r"nowhere: Whisper-tiny weights not found: put the config\.json.*model\.safetensors"):
        compute_audio_features(wav, SR, 24, 24, "whisper", whisper_dir=tmp_path / "nowhere")
    monkeypatch.delenv("HARNESS_WEIGHTS", raising=False)
    with pytest.raises(HarnessError, match=r"HARNESS_WEIGHTS/whisper-tiny"):
        compute_audio_features(wav, SR, 24, 24, "whisper")


@pytest.mark.slow
def test_whisper_all_levels_and_alignment(tmp_path: Path) -> None:
    """A randomly initialised Whisper-tiny-shaped encoder saved locally (no download)."""
    import torch
    from transformers import WhisperConfig, WhisperFeatureExtractor, WhisperModel

    torch.manual_seed(0)
    config = WhisperConfig(d_model=384, encoder_layers=4, encoder_attention_heads=6, encoder_ffn_dim=64,
                           decoder_layers=1, decoder_attention_heads=6, decoder_ffn_dim=64, vocab_size=64,
                           max_target_positions=16, pad_token_id=0, bos_token_id=1, eos_token_id=2,
                           decoder_start_token_id=1)
    model = WhisperModel(config).eval()
    model.save_pretrained(tmp_path)
    extractor = WhisperFeatureExtractor(feature_size=80)
    extractor.save_pretrained(tmp_path)
    wav = np.random.default_rng(1).normal(0, 0.1, 2 * SR).astype(np.float32)
    feats = compute_audio_features(wav, SR, 24, 48, "whisper", whisper_dir=tmp_path)
    assert feats.shape == (48, 50, 384)
    with torch.no_grad():
        inputs = extractor(wav, sampling_rate=SR, return_tensors="pt").input_features
        hidden = model.get_encoder()(inputs, output_hidden_states=True).hidden_states
    assert len(hidden) == 5
    i = 20
    c = (i * 50) // 24
    for step in (0, 4, 9):
        for level in range(5):
            expected = hidden[level][0, c - 4 + step].numpy()
            np.testing.assert_allclose(feats[i, step * 5 + level], expected, atol=1e-4)


def test_features_are_cached_per_clip(synthetic_clips: Path) -> None:
    clip = clip_dir(synthetic_clips, read_index(synthetic_clips)["clips"][0]["id"])
    first = clip_audio_features(clip, "mel")
    cache = clip / "audio_mel.npy"
    assert cache.is_file()
    stamp = cache.stat().st_mtime_ns
    np.testing.assert_array_equal(clip_audio_features(clip, "mel"), first)
    assert cache.stat().st_mtime_ns == stamp
