"""Synthetic speech-like audio: syllable-like voiced segments and pauses (deterministic per rng).

Each syllable is a harmonic source (the speaker's f0 with a small pitch contour) shaped by two
vowel formants and a smooth attack/decay envelope. The per-frame RMS envelope drives the
synthetic figure's mouth, head sway and breathing (issue 3: lip sync comes only from audio).
"""

from __future__ import annotations

import numpy as np

# (F1, F2) in Hz of a few vowels: a, i, u, e, o.
VOWELS = ((730.0, 1090.0), (270.0, 2290.0), (300.0, 870.0), (530.0, 1840.0), (570.0, 840.0))
NOISE_FLOOR = 0.002
PEAK = 0.6


def _syllable(rng: np.random.Generator, n: int, sr: int, f0: float) -> np.ndarray:
    """One voiced syllable of n samples: float64 (n,)."""
    t = np.arange(n) / sr
    contour = f0 * (1.0 + 0.06 * np.sin(np.pi * t / t[-1] + rng.uniform(-1, 1)))  # (n,) Hz
    phase = 2 * np.pi * np.cumsum(contour) / sr  # (n,)
    f1, f2 = VOWELS[rng.integers(len(VOWELS))]
    harmonics = np.arange(1, int(4000 / f0) + 1)  # (K,)
    freqs = harmonics * f0
    gain = np.exp(-(((freqs - f1) / 150.0) ** 2)) + 0.6 * np.exp(-(((freqs - f2) / 200.0) ** 2)) + 0.05
    wave = (gain[:, None] * np.sin(harmonics[:, None] * phase[None, :])).sum(0)  # (n,)
    envelope = np.sin(np.pi * np.linspace(0, 1, n)) ** 0.7
    return wave / np.abs(wave).max() * envelope * rng.uniform(0.35, 1.0)


def synth_speech(rng: np.random.Generator, seconds: float, sample_rate: int, f0: float) -> np.ndarray:
    """Syllables (120-300 ms) separated by short gaps and longer pauses: float32 (samples,)."""
    total = int(round(seconds * sample_rate))
    out = np.zeros(total)
    pos = int(rng.uniform(0.0, 0.2) * sample_rate)
    while pos < total:
        n = int(rng.uniform(0.12, 0.30) * sample_rate)
        piece = _syllable(rng, n, sample_rate, f0)[: total - pos]
        out[pos : pos + len(piece)] += piece
        gap = rng.uniform(0.25, 0.6) if rng.random() < 0.3 else rng.uniform(0.02, 0.08)
        pos += n + int(gap * sample_rate)
    out = out / max(np.abs(out).max(), 1e-9) * PEAK
    out += rng.normal(0.0, NOISE_FLOOR, total)
    return out.astype(np.float32)


def frame_envelope(audio: np.ndarray, sample_rate: int, fps: float, n_frames: int) -> np.ndarray:
    """RMS of the audio in a 1/fps window centred on each frame time i/fps: float32 (n_frames,)."""
    half = sample_rate / fps / 2
    out = np.zeros(n_frames, np.float32)
    for i in range(n_frames):
        centre = i * sample_rate / fps
        seg = audio[max(0, int(centre - half)) : int(centre + half) + 1]
        out[i] = np.sqrt(np.mean(seg.astype(np.float64) ** 2)) if len(seg) else 0.0
    return out
