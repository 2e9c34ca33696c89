"""A tuning study as a table: one row per Optuna trial with its state, tuned values and objectives.

Built on the report's cell model (reports/tables.py), so reports/formats.py renders it as
Markdown, LaTeX and HTML like the ablation table (free text LaTeX-safe: no paths, URLs or
backticks); ``study_frame`` is the raw CSV form; reports/study_plots.py draws its figures.

* State: Optuna's verdict (the Optuna-state tag ``harness tune`` writes at the end), else
  derived from the outcome tag. PRUNED shows the step ASHA stopped it at; FAIL shows its
  reason shortened (the error tag, or the objective that could not be measured), in full in
  a note.
* Tuned values: the study's ``tuned_keys`` as columns; APDH phase ends as fractions with the
  step in parentheses (the run's end-in-steps param), PhD band fractions, other keys as logged.
* Objectives: one column each with the study's direction arrow. The best trial (one
  objective) or the Pareto set (several) is bold and flagged: Optuna's best tags where the
  study has them, else computed from the COMPLETE trials' values.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import pandas as pd

from harness.runs.schema import Outcome, TrialParams, TrialTags
from reports.labels import metric_info
from reports.query import Study
from reports.stats import pareto_front, significant_decimals
from reports.tables import Cell, Table, fmt, listing, note

BAND_PREFIX = "loss.phd.bands."
FROM_OUTCOME = {Outcome.COMPLETE: "COMPLETE", Outcome.STOPPED_EARLY: "PRUNED", Outcome.FAILED: "FAIL"}
STATE_ORDER = ("COMPLETE", "PRUNED", "FAIL")
REASON_CHARS = 48  # in the State cell; the notes carry the whole reason (up to NOTE_CHARS)
NOTE_CHARS = 300
FRACTION_DECIMALS = 3
ARROWS = {"lower": ("↓", r"$\downarrow$"), "higher": ("↑", r"$\uparrow$")}


@dataclass
class TrialView:
    """One Optuna trial as the table and the CSV show it."""

    number: int
    run_id: str
    state: str  # COMPLETE, PRUNED, FAIL, or the run status of an unfinished study (RUNNING, KILLED)
    stopped_at_step: str
    reason: str  # why a FAIL failed ("" otherwise)
    best: bool
    values: dict[str, float] = field(default_factory=dict)  # tuned key -> value (NaN: not logged)
    steps: dict[str, str] = field(default_factory=dict)  # APDH end key -> its step
    objectives: dict[str, float] = field(default_factory=dict)


def shorten(text: str, chars: int) -> str:
    """The first non-empty line of text, cut to chars with '...' when longer."""
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return line if len(line) <= chars else line[: chars - 3].rstrip() + "..."


def key_label(key: str) -> str:
    """Column name of a tuned key: 'audio_lips end', 'pose band', else the key itself."""
    phase = TrialParams.apdh_end_phase(key)
    if phase:
        return f"{phase} end"
    return f"{key.removeprefix(BAND_PREFIX)} band" if key.startswith(BAND_PREFIX) else key


def trial_state(row: dict, metrics: list[str]) -> str:
    """Optuna's state of one child run (see the module docstring)."""
    if row[TrialTags.OPTUNA_STATE]:
        return row[TrialTags.OPTUNA_STATE]
    state = FROM_OUTCOME.get(row["state"])
    if state == "COMPLETE" and not all(math.isfinite(row[m]) for m in metrics):
        return "FAIL"  # harness.tune.search: an objective that could not be measured fails the trial
    return state or row["status"]


def fail_reason(row: dict, metrics: list[str]) -> str:
    """The error tag, else which objective was not measured and why."""
    if row[TrialTags.ERROR]:
        return row[TrialTags.ERROR].strip()
    missing = [f"{metric_info(m).name} ({row[f'{m}_missing'] or 'no value'})" for m in metrics
               if not math.isfinite(row[m])]
    return "not measured: " + ", ".join(missing) if missing else "failed"


def best_numbers(study: Study, states: dict[int, str]) -> tuple[set[int], bool]:
    """Trial numbers of the best trial / Pareto set, and whether they are Optuna's verdict (tags)."""
    trials = study.trials
    if trials[TrialTags.BEST].isin(["true", "false"]).any():
        return set(trials.loc[trials[TrialTags.BEST] == "true", "number"].astype(int)), True
    done = trials[[states[int(n)] == "COMPLETE" for n in trials["number"]]]
    if done.empty:
        return set(), False
    if len(study.objectives) == 1:
        metric, direction = study.objectives[0]
        target = done[metric].min() if direction == "lower" else done[metric].max()
        return set(done.loc[done[metric] == target, "number"].astype(int)), False
    return set(done.loc[pareto_front(done, study.objectives), "number"].astype(int)), False


def trial_views(study: Study, keys: list[str]) -> tuple[list[TrialView], bool]:
    """Every trial in trial-number order, and whether the best flags are Optuna's verdict."""
    metrics = [m for m, _ in study.objectives]
    rows = study.trials.to_dict("records")
    states = {int(r["number"]): trial_state(r, metrics) for r in rows}
    best, verdict = best_numbers(study, states)
    views = []
    for row in rows:
        number, params = int(row["number"]), study.params.get(row["run_id"], {})
        tuned = json.loads(params.get(TrialParams.TUNED_VALUES, "{}"))  # the record; older runs: the config params
        view = TrialView(number, row["run_id"], states[number], row[TrialTags.STOPPED_AT_STEP],
                         fail_reason(row, metrics) if states[number] == "FAIL" else "", number in best,
                         objectives={m: row[m] for m in metrics})
        for key in keys:
            view.values[key] = float(tuned[key]) if key in tuned else _number(params.get(key))
            if TrialParams.apdh_end_phase(key) and key + TrialParams.STEP_SUFFIX in params:
                view.steps[key] = params[key + TrialParams.STEP_SUFFIX]
        views.append(view)
    return views, verdict


def study_table(study: Study, keys: list[str]) -> Table:
    """The study table: Trial, State, a column per tuned key, a column per objective (see module docstring)."""
    views, verdict = trial_views(study, keys)
    multi = len(study.objectives) > 1
    flag = " (Pareto)" if multi else " (best)"
    header = [Cell("Trial"), Cell("State")] + [Cell(key_label(k)) for k in keys]
    places = {}
    for metric, direction in study.objectives:
        name = metric_info(metric).name
        header.append(Cell(f"{name} {ARROWS[direction][0]}", f"{name} {ARROWS[direction][1]}"))
        places[metric] = max([significant_decimals(v.objectives[metric], metric_info(metric).decimals)
                              for v in views if math.isfinite(v.objectives[metric])],
                             default=metric_info(metric).decimals)
    rows = []
    for v in views:
        row = [Cell(str(v.number), bold=v.best, suffix=flag if v.best else ""), note(_state_text(v))]
        row += [Cell(_tuned_text(v, k)) for k in keys]
        row += [Cell(fmt(x, places[m]) if math.isfinite(x) else "–", "--" if not math.isfinite(x) else None,
                     bold=v.best and math.isfinite(x)) for m, x in v.objectives.items()]
        rows.append(row)
    count = len(views)
    title = f"Tuning study: {study.name} ({count} trial{'s' if count != 1 else ''})"
    return Table("study", title, header, rows, "ll" + "r" * (len(keys) + len(study.objectives)), {},
                 _notes(study, views, keys, verdict))


def _state_text(v: TrialView) -> str:
    if v.state == "PRUNED" and v.stopped_at_step:
        return f"PRUNED at step {v.stopped_at_step}"
    if v.state == "FAIL":
        return f"FAIL: {shorten(v.reason, REASON_CHARS)}"
    return v.state


def _tuned_text(v: TrialView, key: str) -> str:
    value = v.values[key]
    if not math.isfinite(value):
        return "–"
    if TrialParams.apdh_end_phase(key) or key.startswith(BAND_PREFIX):
        text = fmt(value, FRACTION_DECIMALS)
        return f"{text} ({v.steps[key]})" if key in v.steps else text
    return str(int(value)) if value.is_integer() and abs(value) >= 1 else f"{value:.3g}"


def _notes(study: Study, views: list[TrialView], keys: list[str], verdict: bool) -> list[Cell]:
    objectives = ", ".join(f"{metric_info(m).name} {ARROWS[d][0]}" for m, d in study.objectives)
    states = ", ".join(f"{n} {s}" for s, n in count_states(views).items())
    source = "Optuna's verdict" if verdict else "computed from the COMPLETE trials (the study has no verdict tags)"
    chosen = f"the Pareto set of the COMPLETE trials ({objectives})" if len(study.objectives) > 1 else \
        f"the best COMPLETE trial by {objectives}"
    pruned = " PRUNED: stopped early by ASHA at that training step (a partial-budget score is not a result)." \
        if any(v.state == "PRUNED" for v in views) else ""
    notes = [Cell(f"One row per Optuna trial ({states or 'none'}). Bold and flagged: {chosen}, {source}.{pruned} "
                  "↓ lower is better, ↑ higher is better.")]
    if any(TrialParams.apdh_end_phase(k) for k in keys):
        notes.append(Cell("APDH ends: the fraction of training at which each phase ends (the last one ends at 1.0); "
                          "in parentheses the training step (the first step of the next phase)."))
    if any(k.startswith(BAND_PREFIX) for k in keys):
        notes.append(Cell("PhD bands: the share of the timesteps each loss band covers (they sum to 1)."))
    failed = [f"trial {v.number}: {shorten(v.reason, NOTE_CHARS)}" for v in views if v.state == "FAIL"]
    if failed:
        notes.append(listing("Failures: ", failed))
    return notes


def study_frame(study: Study, keys: list[str]) -> pd.DataFrame:
    """The CSV form: one row per trial with raw values (tuned keys, APDH end steps, objectives) and flags."""
    views, _ = trial_views(study, keys)
    rows = []
    for v in views:
        row = {"number": v.number, "run_id": v.run_id, "state": v.state, "stopped_at_step": v.stopped_at_step,
               "reason": v.reason, "best": v.best}
        for key in keys:
            row[key] = v.values[key]
            if TrialParams.apdh_end_phase(key):
                row[f"{key}_step"] = v.steps.get(key, "")  # the CSV column (the report's name)
        rows.append({**row, **v.objectives})
    return pd.DataFrame(rows)


def count_states(views: list[TrialView]) -> dict[str, int]:
    """{Optuna state: trials}: COMPLETE, PRUNED, FAIL first, then any other (an unfinished study's RUNNING, KILLED)."""
    found = {v.state for v in views}
    order = [s for s in STATE_ORDER if s in found] + sorted(found - set(STATE_ORDER))
    return {s: sum(v.state == s for v in views) for s in order}


def state_counts(study: Study, keys: list[str]) -> dict[str, int]:
    """{Optuna state: trials} of the study, e.g. {"COMPLETE": 3, "FAIL": 1}."""
    return count_states(trial_views(study, keys)[0])


def _number(text: str | None) -> float:
    try:
        return float(text) if text is not None else math.nan
    except ValueError:
        return math.nan
