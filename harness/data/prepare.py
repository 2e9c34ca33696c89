"""`harness data prepare`: real videos -> clips (docs/method.md, "Data"), in parallel on Ray.

Per video: decode (any ffmpeg-readable file), resample to fps (nearest earlier frame) and the
audio to sample_rate, detect keypoints per frame (mediapipe_kp.py), decide semi-body or
portrait, apply the square crop rule (crop.py), resize, compute region boxes, write the clip.
A video that cannot be decoded, has no or silent audio, or shows no person is returned as a
reject with its reason; the job goes on. Finished clips (meta.json present) are skipped.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from pathlib import Path
from typing import Any

import numpy as np

from harness.data.clip_format import clip_dir, is_done, write_clip
from harness.data.crop import apply_crop, crop_box, crop_keypoints, is_semibody
from harness.data.regions import boxes_from_keypoints
from harness.errors import HarnessError
from harness.media import read_audio, read_video
from harness.vocabulary import PREPARE_TEST_FRACTION

VIDEO_EXTENSIONS = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".flv", ".wmv", ".ts", ".3gp"}
MIN_FACE_RATIO = 0.5  # below this share of frames with a face, the video has "no person"
SILENCE_PEAK = 1e-3  # peak amplitude below which an audio track counts as silent


def list_videos(src: Path) -> list[Path]:
    """Video files under src (recursive, by extension, sorted); HarnessError if none."""
    src = Path(src)
    if not src.is_dir():
        raise HarnessError(f"{src}: no such folder")
    videos = sorted(p for p in src.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS
                    and not p.name.startswith("."))
    if not videos:
        raise HarnessError(f"{src}: no video files ({', '.join(sorted(VIDEO_EXTENSIONS))})")
    return videos


def clip_id_for(video: Path, src: Path) -> str:
    """Stable clip id: the file stem (sanitised) + 8 hex of its path relative to src."""
    rel = os.path.relpath(os.path.abspath(video), os.path.abspath(src))  # links are not followed
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", Path(video).stem)[:40] or "video"
    return f"{stem}-{hashlib.sha1(rel.encode()).hexdigest()[:8]}"


def split_for(clip_id: str, split: str, test_fraction: float) -> str:
    """'train'/'test' as asked, or for 'auto' by a hash of the clip id (stable across runs)."""
    if split != "auto":
        return split
    h = int(hashlib.sha1(clip_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "test" if h < test_fraction else "train"


def resample_indices(n_src: int, src_fps: float, fps: float) -> np.ndarray:
    """Source frame shown at each output time j / fps: int (n_out,), n_out = floor(duration * fps)."""
    n_out = int(np.floor(n_src / src_fps * fps + 1e-6))
    return np.minimum(np.floor(np.arange(n_out) * src_fps / fps + 1e-6).astype(np.int64), n_src - 1)


def _load(video: Path, fps: float, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Decoded frames at fps (F, H, W, 3) and audio (F / fps seconds) or HarnessError with the reason."""
    frames, src_fps = read_video(video)
    audio = read_audio(video, sample_rate)
    if np.abs(audio).max() < SILENCE_PEAK:
        raise HarnessError(f"{video}: audio track is silent (peak < {SILENCE_PEAK})")
    frames = frames[resample_indices(len(frames), src_fps, fps)]
    if len(frames) < 1:
        raise HarnessError(f"{video}: shorter than one frame at {fps} fps")
    n_samples = int(round(len(frames) / fps * sample_rate))
    audio = np.pad(audio, (0, max(0, n_samples - len(audio))))[:n_samples]
    return frames, audio


def _detect(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keypoints (F, 133, 3) normalised to the source frame, and face-found flags (F,)."""
    from harness.data.mediapipe_kp import Detector

    detector = Detector()
    try:
        results = [detector(frame) for frame in frames]
    finally:
        detector.close()
    return np.stack([r[0] for r in results]), np.array([r[1] for r in results])


def prepare_video(video: str | Path, src: str | Path, out: str | Path, size: int, fps: float, sample_rate: int,
                  split: str = "auto", test_fraction: float = PREPARE_TEST_FRACTION) -> dict[str, Any]:
    """Turn one video into a clip of out; returns {source, clip_id, status: done|skipped|rejected, ...}."""
    video, out = Path(video), Path(out)
    cid = clip_id_for(video, Path(src))
    result: dict[str, Any] = {"source": str(video), "clip_id": cid}
    if is_done(out, cid):
        return {**result, "status": "skipped"}
    start = time.perf_counter()
    try:
        frames, audio = _load(video, fps, sample_rate)
        keypoints, face_found = _detect(frames)
        face_ratio = float(face_found.mean())
        if face_ratio < MIN_FACE_RATIO:
            raise HarnessError(f"{video}: no person (a face in {face_ratio:.0%} of frames)")
    except HarnessError as exc:
        return {**result, "status": "rejected", "reason": str(exc)}
    kind = "semibody" if is_semibody(keypoints) else "portrait"
    height, width = frames.shape[1:3]
    box = crop_box(keypoints, width, height, kind)
    cropped, valid = apply_crop(frames, box, size)
    kp = crop_keypoints(keypoints, width, height, box)
    meta = {"fps": fps, "kind": kind, "source": str(video), "split": split_for(cid, split, test_fraction),
            "sample_rate": sample_rate, "valid_box": valid, "face_ratio": face_ratio,
            "crop_px": list(box), "source_size": [int(height), int(width)]}
    write_clip(out, cid, cropped, audio, kp, boxes_from_keypoints(kp), meta)
    return {**result, "status": "done", "kind": kind, "n_frames": len(cropped), "face_ratio": face_ratio,
            "seconds": time.perf_counter() - start, "path": str(clip_dir(out, cid))}
