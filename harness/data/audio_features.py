"""Per-frame audio features aligned to video frames (docs/method.md, "Audio").

Both encoders produce a 50 Hz feature grid. Video frame i at fps f has centre step
c = floor(i * 50 / f) and takes steps c-4 .. c+5 (clamped to the grid): 10 steps per frame.
- "whisper": the paper's Whisper-tiny encoder (a local Hugging Face folder or OpenAI's tiny.pt;
  whisper_encoder.py), all 5 levels (embedding + 4 blocks) x 384 -> 10 steps x 5 levels =
  50 tokens x 384 (step-major order). ``whisper_levels`` picks the release's levels (last one
  before the final LayerNorm, whole-clip log-mel) or transformers' (after it).
- "mel": the offline stand-in: an 80-band log-mel spectrogram at 50 Hz (25 ms windows,
  20 ms hop, centred) -> 10 tokens x 80. Same alignment, no weights.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import numpy as np

from harness.data.whisper_encoder import whisper_levels_50hz
from harness.errors import HarnessError

FEATURE_RATE = 50  # Hz, Whisper's encoder rate
STEPS_BEFORE, STEPS_AFTER = 4, 5  # c-4 .. c+5
N_STEPS = STEPS_BEFORE + STEPS_AFTER + 1
ENCODER_SR = 16000
MEL_BINS, MEL_WINDOW, MEL_HOP = 80, 400, 320
WHISPER_LEVELS, WHISPER_DIM = 5, 384
ENCODERS = ("mel", "whisper")


def audio_feature_shape(encoder: str) -> tuple[int, int]:
    """(tokens, dim) per video frame: whisper -> (50, 384), mel -> (10, 80)."""
    if encoder == "whisper":
        return (N_STEPS * WHISPER_LEVELS, WHISPER_DIM)
    if encoder == "mel":
        return (N_STEPS, MEL_BINS)
    raise HarnessError(f"unknown audio encoder {encoder!r}; choose from {ENCODERS}")


def window_indices(n_frames: int, fps: float, n_steps: int) -> np.ndarray:
    """Feature-grid steps of each frame: int64 (n_frames, 10), c-4..c+5 clamped to [0, n_steps)."""
    centres = np.floor(np.arange(n_frames) * FEATURE_RATE / fps + 1e-9).astype(np.int64)  # (F,)
    offsets = np.arange(-STEPS_BEFORE, STEPS_AFTER + 1)  # (10,)
    return np.clip(centres[:, None] + offsets[None, :], 0, max(n_steps - 1, 0))


def _to_16k(wav: np.ndarray, sample_rate: int) -> np.ndarray:
    wav = np.asarray(wav, dtype=np.float32).reshape(-1)
    if sample_rate == ENCODER_SR:
        return wav
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(int(sample_rate), ENCODER_SR)
    return resample_poly(wav, ENCODER_SR // g, int(sample_rate) // g).astype(np.float32)


@lru_cache(maxsize=1)
def _mel_filterbank() -> np.ndarray:
    """Triangular, area-normalised mel filters on the HTK mel scale: float32 (80, 201)."""
    def hz_to_mel(f: np.ndarray) -> np.ndarray:
        return 2595.0 * np.log10(1.0 + f / 700.0)

    fft_freqs = np.linspace(0, ENCODER_SR / 2, MEL_WINDOW // 2 + 1)
    mel_pts = np.linspace(hz_to_mel(np.array(0.0)), hz_to_mel(np.array(ENCODER_SR / 2)), MEL_BINS + 2)
    hz_pts = 700.0 * (10 ** (mel_pts / 2595.0) - 1.0)
    lower, centre, upper = hz_pts[:-2, None], hz_pts[1:-1, None], hz_pts[2:, None]
    rising = (fft_freqs[None] - lower) / (centre - lower)
    falling = (upper - fft_freqs[None]) / (upper - centre)
    weights = np.maximum(0.0, np.minimum(rising, falling)) * (2.0 / (upper - lower))
    return weights.astype(np.float32)


def log_mel_50hz(wav: np.ndarray, sample_rate: int) -> np.ndarray:
    """Log-mel spectrogram on the 50 Hz grid: float32 (T, 80), step k centred at k / 50 s."""
    audio = _to_16k(wav, sample_rate)
    pad = MEL_WINDOW // 2
    audio = np.pad(audio, (pad, pad + MEL_WINDOW))  # zero padding: centred windows
    n_steps = 1 + (len(audio) - 2 * pad - MEL_WINDOW) // MEL_HOP
    starts = np.arange(n_steps) * MEL_HOP
    frames = audio[starts[:, None] + np.arange(MEL_WINDOW)[None, :]]  # (T, 400)
    spectrum = np.abs(np.fft.rfft(frames * np.hanning(MEL_WINDOW).astype(np.float32), axis=1)) ** 2  # (T, 201)
    mel = spectrum @ _mel_filterbank().T  # (T, 80)
    log_mel = np.maximum(np.log10(np.maximum(mel, 1e-10)), -8.0)
    return ((log_mel + 4.0) / 4.0).astype(np.float32)  # fixed scaling (Whisper's, without per-clip max)


def compute_audio_features(
    wav: np.ndarray,
    sample_rate: int,
    fps: float,
    n_frames: int,
    encoder: str,
    whisper_dir: str | Path | None = None,
    whisper_levels: str = "transformers",
) -> np.ndarray:
    """Audio features of each video frame: float32 (n_frames, tokens, dim) per audio_feature_shape.

    whisper_dir: Hugging Face folder, tiny.pt or a folder holding it (None: $HARNESS_WEIGHTS/whisper-tiny);
    whisper_levels: "release" or "transformers" (config model.whisper_levels).
    """
    tokens, dim = audio_feature_shape(encoder)
    if encoder == "mel":
        grid = log_mel_50hz(wav, sample_rate)  # (T, 80)
    else:
        grid = whisper_levels_50hz(_to_16k(wav, sample_rate), whisper_dir, whisper_levels)  # (T, 5, 384)
    idx = window_indices(n_frames, fps, len(grid))  # (F, 10)
    return grid[idx].reshape(n_frames, tokens, dim).astype(np.float32)  # whisper: step-major tokens


def audio_cache_name(encoder: str, whisper_levels: str = "transformers") -> str:
    """File name of a clip's cached features: audio_mel.npy, audio_whisper.npy (transformers' levels)
    or audio_whisper_release.npy, so features of one kind are never read as the other."""
    if encoder == "whisper" and whisper_levels == "release":
        return "audio_whisper_release.npy"
    return f"audio_{encoder}.npy"


def clip_audio_features(
    clip: Path, encoder: str, whisper_dir: str | Path | None = None, whisper_levels: str = "transformers"
) -> np.ndarray:
    """Cached features of one clip folder (<clip>/audio_cache_name(...)), computed on first use."""
    import soundfile

    from harness.data.clip_format import read_meta

    clip = Path(clip)
    meta = read_meta(clip)
    expected = (int(meta["n_frames"]), *audio_feature_shape(encoder))
    cache = clip / audio_cache_name(encoder, whisper_levels)
    if cache.is_file():
        feats = np.load(cache, mmap_mode="r")
        if feats.shape == expected:
            return np.asarray(feats)
    wav, sr = soundfile.read(str(clip / "audio.wav"), dtype="float32")
    feats = compute_audio_features(wav, sr, float(meta["fps"]), expected[0], encoder, whisper_dir, whisper_levels)
    tmp = clip / f".{cache.stem}.{os.getpid()}.npy"
    np.save(tmp, feats)
    os.replace(tmp, cache)  # atomic: concurrent loaders never see a partial file
    return feats
