"""Find and pair clips on disk for `harness eval --pred DIR --gt DIR`.

Each side may be
  * a folder of video files (``*.mp4``, ``*.avi``, ``*.mov``, ``*.mkv``), one clip per file,
    keyed by the file stem; audio is ``<stem>.wav`` beside it, else the video's own audio stream;
  * a dataset root (``<root>/clips/<clip_id>/``) or a folder of clip folders, keyed by folder
    name; frames from ``frames/*.png`` or ``video.mp4`` (any video file), audio from
    ``audio.wav``, fps from ``meta.json``.
Predictions are paired with ground truth by key; every prediction needs its ground truth.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.errors import HarnessError
from harness.vocabulary import CLIP_FPS
from metrics.sample import ClipTruth, Sample

VIDEO_EXTS = (".mp4", ".avi", ".mov", ".mkv")


@dataclass(frozen=True)
class ClipSource:
    """Where one clip's frames and audio live."""

    key: str
    video: Path | None  # a video file, or None for a PNG frame folder
    frames_dir: Path | None
    audio: Path | None  # wav file, or the video itself when it carries audio
    fps: float | None  # from meta.json; None -> read from the video
    folder: Path | None = None  # the clip folder (keypoints.npy, meta.json), None for a bare video file

    def load_frames(self) -> tuple[np.ndarray, float]:
        """uint8 (F, H, W, 3) RGB frames and fps."""
        from harness.media import read_video

        if self.video is not None:
            frames, fps = read_video(self.video)
            return frames, self.fps or fps
        from harness.data.clip_format import read_frames

        return read_frames(self.frames_dir.parent), self.fps or CLIP_FPS

    def load_audio(self) -> np.ndarray | None:
        """float32 (S,) 16 kHz mono, or None when the clip has no audio."""
        from harness.media import read_audio

        if self.audio is None:
            return None
        try:
            return read_audio(self.audio, 16000)
        except HarnessError:
            if self.audio.suffix.lower() == ".wav":
                raise
            return None  # a video without an audio stream

    def load_truth(self) -> ClipTruth | None:
        """The clip folder's ground truth (keypoints, boxes, source), None without one."""
        from metrics.synthetic.truth import load_truth

        return None if self.folder is None else load_truth(self.folder)


def _clip_folder(folder: Path) -> ClipSource | None:
    videos = sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_EXTS)
    pngs = folder / "frames"
    if not videos and not (pngs.is_dir() and any(pngs.glob("*.png"))):
        return None
    meta_path = folder / "meta.json"
    fps = None
    if meta_path.is_file():
        try:
            fps = float(json.loads(meta_path.read_text()).get("fps") or 0) or None
        except (json.JSONDecodeError, ValueError) as exc:
            raise HarnessError(f"{meta_path}: unreadable ({exc})") from None
    use_png = pngs.is_dir() and any(pngs.glob("*.png"))
    video = None if use_png else (folder / "video.mp4" if (folder / "video.mp4").is_file() else videos[0])
    wav = folder / "audio.wav"
    return ClipSource(folder.name, video, pngs if use_png else None, wav if wav.is_file() else video, fps, folder)


def find_clips(path: str | Path) -> dict[str, ClipSource]:
    """Every clip under ``path`` keyed by id; HarnessError when there is none."""
    root = Path(path)
    if not root.is_dir():
        raise HarnessError(f"{root}: no such folder")
    if (root / "clips").is_dir():
        root = root / "clips"
    found: dict[str, ClipSource] = {}
    for entry in sorted(root.iterdir()):
        if entry.is_file() and entry.suffix.lower() in VIDEO_EXTS:
            wav = entry.with_suffix(".wav")
            found[entry.stem] = ClipSource(entry.stem, entry, None, wav if wav.is_file() else entry, None)
        elif entry.is_dir() and (clip := _clip_folder(entry)) is not None:
            found[entry.name] = clip
    if not found:
        raise HarnessError(f"{path}: no clips found (expected *.mp4/*.avi files, clip folders, or <root>/clips/)")
    return found


def pair_clips(pred_dir: str | Path, gt_dir: str | Path | None) -> list[tuple[ClipSource, ClipSource | None]]:
    """(prediction, ground truth) pairs by key; HarnessError naming predictions without truth."""
    pred = find_clips(pred_dir)
    if gt_dir is None:
        return [(p, None) for p in pred.values()]
    gt = find_clips(gt_dir)
    orphans = sorted(set(pred) - set(gt))
    if orphans:
        shown = ", ".join(orphans[:5]) + (" ..." if len(orphans) > 5 else "")
        raise HarnessError(f"{len(orphans)} predicted clip(s) have no ground truth in {gt_dir}: {shown}")
    return [(p, gt[k]) for k, p in pred.items()]


def load_samples(pairs: list[tuple[ClipSource, ClipSource | None]]) -> Iterator[Sample]:
    """Read each pair lazily into a Sample (audio from the prediction, else the ground truth;
    ground-truth annotations from the ground-truth clip folder, else the prediction's)."""
    for pred, gt in pairs:
        frames, fps = pred.load_frames()
        gt_frames = gt.load_frames()[0] if gt is not None else None
        audio = pred.load_audio()
        if audio is None and gt is not None:
            audio = gt.load_audio()
        truth = gt.load_truth() if gt is not None else pred.load_truth()
        yield Sample(pred=frames, gt=gt_frames, audio=audio, fps=fps, clip_id=pred.key, truth=truth)
