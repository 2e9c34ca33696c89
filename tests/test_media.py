"""harness.media: round trips through real encoders, real media, clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from harness.errors import HarnessError
from harness.media import read_audio, read_video, write_video, write_wav


def _frames(n=12, h=34, w=48):
    """Smooth moving colour gradients (yuv420p keeps those; per-pixel noise it would not)."""
    y, x = np.mgrid[0:h, 0:w]
    t = np.arange(n)[:, None, None]
    rgb = [100 + 80 * np.sin(x / 9 + t / 3), 120 + 60 * np.cos(y / 7 - t / 4), 90 + 50 * np.sin((x + y) / 11)]
    return np.stack(np.broadcast_arrays(*rgb), axis=-1).astype(np.uint8)


def test_video_round_trip_with_audio(tmp_path):
    frames = _frames()
    sr, t = 16000, np.arange(16000) / 16000
    tone = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    path = tmp_path / "x.mp4"
    write_video(path, frames, fps=24, audio=tone, sample_rate=sr)
    back, fps = read_video(path)
    assert back.shape == frames.shape and fps == pytest.approx(24)
    assert np.abs(back.astype(int) - frames.astype(int)).mean() < 3  # lossy but close
    audio = read_audio(path, sr)
    assert abs(len(audio) - len(tone)) < 2048
    spectrum = np.abs(np.fft.rfft(audio[:sr]))
    assert np.argmax(spectrum) == pytest.approx(440, abs=2)  # bin width 1 Hz


def test_wav_round_trip_and_resample(tmp_path):
    audio = (0.25 * np.sin(np.linspace(0, 200, 8000))).astype(np.float32)
    write_wav(tmp_path / "a.wav", audio, 8000)
    back = read_audio(tmp_path / "a.wav", 8000)
    np.testing.assert_allclose(back, audio, atol=1e-4)
    assert abs(len(read_audio(tmp_path / "a.wav", 16000)) - 16000) < 64


def test_errors_name_the_file(tmp_path):
    bad = tmp_path / "corrupt.mp4"
    bad.write_bytes(b"not a video at all" * 50)
    with pytest.raises(HarnessError, match="corrupt.mp4"):
        read_video(bad)
    with pytest.raises(HarnessError, match="no such video file"):
        read_video(tmp_path / "missing.mp4")
    silent = tmp_path / "silent.mp4"
    write_video(silent, _frames(4), fps=24)
    with pytest.raises(HarnessError, match="silent.mp4: has no audio stream"):
        read_audio(silent)


def test_real_talking_head(real_data):
    frames, fps = read_video(real_data / "talking_head" / "video.avi")
    assert fps == pytest.approx(25) and frames.ndim == 4 and frames.shape[-1] == 3 and len(frames) > 50
    speech = read_audio(real_data / "talking_head" / "speech.wav")
    assert abs(len(speech) / 16000 - len(frames) / fps) < 0.5
