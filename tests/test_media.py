"""harness.media: round trips through real encoders, real media, clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from harness.errors import HarnessError
from harness.media import LABEL_STRIP, read_audio, read_video, side_by_side, write_png_frames, write_video, write_wav


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


def top_level_boxes(path) -> list[str]:
    """The order of an mp4's top-level boxes (ftyp, moov, mdat, ...), read from their headers."""
    data, names, pos = path.read_bytes(), [], 0
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos : pos + 4], "big")
        names.append(data[pos + 4 : pos + 8].decode("latin-1"))
        if size == 1:  # 64-bit size follows the name
            size = int.from_bytes(data[pos + 8 : pos + 16], "big")
        if size < 8:
            break
        pos += size
    return names


def test_written_mp4_plays_in_a_browser(tmp_path):
    """H.264 yuv420p, even sizes, index before the media data (faststart), AAC audio."""
    import av

    path = tmp_path / "odd.mp4"
    write_video(path, _frames(6, h=33, w=47), fps=24, audio=np.zeros(8000, np.float32))
    boxes = top_level_boxes(path)
    assert "moov" in boxes and "mdat" in boxes and boxes.index("moov") < boxes.index("mdat"), boxes
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        assert video.codec_context.name == "h264" and video.codec_context.pix_fmt == "yuv420p"
        assert (video.codec_context.width, video.codec_context.height) == (48, 34)
        assert container.streams.audio[0].codec_context.name == "aac"


def test_png_frames_are_lossless(tmp_path):
    from harness.data.clip_format import read_frames

    rng = np.random.default_rng(1)
    frames = rng.integers(0, 256, (5, 9, 7, 3), dtype=np.uint8)  # noise: any lossy step would show
    paths = write_png_frames(tmp_path / "clip" / "frames", frames)
    assert [p.name for p in paths] == [f"{i:06d}.png" for i in range(5)]
    np.testing.assert_array_equal(read_frames(tmp_path / "clip"), frames)
    with pytest.raises(ValueError, match="uint8"):
        write_png_frames(tmp_path / "f", frames.astype(np.float32))


def test_side_by_side_puts_the_columns_in_order_enlarged(tmp_path):
    rng = np.random.default_rng(2)
    cols = [rng.integers(0, 256, (3, 10, 12, 3), dtype=np.uint8) for _ in range(3)]
    out = side_by_side(cols, ["a", "b", "c"], min_height=25)  # factor 3: 30 px tall columns
    strip = LABEL_STRIP
    assert out.shape == (3, strip + 30, 3 * 36, 3) and out.dtype == np.uint8
    for i, col in enumerate(cols):
        enlarged = col.repeat(3, axis=1).repeat(3, axis=2)
        np.testing.assert_array_equal(out[:, strip:, i * 36 : (i + 1) * 36], enlarged)
    assert (out[:, :strip] < 128).any()  # the labels are drawn
    odd = side_by_side([c[:, :9, :11] for c in cols], ["a", "b", "c"], min_height=9)
    assert odd.shape[1] % 2 == 0 and odd.shape[2] % 2 == 0
    with pytest.raises(ValueError, match="differ in shape"):
        side_by_side([cols[0], cols[1][:, :5]], ["a", "b"])
