"""PNG plots (matplotlib, Agg canvas; no pyplot state): every function takes pandas frames and a path.

* ``metric_bars``: one metric, a bar per variant (mean, error bar = std over seeds, dots = seeds),
  the baseline highlighted and its mean drawn across; variants without a value say why.
* ``loss_curves``: ``train/loss`` per variant over steps (mean over seeds, band = min..max).
* ``apdh_schedule``: the APDH phases over training steps, one row per distinct schedule.
* ``study_history`` / ``pareto_plot``: a tuning study's trials (objective per trial with the
  best so far; the Pareto front of two objectives). They take a trials frame with a
  ``number`` column and one column per objective, so any study source can feed them.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from harness.runs.schema import Curves
from harness.vocabulary import Direction
from reports.labels import metric_info, variant_label
from reports.schedule import Schedule
from reports.stats import pareto_front, seed_values

BASE_COLOUR, OTHER_COLOUR, DOT_COLOUR = "#d62728", "#7f9fbf", "#222222"
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")  # tab10 without red
PHASE_COLOURS = {"initial_pose": "#9ecae1", "audio_lips": "#fdae6b", "audio_face": "#a1d99b", "audio_body": "#bcbddc"}
DPI = 110


def _figure(width: float, height: float) -> tuple[Figure, object]:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.subplots()


def _save(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, metadata={"Software": None})
    return path


def metric_bars(summary: pd.DataFrame, trials: pd.DataFrame, metric: str, baseline: str, path: Path,
                why_empty: dict[str, str] | None = None) -> Path:
    """Bars of one metric per variant (mean ± std over seeds, seeds as dots), baseline highlighted."""
    info = metric_info(metric)
    rows = summary[summary["metric"] == metric].reset_index(drop=True)
    fig, ax = _figure(max(4.0, 0.7 * len(rows) + 1.5), 3.6)
    x = np.arange(len(rows))
    means = rows["mean"].to_numpy(dtype=float)
    stds = np.nan_to_num(rows["std"].to_numpy(dtype=float))
    colours = [BASE_COLOUR if v == baseline else OTHER_COLOUR for v in rows["variant"]]
    ax.bar(x, np.nan_to_num(means), yerr=stds, color=colours, capsize=4, edgecolor="black", linewidth=0.6)
    for i, variant in enumerate(rows["variant"]):
        values = list(seed_values(trials, variant, metric).values())
        ax.scatter([i] * len(values), values, s=12, color=DOT_COLOUR, zorder=3)
        if math.isnan(means[i]):
            ax.text(i, 0, (why_empty or {}).get(variant, "no value"), rotation=90, ha="center", va="bottom", fontsize=8)
    base = rows.loc[rows["variant"] == baseline, "mean"]
    if len(base) and not math.isnan(base.iloc[0]):
        ax.axhline(base.iloc[0], color=BASE_COLOUR, linestyle="--", linewidth=1)
    names = [variant_label(v) + (" (baseline)" if v == baseline else "") for v in rows["variant"]]
    ax.set_xticks(x, names, rotation=30, ha="right", fontsize=8)
    ax.set_title(f"{info.name} {info.arrow}: mean ± std over seeds", fontsize=10)
    ax.set_ylabel(info.name)
    return _save(fig, path)


def loss_curves(history: pd.DataFrame, baseline: str, path: Path, order: list[str] | None = None) -> Path:
    """Mean training loss per variant over steps; the band spans the seeds' min..max."""
    fig, ax = _figure(7.0, 4.0)
    variants = order or list(dict.fromkeys(history["variant"]))
    for i, variant in enumerate(v for v in variants if v in set(history["variant"])):
        curve = history[history["variant"] == variant].groupby("step")["value"].agg(["mean", "min", "max"])
        is_base = variant == baseline
        colour = BASE_COLOUR if is_base else PALETTE[i % len(PALETTE)]
        ax.plot(curve.index, curve["mean"], color=colour, linewidth=2.2 if is_base else 1.2,
                label=variant_label(variant) + (" (baseline)" if is_base else ""), zorder=3 if is_base else 2)
        if (curve["max"] > curve["min"]).any():
            ax.fill_between(curve.index, curve["min"], curve["max"], color=colour, alpha=0.15, linewidth=0)
    ax.set_xlabel("training step")
    ax.set_ylabel(Curves.LOSS)
    ax.set_title("Training loss per variant (mean over seeds, band = min..max)", fontsize=10)
    if len(history):
        ax.legend(fontsize=7, ncols=2)
    return _save(fig, path)


def apdh_schedule(schedules: list[Schedule], baseline: str, path: Path) -> Path:
    """The APDH phases over training steps: a bar per phase, annotated with pose parts and audio mask."""
    fig, ax = _figure(8.0, 0.75 * max(1, len(schedules)) + 1.3)
    labels = []
    for row, sched in enumerate(schedules):
        names = list(sched.variants)
        first = baseline if baseline in names else names[0]
        rest = [variant_label(n) for n in names if n != first]
        more = (", " + ", ".join(rest)) if len(rest) <= 1 else f" (+{len(rest)} more)"
        labels.append(variant_label(first) + (more if rest else ""))
        if not sched.spans:
            ax.barh(row, sched.total_steps, left=0, color="#dddddd", edgecolor="black", linewidth=0.6)
            ax.text(sched.total_steps / 2, row, "APDH off: hands only, full audio", ha="center", va="center", fontsize=8)
            continue
        for span in sched.spans:
            ax.barh(row, span.end - span.start, left=span.start, color=PHASE_COLOURS.get(span.name, "#cccccc"),
                    edgecolor="black", linewidth=0.6)
            ax.text((span.start + span.end) / 2, row, f"{span.name}\npose: {span.pose}\naudio: {span.audio}",
                    ha="center", va="center", fontsize=6)
    ax.set_yticks(range(len(schedules)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("training step")
    steps = max((s.total_steps for s in schedules), default=1)
    ax.set_xlim(0, steps)
    ax.set_title("APDH schedule (paper Sec. 3.2): pose parts drawn and audio mask per phase", fontsize=10)
    return _save(fig, path)


def study_history(frame: pd.DataFrame, objective: str, direction: Direction, path: Path) -> Path:
    """Objective value per trial number with the best value so far (Optuna-style history)."""
    fig, ax = _figure(6.5, 3.8)
    rows = frame.sort_values("number")
    values = rows[objective].to_numpy(dtype=float)
    ax.scatter(rows["number"], values, s=18, color=OTHER_COLOUR, edgecolor="black", linewidth=0.4, label="trial")
    clean = np.where(np.isfinite(values), values, np.inf if direction == "lower" else -np.inf)
    best = np.minimum.accumulate(clean) if direction == "lower" else np.maximum.accumulate(clean)
    ax.step(rows["number"], np.where(np.isfinite(best), best, np.nan), where="post", color=BASE_COLOUR,
            label="best so far")
    info = metric_info(objective)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # trial numbers, not 0.5 steps
    ax.set_xlabel("trial number")
    ax.set_ylabel(f"{info.name} {info.arrow}")
    ax.set_title(f"Optimisation history: {info.name} ({direction} is better)", fontsize=10)
    ax.legend(fontsize=8)
    return _save(fig, path)


def pareto_plot(frame: pd.DataFrame, objectives: list[tuple[str, Direction]], path: Path) -> Path:
    """Two objectives per trial; the non-dominated trials (Pareto front) highlighted and joined."""
    (xa, _), (ya, _) = objectives[:2]
    front = pareto_front(frame, objectives[:2])
    fig, ax = _figure(5.5, 4.2)
    ax.scatter(frame.loc[~front, xa], frame.loc[~front, ya], s=18, color=OTHER_COLOUR, label="trial")
    best = frame[front].sort_values(xa)
    ax.plot(best[xa], best[ya], "o-", color=BASE_COLOUR, markersize=5, label="Pareto front")
    for row in best.itertuples():
        ax.annotate(str(row.number), (getattr(row, xa), getattr(row, ya)), fontsize=7, xytext=(3, 3),
                    textcoords="offset points")
    ix, iy = metric_info(xa), metric_info(ya)
    ax.set_xlabel(f"{ix.name} {ix.arrow}")
    ax.set_ylabel(f"{iy.name} {iy.arrow}")
    ax.set_title("Pareto front of the study's trials", fontsize=10)
    ax.legend(fontsize=8)
    return _save(fig, path)
