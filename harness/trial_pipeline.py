"""One trial end to end: train (resuming) -> sample the test clips -> evaluate -> write outputs.

    outcome = run_trial(cfg, trial_dir, on_step)

trial_dir is the trainer's run folder (checkpoints/, config.yaml) and also receives
samples/<clip>.mp4 (with the clip's audio), frames/<clip>_<i>.png and metrics.json.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harness.config import ExperimentConfig
from harness.errors import HarnessError

FRAMES_PER_SAMPLE = 4  # PNG stills kept of the first test clip
# Ground-truth FID features under paths.runs: every trial of a sweep evaluates the same test
# clips, so they are computed once (metrics/feature_cache.py; the numbers do not change).
FEATURE_CACHE = Path("cache") / "fid_features"


@dataclass
class TrialOutcome:
    """What one trial produced: final metric records (MetricResult dicts) and where things are."""

    results: list[dict[str, Any]]
    checkpoint: Path
    start_step: int
    steps: int
    samples: list[Path] = field(default_factory=list)
    frames: list[Path] = field(default_factory=list)

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
    """Sample and evaluate a trained trial; write samples/, frames/ and metrics.json into trial_dir."""
    from harness.data.synth import ensure_dataset

    root = ensure_dataset(cfg)
    generated = _generate(cfg, checkpoint, root)
    samples, frames = _write_samples(trial_dir, generated)
    results = _evaluate(cfg, generated, root)
    (trial_dir / "metrics.json").write_text(json.dumps(results, indent=1) + "\n")
    return TrialOutcome(results=results, checkpoint=checkpoint, start_step=start_step, steps=steps,
                        samples=samples, frames=frames)


def evaluate_checkpoint(cfg: ExperimentConfig, checkpoint: Path) -> list[dict[str, Any]]:
    """Sample eval.test_clips test clips from checkpoint and evaluate them; writes nothing.

    For intermediate evaluations (tuning's early stopping); run_trial does the final one.
    """
    from harness.data.synth import ensure_dataset

    root = ensure_dataset(cfg)
    return _evaluate(cfg, _generate(cfg, checkpoint, root), root)


def _generate(cfg: ExperimentConfig, checkpoint: Path, root: Path) -> dict[str, Any]:
    """{clip_id: Generated} for the evaluated test clips."""
    from harness.data.clip_format import clip_dir
    from harness.train.generate import generate_for_clip, load_trained
    from harness.train.trainer import resolve_device

    _, model, codec = load_trained(checkpoint, resolve_device(cfg))
    return {cid: generate_for_clip(cfg, model, codec, clip_dir(root, cid), seed=cfg.train.seed)
            for cid in test_clip_ids(root, cfg.eval.test_clips)}


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


def _evaluate(cfg: ExperimentConfig, generated: dict[str, Any], root: Path) -> list[dict[str, Any]]:
    """metrics.evaluate over the generated clips; MetricResult dicts in result order.

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
                       settings=EvalSettings(feature_cache_dir=Path(cfg.paths.runs) / FEATURE_CACHE))
    return [r.to_dict() for r in results]
