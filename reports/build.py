"""`build_report`: one sweep in MLflow -> tables (md, tex, csv), PNG plots and the HTML page in a folder.

Files written to ``out`` (flat):
    ablation.md / ablation.tex / ablation.csv   the ablation and comparison tables (--format)
    trials.csv                                  one row per trial (with csv): run id, status, values, backends
    bars_<metric>.png, loss_curves.png, apdh_schedule.png
    study_history.png, study_pareto.png         when a tuning study (harness.role=study) exists
    index.html                                  the self-contained page (with html)
    provenance.json                             where the numbers came from (always)
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path

from harness.config import ExperimentConfig
from harness.errors import HarnessError
from reports import formats, plots
from reports.html import Provenance, page
from reports.labels import metric_info, variant_label
from reports.paper import paper_rows
from reports.query import Store, Sweep, load_study, load_sweep, metric_history, open_store
from reports.schedule import schedules
from reports.stats import compare, summarize, trial_counts
from reports.tables import AblationData, ablation_table, comparison_table


@dataclass
class ReportFiles:
    """What build_report wrote."""

    out: Path
    sweep: str
    files: list[Path] = field(default_factory=list)
    index: Path | None = None
    variants: list[str] = field(default_factory=list)
    failed_trials: int = 0


def parse_formats(text: str) -> list[str]:
    """'md,tex' -> ['md', 'tex']; an unknown name is a one-line error."""
    names = [f.strip().lower() for f in text.split(",") if f.strip()]
    unknown = [f for f in names if f not in formats.FORMATS]
    if unknown or not names:
        raise HarnessError(f"--format: unknown format(s) {unknown or [text]}; choose from {','.join(formats.FORMATS)}")
    return list(dict.fromkeys(names))


def pick_baseline(sweep: Sweep, cfg: ExperimentConfig, requested: str | None) -> str:
    """--baseline, else the variant its runs tag as baseline, else sweep.baseline, else the first variant."""
    variants = sweep.variants
    if requested is not None:
        if requested not in variants:
            raise HarnessError(f"--baseline {requested}: not a variant of sweep {sweep.name} "
                               f"(variants: {', '.join(variants)})")
        return requested
    tagged = sweep.trials.loc[sweep.trials["baseline"], "variant"]
    if len(tagged):
        return str(tagged.iloc[0])
    return cfg.sweep.baseline if cfg.sweep.baseline in variants else variants[0]


def ablation_data(sweep: Sweep, experiment: str, baseline: str, paper_csv: Path | None) -> AblationData:
    """The aggregated numbers every table is built from."""
    metrics = sweep.metric_keys
    data = AblationData(experiment, sweep.name, baseline, metrics, trial_counts(sweep.trials),
                        summarize(sweep.trials, metrics), compare(sweep.trials, baseline, metrics))
    if paper_csv is not None:
        data.paper = paper_rows(paper_csv, [variant_label(v) for v in sweep.variants])
        data.paper_source = paper_csv.name
    return data


def build_report(cfg: ExperimentConfig, out: Path, wanted: list[str], baseline: str | None = None,
                 sweep_selector: str | None = None, paper_csv: Path | None = None) -> ReportFiles:
    """Read the sweep from MLflow and write the report (see the module docstring)."""
    if paper_csv is not None and not paper_csv.is_file():
        raise HarnessError(f"--paper-csv {paper_csv}: no such file")
    store = open_store(cfg)
    sweep = load_sweep(store, sweep_selector)
    if sweep.trials.empty:
        raise HarnessError(f"sweep {sweep.name} has no trials in MLflow yet")
    base = pick_baseline(sweep, cfg, baseline)
    data = ablation_data(sweep, store.experiment, base, paper_csv)
    tables = [ablation_table(data), comparison_table(data)]
    out.mkdir(parents=True, exist_ok=True)
    result = ReportFiles(out, sweep.name, variants=sweep.variants,
                         failed_trials=int((sweep.trials["status"] != "FINISHED").sum()))
    if "md" in wanted:
        result.files.append(_write(out / "ablation.md", formats.markdown(tables)))
    if "tex" in wanted:
        result.files.append(_write(out / "ablation.tex", formats.latex(tables, store.experiment)))
    if "csv" in wanted:
        result.files.append(_write(out / "ablation.csv", formats.csv_text(data)))
        trials_csv = sweep.trials.to_csv(index=False, float_format=formats.CSV_FLOAT, lineterminator="\n")
        result.files.append(_write(out / "trials.csv", trials_csv))
    figures = make_plots(store, sweep, cfg, data, out)
    result.files += [p for _, p in figures]
    prov = provenance(store, sweep)
    result.files.append(_write(out / "provenance.json", json.dumps(prov.to_dict(), indent=2) + "\n"))
    if "html" in wanted:
        intro = (f"Ablation of experiment {store.experiment}, sweep {sweep.name}: {len(sweep.variants)} variants x "
                 f"{sweep.trials['seed'].nunique()} seed(s), baseline {variant_label(base)}. "
                 "Generated by `harness report` from MLflow.")
        text = page(f"Ablation report: {store.experiment}", intro, [formats.html_table(t) for t in tables],
                    figures, prov)
        result.index = _write(out / "index.html", text)
        result.files.append(result.index)
    return result


def make_plots(store: Store, sweep: Sweep, cfg: ExperimentConfig, data: AblationData,
               out: Path) -> list[tuple[str, Path]]:
    """Every PNG of the report as (caption, path)."""
    figures = []
    why = {v: ("no finished seed" if data.counts.loc[v, "ok"] == 0 else "missing") for v in data.counts.index}
    for metric in data.metrics:
        if not data.summary.loc[data.summary["metric"] == metric, "n"].any():
            continue  # no variant has a value: nothing to draw (the table says why)
        path = plots.metric_bars(data.summary, sweep.trials, metric, data.baseline, out / f"bars_{metric}.png", why)
        figures.append((f"{metric_info(metric).name} per variant", path))
    history = metric_history(store, sweep.trials, "train/loss")
    if len(history):
        figures.append(("Training loss", plots.loss_curves(history, data.baseline, out / "loss_curves.png",
                                                            sweep.variants)))
    first_params = {}
    for row in sweep.trials[sweep.trials["run_id"] != ""].itertuples():
        first_params.setdefault(row.variant, sweep.params.get(row.run_id, {}))
    scheds = schedules(sweep.variants, first_params, cfg)
    if scheds:
        figures.append(("APDH schedule", plots.apdh_schedule(scheds, data.baseline, out / "apdh_schedule.png")))
    fallback = [(o.metric, "lower" if o.direction == "minimize" else "higher") for o in cfg.tune.objectives]
    study = load_study(store, fallback)
    if study is not None and len(study[1]):
        _, frame, objectives = study
        metric, direction = objectives[0]
        figures.append(("Tuning study: optimisation history",
                        plots.study_history(frame, metric, direction, out / "study_history.png")))
        if len(objectives) >= 2:
            figures.append(("Tuning study: Pareto front", plots.pareto_plot(frame, objectives, out / "study_pareto.png")))
    return figures


def provenance(store: Store, sweep: Sweep) -> Provenance:
    from harness.tracking import git_commit

    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
    return Provenance(
        generated_utc=now, report_git_commit=git_commit(), sweep_git_commit=sweep.tags.get("git_commit", "unknown"),
        tracking_uri=store.uri, experiment=store.experiment, experiment_id=store.experiment_id,
        sweep_name=sweep.name, sweep_id=sweep.sweep_id, parent_run_id=sweep.run_id, query=sweep.filter_string,
        dataset_hash=sweep.tags.get("dataset_hash", "unknown"), config_hash=sweep.tags.get("config_hash", "unknown"),
        child_run_ids=[r for r in sweep.trials["run_id"] if r],
    )


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path
