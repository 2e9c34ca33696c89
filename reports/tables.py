"""The report's tables as a small cell model that every output format renders (reports/formats.py).

* ``ablation_table``: the paper's form. One row per variant (paper row names where known), one
  column per metric with its direction; cells are mean ± std over seeds with the change against
  the baseline (signed, ``*`` when the comparison's p < alpha); the best value per column in
  bold; non-exact backends flagged with a dagger and named in a footnote; failed or missing
  trials shown as such; optional paper rows below as references.
* ``comparison_table``: each ablation against the baseline per metric: n, mean change, 95 % CI,
  p-value (or "n=1, no test"), test, verdict.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from reports.labels import latex_escape, latex_label, metric_info, variant_label
from reports.paper import PaperRow
from reports.stats import ALPHA, STATES, best_variants, column_decimals, significant_decimals

DAGGER = "†"
LATEX_DAGGER = r"\textsuperscript{\dag}"


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
    def paper_shown(self) -> list[PaperRow]:
        """Paper rows with a value in at least one of the table's metric columns."""
        return [r for r in self.paper if set(r.values) & set(self.metrics)]

    def label(self, variant: str, latex: bool = False) -> str:
        text = variant_label(variant, latex)
        return f"{text} (baseline)" if variant == self.baseline else text


def fmt(value: float, decimals: int, signed: bool = False) -> str:
    return f"{value:+.{decimals}f}" if signed else f"{value:.{decimals}f}"


def ablation_table(data: AblationData) -> Table:
    """The paper-style table (see module docstring)."""
    infos = [metric_info(m) for m in data.metrics]
    flagged = {m for m in data.metrics if not _all_exact(data, m)}
    header = [Cell("Method"), Cell("Seeds")]
    for info in infos:
        dag = info.key in flagged
        header.append(Cell(f"{info.name} {info.arrow}".strip() + (f" {DAGGER}" if dag else ""),
                           f"{info.name} {info.latex_arrow}".strip() + (LATEX_DAGGER if dag else "")))
    best = {m: best_variants(data.summary, m) for m in data.metrics}
    rows = []
    for variant in data.counts.index:
        row = [Cell(data.label(variant), data.label(variant, latex=True)), Cell(data.counts.loc[variant, "status"])]
        row += [_value_cell(data, variant, m, variant in best[m]) for m in data.metrics]
        rows.append(row)
    sections = {}
    if data.paper_shown:
        sections[len(rows)] = "Paper (reported)"
        for ref in data.paper_shown:
            rows.append([Cell(ref.label, latex_label(ref.method) + " (paper)"), Cell("")]
                        + [Cell(ref.values.get(m, "–"), ref.values.get(m, "--")) for m in data.metrics])
    return Table("ablation", f"Ablation: {data.experiment} (sweep {data.sweep})", header, rows,
                 "ll" + "r" * len(infos), sections, _ablation_notes(data, flagged))


def _all_exact(data: AblationData, metric: str) -> bool:
    rows = data.summary[(data.summary["metric"] == metric) & (data.summary["backend"] != "")]
    return bool(len(rows)) and bool(rows["exact"].all())


def _value_cell(data: AblationData, variant: str, metric: str, bold: bool) -> Cell:
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
    cell = Cell(text, tex, bold=bold)
    comp = data.comp(variant, metric) if variant != data.baseline else None
    if comp is not None:
        sig = comp["p_value"] < data.alpha
        delta = fmt(comp["delta"], significant_decimals(comp["delta"], decimals), signed=True)
        cell.suffix = f" ({delta}{'*' if sig else ''})"
        cell.latex_suffix = f" (${delta}{'^{*}' if sig else ''}$)"
        cell.tone = comp["verdict"] if comp["verdict"] in ("worse", "better") else ""
    return cell


def _ablation_notes(data: AblationData, flagged: set[str]) -> list[Cell]:
    base = data.label(data.baseline).removesuffix(" (baseline)")
    notes = [Cell(f"Mean ± std over the finished seeds (Seeds: finished/total). In parentheses: the change "
                  f"against {base} (baseline); * p < {data.alpha:g} (see the comparison table). "
                  "Best per column in bold. ↓ lower is better, ↑ higher is better.",
                  rf"Mean $\pm$ std over the finished seeds (Seeds: finished/total). In parentheses: the change "
                  rf"against {latex_escape(base)} (baseline); $^{{*}}$ $p < {data.alpha:g}$ (see the comparison "
                  r"table). Best per column in bold. $\downarrow$ lower is better, $\uparrow$ higher is better.")]
    backends = {m: ", ".join(sorted({b for bs in data.summary.loc[data.summary["metric"] == m, "backend"]
                                     for b in bs.split(",") if b})) or "none" for m in data.metrics}
    if flagged:
        items = "; ".join(f"{metric_info(m).name}: {backends[m]}" for m in data.metrics if m in flagged)
        notes.append(Cell(f"{DAGGER} Not exact (an offline stand-in, or not the reference protocol and weights); "
                          f"not comparable with the paper's numbers. Backends: {items}.",
                          LATEX_DAGGER + " " + latex_escape("Not exact (an offline stand-in, or not the reference "
                                                            "protocol and weights); not comparable with the paper's "
                                                            f"numbers. Backends: {items}.")))
    exact = [m for m in data.metrics if m not in flagged]
    if exact:
        notes.append(Cell("Exact backends (reference protocol and weights): "
                          + "; ".join(f"{metric_info(m).name}: {backends[m]}" for m in exact) + "."))
    missing = _missing_groups(data)
    if missing:
        notes.append(Cell("Missing values: " + "; ".join(missing) + "."))
    words = dict(STATES)
    problems = [f"{data.label(v)} seed {seed} ({words.get(status, status)}{': ' + error if error else ''})"
                for v in data.counts.index for seed, status, error in data.counts.loc[v, "errors"]]
    if problems:
        notes.append(Cell("Trials without results: " + "; ".join(problems) + "."))
    if data.paper_shown:
        sources = " ".join(f"{r.method}: {r.note}." for r in data.paper_shown)
        notes.append(Cell(f"Paper rows: values as reported in {data.paper_source}, for reference only (another "
                          f"model size, data and protocol). {sources}"))
    return notes


def _missing_groups(data: AblationData) -> list[str]:
    """'HKC for w/o APDH (no hand found)' per metric and reason; 'for every variant' when all finished ones lack it."""
    finished = [v for v in data.counts.index if data.counts.loc[v, "ok"]]
    groups: dict[tuple[str, str], list[str]] = {}
    for r in data.summary.itertuples():
        if r.seeds_ok and r.n < r.seeds_ok:
            groups.setdefault((r.metric, r.missing or "no value"), []).append(r.variant)
    out = []
    for (metric, reason), variants in groups.items():
        who = "every variant" if len(variants) == len(finished) > 1 else ", ".join(data.label(v) for v in variants)
        out.append(f"{metric_info(metric).name} for {who} ({reason})")
    return out


def comparison_table(data: AblationData) -> Table:
    """Each ablation against the baseline, per metric (rows follow the ablation table's order)."""
    header = [Cell("Ablation"), Cell("Metric"), Cell("n"), Cell("Δ mean", r"$\Delta$ mean"), Cell("95% CI", r"95\% CI"),
              Cell("p"), Cell("Test"), Cell("Verdict")]
    rows = []
    for comp in data.comparison.to_dict("records"):
        info = metric_info(comp["metric"])
        places = significant_decimals(comp["delta"], column_decimals(data.summary, comp["metric"]))
        ci = "–" if math.isnan(comp["ci_low"]) else \
            f"[{fmt(comp['ci_low'], places, True)}, {fmt(comp['ci_high'], places, True)}]"
        p = comp["note"] if math.isnan(comp["p_value"]) else format_p(comp["p_value"])
        rows.append([Cell(data.label(comp["variant"]), data.label(comp["variant"], latex=True)),
                     Cell(f"{info.name} {info.arrow}".strip(), f"{info.name} {info.latex_arrow}".strip()),
                     Cell(str(comp["n"])), Cell(fmt(comp["delta"], places, True)),
                     Cell(ci, ci.replace("–", "--")), Cell(p, p.replace("<", "$<$")), Cell(comp["test"]),
                     Cell(comp["verdict"], bold=comp["verdict"] == "worse")])
    note = Cell("Paired t-test over the seeds both variants finished (scipy.stats.ttest_rel; n = pairs) and the "
                "95% confidence interval of the mean paired difference (ablation − baseline); Welch's t-test "
                f"where seeds do not pair. worse/better: p < {data.alpha:g} in that direction of the metric; "
                "n.s. with few seeds is weak evidence of no effect.",
                r"Paired $t$-test over the seeds both variants finished (scipy.stats.ttest\_rel; $n$ = pairs) and "
                r"the 95\% confidence interval of the mean paired difference (ablation $-$ baseline); Welch's "
                rf"$t$-test where seeds do not pair. worse/better: $p < {data.alpha:g}$ in that direction of the "
                r"metric; n.s.\ with few seeds is weak evidence of no effect.")
    return Table("comparison", f"Each ablation against {data.label(data.baseline).removesuffix(' (baseline)')}",
                 header, rows, "llrrrrll", {}, [note])


def format_p(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"{p:.3f}"
