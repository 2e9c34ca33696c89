"""The clip folder format and the dataset index (documented in docs/design.md, "Data").

    <root>/index.json                 {"format": 1, "params": {...}, "clips": [{id, split, kind, n_frames}]}
    <root>/clips/<clip_id>/
        frames/000000.png ...         RGB frames (lossless; written when size <= PNG_MAX_SIZE)
        video.mp4                     or H.264 yuv420p frames (larger sizes)
        audio.wav                     16 kHz mono PCM16
        keypoints.npy                 float32 (F, 133, 3) COCO-WholeBody, x, y in [0, 1], confidence
        boxes.npy                     float32 (F, 4, 4) lips, face, head, body; normalised xyxy
        meta.json                     fps, size, kind, source, split, n_frames, sample_rate,
                                      frames_format, valid_box; written last: its presence = done
        audio_<encoder>.npy           cached audio features (F, tokens, dim), made on first use
        latents_<fingerprint>.pt      the frozen codec's latents (F, C, h, w) with train.latent_cache, made on first use
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np

from harness.errors import HarnessError
from harness.media import read_video, write_video, write_wav

FORMAT_VERSION = 1
PNG_MAX_SIZE = 128
KINDS = ("semibody", "portrait")
SPLITS = ("train", "test")
FramesFormat = Literal["auto", "png", "mp4"]


def clip_dir(root: Path, clip_id: str) -> Path:
    """The folder of one clip."""
    return Path(root) / "clips" / clip_id


def is_done(root: Path, clip_id: str) -> bool:
    """A clip is complete when its meta.json exists (it is written last)."""
    return (clip_dir(root, clip_id) / "meta.json").is_file()


def write_clip(
    root: Path,
    clip_id: str,
    frames: np.ndarray,
    audio: np.ndarray,
    keypoints: np.ndarray,
    boxes: np.ndarray,
    meta: dict[str, Any],
    frames_format: FramesFormat = "auto",
) -> Path:
    """Write one clip atomically (a temporary folder renamed into place) and return its folder.

    frames uint8 (F, S, S, 3) RGB; audio float32 (samples,); keypoints (F, 133, 3); boxes (F, 4, 4);
    meta needs fps, kind, source, split, sample_rate (size and n_frames are filled in here).
    """
    n, height, width = frames.shape[:3]
    if keypoints.shape != (n, 133, 3) or boxes.shape != (n, 4, 4):
        raise ValueError(f"keypoints {keypoints.shape} / boxes {boxes.shape} do not match {n} frames")
    if meta.get("kind") not in KINDS or meta.get("split") not in SPLITS:
        raise ValueError(f"meta kind/split invalid: {meta.get('kind')!r}/{meta.get('split')!r}")
    fmt = ("png" if max(height, width) <= PNG_MAX_SIZE else "mp4") if frames_format == "auto" else frames_format
    final = clip_dir(root, clip_id)
    tmp = final.with_name(f".{clip_id}.partial-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        if fmt == "png":
            (tmp / "frames").mkdir()
            for i, image in enumerate(frames):
                cv2.imwrite(str(tmp / "frames" / f"{i:06d}.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        else:
            write_video(tmp / "video.mp4", frames, meta["fps"])
        write_wav(tmp / "audio.wav", audio, int(meta["sample_rate"]))
        np.save(tmp / "keypoints.npy", keypoints.astype(np.float32))
        np.save(tmp / "boxes.npy", boxes.astype(np.float32))
        full_meta = {"valid_box": [0.0, 0.0, 1.0, 1.0], **meta, "size": [int(height), int(width)],
                     "n_frames": int(n), "frames_format": fmt, "format": FORMAT_VERSION}
        (tmp / "meta.json").write_text(json.dumps(full_meta, indent=1, sort_keys=True) + "\n")
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)
    except BaseException:  # any failure, Ctrl-C included: no half-written folder is left behind
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def read_meta(path: Path) -> dict[str, Any]:
    """meta.json of a clip folder; HarnessError when the clip is incomplete."""
    meta_path = Path(path) / "meta.json"
    if not meta_path.is_file():
        raise HarnessError(f"{path}: not a complete clip (no meta.json)")
    return json.loads(meta_path.read_text())


def read_frames(path: Path, indices: np.ndarray | list[int] | None = None) -> np.ndarray:
    """Frames of a clip folder (PNG frames or video.mp4) -> uint8 (k, H, W, 3) RGB."""
    path = Path(path)
    png_dir = path / "frames"
    if png_dir.is_dir():
        names = sorted(png_dir.glob("*.png"))
        chosen = [names[i] for i in indices] if indices is not None else names
        images = [cv2.imread(str(p), cv2.IMREAD_COLOR) for p in chosen]
        if any(im is None for im in images):
            raise HarnessError(f"{png_dir}: unreadable PNG frame")
        return np.stack([cv2.cvtColor(im, cv2.COLOR_BGR2RGB) for im in images])
    if (path / "video.mp4").is_file():
        frames, _ = read_video(path / "video.mp4")
        return frames if indices is None else frames[np.asarray(indices)]
    raise HarnessError(f"{path}: clip has neither frames/ nor video.mp4")


def load_clip(path: Path) -> dict[str, Any]:
    """Everything of one clip: frames, audio (float32), keypoints, boxes, meta."""
    import soundfile

    path = Path(path)
    meta = read_meta(path)
    audio, _ = soundfile.read(str(path / "audio.wav"), dtype="float32")
    return {
        "meta": meta,
        "frames": read_frames(path),
        "audio": audio,
        "keypoints": np.load(path / "keypoints.npy"),
        "boxes": np.load(path / "boxes.npy"),
    }


def write_index(root: Path, clips: list[dict[str, Any]], params: dict[str, Any] | None = None) -> Path:
    """Write <root>/index.json (clips sorted by id; no timestamps, so equal input = equal bytes)."""
    root = Path(root)
    entries = sorted(clips, key=lambda c: c["id"])
    data = {"format": FORMAT_VERSION, "params": params or {}, "clips": entries}
    tmp = root / ".index.json.partial"
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    tmp.replace(root / "index.json")
    return root / "index.json"


def read_index(root: Path) -> dict[str, Any]:
    """<root>/index.json; HarnessError naming the folder when it is missing or broken."""
    path = Path(root) / "index.json"
    if not path.is_file():
        raise HarnessError(f"{root}: no dataset index (index.json); run `harness data synth` or `harness data prepare`")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise HarnessError(f"{path}: not valid JSON ({exc.msg})") from None
    if not isinstance(data, dict) or not isinstance(data.get("clips"), list):
        raise HarnessError(f"{path}: not a dataset index (no 'clips' list)")
    return data


def index_entry(clip_id: str, meta: dict[str, Any]) -> dict[str, Any]:
    """The index.json record of one clip."""
    return {"id": clip_id, "split": meta["split"], "kind": meta["kind"], "n_frames": int(meta["n_frames"])}
