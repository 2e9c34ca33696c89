"""The report's tables as a small cell model that every output format renders (reports/formats.py).

* ``ablation_table``: the paper's form. One row per variant (paper row names where known), one
  column per metric with its direction; cells are mean ± std over seeds with the change against
  the baseline (DELTA_FIGURES significant figures, ``*`` when the comparison's p < alpha). Bold
  only where that change is significant (p < alpha): never for ties or a difference within the
  seeds' noise, never with one seed. Metrics no variant has a value of are not columns (a note
  names them and why); non-exact backends flagged with a dagger and named in a footnote; failed
  or missing trials shown as such; optional paper rows below as references.
* ``comparison_table``: each ablation against the baseline per metric that has a test (n >= 2):
  n, mean change, 95 % CI, p-value, test, verdict; pairs without one are named in a note. With
  one seed per variant the table has no rows, only a line saying why (``Table.empty``).

Notes carry free text (missing reasons, errors, source notes): their LaTeX form leaves out
URLs, machine paths and backticks (reports/labels.py, plain_for_paper).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from reports.labels import latex_escape, latex_label, latex_plain, metric_info, variant_label
from reports.paper import PaperRow
from reports.stats import ALPHA, DELTA_FIGURES, STATES, column_decimals, delta_decimals, significant, tested

DAGGER = "†"
LATEX_DAGGER = r"$^{\dagger}$"  # math mode: no text-companion font needed
SMALL_DELTA = 1e-3  # smaller changes print in scientific notation


@dataclass
class Cell:
    """One table cell: text (markdown, CSV, HTML) and its LaTeX form; bold applies to text only, not suffix."""

    text: str
    latex: str | None = None  # None: the escaped text
    bold: bool = False
    suffix: str = ""
    latex_suffix: str | None = None
    tone: str = ""  # "worse" / "better": colours the suffix in HTML

    def tex(self) -> str:
        return self.latex if self.latex is not None else latex_escape(self.text)

    def tex_suffix(self) -> str:
        return self.latex_suffix if self.latex_suffix is not None else latex_escape(self.suffix)


@dataclass
class Table:
    """Header, rows, alignment (one 'l'/'r' per column), section titles by first row index, notes."""

    key: str
    title: str
    header: list[Cell]
    rows: list[list[Cell]]
    align: str
    sections: dict[int, str] = field(default_factory=dict)
    notes: list[Cell] = field(default_factory=list)
    empty: str = ""  # no rows: the one line shown instead of the table (why it is empty)


@dataclass
class AblationData:
    """Everything the tables are built from (see reports/stats.py for the frames)."""

    experiment: str
    sweep: str
    baseline: str
    metrics: list[str]
    counts: pd.DataFrame  # trial_counts
    summary: pd.DataFrame  # summarize
    comparison: pd.DataFrame  # compare
    paper: list[PaperRow] = field(default_factory=list)
    paper_source: str = ""
    alpha: float = ALPHA

    def stat(self, variant: str, metric: str) -> dict:
        s = self.summary
        return s[(s["variant"] == variant) & (s["metric"] == metric)].iloc[0].to_dict()

    def comp(self, variant: str, metric: str) -> dict | None:
        c = self.comparison
        found = c[(c["variant"] == variant) & (c["metric"] == metric)]
        return None if found.empty else found.iloc[0].to_dict()

    @property
    def shown_metrics(self) -> list[str]:
        """The metrics at least one variant has a value of (the table's columns)."""
        s = self.summary
        return [m for m in self.metrics if (s.loc[s["metric"] == m, "n"] > 0).any()]

    @property
    def dropped_metrics(self) -> list[str]:
        """The metrics no variant has a value of (not columns; a note names them)."""
        return [m for m in self.metrics if m not in self.shown_metrics]

    @property
    def one_seed(self) -> bool:
        """No variant has two or more seeds with a value: nothing can be tested."""
        return bool((self.summary["n"] <= 1).all())

    @property
    def paper_shown(self) -> list[PaperRow]:
        """Paper rows with a value in at least one of the table's metric columns."""
        return [r for r in self.paper if set(r.values) & set(self.shown_metrics)]

    def label(self, variant: str, latex: bool = False) -> str:
        text = variant_label(variant, latex)
        return f"{text} (baseline)" if variant == self.baseline else text


def fmt(value: float, decimals: int, signed: bool = False) -> str:
    return f"{value:+.{decimals}f}" if signed else f"{value:.{decimals}f}"


def fmt_delta(value: float, scale: float | None = None) -> str:
    """A signed change with DELTA_FIGURES significant figures of scale (default: the value itself;
    reports/stats.py, delta_decimals); below SMALL_DELTA in scientific notation (-8.00e-05, not -0.0000800)."""
    scale = abs(value) if scale is None else scale
    if 0 < scale < SMALL_DELTA:
        return f"{value:+.{DELTA_FIGURES - 1}e}"
    return fmt(value, delta_decimals(scale), signed=True)


def note(text: str) -> Cell:
    """A note of free text: its LaTeX form without URLs, machine paths or backticks."""
    return Cell(text, latex_plain(text))


def ablation_table(data: AblationData) -> Table:
    """The paper-style table (see module docstring)."""
    metrics = data.shown_metrics
    infos = [metric_info(m) for m in metrics]
    flagged = {m for m in metrics if not _all_exact(data, m)}
    header = [Cell("Method"), Cell("Seeds")]
    for info in infos:
        dag = info.key in flagged
        header.append(Cell(f"{info.name} {info.arrow}".strip() + (f" {DAGGER}" if dag else ""),
                           f"{info.name} {info.latex_arrow}".strip() + (LATEX_DAGGER if dag else "")))
    rows = []
    for variant in data.counts.index:
        row = [Cell(data.label(variant), data.label(variant, latex=True)), Cell(data.counts.loc[variant, "status"])]
        row += [_value_cell(data, variant, m) for m in metrics]
        rows.append(row)
    sections = {}
    if data.paper_shown:
        sections[len(rows)] = "Paper (reported)"
        for ref in data.paper_shown:
            rows.append([Cell(ref.label, latex_label(ref.method) + " (paper)"), Cell("")]
                        + [Cell(ref.values.get(m, "–"), ref.values.get(m, "--")) for m in metrics])
    return Table("ablation", f"Ablation: {data.experiment} (sweep {data.sweep})", header, rows,
                 "ll" + "r" * len(infos), sections, _ablation_notes(data, flagged))


def _all_exact(data: AblationData, metric: str) -> bool:
    rows = data.summary[(data.summary["metric"] == metric) & (data.summary["backend"] != "")]
    return bool(len(rows)) and bool(rows["exact"].all())


def _value_cell(data: AblationData, variant: str, metric: str) -> Cell:
    s, decimals = data.stat(variant, metric), column_decimals(data.summary, metric)
    if s["seeds_ok"] == 0:
        counts = data.counts.loc[variant]
        return Cell(next((word for state, word in STATES if counts[state]), "no result"))
    if s["n"] == 0:
        return Cell("missing")
    text = fmt(s["mean"], decimals)
    tex = text
    if s["n"] >= 2:
        text += f" ± {fmt(s['std'], decimals)}"
        tex += rf" $\pm$ {fmt(s['std'], decimals)}"
    if s["n"] < s["seeds_ok"]:
        text += f" [n={s['n']}]"
        tex += f" [n={s['n']}]"
    comp = data.comp(variant, metric) if variant != data.baseline else None
    sig = significant(comp, data.alpha)
    cell = Cell(text, tex, bold=sig)  # bold: the change against the baseline is significant, nothing else
    if comp is not None:
        delta = fmt_delta(comp["delta"])
        cell.suffix = f" ({delta}{'*' if sig else ''})"
        cell.latex_suffix = f" (${delta}{'^{*}' if sig else ''}$)"
        cell.tone = comp["verdict"] if comp["verdict"] in ("worse", "better") else ""
    return cell


def listing(prefix: str, items: list[str], sep: str = "; ") -> Cell:
    """A note 'prefix item; item.' whose LaTeX form is made LaTeX-safe item by item (a path costs its item's tail)."""
    return Cell(prefix + sep.join(items) + ".", latex_escape(prefix) + sep.join(latex_plain(i) for i in items) + ".")


ONE_SEED = ("One seed per variant: no significance test, so nothing is bold and there is no comparison table; "
            "run with sweep.seeds=[0, 1, 2] (or more seeds) to test each ablation against the baseline.")


def _ablation_notes(data: AblationData, flagged: set[str]) -> list[Cell]:
    base = data.label(data.baseline).removesuffix(" (baseline)")
    shown = data.shown_metrics
    notes = [Cell(f"Mean ± std over the finished seeds (Seeds: finished/total). In parentheses: the change against "
                  f"{base} (baseline). Bold and *: the change is significant (p < {data.alpha:g}, see the comparison "
                  "table); no bold for ties or changes within the seeds' spread. ↓ lower is better, ↑ higher is "
                  "better.",
                  rf"Mean $\pm$ std over the finished seeds (Seeds: finished/total). In parentheses: the change "
                  rf"against {latex_escape(base)} (baseline). Bold and $^{{*}}$: the change is significant "
                  rf"($p < {data.alpha:g}$, see the comparison table); no bold for ties or changes within the seeds' "
                  r"spread. $\downarrow$ lower is better, $\uparrow$ higher is better.")]
    if data.one_seed:
        notes.append(Cell(ONE_SEED))
    backends = {m: ", ".join(sorted({b for bs in data.summary.loc[data.summary["metric"] == m, "backend"]
                                     for b in bs.split(",") if b})) or "none" for m in data.metrics}
    if flagged:
        items = "; ".join(f"{metric_info(m).name}: {backends[m]}" for m in shown if m in flagged)
        notes.append(Cell(f"{DAGGER} Not exact (an offline stand-in, or not the reference protocol and weights); "
                          f"not comparable with the paper's numbers. Backends: {items}.",
                          LATEX_DAGGER + " " + latex_plain("Not exact (an offline stand-in, or not the reference "
                                                           "protocol and weights); not comparable with the paper's "
                                                           f"numbers. Backends: {items}.")))
    exact = [m for m in shown if m not in flagged]
    if exact:
        notes.append(listing("Exact backends (reference protocol and weights): ",
                             [f"{metric_info(m).name}: {backends[m]}" for m in exact]))
    if data.dropped_metrics:
        notes.append(listing("Not shown (no variant has a value): ", [_why_none(data, m) for m in data.dropped_metrics]))
    missing = _missing_groups(data)
    if missing:
        notes.append(listing("Missing values: ", missing))
    words = dict(STATES)
    problems = [f"{data.label(v)} seed {seed} ({words.get(status, status)}{': ' + error if error else ''})"
                for v in data.counts.index for seed, status, error in data.counts.loc[v, "errors"]]
    if problems:
        notes.append(listing("Trials without results: ", problems))
    if data.paper_shown:
        notes.append(listing(f"Paper rows: values as reported in {data.paper_source}, for reference only (another "
                             "model size, data and protocol). ", [f"{r.method}: {r.note}" for r in data.paper_shown],
                             sep=". "))
    return notes


def _why_none(data: AblationData, metric: str) -> str:
    """'Sync-C (backend x: reason)': a metric no variant has a value of, with its backends' reasons."""
    rows = data.summary[data.summary["metric"] == metric]
    reasons = list(dict.fromkeys(text for text in rows["missing"] if text))  # each variant's reasons, as logged
    backends = sorted({b for text in rows["backend"] for b in text.split(",") if b})
    why = "; ".join(reasons) or ("no finished trial" if not (rows["seeds_ok"] > 0).any() else "no value")
    return f"{metric_info(metric).name} ({', '.join(backends) + ': ' if backends else ''}{why})"


def _missing_groups(data: AblationData) -> list[str]:
    """'HKC for w/o APDH (no hand found)' per shown metric and reason; 'for every variant' when all finished ones lack it."""
    finished = [v for v in data.counts.index if data.counts.loc[v, "ok"]]
    groups: dict[tuple[str, str], list[str]] = {}
    for r in data.summary[data.summary["metric"].isin(data.shown_metrics)].itertuples():
        if r.seeds_ok and r.n < r.seeds_ok:
            groups.setdefault((r.metric, r.missing or "no value"), []).append(r.variant)
    out = []
    for (metric, reason), variants in groups.items():
        who = "every variant" if len(variants) == len(finished) > 1 else ", ".join(data.label(v) for v in variants)
        out.append(f"{metric_info(metric).name} for {who} ({reason})")
    return out


def comparison_table(data: AblationData) -> Table:
    """Each ablation against the baseline, per metric with a test (rows follow the ablation table's order)."""
    header = [Cell("Ablation"), Cell("Metric"), Cell("n"), Cell("Δ mean", r"$\Delta$ mean"), Cell("95% CI", r"95\% CI"),
              Cell("p"), Cell("Test"), Cell("Verdict")]
    rows = []
    for comp in tested(data.comparison).to_dict("records"):
        info = metric_info(comp["metric"])
        ci = "–"
        if math.isfinite(comp["ci_low"]):  # both ends with the decimals of the wider one
            scale = max(abs(comp["ci_low"]), abs(comp["ci_high"]))
            ci = f"[{fmt_delta(comp['ci_low'], scale)}, {fmt_delta(comp['ci_high'], scale)}]"
        p = comp["note"] if math.isnan(comp["p_value"]) else format_p(comp["p_value"])
        rows.append([Cell(data.label(comp["variant"]), data.label(comp["variant"], latex=True)),
                     Cell(f"{info.name} {info.arrow}".strip(), f"{info.name} {info.latex_arrow}".strip()),
                     Cell(str(comp["n"])), Cell(fmt_delta(comp["delta"])),
                     Cell(ci, ci.replace("–", "--")), Cell(p, p.replace("<", "$<$")), Cell(comp["test"]),
                     Cell(comp["verdict"], bold=significant(comp, data.alpha))])
    notes = [Cell("Paired t-test over the seeds both variants finished (scipy.stats.ttest_rel; n = pairs) and the "
                  "95% confidence interval of the mean paired difference (ablation − baseline); Welch's t-test "
                  f"where seeds do not pair. worse/better (bold): p < {data.alpha:g} in that direction of the "
                  "metric; n.s. with few seeds is weak evidence of no effect.",
                  r"Paired $t$-test over the seeds both variants finished (scipy.stats.ttest\_rel; $n$ = pairs) and "
                  r"the 95\% confidence interval of the mean paired difference (ablation $-$ baseline); Welch's "
                  rf"$t$-test where seeds do not pair. worse/better (bold): $p < {data.alpha:g}$ in that direction of "
                  r"the metric; n.s.\ with few seeds is weak evidence of no effect.")]
    untested = _untested(data)
    if untested and rows:
        notes.append(listing("Not tested (one seed on a side): ", untested))
    empty = "" if rows else (ONE_SEED if data.one_seed else
                             "No ablation has two or more seeds with a value on both sides: nothing to test.")
    return Table("comparison", f"Each ablation against {data.label(data.baseline).removesuffix(' (baseline)')}",
                 header, rows, "llrrrrll", {}, notes if rows else [], empty)


def _untested(data: AblationData) -> list[str]:
    """'w/o L_pose: FID, SSIM' per ablation with metrics compared without a test."""
    found: dict[str, list[str]] = {}
    for comp in data.comparison[data.comparison["test"] == "none"].to_dict("records"):
        found.setdefault(comp["variant"], []).append(metric_info(comp["metric"]).name)
    return [f"{data.label(v)}: {', '.join(names)}" for v, names in found.items()]


def format_p(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"{p:.3f}"
