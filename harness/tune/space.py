"""The study's search space as data (``tune:`` in the experiment): sampled values -> config diff.

Everything here is pure and deterministic: the same sampled values give the same config.
Constraints are built into the parametrisation instead of rejected samples (docs/stack.md, "Optuna 5.0";
"Optuna 5.0"; the Optuna FAQ recipe), so every sample is a valid config:

* APDH stage boundaries (``tune.tune_apdh_boundaries``, paper Sec. 3.2): one positive gap per
  phase, ``g_i ~ U[GAP_LOW, 1]``; phase i ends at ``(g_1 + ... + g_i) / (g_1 + ... + g_n)``,
  so the ends are strictly increasing, inside (0, 1), and the last phase still ends at 1.0.
* PhD band fractions (``tune.tune_phd_bands``, paper Sec. 3.4): ``u_i ~ U[U_LOW, U_HIGH]``,
  ``fraction_i = -log u_i / sum_j -log u_j`` (uniform on the simplex): positive, sum 1.
* ``tune.space``: each dotted config key ~ U[low, high], log-uniform with ``log: true``,
  integers with ``kind: int``.

Values are rounded to ``DECIMALS`` places so configs, MLflow params and exported YAML read
well; the gaps and band ranges keep every rounded value strictly inside its bounds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.config import ExperimentConfig
from harness.config_model import ApdhConfig
from harness.config_load import apply_diff, load_dict
from harness.errors import HarnessError
from harness.runs.schema import TrialParams
from harness.vocabulary import PHD_BANDS

GAP_LOW = 0.05  # smallest gap: with n phases each phase keeps >= 0.05 / (n - 0.95) of training
U_LOW, U_HIGH = 1e-3, 0.999  # -log u in [0.001, 6.91]: no band falls below ~7e-5 of denoising
DECIMALS = 6
TRIAL_NUMBER = "optuna_trial"  # the Optuna trial number, added to every Tune trial's config


def gap_param(phase: str) -> str:
    """Optuna parameter name of one APDH phase's gap."""
    return f"apdh.gap.{phase}"


def band_param(band: str) -> str:
    """Optuna parameter name of one PhD band's uniform draw."""
    return f"phd.u.{band}"


def apdh_boundaries(gaps: Sequence[float]) -> list[float]:
    """Phase end fractions from positive gaps: strictly increasing, in (0, 1), last = 1.0."""
    if not gaps or any(not g > 0 for g in gaps):
        raise ValueError(f"gaps must be positive, got {list(gaps)}")
    total = math.fsum(gaps)
    ends = [round(math.fsum(gaps[: i + 1]) / total, DECIMALS) for i in range(len(gaps) - 1)]
    return [*ends, 1.0]


def band_fractions(draws: Sequence[float]) -> dict[str, float]:
    """PhD band fractions (pose, detail, low) from three draws u in (0, 1): positive, sum 1."""
    if len(draws) != len(PHD_BANDS) or any(not 0 < u < 1 for u in draws):
        raise ValueError(f"need {len(PHD_BANDS)} draws in (0, 1), got {list(draws)}")
    weights = [-math.log(u) for u in draws]
    total = math.fsum(weights)
    pose, detail = (round(w / total, DECIMALS) for w in weights[:2])
    return {"pose": pose, "detail": detail, "low": round(1.0 - pose - detail, DECIMALS)}


@dataclass(frozen=True)
class Range:
    """One ``tune.space`` entry: a dotted config key and its range."""

    key: str
    low: float
    high: float
    log: bool = False
    kind: str = "float"


@dataclass(frozen=True)
class SearchSpace:
    """The define-by-run space handed to OptunaSearch; plain data, so Tune can pickle it."""

    phases: tuple[str, ...] = ()  # APDH phases whose boundaries are tuned (empty: not tuned)
    bands: bool = False
    ranges: tuple[Range, ...] = ()

    @classmethod
    def from_config(cls, cfg: ExperimentConfig) -> SearchSpace:
        t = cfg.tune
        phases = tuple(p.name for p in cfg.model.apdh.phases) if t.tune_apdh_boundaries else ()
        ranges = tuple(Range(k, p.low, p.high, p.log, p.kind) for k, p in sorted(t.space.items()))
        return cls(phases=phases, bands=t.tune_phd_bands, ranges=ranges)

    def names(self) -> list[str]:
        """Optuna parameter names, in sampling order."""
        return ([gap_param(p) for p in self.phases] + ([band_param(b) for b in PHD_BANDS] if self.bands else [])
                + [r.key for r in self.ranges])

    def tuned_keys(self) -> list[str]:
        """The config keys a trial changes."""
        keys = [TrialParams.apdh_end(p) for p in self.phases[:-1]]
        keys += [f"loss.phd.bands.{b}" for b in PHD_BANDS] if self.bands else []
        return keys + [r.key for r in self.ranges]

    def suggest(self, trial: Any) -> dict[str, float]:
        """Sample every parameter from an Optuna trial (an already sampled one keeps its value)."""
        values: dict[str, float] = {}
        for phase in self.phases:
            values[gap_param(phase)] = trial.suggest_float(gap_param(phase), GAP_LOW, 1.0)
        if self.bands:
            for band in PHD_BANDS:
                values[band_param(band)] = trial.suggest_float(band_param(band), U_LOW, U_HIGH)
        for r in self.ranges:
            if r.kind == "int":
                values[r.key] = trial.suggest_int(r.key, math.ceil(r.low), math.floor(r.high), log=r.log)
            else:
                values[r.key] = trial.suggest_float(r.key, r.low, r.high, log=r.log)
        return values

    def __call__(self, trial: Any) -> dict[str, int]:
        """OptunaSearch's define-by-run hook: sample, and pass the trial number to the trainable."""
        self.suggest(trial)
        return {TRIAL_NUMBER: int(trial.number)}

    def config_diff(self, base: Mapping[str, Any], params: Mapping[str, float]) -> dict[str, Any]:
        """The config diff of sampled params over base (a config dict); pure and deterministic."""
        diff: dict[str, Any] = {}
        if self.phases:
            ends = apdh_boundaries([float(params[gap_param(p)]) for p in self.phases])
            by_name = dict(zip(self.phases, ends))
            phases = [{**phase, "end": by_name.get(phase["name"], phase["end"])}
                      for phase in base["model"]["apdh"]["phases"]]
            diff["model"] = {"apdh": {"phases": phases}}
        if self.bands:
            bands = band_fractions([float(params[band_param(b)]) for b in PHD_BANDS])
            diff.setdefault("loss", {}).setdefault("phd", {})["bands"] = bands
        for r in self.ranges:
            value = int(params[r.key]) if r.kind == "int" else round(float(params[r.key]), 12)
            _set(diff, r.key, value)
        return diff

    def trial_config(self, base: Mapping[str, Any], params: Mapping[str, float]) -> ExperimentConfig:
        """The validated config of one trial: base <- config_diff(params)."""
        return load_dict(apply_diff(dict(base), self.config_diff(base, params)), source="tune trial")


def params_of(config: Mapping[str, Any]) -> dict[str, float]:
    """The sampled values in a Tune trial's config (everything but the trial number)."""
    return {k: v for k, v in config.items() if k != TRIAL_NUMBER}


def boundary_params(cfg: ExperimentConfig) -> dict[str, str]:
    """Every APDH phase end as a fraction and as the first step of the next phase (MLflow params)."""
    from harness.train.apdh import apdh_schedule_table

    # all phases, not only the kept ones: drop_phases would hide the sampled ends
    rows = apdh_schedule_table(ApdhConfig(phases=cfg.model.apdh.phases), cfg.train.steps)
    out: dict[str, str] = {}
    for phase, row in zip(cfg.model.apdh.phases, rows):
        out[TrialParams.apdh_end(phase.name)] = f"{phase.end:g}"
        out[TrialParams.apdh_end_step(phase.name)] = str(row["end_step"])
    return out


def check_space(cfg: ExperimentConfig) -> None:
    """`harness tune` needs something to tune; every other check of the space is the schema's (config_checks.py)."""
    if not SearchSpace.from_config(cfg).names():
        raise HarnessError("tune: the search space is empty; set tune.tune_apdh_boundaries, "
                           "tune.tune_phd_bands or tune.space")


def _set(tree: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    parts = dotted.split(".")
    node = tree
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    return tree
