"""What a trial records besides its metrics: a few params (variant, seed, ablation switches, the config
keys that differ between trials, KEY_SETTINGS), the model.init provenance, the records reports draw
from (APDH schedule in steps, config diff, tuned values), and the final metrics' provenance, so
reports read MLflow only. The whole resolved config goes to the run as the config.yaml artifact.

Why few params: the runs table and the compare view list every param; 80 of them hid the few that
tell the trials apart. A reader that needs any other key reads config.yaml.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from harness.config import ExperimentConfig
from harness.runs.schema import MAX_PARAM_CHARS, TrialParams

# settings a reader of one run needs beside the switches (what was trained, how long, on what, scored how)
KEY_SETTINGS = ("model.preset", "data.source", "data.size", "data.frames", "train.steps", "train.batch_size",
                "train.lr", "eval.backend", "eval.test_clips", "eval.metrics")


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


def switch_params(cfg: ExperimentConfig) -> dict[str, str]:
    """One param per ablation switch, so the runs table and the compare view show the ablation at a glance."""
    phd = cfg.loss.phd
    return {
        TrialParams.APDH: str(cfg.model.apdh.enabled).lower(),
        TrialParams.APDH_DROP_PHASES: ",".join(cfg.model.apdh.drop_phases) or "none",
        TrialParams.HPA: str(cfg.data.hpa.enabled).lower(),
        TrialParams.PHD_POSE: str(phd.pose.enabled).lower(),
        TrialParams.PHD_DETAIL: str(phd.detail.enabled).lower(),
        TrialParams.PHD_LOW: str(phd.low.enabled).lower(),
    }


def varying_keys(diffs: Iterable[Mapping[str, Any]]) -> list[str]:
    """The dotted config keys any of the variants' diffs changes (first-seen order)."""
    keys: dict[str, None] = {}
    for diff in diffs:
        keys.update(dict.fromkeys(flatten(diff)))
    return list(keys)


def trial_params(cfg: ExperimentConfig, varying: Iterable[str] = ()) -> dict[str, str]:
    """A trial's params: seed, the switches, KEY_SETTINGS and the `varying` config keys (values capped).

    A varying key that is not a leaf of the config (a list entry, a sub-tree) is left out here: the
    variant's diff param and config.yaml hold it."""
    flat = flatten(cfg.to_dict())
    keys = [*KEY_SETTINGS, *varying]
    params = {TrialParams.SEED: str(cfg.train.seed), **switch_params(cfg)}
    params.update({k: flat[k][:MAX_PARAM_CHARS] for k in keys if k in flat})
    return params


def config_values(cfg: ExperimentConfig, keys: Iterable[str]) -> dict[str, Any]:
    """{dotted config key: its value in cfg}; a list of named entries is addressed by name (phases.<name>.end)."""
    tree = cfg.to_dict()
    values = {}
    for key in keys:
        node: Any = tree
        for part in key.split("."):
            node = next(item for item in node if item["name"] == part) if isinstance(node, list) else node[part]
        values[key] = node
    return values


def provenance(results: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """The ``Artifacts.PROVENANCE`` record: per final metric its value, backend, exactness, why it is
    missing (note), weights hash, sample count and unit, and the stored frames it scored where the
    result names them (MetricResult dicts in, metric order kept)."""
    out = {}
    for r in results:
        out[r["key"]] = {"value": r.get("value"), "backend": r["backend"], "exact": bool(r["exact"]),
                         "missing": (r.get("note") or "missing") if r.get("value") is None else "",
                         "note": r.get("note") or "", "weights_sha256": r.get("weights_sha256"),
                         "n": r.get("n"), "unit": r.get("unit")}
        scored = (r.get("parameters") or {}).get("scored_frames")  # the stored frames it scored (trial_pipeline)
        if scored:
            out[r["key"]]["scored_frames"] = scored
    return out


def provenance_tag(record: Mapping[str, Mapping[str, Any]]) -> str:
    """The compact ``TrialTags.PROVENANCE`` tag: "<metric>:<kind>" per metric, kind "reference" (the
    reference implementation), "missing" (no value) or the backend's last part ("offline", "synthetic")."""
    parts = []
    for key, item in record.items():
        kind = "missing" if item["value"] is None else "reference" if item["exact"] else \
            item["backend"].rsplit("/", 1)[-1]
        parts.append(f"{key}:{kind}")
    return " ".join(parts)


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
    return {TrialParams.TUNED_VALUES: json.dumps(config_values(cfg, keys))[:MAX_PARAM_CHARS]}
