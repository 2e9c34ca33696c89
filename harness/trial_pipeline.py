"""One trial end to end: train (resuming) -> sample the test clips -> evaluate -> write outputs.

    outcome = run_trial(cfg, trial_dir, on_step)

trial_dir is the trainer's run folder (checkpoints/, config.yaml) and also receives, per test clip,
scored/<clip>/ (the predicted frames the metrics scored, lossless PNG, as a clip folder:
frames/000000.png ..., meta.json), samples/<clip>.mp4 and side_by_side/<clip>.mp4 (H.264 viewing
copies with the clip's audio; the second shows reference | ground truth | prediction), a few PNG
stills frames/<clip>_<i>.png of the first clip, and metrics.json.

What is scored is what is stored: the metrics read the predicted frames back from scored/ and
each result names the folder it scored (parameters["scored_frames"]); the mp4s are lossy
(yuv420p halves the colour resolution), so re-scoring them gives other numbers.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harness.config import ExperimentConfig
from harness.errors import HarnessError
from harness.runs.schema import Artifacts

FRAMES_PER_SAMPLE = 4  # PNG stills kept of the first test clip
# Ground-truth FID features under paths.runs: every trial of a sweep evaluates the same test
# clips, so they are computed once (metrics/feature_cache.py; the numbers do not change).
FEATURE_CACHE = Path("cache") / "fid_features"
SIDE_BY_SIDE_LABELS = ["reference", "ground truth", "prediction"]


@dataclass
class TrialOutcome:
    """What one trial produced: final metric records (MetricResult dicts) and where things are."""

    results: list[dict[str, Any]]
    checkpoint: Path
    start_step: int
    steps: int
    samples: list[Path] = field(default_factory=list)
    frames: list[Path] = field(default_factory=list)
    scored: list[Path] = field(default_factory=list)  # scored/<clip> folders (lossless: what the metrics scored)
    side_by_side: list[Path] = field(default_factory=list)  # side_by_side/<clip>.mp4

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> TrialOutcome:
        """The outcome from its dataclasses.asdict JSON (paths as text), as a data-parallel trial's rank 0 writes it."""
        def paths(name: str) -> list[Path]:
            return [Path(p) for p in raw.get(name, [])]

        return cls(results=raw["results"], checkpoint=Path(raw["checkpoint"]), start_step=raw["start_step"],
                   steps=raw["steps"], samples=paths("samples"), frames=paths("frames"), scored=paths("scored"),
                   side_by_side=paths("side_by_side"))

    def metrics(self) -> dict[str, float]:
        """{key: value} of the measured results (missing ones left out)."""
        return {r["key"]: float(r["value"]) for r in self.results if r["value"] is not None}


def test_clip_ids(root: Path, count: int) -> list[str]:
    """The first `count` clip ids of the dataset's test split."""
    from harness.data.clip_format import read_index

    ids = sorted(c["id"] for c in read_index(root)["clips"] if c["split"] == "test")
    if not ids:
        raise HarnessError(f"{root}: the dataset has no test clips to evaluate on")
    return ids[:count]


def checkpoint_step(run_dir: Path) -> int:
    """Step of the newest checkpoint in run_dir/checkpoints, from its file name (0 when none)."""
    from harness.train.checkpoint import CKPT_RE, latest_checkpoint

    path = latest_checkpoint(run_dir / "checkpoints")
    return 0 if path is None else int(CKPT_RE.search(path.name).group(1))


def run_trial(cfg: ExperimentConfig, trial_dir: Path, on_step=None, progress: bool = False) -> TrialOutcome:
    """Train cfg in trial_dir (resuming), then sample and evaluate eval.test_clips test clips."""
    from harness.data.synth import ensure_dataset
    from harness.train.trainer import train

    ensure_dataset(cfg)
    start = checkpoint_step(trial_dir)
    result = train(cfg, trial_dir, on_step=on_step, progress=progress)
    return finish_trial(cfg, trial_dir, result.checkpoint, start, result.steps)


def finish_trial(cfg: ExperimentConfig, trial_dir: Path, checkpoint: Path, start_step: int, steps: int) -> TrialOutcome:
    """Sample and evaluate a trained trial; write scored/, samples/, side_by_side/, frames/ and metrics.json.

    The metrics score the predicted frames as read back from scored/ (lossless), so the logged
    numbers are those of the logged frames."""
    from harness.data.synth import ensure_dataset

    root = ensure_dataset(cfg)
    generated = _generate(cfg, checkpoint, root)
    scored = write_scored(trial_dir / Artifacts.SCORED, generated)
    for cid, folder in zip(generated, scored):
        generated[cid].frames = read_scored(folder)  # the stored uint8 frames, not the in-memory ones
    results = _evaluate(cfg, generated, root, scored_frames=[scored_name(cid) for cid in generated])
    samples, frames = _write_samples(trial_dir, generated)
    side = _write_side_by_side(trial_dir / Artifacts.SIDE_BY_SIDE, generated)
    (trial_dir / "metrics.json").write_text(json.dumps(results, indent=1) + "\n")
    return TrialOutcome(results=results, checkpoint=checkpoint, start_step=start_step, steps=steps,
                        samples=samples, frames=frames, scored=scored, side_by_side=side)


def evaluate_checkpoint(cfg: ExperimentConfig, checkpoint: Path) -> list[dict[str, Any]]:
    """Sample eval.test_clips test clips from checkpoint and evaluate them; writes nothing.

    For intermediate evaluations (tuning's early stopping); run_trial does the final one.
    """
    from harness.data.synth import ensure_dataset

    root = ensure_dataset(cfg)
    return _evaluate(cfg, _generate(cfg, checkpoint, root), root)


# The held-out comparison of the tiny learning test and bench/tiny_learns.py: all 12 test clips of the
# smoke set, the designed synthetic metrics and SSIM (docs/validity.md).
HELD_OUT_OVERRIDES = ["eval.test_clips=12", "eval.metrics=[ssim,sync,hkc,csim]"]


@dataclass
class AgainstUntrained:
    """A trained model and the same config as built, scored on the same held-out clips."""

    trained: dict[str, float | None]  # {result key: value}
    untrained: dict[str, float | None]
    history: list[dict[str, Any]]  # the trained run's per-step logs (loss_v, step_time_s, ...)
    train_s: float  # wall time of the training alone


def against_untrained(cfg: ExperimentConfig, work: Path) -> AgainstUntrained:
    """Train cfg in work/trained and build it untrained (train.steps 0) in work/untrained; evaluate both
    checkpoints on cfg's eval.test_clips held-out clips (sampling and metrics as a trial's)."""
    import time

    from harness.data.synth import ensure_dataset
    from harness.train.trainer import train

    ensure_dataset(cfg)  # generated before the clock starts
    untrained_cfg = cfg.model_copy(update={"train": cfg.train.model_copy(update={"steps": 0})})
    t0 = time.perf_counter()
    trained = train(cfg, work / "trained", progress=False)
    train_s = time.perf_counter() - t0
    untrained = train(untrained_cfg, work / "untrained", progress=False)
    scores = [{r["key"]: r["value"] for r in evaluate_checkpoint(c, run.checkpoint)}
              for c, run in ((cfg, trained), (untrained_cfg, untrained))]
    return AgainstUntrained(trained=scores[0], untrained=scores[1], history=trained.history, train_s=train_s)


def _generate(cfg: ExperimentConfig, checkpoint: Path, root: Path) -> dict[str, Any]:
    """{clip_id: Generated} for the evaluated test clips."""
    from harness.data.clip_format import clip_dir
    from harness.train.generate import generate_for_clip, load_trained
    from harness.train.trainer import resolve_device

    _, model, codec = load_trained(checkpoint, resolve_device(cfg))
    return {cid: generate_for_clip(cfg, model, codec, clip_dir(root, cid), seed=cfg.train.seed)
            for cid in test_clip_ids(root, cfg.eval.test_clips)}


def scored_name(clip_id: str) -> str:
    """The artifact path of a clip's scored frames, as its results name it ("scored/<clip>/frames")."""
    return f"{Artifacts.SCORED}/{clip_id}/frames"


def write_scored(folder: Path, generated: dict[str, Any]) -> list[Path]:
    """folder/<clip>/frames/000000.png ... (lossless RGB) and meta.json {"fps", "clip", "frames", "height",
    "width"} per clip: the layout of a dataset clip folder, so `harness eval --pred folder` reads it."""
    from harness.media import write_png_frames

    out = []
    for cid, g in generated.items():
        clip = folder / cid
        shutil.rmtree(clip, ignore_errors=True)  # a retried trial: no stale frames of an earlier attempt
        write_png_frames(clip / "frames", g.frames)
        n, h, w, _ = g.frames.shape
        meta = {"fps": g.fps, "clip": cid, "frames": n, "height": h, "width": w}
        (clip / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")
        out.append(clip)
    return out


def read_scored(clip: Path) -> np.ndarray:
    """The stored predicted frames of a scored/<clip> folder -> uint8 (F, H, W, 3) RGB."""
    from harness.data.clip_format import read_frames

    return read_frames(clip)


def _write_side_by_side(folder: Path, generated: dict[str, Any]) -> list[Path]:
    """folder/<clip>.mp4 per clip: reference (the conditioning frame 0) | ground truth | prediction, with audio."""
    from harness.media import side_by_side, write_video

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for cid, g in generated.items():
        n = min(len(g.frames), len(g.target))
        reference = np.broadcast_to(g.target[:1], (n, *g.target.shape[1:]))  # frame 0 conditions every frame
        frames = side_by_side([reference, g.target[:n], g.frames[:n]], SIDE_BY_SIDE_LABELS)
        # veryfast: half the encoding time of "medium" at these sizes, for a somewhat larger viewing copy
        write_video(folder / f"{cid}.mp4", frames, g.fps, audio=g.audio, sample_rate=g.sample_rate, preset="veryfast")
        out.append(folder / f"{cid}.mp4")
    return out


def _write_samples(trial_dir: Path, generated: dict[str, Any]) -> tuple[list[Path], list[Path]]:
    """samples/<clip>.mp4 with audio for every clip; a few PNG stills of the first one."""
    import cv2

    from harness.media import write_video

    (trial_dir / "samples").mkdir(parents=True, exist_ok=True)
    (trial_dir / "frames").mkdir(parents=True, exist_ok=True)
    samples, stills = [], []
    for cid, g in generated.items():
        path = trial_dir / "samples" / f"{cid}.mp4"
        write_video(path, g.frames, g.fps, audio=g.audio, sample_rate=g.sample_rate)
        samples.append(path)
    cid, first = next(iter(generated.items()))
    picks = np.unique(np.linspace(0, len(first.frames) - 1, FRAMES_PER_SAMPLE).round().astype(int))
    for i in picks:
        path = trial_dir / "frames" / f"{cid}_{int(i):04d}.png"
        cv2.imwrite(str(path), cv2.cvtColor(first.frames[i], cv2.COLOR_RGB2BGR))
        stills.append(path)
    return samples, stills


def _evaluate(cfg: ExperimentConfig, generated: dict[str, Any], root: Path,
              scored_frames: list[str] | None = None) -> list[dict[str, Any]]:
    """metrics.evaluate over the generated clips; MetricResult dicts in result order.

    scored_frames: where the predicted frames are stored (artifact paths, one per clip), recorded
    in every result.

    Each clip's ground truth (keypoints, boxes, source) goes along: the synthetic backend
    measures at it, and refuses clips whose source is not the synthetic generator."""
    from harness.data.clip_format import clip_dir
    from metrics.evaluate import EvalSettings, evaluate
    from metrics.synthetic.truth import load_truth
    from harness.train.trainer import resolve_device

    gens = list(generated.values())
    truth = [load_truth(clip_dir(root, cid)) for cid in generated]
    results = evaluate([g.frames for g in gens], [g.target for g in gens], references=None,
                       audio=[g.audio for g in gens], wanted=cfg.eval.metrics, backend=cfg.eval.backend,
                       device=str(resolve_device(cfg)), fps=[g.fps for g in gens], truth=truth,
                       settings=EvalSettings(feature_cache_dir=Path(cfg.paths.runs) / FEATURE_CACHE),
                       clip_ids=list(generated), scored_frames=scored_frames)
    return [r.to_dict() for r in results]
