"""Config sections of where runs go: ``sweep:``, ``tune:``, ``tracking:`` and ``paths:``.

Part of the schema (harness/config.py assembles the sections); every default lives here.
Checks that need several sections (seeds, names that become paths, a study's objectives and
search space) are in harness/config_checks.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, NonNegativeInt, PositiveFloat, field_validator, model_validator

from harness.config_section import Section
from harness.vocabulary import RESULT_ORDER


# --------------------------------------------------------------------------- sweep / tune


class SweepConfig(Section):
    """Ray sweep: every variant x seed is one trial. A variant is a config diff."""

    variants: dict[str, dict[str, Any]] = Field(default_factory=lambda: {"full": {}})
    baseline: str = "full"
    seeds: list[NonNegativeInt] = Field(default_factory=lambda: [0], description="each becomes a trial's train.seed")
    cpus_per_trial: float = Field(default=1.0, gt=0.0)
    gpus_per_trial: float = Field(default=0.0, ge=0.0)
    workers_per_trial: int = Field(
        default=0, ge=0, description="data-parallel Ray Train workers per trial; 0 = one per whole GPU (at least 1)"
    )
    max_failures: int = Field(default=1, ge=0)
    max_concurrent: int = Field(default=0, ge=0, description="0 = as many as resources allow")
    # Ray custom resources (`ray start --resources '{"worker_node": 1}'`) each trial reserves, e.g. to keep
    # trials on the GPU nodes of a cluster; CPUs and GPUs are cpus_per_trial / gpus_per_trial
    trial_resources: dict[str, PositiveFloat] = Field(
        default_factory=dict, description="custom Ray resources per trial (and per Ray Train worker), e.g. {gpu_node: 1}"
    )

    @field_validator("trial_resources")
    @classmethod
    def _custom_only(cls, value: dict[str, float]) -> dict[str, float]:
        built_in = sorted(k for k in value if k.lower() in ("cpu", "gpu", "memory", "custom_resources"))
        if built_in:
            raise ValueError(f"{built_in} are not custom resources: use sweep.cpus_per_trial / sweep.gpus_per_trial")
        return value

    def trial_workers(self) -> int:
        """Data-parallel workers of one trial: workers_per_trial, or one per whole GPU of gpus_per_trial."""
        return self.workers_per_trial or max(1, int(self.gpus_per_trial))

    @model_validator(mode="after")
    def _baseline_is_variant(self) -> SweepConfig:
        if self.baseline not in self.variants:
            raise ValueError(f"baseline {self.baseline!r} is not one of the variants {sorted(self.variants)}")
        return self


class SearchParam(Section):
    """A search dimension: a config key with a range (log-uniform when log=true)."""

    low: float
    high: float
    log: bool = False
    kind: Literal["float", "int"] = "float"

    @model_validator(mode="after")
    def _range_ok(self) -> SearchParam:
        if not self.low < self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        if self.log and self.low <= 0:
            raise ValueError("log-uniform ranges need low > 0")
        return self


class Objective(Section):
    """One objective of the study: a metric result key (e.g. fid, ssim, sync_c) and its direction."""

    metric: str = Field(description=f"a result key of eval.metrics: {' '.join(RESULT_ORDER)}")
    direction: Literal["minimize", "maximize"]


class TuneConfig(Section):
    """Optuna study over the APDH schedule, PhD bands, loss weights and any ranged key."""

    study_name: str | None = Field(default=None, description="default: the experiment name")
    storage: str | None = Field(default=None, description="Optuna RDB URL; default sqlite in the run folder")
    trials: int = Field(default=8, ge=1)
    max_concurrent: int = Field(default=2, ge=1)
    seed: int = Field(default=0, ge=0, le=2**32 - 1, description="seed of the Optuna sampler (TPE; numpy's range)")
    objectives: list[Objective] = Field(
        default_factory=lambda: [Objective(metric="fid", direction="minimize")], min_length=1
    )
    tune_apdh_boundaries: bool = False
    tune_phd_bands: bool = False
    space: dict[str, SearchParam] = Field(default_factory=dict, description="dotted config key -> range")
    eval_every: int = Field(
        default=0, ge=0, description="steps between intermediate evaluations of a trial (0 = only at the end)"
    )
    early_stopping: bool = Field(
        default=True, description="ASHA stops poor trials at intermediate evaluations (one objective, eval_every > 0)"
    )
    reduction_factor: float = Field(default=2.0, gt=1.0, description="ASHA: the best 1/rf of a rung continue")


# --------------------------------------------------------------------------- tracking / paths


class TrackingConfig(Section):
    """MLflow. No uri = a sqlite store inside paths.runs (one writer; use a server on clusters)."""

    uri: str | None = None
    experiment: str | None = Field(default=None, description="default: the experiment name")
    outage_limit_s: float = Field(default=120.0, gt=0, description="a tracking server that does not answer "
                                  "for this long stops the sweep (shorter outages are waited out)")
    # issue 16: a trial's final checkpoint in the run record. "uri": only its file URI (the demo stays
    # small; a cluster's shared storage keeps the file); "artifact": the file itself, logged under checkpoint/
    checkpoints: Literal["uri", "artifact"] = Field(default="uri", description="uri: record the final "
                                                    "checkpoint's URI; artifact: log the file to MLflow")
    system_metrics_s: float = Field(default=5.0, ge=0, description="sampling interval of MLflow's system "
                                    "metrics on each trial run (the driver's node); 0 turns them off")


class PathsConfig(Section):
    runs: Path = Field(default=Path("runs"), description="all generated output goes below here")
    weights: Path | None = Field(default=None, description="weights folder; default $HARNESS_WEIGHTS")
