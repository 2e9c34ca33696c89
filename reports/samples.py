"""The report's qualitative panel: one test clip, a few frames across it, one row per image source.

    panel = qualitative_panel(store, sweep, cfg, out)   # Panel, or None when no trial logged frames

Rows, top to bottom: the reference image (what every prediction is conditioned on: the clip's
frame 0), the ground truth, then each variant's prediction (its first finished seed). The
predictions are the trials' scored frames (``Artifacts.SCORED``: lossless PNG, exactly what the
metrics scored) fetched from MLflow's artifact store, never the H.264 viewing copies. Reference
and ground truth come from the dataset on disk, and only when its hash is the sweep's (else the
panel leaves them out and says why). Small frames are enlarged by an integer factor, nearest
neighbour, so every generated pixel stays a visible square.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from harness.config import ExperimentConfig
from harness.errors import HarnessError
from harness.runs.schema import Artifacts, SweepTags
from reports.labels import variant_label
from reports.query import Store, Sweep

PANEL_PNG = "qualitative_samples.png"
PANEL_FRAMES = 4  # columns: frames evenly spread over the clip
TILE = 128  # px: a frame is enlarged by the largest integer factor that keeps it at most this tall (shrunk above)
GAP = 4  # px of white between tiles
LABEL_WIDTH = 190  # px: the row-label column
HEADER = 24  # px: the frame-number row
FONT_SIZE = 14


@dataclass
class Panel:
    """What qualitative_panel drew: the PNG, the clip, row labels, frame indices, seeds, and notes."""

    path: Path
    clip: str
    rows: list[str]
    frames: list[int]
    seeds: dict[str, int]  # variant -> the seed whose frames are shown
    notes: list[str] = field(default_factory=list)  # one line each: what the panel leaves out

    def caption(self) -> str:
        seeds = sorted(set(self.seeds.values()))
        seed_text = f"seed {seeds[0]}" if len(seeds) == 1 else "first finished seed of each variant"
        return (f"Test clip {self.clip}, frames {', '.join(map(str, self.frames))} ({seed_text}): the scored "
                f"(lossless) frames of each variant." + "".join(f" {n}" for n in self.notes))


def unreadable() -> tuple[type[Exception], ...]:
    """What reading a logged artifact can raise (mlflow imported late: it is slow to import)."""
    from mlflow.exceptions import MlflowException

    return HarnessError, OSError, MlflowException


def first_seed_runs(sweep: Sweep) -> dict[str, tuple[str, int]]:
    """{variant: (run id, seed)} of each variant's first finished seed, in the sweep's variant order."""
    done = sweep.trials[(sweep.trials["run_id"] != "") & (sweep.trials["status"] == "FINISHED")]
    picked: dict[str, tuple[str, int]] = {}
    for row in done.sort_values("seed", kind="stable").itertuples():
        picked.setdefault(row.variant, (row.run_id, int(row.seed)))
    return {v: picked[v] for v in sweep.variants if v in picked}


def scored_clips(store: Store, run_id: str) -> list[str]:
    """Clip ids whose scored frames a trial run logged (sorted; none when its artifacts cannot be listed)."""
    try:
        listed = store.client.list_artifacts(run_id, Artifacts.SCORED)
    except unreadable():  # an artifact store this machine cannot reach: no row, not a failed report
        return []
    return sorted(Path(a.path).name for a in listed if a.is_dir)


def fetch_scored(store: Store, run_id: str, clip: str, dst: Path) -> np.ndarray:
    """A trial's stored scored frames of one clip, from MLflow's artifact store -> uint8 (F, H, W, 3)."""
    from harness.data.clip_format import read_frames

    dst.mkdir(parents=True, exist_ok=True)
    folder = store.client.download_artifacts(run_id, f"{Artifacts.SCORED}/{clip}", str(dst))
    return read_frames(Path(folder))


def ground_truth(cfg: ExperimentConfig, sweep: Sweep, clip: str) -> tuple[np.ndarray | None, str]:
    """The clip's ground-truth frames from the dataset on disk, or (None, why not) when it is absent
    or is not the dataset the sweep ran on (its index hash differs from the sweep's tag)."""
    from harness.data.clip_format import clip_dir, read_frames
    from harness.data.synth import dataset_root
    from harness.runtime.run_folder import dataset_hash

    root = dataset_root(cfg)
    wanted = sweep.tags.get(SweepTags.DATASET_HASH, "unknown")
    have = dataset_hash(root)
    if have == "unknown" or not clip_dir(root, clip).is_dir():
        return None, f"Reference and ground truth left out: clip {clip} is not in the dataset at {root}."
    if wanted not in ("unknown", have):
        return None, (f"Reference and ground truth left out: the dataset at {root} (hash {have}) is not the one "
                      f"the sweep ran on (hash {wanted}).")
    return read_frames(clip_dir(root, clip)), ""


def tile(frame: np.ndarray) -> np.ndarray:
    """One frame at panel size: enlarged by an integer factor (nearest) up to TILE px tall, or shrunk to TILE."""
    import cv2

    h, w = frame.shape[:2]
    if h <= TILE:
        factor = TILE // h
        return frame.repeat(factor, axis=0).repeat(factor, axis=1)
    return cv2.resize(frame, (round(w * TILE / h), TILE), interpolation=cv2.INTER_AREA)


def compose(rows: list[tuple[str, list[np.ndarray | None]]], frame_ids: list[int]) -> np.ndarray:
    """The panel image: uint8 (H, W, 3), white, labels left, frame numbers on top, tiles in a grid.

    rows: (label, one image per column, None = blank)."""
    from PIL import Image, ImageDraw, ImageFont
    from matplotlib import font_manager

    shape = next(tile(im).shape for _, ims in rows for im in ims if im is not None)
    th, tw = shape[:2]
    height = HEADER + len(rows) * th + (len(rows) - 1) * GAP
    width = LABEL_WIDTH + len(frame_ids) * tw + (len(frame_ids) - 1) * GAP
    canvas = np.full((height, width, 3), 255, np.uint8)
    for r, (_, images) in enumerate(rows):
        for c, image in enumerate(images):
            if image is not None:
                y, x = HEADER + r * (th + GAP), LABEL_WIDTH + c * (tw + GAP)
                canvas[y : y + th, x : x + tw] = tile(image)
    picture = Image.fromarray(canvas)
    draw = ImageDraw.Draw(picture)
    font = ImageFont.truetype(font_manager.findfont("DejaVu Sans"), FONT_SIZE)  # matplotlib's bundled font
    for c, index in enumerate(frame_ids):
        draw.text((LABEL_WIDTH + c * (tw + GAP) + tw / 2, HEADER / 2), f"frame {index}", fill="black", font=font,
                  anchor="mm")
    for r, (label, _) in enumerate(rows):
        draw.text((LABEL_WIDTH - 8, HEADER + r * (th + GAP) + th / 2), label, fill="black", font=font, anchor="rm")
    return np.asarray(picture)


def qualitative_panel(store: Store, sweep: Sweep, cfg: ExperimentConfig, out: Path) -> Panel | None:
    """Write out/PANEL_PNG (see the module docstring); None when no finished trial logged scored frames."""
    from PIL import Image

    runs = first_seed_runs(sweep)
    clips = {v: scored_clips(store, run_id) for v, (run_id, _) in runs.items()}
    with_frames = [v for v in runs if clips[v]]
    if not with_frames:
        return None
    clip = clips[with_frames[0]][0]
    shown = [v for v in with_frames if clip in clips[v]]
    notes = [f"No scored frames of clip {clip} logged for: {', '.join(v for v in runs if v not in shown)}."] \
        if len(shown) < len(runs) else []
    preds: dict[str, np.ndarray] = {}
    with tempfile.TemporaryDirectory(prefix="harness-panel-") as tmp:
        for v in shown:
            try:
                preds[v] = fetch_scored(store, runs[v][0], clip, Path(tmp) / v)
            except unreadable() as exc:  # a damaged or unreachable artifact costs its row, not the report
                notes.append(f"{variant_label(v)} left out: {exc}.")
    shown = [v for v in shown if v in preds]
    if not shown:
        return None
    truth, why = ground_truth(cfg, sweep, clip)
    n = min([len(p) for p in preds.values()] + ([len(truth)] if truth is not None else []))
    frame_ids = [int(i) for i in np.unique(np.linspace(0, n - 1, PANEL_FRAMES).round())]
    rows: list[tuple[str, list[np.ndarray | None]]] = []
    if truth is not None:
        rows.append(("reference", [truth[0]] + [None] * (len(frame_ids) - 1)))  # one image: it conditions every frame
        rows.append(("ground truth", [truth[i] for i in frame_ids]))
    else:
        notes.append(why)
    rows += [(variant_label(v), [preds[v][i] for i in frame_ids]) for v in shown]
    out.mkdir(parents=True, exist_ok=True)
    path = out / PANEL_PNG
    Image.fromarray(compose(rows, frame_ids)).save(path)
    return Panel(path, clip, [label for label, _ in rows], frame_ids, {v: runs[v][1] for v in shown}, notes)
