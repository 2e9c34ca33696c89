"""Video and audio file IO shared by data preparation, sampling and metrics (PyAV + soundfile).

Every failure a user's file can cause is a HarnessError naming the file, so a batch job can
report the file and move on.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import soundfile

from harness.errors import HarnessError

SIDE_BY_SIDE_HEIGHT = 128  # px: side-by-side viewing videos enlarge small frames to at least this height
LABEL_STRIP = 20  # px: the label strip above a side-by-side video


def read_video(path: str | Path) -> tuple[np.ndarray, float]:
    """Decode every frame of any ffmpeg-readable file -> (uint8 (N, H, W, 3) RGB, fps)."""
    path = Path(path)
    if not path.is_file():
        raise HarnessError(f"{path}: no such video file")
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise HarnessError(f"{path}: has no video stream")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            fps = float(stream.average_rate or stream.guessed_rate or 0.0)
            frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)]
    except HarnessError:
        raise
    except (av.error.FFmpegError, ValueError, OSError) as exc:
        raise HarnessError(f"{path}: unreadable video ({exc.__class__.__name__}: {exc})") from None
    if not frames:
        raise HarnessError(f"{path}: contains no decodable frames")
    if fps <= 0:
        raise HarnessError(f"{path}: frame rate unknown")
    return np.stack(frames), fps


def read_audio(path: str | Path, sample_rate: int = 16000) -> np.ndarray:
    """Decode the first audio stream of a wav or video file -> float32 mono (S,) at sample_rate."""
    path = Path(path)
    if not path.is_file():
        raise HarnessError(f"{path}: no such audio file")
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise HarnessError(f"{path}: has no audio stream")
            stream = container.streams.audio[0]
            resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
            chunks = []
            for frame in container.decode(stream):
                chunks.extend(r.to_ndarray().reshape(-1) for r in resampler.resample(frame))
            chunks.extend(r.to_ndarray().reshape(-1) for r in resampler.resample(None))  # flush
    except HarnessError:
        raise
    except (av.error.FFmpegError, ValueError, OSError) as exc:
        raise HarnessError(f"{path}: unreadable audio ({exc.__class__.__name__}: {exc})") from None
    if not chunks:
        raise HarnessError(f"{path}: audio stream is empty")
    return np.concatenate(chunks).astype(np.float32)


def write_wav(path: str | Path, audio: np.ndarray, sample_rate: int) -> None:
    """Write float mono audio in [-1, 1] as 16-bit PCM wav."""
    soundfile.write(str(path), np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0), sample_rate, subtype="PCM_16")


def write_video(
    path: str | Path,
    frames: np.ndarray,
    fps: float,
    audio: np.ndarray | None = None,
    sample_rate: int = 16000,
    crf: int = 18,
    preset: str = "medium",
) -> None:
    """Encode uint8 (N, H, W, 3) RGB frames as H.264 yuv420p mp4, muxing AAC audio if given.

    Odd sizes are padded by one edge pixel (yuv420p needs even sizes). The index (moov) goes
    before the media data ("faststart"), so a browser plays the file while it downloads (MLflow's
    artifact view). Lossy: a viewing copy, never what a metric scores. The file is written to a
    temporary name and renamed, so an interrupted write never leaves a partial file.
    """
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 (N, H, W, 3), got {frames.dtype} {frames.shape}")
    pad_h, pad_w = frames.shape[1] % 2, frames.shape[2] % 2
    if pad_h or pad_w:
        frames = np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    path = Path(path)
    tmp = path.with_name(f".{path.name}.partial.mp4")
    rate = Fraction(fps).limit_denominator(1001)
    with av.open(str(tmp), mode="w", options={"movflags": "+faststart"}) as container:
        vstream = container.add_stream("libx264", rate=rate)
        vstream.width, vstream.height = frames.shape[2], frames.shape[1]
        vstream.pix_fmt = "yuv420p"
        vstream.options = {"crf": str(crf), "preset": preset}
        astream = container.add_stream("aac", rate=sample_rate, layout="mono") if audio is not None else None
        for image in frames:
            container.mux(vstream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(vstream.encode(None))
        if astream is not None:
            _mux_audio(container, astream, np.asarray(audio, dtype=np.float32), sample_rate)
    tmp.replace(path)


def write_png_frames(folder: str | Path, frames: np.ndarray) -> list[Path]:
    """uint8 (N, H, W, 3) RGB frames as folder/000000.png ... (lossless: they read back bit for bit)."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 (N, H, W, 3), got {frames.dtype} {frames.shape}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{i:06d}.png" for i in range(len(frames))]
    for path, image in zip(paths, frames):
        if not cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR)):
            raise HarnessError(f"{path}: could not write PNG frame")
    return paths


def side_by_side(columns: list[np.ndarray], labels: list[str], min_height: int = SIDE_BY_SIDE_HEIGHT) -> np.ndarray:
    """Frames of equal-length clips next to each other under a label strip -> uint8 (N, H', W', 3).

    columns: uint8 (N, H, W, 3) clips of one size. Small frames are enlarged by an integer
    factor (nearest neighbour: every source pixel stays a visible square) until they are at
    least min_height tall; H' and W' are even (yuv420p)."""
    n, h, w, _ = columns[0].shape
    if any(c.shape != columns[0].shape for c in columns):
        raise ValueError(f"side_by_side: columns differ in shape {[c.shape for c in columns]}")
    factor = max(1, -(-min_height // h))  # ceil
    body = np.concatenate(columns, axis=2).repeat(factor, axis=1).repeat(factor, axis=2)  # (N, fH, k*fW, 3)
    strip = np.full((LABEL_STRIP, body.shape[2], 3), 255, np.uint8)
    for i, label in enumerate(labels):  # label i centred-left over column i
        cv2.putText(strip, label, (i * w * factor + 4, LABEL_STRIP - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1,
                    cv2.LINE_AA)
    out = np.concatenate([np.broadcast_to(strip, (n, *strip.shape)), body], axis=1)
    return out[:, : out.shape[1] // 2 * 2, : out.shape[2] // 2 * 2]


def _mux_audio(container: av.container.OutputContainer, stream: av.audio.AudioStream, audio: np.ndarray, sr: int) -> None:
    block = 1024  # AAC frame size
    for start in range(0, len(audio), block):
        chunk = np.clip(audio[start : start + block], -1.0, 1.0)[None, :]  # (1, S) planar mono
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format="fltp", layout="mono")
        frame.sample_rate, frame.pts = sr, start
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))
