"""`train(cfg, run_dir)`: the training loop with atomic checkpoints, exact resume and a step hook."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm.auto import tqdm

from harness.config import ExperimentConfig
from harness.data.audio_features import audio_feature_shape
from harness.errors import HarnessError
from harness.model.build import build_model, describe
from harness.train.apdh import apdh_phase_at
from harness.train.batches import TrainingBatches
from harness.train.checkpoint import latest_checkpoint, latest_valid_checkpoint, recorded_config_hashes, save_checkpoint
from harness.train.conditions import Conditions, build_conditions
from harness.train.distributed import barrier, rank_generator, unwrap, world, wrap_data_parallel
from harness.train.latent_cache import LatentCache
from harness.train.objective import make_scheduler
from harness.train.stages import apply_stage
from harness.train.step import make_optimizer, training_step

StepCallback = Callable[[int, dict[str, float]], None]
"""Called after every optimiser step with (step, logged values); the sweep wires it to MLflow/Ray."""


@dataclass
class TrainResult:
    run_dir: Path
    checkpoint: Path
    steps: int
    final: dict[str, float]
    history: list[dict[str, float]] = field(default_factory=list)


def resolve_device(cfg: ExperimentConfig) -> torch.device:
    if cfg.train.device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(cfg.train.device)


def step_generator(seed: int, step: int) -> torch.Generator:
    """All randomness of one step comes from (seed, step): resuming needs no RNG state."""
    return torch.Generator().manual_seed(seed * 1_000_003 + step)


def train(cfg: ExperimentConfig, run_dir: Path, on_step: StepCallback | None = None, progress: bool = True,
          until: int | None = None) -> TrainResult:
    """Train cfg.train.steps steps, resuming from run_dir/checkpoints when a checkpoint exists.

    until: stop after this step (with a checkpoint there) instead of at cfg.train.steps; the
    schedule still spans cfg.train.steps, so calling again continues the same run exactly
    (tuning evaluates trials at such intermediate steps).
    """
    rank, _ = world()  # several ranks: one trainer per Ray Train worker (harness/train/distributed.py)
    run_dir.mkdir(parents=True, exist_ok=True)
    if rank == 0:
        check_same_config(run_dir, cfg)  # before config.yaml is overwritten
        (run_dir / "config.yaml").write_text(cfg.to_yaml())
    device = resolve_device(cfg)
    torch.manual_seed(cfg.train.seed)  # model initialisation
    model, codec = build_model(cfg, audio_dim=audio_feature_shape(cfg.model.audio_encoder)[1])
    if cfg.train.steps == 0:  # evaluation only (experiments/release_eval.yaml): the network as built, e.g. from model.init
        return _untrained(cfg, run_dir, model, rank)
    model.to(device).train()
    codec.to(device)
    apply_stage(model, cfg.train.stage)  # train.stage: what trains (ancestor stages 1/2); before the optimiser
    optimizer = make_optimizer(model, cfg)  # train.optimizer (harness/train/step.py)
    start, ckpt = _resume(run_dir / "checkpoints", model, optimizer)
    model = wrap_data_parallel(model, device)
    batches = TrainingBatches(cfg)
    # train.latent_cache: the frozen codec's latents read from the clip folders, encoded on a clip's first use
    cache = LatentCache(codec, batches.root, cfg.data.size, cfg.train.mixed_precision, cfg.train.encode_frames_per_call,
                        device) if cfg.train.latent_cache else None
    scheduler = make_scheduler()
    history: list[dict[str, float]] = []
    stop = cfg.train.steps if until is None else max(1, min(until, cfg.train.steps))
    bar = tqdm(range(start, stop), initial=start, total=cfg.train.steps, desc=f"train {cfg.name}", disable=not progress)
    for step in bar:
        t0 = time.perf_counter()
        generator = step_generator(cfg.train.seed, step) if rank == 0 else rank_generator(cfg.train.seed, step, rank)
        phase = apdh_phase_at(cfg.model.apdh, step, cfg.train.steps)
        batch = batches.batch(step, rank) if cache is None else cache.attach(batches.batch(step, rank))
        cond = _to_device(build_conditions(batch, phase, cfg, generator), device)
        logs = training_step(model, codec, scheduler, optimizer, cond, cfg, generator)  # bench/train_step.py times it
        logs.update(step_time_s=time.perf_counter() - t0, lr=cfg.train.lr)
        history.append({"step": step + 1, **logs})
        bar.set_postfix(loss=f"{logs['loss']:.4f}", phase=phase.name)
        if (step + 1) % cfg.train.checkpoint_every == 0 or step + 1 in (cfg.train.steps, stop):
            if rank == 0:  # one writer; the other ranks hold the same weights (DDP)
                ckpt = _save(run_dir / "checkpoints", step + 1, unwrap(model), optimizer, cfg)
        if on_step is not None:  # after the save: a hook that reports checkpoints sees this step's
            on_step(step + 1, logs)
    barrier()  # with several ranks: rank 0 has saved the last step before anyone goes on
    if rank > 0:
        ckpt = latest_checkpoint(run_dir / "checkpoints")
    assert ckpt is not None  # the last step always saves; a finished run resumed from its checkpoint
    final = history[-1] if history else {}
    return TrainResult(run_dir=run_dir, checkpoint=ckpt, steps=max(stop, start), final=final, history=history)


def _save(ckpt_dir: Path, step: int, model, optimizer, cfg: ExperimentConfig) -> Path:
    payload = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "config_hash": cfg.config_hash(), "params": describe(model)}
    return save_checkpoint(ckpt_dir, step, payload)


def _untrained(cfg: ExperimentConfig, run_dir: Path, model, rank: int) -> TrainResult:
    """train.steps 0: a step-0 checkpoint without weights (the network is what the config builds)."""
    ckpt_dir = run_dir / "checkpoints"
    if rank == 0 and latest_checkpoint(ckpt_dir) is None:
        save_checkpoint(ckpt_dir, 0, {"model": None, "optimizer": None, "config_hash": cfg.config_hash(),
                                      "params": describe(model), "init": str(cfg.model.init)})
    barrier()
    ckpt = latest_checkpoint(ckpt_dir)
    assert ckpt is not None
    return TrainResult(run_dir=run_dir, checkpoint=ckpt, steps=0, final={})


def check_same_config(run_dir: Path, cfg: ExperimentConfig) -> None:
    """Refuse to continue a run folder whose checkpoints another config wrote (one line, both hashes)."""
    recorded = recorded_config_hashes(run_dir / "checkpoints") - {cfg.config_hash()}
    if recorded:
        raise HarnessError(
            f"{run_dir}: its checkpoints were written by config {sorted(recorded)[0]}, this config is {cfg.config_hash()}; "
            f"pass another --run-dir to start a fresh run (or delete {run_dir / 'checkpoints'})")


def _resume(ckpt_dir: Path, model, optimizer) -> tuple[int, Path | None]:
    """Load the newest valid checkpoint if any; return the step to continue from and its path.

    A truncated or corrupt newest checkpoint is skipped with one warning line (checkpoint.py).
    """
    resumed = latest_valid_checkpoint(ckpt_dir)
    if resumed is None:
        return 0, None
    if resumed.state["model"] is None:  # a train.steps=0 checkpoint holds no weights: start from the built network
        return 0, None
    model.load_state_dict(resumed.state["model"])
    optimizer.load_state_dict(resumed.state["optimizer"])
    return int(resumed.state["step"]), resumed.path


def _to_device(cond: Conditions, device: torch.device) -> Conditions:
    moved = {k: (v.to(device) if isinstance(v, torch.Tensor) else v) for k, v in vars(cond).items()}
    return Conditions(**moved)
