"""What a trial records besides its metrics: its resolved config as params, one tag per ablation
switch, the model.init provenance, and the records reports draw from (APDH schedule in steps,
config diff, tuned values), so reports read MLflow only.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from harness.config import ExperimentConfig
from harness.runs.schema import MAX_PARAM_CHARS, SKIPPED_PARAM_PREFIXES, TrialParams, TrialTags


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested dict -> {"a.b.c": "value"}; lists and None become JSON text."""
    out: dict[str, str] = {}
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, dotted + "."))
        elif isinstance(value, str):
            out[dotted] = value
        else:
            out[dotted] = json.dumps(value, sort_keys=True)
    return out


def trial_params(cfg: ExperimentConfig) -> dict[str, str]:
    """The trial's resolved config as MLflow params (sweep-level keys left out, values capped)."""
    flat = flatten(cfg.to_dict())
    return {k: v[:MAX_PARAM_CHARS] for k, v in flat.items() if not k.startswith(SKIPPED_PARAM_PREFIXES)}


def switch_tags(cfg: ExperimentConfig) -> dict[str, str]:
    """One tag per ablation switch, so the compare view shows the ablation at a glance."""
    phd = cfg.loss.phd
    return {
        TrialTags.APDH: str(cfg.model.apdh.enabled).lower(),
        TrialTags.APDH_DROP_PHASES: ",".join(cfg.model.apdh.drop_phases) or "none",
        TrialTags.HPA: str(cfg.data.hpa.enabled).lower(),
        TrialTags.PHD_POSE: str(phd.pose.enabled).lower(),
        TrialTags.PHD_DETAIL: str(phd.detail.enabled).lower(),
        TrialTags.PHD_LOW: str(phd.low.enabled).lower(),
    }


def init_tags(cfg: ExperimentConfig) -> dict[str, str]:
    """A run that starts from model.init: the checkpoint's path and the sha256 of every file it was
    imported from (``init_sha256.<file>``, recorded by `harness weights import-release`)."""
    if cfg.model.init is None:
        return {}
    from harness.model.release.init import init_tags as read_init_tags  # torch: only for such runs

    return read_init_tags(cfg.model.init)


def apdh_schedule(cfg: ExperimentConfig) -> dict[str, Any]:
    """The trainer's APDH phases in steps (harness.train.apdh's rule): the ``APDH_SCHEDULE`` record."""
    from harness.train.apdh import apdh_schedule_table, resolved_phases

    apdh, steps = cfg.model.apdh, cfg.train.steps
    if not apdh.enabled or steps == 0:  # steps 0: evaluation only (release_eval.yaml), no schedule runs
        return {"total_steps": steps, "phases": []}
    phases = []
    # pose parts in the config's order (the table sorts them): the diagram reads lips+face+body+hands
    for row, (_, _, phase) in zip(apdh_schedule_table(apdh, steps), resolved_phases(apdh)):
        phases.append({"phase": phase.name, "start_step": row["start_step"], "end_step": row["end_step"],
                       "pose_parts": list(phase.pose_parts), "audio_mask": phase.audio_mask})
    return {"total_steps": steps, "phases": phases}


def record_params(cfg: ExperimentConfig) -> dict[str, str]:
    """The records every trial logs for reports (today: its APDH schedule in steps)."""
    return {TrialParams.APDH_SCHEDULE: json.dumps(apdh_schedule(cfg), sort_keys=True)[:MAX_PARAM_CHARS]}


def diff_param(diff: Mapping[str, Any]) -> dict[str, str]:
    """The ``CONFIG_DIFF`` param of a variant's (or a study trial's sampled) config diff."""
    return {TrialParams.CONFIG_DIFF: json.dumps(diff, sort_keys=True)[:MAX_PARAM_CHARS]}


def tuned_param(cfg: ExperimentConfig, keys: Iterable[str]) -> dict[str, str]:
    """The ``TUNED_VALUES`` param: {tuned config key: its value in cfg}, in the space's order."""
    tree = cfg.to_dict()
    values = {}
    for key in keys:
        node: Any = tree
        for part in key.split("."):
            # a list of named entries (model.apdh.phases) is addressed by name: phases.<name>.end
            node = next(item for item in node if item["name"] == part) if isinstance(node, list) else node[part]
        values[key] = node
    return {TrialParams.TUNED_VALUES: json.dumps(values)[:MAX_PARAM_CHARS]}
