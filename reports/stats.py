"""Aggregation over seeds and the statistical comparison of each ablation against the baseline.

* ``trial_counts``: per variant, how many seeds finished, failed, were killed, run, or never ran.
* ``summarize``: per variant x metric, mean and sample std (ddof=1) over the finished seeds
  that have a value, the backends that produced them, and whether all are exact.
* ``compare``: per ablation x metric, the change of the mean against the baseline and a test
  across seeds. Seeds present in both -> paired t-test (scipy ``ttest_rel``) and the 95 %
  confidence interval of the mean paired difference; no two common seeds but two or more on
  each side -> Welch's t-test (``ttest_ind(equal_var=False)``) and its interval; otherwise
  no test ("n=1, no test"). The verdict uses the metric's direction: significant at alpha and
  in the worse direction -> "worse". ``tested`` keeps the rows that have a test.
* ``mean_interval``: mean and 95 % t-interval of one variant's seed values (the report's dot plots).
* ``delta_decimals``: the decimals that print a change with DELTA_FIGURES significant figures.
* ``pareto_front``: the non-dominated rows of a trials frame (tuning studies).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from harness.vocabulary import Direction
from reports.labels import metric_info
from reports.query import NOT_RUN

ALPHA = 0.05
SUMMARY_COLUMNS = ["variant", "metric", "seeds_ok", "seeds_total", "n", "mean", "std", "backend", "exact", "missing"]
CONFIDENCE = 0.95
MAX_DECIMALS = 8
DELTA_FIGURES = 3  # significant figures of a printed change (delta, its interval)
STATES = (("FAILED", "failed"), ("KILLED", "killed"), ("RUNNING", "running"), ("SCHEDULED", "scheduled"),
          (NOT_RUN, "not run"))


@dataclass(frozen=True)
class Comparison:
    """One ablation against the baseline on one metric."""

    test: str  # "paired t", "Welch t" or "none"
    n: int  # paired seeds (paired t) or the smaller group (otherwise)
    delta: float  # mean(ablation) - mean(baseline) over their finished seeds
    ci_low: float
    ci_high: float
    p_value: float
    verdict: str  # "worse", "better", "differs" (no direction), "n.s.", or "no test"
    note: str = ""  # why there is no test, e.g. "n=1, no test"


def trial_counts(trials: pd.DataFrame) -> pd.DataFrame:
    """Per variant (in frame order): total, ok (FINISHED), one count per other state, status text, errors."""
    rows = []
    for variant, group in trials.groupby("variant", sort=False):
        row = {"variant": variant, "total": len(group), "ok": int((group["status"] == "FINISHED").sum())}
        for state, _ in STATES:
            row[state] = int((group["status"] == state).sum())
        row["status"] = status_text(row)
        row["errors"] = [(int(r.seed), r.status, r.error) for r in group.itertuples() if r.status != "FINISHED"]
        rows.append(row)
    return pd.DataFrame(rows).set_index("variant")


def status_text(counts: dict) -> str:
    """'2/2' when every seed finished, else e.g. '1/3 ok; failed (2/3 seeds)'."""
    total, ok = counts["total"], counts["ok"]
    if ok == total:
        return f"{ok}/{total}"
    parts = [f"{ok}/{total} ok"]
    parts += [f"{word} ({counts[state]}/{total} seeds)" for state, word in STATES if counts.get(state)]
    return "; ".join(parts)


def seed_values(trials: pd.DataFrame, variant: str, metric: str) -> dict[int, float]:
    """{seed: value} of the variant's finished trials with a finite value of the metric."""
    rows = trials[(trials["variant"] == variant) & (trials["status"] == "FINISHED")]
    if metric not in rows:
        return {}
    return {int(s): float(v) for s, v in zip(rows["seed"], rows[metric]) if isinstance(v, float) and math.isfinite(v)}


def summarize(trials: pd.DataFrame, metrics: list[str]) -> pd.DataFrame:
    """One row per variant x metric: n, mean, std, backend(s), exact, missing reason."""
    counts = trial_counts(trials)
    rows = []
    for variant in counts.index:
        done = trials[(trials["variant"] == variant) & (trials["status"] == "FINISHED")]
        for metric in metrics:
            values = list(seed_values(trials, variant, metric).values())
            backends = sorted({b for b in done.get(f"{metric}_backend", pd.Series(dtype=str)) if b})
            exact = bool(backends) and bool(done[f"{metric}_exact"].fillna(False).all())
            missing = sorted({m for m in done.get(f"{metric}_missing", pd.Series(dtype=str)) if m})
            rows.append({
                "variant": variant, "metric": metric, "seeds_ok": int(counts.loc[variant, "ok"]),
                "seeds_total": int(counts.loc[variant, "total"]), "n": len(values),
                "mean": float(np.mean(values)) if values else math.nan,
                "std": float(np.std(values, ddof=1)) if len(values) >= 2 else math.nan,
                "backend": ",".join(backends), "exact": exact, "missing": "; ".join(missing),
            })
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def compare_values(base: dict[int, float], other: dict[int, float], direction: Direction | None,
                   alpha: float = ALPHA) -> Comparison | None:
    """The comparison of one ablation's seed values with the baseline's (None: a side has no value)."""
    from scipy import stats

    if not base or not other:
        return None
    delta = float(np.mean(list(other.values())) - np.mean(list(base.values())))
    common = sorted(set(base) & set(other))
    if len(common) >= 2:
        a, b = np.array([other[s] for s in common]), np.array([base[s] for s in common])
        if np.all(a - b == (a - b)[0]):  # zero variance of the differences: t is undefined
            d = float((a - b)[0])
            return Comparison("paired t", len(common), delta, d, d, math.nan, "no test",
                              f"n={len(common)}, identical differences, no test")
        result = stats.ttest_rel(a, b)
        test = "paired t"
        n = len(common)
    elif len(base) >= 2 and len(other) >= 2:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            result = stats.ttest_ind(list(other.values()), list(base.values()), equal_var=False)
        test = "Welch t"
        n = min(len(base), len(other))
    else:
        n = len(common) or min(len(base), len(other))
        return Comparison("none", n, delta, math.nan, math.nan, math.nan, "no test", f"n={n}, no test")
    ci = result.confidence_interval(CONFIDENCE)
    p = float(result.pvalue)
    return Comparison(test, n, delta, float(ci.low), float(ci.high), p, verdict(delta, p, direction, alpha))


def tested(comparison: pd.DataFrame) -> pd.DataFrame:
    """The rows of a compare() frame with a test (two or more seeds on each side or paired)."""
    return comparison[comparison["test"] != "none"].reset_index(drop=True)


def significant(comp: dict | None, alpha: float = ALPHA) -> bool:
    """True when a compare() row's test found p < alpha (False without a row or a test)."""
    return comp is not None and math.isfinite(comp["p_value"]) and comp["p_value"] < alpha


def mean_interval(values: list[float], confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """(mean, low, high): the t-interval of the mean over seeds; low == high == mean with one value."""
    from scipy import stats

    mean = float(np.mean(values))
    if len(values) < 2:
        return mean, mean, mean
    half = float(stats.t.ppf(0.5 + confidence / 2, len(values) - 1) * stats.sem(values))
    return mean, mean - half, mean + half


def verdict(delta: float, p: float, direction: Direction | None, alpha: float = ALPHA) -> str:
    """'worse' / 'better' when p < alpha (by the metric's direction), 'n.s.' otherwise."""
    if not p < alpha:
        return "n.s."
    if direction is None:
        return "differs"
    worse = delta > 0 if direction == "lower" else delta < 0
    return "worse" if worse else "better"


def compare(trials: pd.DataFrame, baseline: str, metrics: list[str], alpha: float = ALPHA) -> pd.DataFrame:
    """One row per ablation x metric with both sides measured: test, n, delta, CI, p, verdict, note."""
    rows = []
    for variant in dict.fromkeys(trials["variant"]):
        if variant == baseline:
            continue
        for metric in metrics:
            found = compare_values(seed_values(trials, baseline, metric), seed_values(trials, variant, metric),
                                   metric_info(metric).direction, alpha)
            if found is not None:
                rows.append({"variant": variant, "metric": metric, **found.__dict__})
    columns = ["variant", "metric", *Comparison.__dataclass_fields__]
    return pd.DataFrame(rows, columns=columns)


def significant_decimals(value: float, decimals: int) -> int:
    """decimals, or more where value would otherwise show fewer than 2 significant digits (at most MAX_DECIMALS)."""
    if not math.isfinite(value) or value == 0:
        return decimals
    return min(MAX_DECIMALS, max(decimals, 1 - math.floor(math.log10(abs(value)))))


def delta_decimals(value: float, figures: int = DELTA_FIGURES) -> int:
    """Decimals that show value with `figures` significant figures (none for |value| >= 10**(figures-1); 0: 2)."""
    if not math.isfinite(value) or value == 0:
        return 2
    return min(MAX_DECIMALS, max(0, figures - 1 - math.floor(math.log10(abs(value)))))


def column_decimals(summary: pd.DataFrame, metric: str) -> int:
    """The decimals of a metric's column: its usual ones, more when a mean would lose its 2 significant digits."""
    means = summary.loc[summary["metric"] == metric, "mean"].dropna()
    return max([significant_decimals(float(m), metric_info(metric).decimals) for m in means],
               default=metric_info(metric).decimals)


def best_variants(summary: pd.DataFrame, metric: str) -> set[str]:
    """Variants with the best mean of a metric at its display precision (ties all win; none without a direction)."""
    info = metric_info(metric)
    rows = summary[(summary["metric"] == metric) & summary["mean"].notna()]
    if info.direction is None or rows.empty:
        return set()
    shown = rows["mean"].round(column_decimals(summary, metric))
    target = shown.min() if info.direction == "lower" else shown.max()
    return set(rows.loc[shown == target, "variant"])


def pareto_front(frame: pd.DataFrame, objectives: list[tuple[str, Direction]]) -> pd.Series:
    """Boolean mask of rows no other row dominates (rows with a missing objective are never on it)."""
    signs = np.array([1.0 if d == "lower" else -1.0 for _, d in objectives])
    values = frame[[c for c, _ in objectives]].to_numpy(dtype=float) * signs  # all minimised now
    valid = np.isfinite(values).all(axis=1)
    front = np.zeros(len(frame), dtype=bool)
    for i in np.flatnonzero(valid):
        others = values[valid]
        dominated = np.any(np.all(others <= values[i], axis=1) & np.any(others < values[i], axis=1))
        front[i] = not dominated
    return pd.Series(front, index=frame.index)
