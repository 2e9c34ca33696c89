"""The embedded synthetic semi-body dataset: `harness data synth` and ensure_dataset(cfg).

Per clip: a random identity speaks synthetic syllables; its mouth follows the audio envelope,
head sway and breathing follow slow audio energy, its hands move on smooth random paths from
a separate random stream (issue 3: lip sync comes only from audio, hand motion only from hand
poses). Portrait clips (the HPA headshot subset) film the same kind of figure zoomed on the
head. Same parameters and seed -> the same bytes on disk.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from harness.config import ExperimentConfig
from harness.data.clip_format import index_entry, read_index, write_clip, write_index
from harness.data.progress import progress_bar
from harness.data.regions import boxes_from_keypoints
from harness.data.synth_audio import frame_envelope, synth_speech
from harness.data.synth_figure import figure_keypoints, sample_identity, sample_motion
from harness.data.synth_render import Camera, image_keypoints, render_frame
from harness.errors import HarnessError
from harness.vocabulary import SYNTH_TEST_FRACTION

GENERATOR = "synthetic-v1"
PORTRAIT_ZOOM = 2.4


def _clip_rngs(seed: int, kind: str, k: int) -> list[np.random.Generator]:
    """Independent streams for (identity + audio, hands, head) of one clip."""
    kind_id = 0 if kind == "semibody" else 1
    return [np.random.default_rng(s) for s in np.random.SeedSequence([seed, kind_id, k]).spawn(3)]


def render_clip(seed: int, kind: str, k: int, size: int, n_frames: int, fps: float, sample_rate: int) -> dict[str, Any]:
    """Synthesise clip k of a kind: frames uint8 (F, S, S, 3), audio (samples,), keypoints (F, 133, 3), boxes."""
    rng, hand_rng, head_rng = _clip_rngs(seed, kind, k)
    ident = sample_identity(rng)
    audio = synth_speech(rng, n_frames / fps, sample_rate, ident.f0)
    motion = sample_motion(frame_envelope(audio, sample_rate, fps, n_frames), fps, hand_rng, head_rng)
    camera = Camera()
    if kind == "portrait":
        camera = Camera((ident.head_x, ident.head_y + 0.04), PORTRAIT_ZOOM)
    ss = 4 if size <= 128 else 2
    frames = np.empty((n_frames, size, size, 3), np.uint8)
    keypoints = np.empty((n_frames, 133, 3), np.float32)
    for i in range(n_frames):
        kp, head = figure_keypoints(ident, motion, i)
        frames[i] = render_frame(ident, kp, head, camera, size, ss)
        keypoints[i] = image_keypoints(kp, camera)
    return {"frames": frames, "audio": audio, "keypoints": keypoints, "boxes": boxes_from_keypoints(keypoints)}


def _plan(clips: int, portrait_clips: int, test_fraction: float) -> list[tuple[str, str, int, str]]:
    """(clip_id, kind, k, split): the last share of semi-body clips is the test split; portraits train."""
    n_test = 0 if clips < 2 else min(clips - 1, max(1, int(round(clips * test_fraction))))
    plan = [(f"synth-{k:04d}", "semibody", k, "test" if k >= clips - n_test else "train") for k in range(clips)]
    plan += [(f"portrait-{k:04d}", "portrait", k, "train") for k in range(portrait_clips)]
    return plan


def generate_dataset(
    out: Path,
    clips: int,
    portrait_clips: int,
    size: int,
    seconds: float,
    fps: int,
    sample_rate: int,
    seed: int,
    test_fraction: float = SYNTH_TEST_FRACTION,
    progress: bool = True,
) -> Path:
    """Write a synthetic clip dataset (clips/ + index.json) into out; returns out."""
    if clips < 1 or portrait_clips < 0 or size < 16 or seconds <= 0 or fps < 1:
        raise HarnessError(f"synthetic dataset: invalid parameters (clips={clips}, portrait_clips={portrait_clips}, "
                           f"size={size}, seconds={seconds}, fps={fps})")
    out = Path(out)
    _check_writable(out)
    out.mkdir(parents=True, exist_ok=True)
    n_frames = max(1, int(round(seconds * fps)))
    params = synth_params(clips, portrait_clips, size, seconds, fps, sample_rate, seed, test_fraction)
    entries = []
    plan = _plan(clips, portrait_clips, test_fraction)
    for clip_id, kind, k, split in progress_bar(plan, "synthesising clips", enabled=progress):
        data = render_clip(seed, kind, k, size, n_frames, fps, sample_rate)
        meta = {"fps": fps, "kind": kind, "source": f"{GENERATOR}:seed={seed}:{kind}:{k}", "split": split,
                "sample_rate": sample_rate}
        write_clip(out, clip_id, data["frames"], data["audio"], data["keypoints"], data["boxes"], meta)
        entries.append(index_entry(clip_id, {**meta, "n_frames": n_frames}))
    write_index(out, entries, params)
    keep = {clip_id for clip_id, *_ in plan}
    for stale in (out / "clips").iterdir():  # clips of an earlier, larger run of the generator
        if stale.name not in keep:
            shutil.rmtree(stale)
    return out


def _check_writable(out: Path) -> None:
    """Refuse to write into a folder that holds something other than a synthetic dataset."""
    if not out.exists():
        return
    if not out.is_dir():
        raise HarnessError(f"{out}: exists and is not a folder")
    recorded = _recorded_params(out)
    if any(out.iterdir()) and (recorded or {}).get("generator") != GENERATOR:
        raise HarnessError(f"{out}: not empty and not a synthetic dataset; choose another --out")


def synth_params(clips: int, portrait_clips: int, size: int, seconds: float, fps: int, sample_rate: int,
                 seed: int, test_fraction: float) -> dict[str, Any]:
    """The parameters recorded in index.json; a dataset is regenerated when they differ."""
    return {"generator": GENERATOR, "clips": clips, "portrait_clips": portrait_clips, "size": size,
            "seconds": float(seconds), "fps": fps, "sample_rate": sample_rate, "seed": seed,
            "test_fraction": float(test_fraction)}


def dataset_root(cfg: ExperimentConfig) -> Path:
    """cfg.data.root, or <paths.runs>/data/<source>."""
    return Path(cfg.data.root) if cfg.data.root else Path(cfg.paths.runs) / "data" / cfg.data.source


def _recorded_params(root: Path) -> dict[str, Any] | None:
    try:
        return json.loads((root / "index.json").read_text()).get("params")
    except (OSError, ValueError):
        return None


def ensure_dataset(cfg: ExperimentConfig) -> Path:
    """The dataset folder for cfg: a synthetic set is (re)generated when missing or when its
    recorded parameters differ (idempotent, safe across concurrent trials); a prepared set
    must exist. Returns the folder."""
    root = dataset_root(cfg)
    if cfg.data.source == "prepared":
        read_index(root)  # HarnessError if absent
        return root
    s = cfg.data.synthetic
    params = synth_params(s.clips, s.portrait_clips, cfg.data.size, s.seconds, cfg.data.fps, cfg.data.sample_rate,
                          s.seed, SYNTH_TEST_FRACTION)
    if _recorded_params(root) == params:
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    with open(root.parent / f".{root.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one generator at a time; the others wait, then reuse
        recorded = _recorded_params(root)
        if recorded == params:
            return root
        if root.exists() and any(root.iterdir()) and (recorded or {}).get("generator") != GENERATOR:
            raise HarnessError(f"{root}: exists and is not a synthetic dataset; set data.root to another folder")
        tmp = root.with_name(f".{root.name}.tmp-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        generate_dataset(tmp, s.clips, s.portrait_clips, cfg.data.size, s.seconds, cfg.data.fps,
                         cfg.data.sample_rate, s.seed, progress=False)
        old = root.with_name(f".{root.name}.old-{os.getpid()}")
        if root.exists():
            root.rename(old)
        tmp.rename(root)
        shutil.rmtree(old, ignore_errors=True)
    return root
