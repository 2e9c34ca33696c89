"""The report's figures (matplotlib, Agg canvas; no pyplot state): every function takes pandas frames and a
path, and saves the figure as PNG (the HTML page inlines it), PDF and SVG (for papers) side by side.

* ``metric_dots``: one metric, a row per variant: each seed as a small dot, the mean as a large one with
  its 95 % t-interval over seeds (n >= 2; one seed: the dot alone), the baseline's mean as a dashed
  line. The axis spans the data, not zero (a 1-point FID change out of 490 stays visible).
* ``loss_curves``: ``train/loss`` per variant over steps: the mean over seeds faint, its centred rolling
  mean (``smoothing_window`` logged points; centred, so the smoothed curve does not lag) bold.
* ``phd_terms``: each PhD term (``train/pose``, ``train/detail``, ``train/low``) per variant, one panel
  each, markers joined by lines over the steps the term was logged at (a term exists only at steps
  where a sample fell in its band).
* ``apdh_schedule``: the APDH phases over training steps, one row per distinct schedule.

Every variant keeps one colour in every figure (reports/labels.py, variant_colours); legends sit
outside the axes. The study plots are Optuna's own (reports/study.py).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator
from matplotlib.transforms import blended_transform_factory

from harness.runs.schema import Curves
from reports.labels import metric_info, variant_label
from reports.schedule import Schedule
from reports.stats import CONFIDENCE, mean_interval, seed_values

BASELINE_LINE = "#444444"
PHASE_COLOURS = {"initial_pose": "#9ecae1", "audio_lips": "#fdae6b", "audio_face": "#a1d99b", "audio_body": "#bcbddc"}
DPI = 110
FIGURE_FORMATS = ("png", "pdf", "svg")  # PNG first: the HTML page shows it
# Loss smoothing: a centred rolling mean over this share of a curve's logged points, at least SMOOTHING_MIN_POINTS
SMOOTHING_SHARE = 0.05
SMOOTHING_MIN_POINTS = 3
RAW_ALPHA = 0.3
NO_METADATA = {"png": {"Software": None}, "pdf": {"Creator": None, "Producer": None, "CreationDate": None},
               "svg": {"Creator": None, "Date": None}}  # the same figure gives the same bytes


def _figure(width: float, height: float, panels: int = 1) -> tuple[Figure, list]:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, panels, squeeze=False)[0]
    return fig, list(axes)


def _save(fig: Figure, path: Path) -> Path:
    """Save fig as path (.png) and its PDF and SVG siblings; returns the PNG's path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for kind in FIGURE_FORMATS:
        fig.savefig(path.with_suffix(f".{kind}"), dpi=DPI, metadata=NO_METADATA[kind])
    return path


def figure_files(png: Path) -> list[Path]:
    """Every file _save wrote for a figure: the PNG, PDF and SVG."""
    return [png.with_suffix(f".{kind}") for kind in FIGURE_FORMATS]


def _legend_outside(fig: Figure, handles: list, labels: list[str]) -> None:
    if handles:
        fig.legend(handles, labels, loc="outside right upper", fontsize=7, frameon=False)


def _label(variant: str, baseline: str) -> str:
    return variant_label(variant) + (" (baseline)" if variant == baseline else "")


def metric_dots(trials: pd.DataFrame, metric: str, baseline: str, order: list[str], colours: dict[str, str],
                path: Path, why_empty: dict[str, str] | None = None) -> Path:
    """Seeds and mean ± 95 % CI of one metric per variant (see module docstring); variants without a value say why."""
    info = metric_info(metric)
    fig, (ax,) = _figure(7.0, 0.32 * len(order) + 1.4)
    no_value = blended_transform_factory(ax.transAxes, ax.transData)
    for row, variant in enumerate(order):
        values = list(seed_values(trials, variant, metric).values())
        colour = colours[variant]
        if not values:
            ax.text(0.01, row, (why_empty or {}).get(variant, "no value"), transform=no_value, va="center",
                    fontsize=7, color="#777777")
            continue
        mean, low, high = mean_interval(values)
        ax.scatter(values, [row] * len(values), s=10, color=colour, alpha=0.5, linewidth=0, zorder=2)
        xerr = [[mean - low], [high - mean]] if len(values) >= 2 else None
        ax.errorbar([mean], [row], xerr=xerr, fmt="o", markersize=7 if variant == baseline else 6, color=colour,
                    markeredgecolor="black", markeredgewidth=1.2 if variant == baseline else 0.5,
                    capsize=3, elinewidth=1.4, zorder=3)
    base = list(seed_values(trials, baseline, metric).values())
    if base:
        ax.axvline(float(np.mean(base)), color=BASELINE_LINE, linestyle="--", linewidth=0.9, zorder=1)
    ax.set_yticks(range(len(order)), [_label(v, baseline) for v in order], fontsize=8)
    ax.set_ylim(len(order) - 0.5, -0.5)  # first variant on top
    ax.margins(x=0.08)
    ax.grid(axis="x", color="#e6e6e6", linewidth=0.6)
    ax.set_xlabel(f"{info.name} {info.arrow}".strip())
    n = trials[trials["status"] == "FINISHED"].groupby("variant")["seed"].nunique()
    what = f"mean and {CONFIDENCE:.0%} CI over seeds" if (n >= 2).any() else "one seed per variant, no interval"
    ax.set_title(f"{info.name} {info.arrow}: {what}".replace("  ", " "), fontsize=10)
    handles = [Line2D([], [], marker="o", linestyle="", color="#999999", markeredgecolor="black", label="mean"),
               Line2D([], [], marker="o", linestyle="", color="#999999", alpha=0.5, markersize=4, label="seed"),
               Line2D([], [], color=BASELINE_LINE, linestyle="--", label="baseline mean")]
    if (n >= 2).any():
        handles.insert(1, Line2D([], [], color="#999999", marker="|", label=f"{CONFIDENCE:.0%} CI (t)"))
    _legend_outside(fig, handles, [h.get_label() for h in handles])
    return _save(fig, path)


def smoothing_window(points: int) -> int:
    """The rolling-mean window (logged points) of a curve with `points` points: SMOOTHING_SHARE, at least the minimum."""
    return max(SMOOTHING_MIN_POINTS, round(SMOOTHING_SHARE * points))


def loss_curves(history: pd.DataFrame, baseline: str, order: list[str], colours: dict[str, str], path: Path) -> Path:
    """Training loss per variant: mean over seeds (faint) and its centred rolling mean (bold)."""
    fig, (ax,) = _figure(8.0, 4.0)
    present = [v for v in order if v in set(history["variant"])]
    longest = max((history[history["variant"] == v]["step"].nunique() for v in present), default=0)
    window = smoothing_window(longest)
    handles, labels = [], []
    for variant in present:
        curve = history[history["variant"] == variant].groupby("step")["value"].mean()
        smooth = curve.rolling(window, center=True, min_periods=1).mean()
        is_base = variant == baseline
        ax.plot(curve.index, curve.to_numpy(), color=colours[variant], alpha=RAW_ALPHA, linewidth=0.8)
        (line,) = ax.plot(smooth.index, smooth.to_numpy(), color=colours[variant], linewidth=2.2 if is_base else 1.3,
                          zorder=3 if is_base else 2)
        handles.append(line)
        labels.append(_label(variant, baseline))
    ax.set_xlabel("training step")
    ax.set_ylabel(Curves.LOSS)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(f"Training loss (mean over seeds): centred rolling mean over {window} logged steps, raw faint",
                 fontsize=10)
    _legend_outside(fig, handles, labels)
    return _save(fig, path)


def phd_terms(terms: dict[str, pd.DataFrame], baseline: str, order: list[str], colours: dict[str, str],
              path: Path) -> Path:
    """Each PhD term's value per variant over the steps it was logged at (mean over seeds; one panel per term)."""
    names = [t for t, frame in terms.items() if len(frame)]
    fig, axes = _figure(max(7.0, 3.4 * len(names) + 2.2), 3.4, max(1, len(names)))
    handles: dict[str, Line2D] = {}
    for ax, term in zip(axes, names):
        frame = terms[term]
        for variant in (v for v in order if v in set(frame["variant"])):
            curve = frame[frame["variant"] == variant].groupby("step")["value"].mean()
            (line,) = ax.plot(curve.index, curve.to_numpy(), marker="o", markersize=3, linewidth=0.9,
                              color=colours[variant], linestyle="-")
            handles.setdefault(variant, line)
        ax.set_title(f"{Curves.TRAIN_PREFIX}{term}: mean over seeds, {frame['step'].nunique()} logged steps", fontsize=9)
        ax.set_xlabel("training step")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    variants = [v for v in order if v in handles]
    _legend_outside(fig, [handles[v] for v in variants], [_label(v, baseline) for v in variants])
    return _save(fig, path)


def apdh_schedule(schedules: list[Schedule], baseline: str, path: Path) -> Path:
    """The APDH phases over training steps: a bar per phase, annotated with pose parts and audio mask."""
    fig, (ax,) = _figure(8.0, 0.75 * max(1, len(schedules)) + 1.3)
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


def on_log_grid(history: pd.DataFrame) -> pd.DataFrame:
    """Each run's points on its logging grid: steps that are multiples of the run's most common step gap, and
    its last step. Drops the off-grid point a trial reports one step after each checkpoint (the Tune report
    that carries the checkpoint; harness/runtime/reporters.py), which would stand out of a curve."""
    keep = []
    for _, run in history.groupby("trial_key", sort=False):
        steps = np.sort(run["step"].unique())
        gaps = np.diff(steps)
        if not len(gaps):
            keep.append(run)
            continue
        values, counts = np.unique(gaps, return_counts=True)
        gap = int(values[np.argmax(counts)])
        keep.append(run[(run["step"] % gap == 0) | (run["step"] == steps[-1])])
    return pd.concat(keep, ignore_index=True) if keep else history


def save_pyplot(fig, path: Path) -> Path:
    """Save a pyplot figure (Optuna's plots draw on pyplot) like _save, trimmed to its content, then close it."""
    from matplotlib import pyplot

    path.parent.mkdir(parents=True, exist_ok=True)
    for kind in FIGURE_FORMATS:
        fig.savefig(path.with_suffix(f".{kind}"), dpi=DPI, metadata=NO_METADATA[kind], bbox_inches="tight")
    pyplot.close(fig)
    return path
