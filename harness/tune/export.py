"""The study's answer as experiment files: the best trial (one objective) or the Pareto set.

Each file, ``<study folder>/best/<study>-trial-<number>.yaml``, is the trial's whole resolved
config (no ``extends``, so it does not depend on where it is moved), named after its stem, so
``harness train`` and ``harness sweep`` take it as it is. ``best/best.json`` lists them with
their objective values and tuned keys for scripts.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


from harness.config import ExperimentConfig
from harness.config_load import load_dict
from harness.tune.space import SearchSpace
from harness.tune.trial import trial_name


@dataclass
class Exported:
    """One exported trial: its Optuna number, file, objective values and tuned config values."""

    number: int
    path: Path
    values: dict[str, float]
    tuned: dict[str, Any]


def chosen_trials(study: Any) -> list[Any]:
    """Best COMPLETE trial (one objective) or the Pareto front (several); pruned/failed never count."""
    from optuna.trial import TrialState

    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        return []
    if len(study.directions) == 1:
        return [study.best_trial]
    return sorted(study.best_trials, key=lambda t: t.number)


def export_best(study: Any, cfg: ExperimentConfig, space: SearchSpace, folder: Path, storage: str) -> list[Exported]:
    """Write the chosen trials' configs to folder/best/ (replacing older exports); returns them."""
    out = Path(folder) / "best"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    base = cfg.to_dict()  # the user's paths as written, not the trials' absolute ones
    metrics = [o.metric for o in cfg.tune.objectives]
    exported: list[Exported] = []
    for trial in chosen_trials(study):
        trial_cfg = space.trial_config(base, trial.params)
        name = f"{study.study_name}-{trial_name(trial.number)}"
        values = dict(zip(metrics, trial.values))
        raw = trial_cfg.to_dict()
        raw["name"] = name
        raw["description"] = (f"Tuned by harness tune: study {study.study_name}, {trial_name(trial.number)} "
                              f"({', '.join(f'{k}={v:.6g}' for k, v in values.items())}).")
        final = load_dict(raw, source=name)  # what harness train will load from the file
        tuned = {key: _get(final.to_dict(), key) for key in space.tuned_keys()}
        path = out / f"{name}.yaml"
        path.write_text(_header(study.study_name, storage, trial.number, cfg, values, tuned, path) + final.to_yaml())
        exported.append(Exported(trial.number, path, values, tuned))
    rows = [{**asdict(e), "path": str(e.path), "trial": trial_name(e.number)} for e in exported]
    (out / "best.json").write_text(json.dumps({"study": study.study_name, "pareto": len(study.directions) > 1,
                                               "trials": rows}, indent=1) + "\n")
    return exported


def _header(study: str, storage: str, number: int, cfg: ExperimentConfig, values: dict[str, float],
            tuned: dict[str, Any], path: Path) -> str:
    directions = {o.metric: o.direction for o in cfg.tune.objectives}
    lines = [f"Exported by `harness tune` from Optuna study {study} ({storage}), {trial_name(number)}.",
             "Objectives: " + ", ".join(f"{k} ({directions[k]}) = {v:.6g}" for k, v in values.items()),
             "Tuned: " + ", ".join(f"{k} = {v}" for k, v in tuned.items()),
             "The whole resolved config (no extends): use it as it is, e.g.",
             f"  harness train {path.name}    harness sweep {path.name}"]
    return "".join(f"# {line}\n" for line in lines)


def _get(tree: dict[str, Any], dotted: str) -> Any:
    """A value by dotted key; list items (APDH phases) by their name."""
    node: Any = tree
    for part in dotted.split("."):
        if isinstance(node, list):
            node = next(item for item in node if item.get("name") == part)
        else:
            node = node[part]
    return node
