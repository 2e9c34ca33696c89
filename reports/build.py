"""`build_report`: one sweep in MLflow -> tables (md, tex, csv), PNG plots and the HTML page in a folder;
`build_study_report`: the same for a tuning study alone.

Files ``build_report`` writes to ``out`` (flat):
    ablation.md / ablation.tex / ablation.csv   the ablation and comparison tables (--format)
    trials.csv                                  one row per trial (with csv): run id, status, values, backends
    dots_<metric>.png, loss_curves.png, phd_terms.png, apdh_schedule.png   (each also .pdf and .svg)
    study_history_<metric>.png, study_pareto.png, study_importance.png      when a tuning study exists
    index.html                                  the self-contained page (with html)
    provenance.json                             where the numbers came from (always)

``build_study_report`` writes study.md / study.tex / study.csv (one row per Optuna trial,
reports/study.py), the study plots, index.html and provenance.json. ``report_kind`` picks
which one `harness report` builds.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path

from harness.config import ExperimentConfig
from harness.errors import HarnessError
from harness.runs.schema import Curves, StudyTags, SweepTags
from harness.vocabulary import PHD_BANDS
from harness.runs.store import git_commit
from reports import formats, plots
from reports.html import Provenance, page, panel_figure
from reports.labels import metric_info, variant_colours, variant_label
from reports.paper import paper_rows
from reports.query import (STUDY_FILTER, SWEEP_FILTER, Store, Study, Sweep, load_sweep, log_report, metric_history,
                           open_store, read_study, search_all)
from reports.schedule import NOT_RECORDED, schedules
from reports.samples import qualitative_panel
from reports.stats import compare, summarize, trial_counts
from reports.study import state_counts, study_frame, study_table
from reports.study_plots import study_plots
from reports.tables import AblationData, ablation_table, comparison_table


SCHEDULE_PNG = "apdh_schedule.png"


@dataclass
class ReportFiles:
    """What build_report wrote."""

    out: Path
    sweep: str
    files: list[Path] = field(default_factory=list)
    index: Path | None = None
    variants: list[str] = field(default_factory=list)
    failed_trials: int = 0
    notes: list[str] = field(default_factory=list)  # one line each: what the report could not show


@dataclass
class StudyReportFiles:
    """What build_study_report wrote."""

    out: Path
    study: str
    run_id: str
    files: list[Path] = field(default_factory=list)
    index: Path | None = None
    states: dict[str, int] = field(default_factory=dict)  # Optuna state -> trials


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


def report_kind(store: Store, sweep_selector: str | None = None, study_selector: str | None = None) -> str:
    """"study" with --study, or when the experiment has a tuning study but no sweep; else "sweep".

    A sweep wins when both exist (its report adds the study's plots); with neither, the sweep
    path's one-line error says so.
    """
    if study_selector is not None:
        if sweep_selector is not None:
            raise HarnessError("--sweep and --study: a report is of one sweep or one study; give only one")
        return "study"
    if sweep_selector is None and not search_all(store, SWEEP_FILTER) and search_all(store, STUDY_FILTER):
        return "study"
    return "sweep"


def build_report(cfg: ExperimentConfig, out: Path, wanted: list[str], baseline: str | None = None,
                 sweep_selector: str | None = None, paper_csv: Path | None = None,
                 store: Store | None = None) -> ReportFiles:
    """Read the sweep from MLflow and write the report (see the module docstring)."""
    if paper_csv is not None and not paper_csv.is_file():
        raise HarnessError(f"--paper-csv {paper_csv}: no such file")
    store = store or open_store(cfg)
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
        trials = sweep.trials.assign(start_time=sweep.trials["start_time"].map(_iso_utc))  # MLflow keeps epoch ms
        trials_csv = trials.to_csv(index=False, float_format=formats.CSV_FLOAT, lineterminator="\n")
        result.files.append(_write(out / "trials.csv", trials_csv))
    figures = make_plots(store, sweep, cfg, data, out)
    result.files += [f for _, p in figures for f in plots.figure_files(p)]
    panel = qualitative_panel(store, sweep, cfg, out)  # reports/samples.py: the trials' scored frames
    if panel is not None:
        result.files.append(panel.path)
    if not any(p.name == SCHEDULE_PNG for _, p in figures) and (sweep.trials["run_id"] != "").any():
        result.notes.append(NOT_RECORDED)
    prov = provenance(store, sweep)
    result.files.append(_write(out / "provenance.json", json.dumps(prov.to_dict(), indent=2) + "\n"))
    if "html" in wanted:
        intro = (f"Ablation of experiment {store.experiment}, sweep {sweep.name}: {len(sweep.variants)} variants x "
                 f"{sweep.trials['seed'].nunique()} seed(s), baseline {variant_label(base)}. "
                 "Generated by `harness report` from MLflow." + "".join(f" {n}" for n in result.notes))
        text = page(f"Ablation report: {store.experiment}", intro, [formats.html_table(t) for t in tables],
                    figures, prov, extra_sections=None if panel is None else
                    [("Qualitative samples", panel_figure(panel.path, panel.caption()))])
        result.index = _write(out / "index.html", text)
        result.files.append(result.index)
    log_report(store, sweep.run_id, out)  # the parent run carries the report (artifacts report/), best effort
    return result


def make_plots(store: Store, sweep: Sweep, cfg: ExperimentConfig, data: AblationData,
               out: Path) -> list[tuple[str, Path]]:
    """Every figure of the report as (caption, PNG path); each also has a PDF and an SVG beside it."""
    figures = []
    order, colours = sweep.variants, variant_colours(sweep.variants)  # one colour per variant in every figure
    why = {v: ("no finished seed" if data.counts.loc[v, "ok"] == 0 else "missing") for v in data.counts.index}
    for metric in data.shown_metrics:  # a metric no variant has a value of: nothing to draw (the table says why)
        path = plots.metric_dots(sweep.trials, metric, data.baseline, order, colours, out / f"dots_{metric}.png", why)
        figures.append((f"{metric_info(metric).name} per variant", path))
    history = metric_history(store, sweep.trials, Curves.LOSS)
    if len(history):
        figures.append(("Training loss", plots.loss_curves(plots.on_log_grid(history), data.baseline, order, colours,
                                                            out / "loss_curves.png")))
    terms = {t: plots.on_log_grid(metric_history(store, sweep.trials, Curves.TRAIN_PREFIX + t)) for t in PHD_BANDS}
    if any(len(frame) for frame in terms.values()):  # a term is logged only where a sample fell in its band
        path = plots.phd_terms(terms, data.baseline, order, colours, out / "phd_terms.png")
        figures.append(("PhD loss terms at the steps they were logged (where a sample fell in the term's band)", path))
    first_params = {}
    for row in sweep.trials[sweep.trials["run_id"] != ""].itertuples():
        first_params.setdefault(row.variant, sweep.params.get(row.run_id, {}))
    scheds = schedules(sweep.variants, first_params)
    if scheds:
        figures.append(("APDH schedule", plots.apdh_schedule(scheds, data.baseline, out / SCHEDULE_PNG)))
    study = read_study(store, configured_objectives(cfg))
    if study is not None:
        figures += study_plots(study, out)
    return figures


def configured_objectives(cfg: ExperimentConfig) -> list[tuple[str, str]]:
    """The experiment's tune.objectives as [(metric, "lower"|"higher")]: for a study run without an objectives tag."""
    return [(o.metric, "lower" if o.direction == "minimize" else "higher") for o in cfg.tune.objectives]


def build_study_report(cfg: ExperimentConfig, out: Path, wanted: list[str], study_selector: str | None = None,
                       store: Store | None = None) -> StudyReportFiles:
    """Read a tuning study from MLflow (the newest, or --study) and write its report (see the module docstring)."""
    store = store or open_store(cfg)
    study = read_study(store, configured_objectives(cfg), study_selector)
    if study is None:
        raise HarnessError(f"experiment {store.experiment!r} at {store.uri} has no tuning study; "
                           "run `harness tune` first")
    if study.trials.empty:
        raise HarnessError(f"study {study.name} has no trials in MLflow yet")
    keys = study.tuned_keys
    table = study_table(study, keys)
    out.mkdir(parents=True, exist_ok=True)
    result = StudyReportFiles(out, study.name, study.run_id, states=state_counts(study, keys))
    if "md" in wanted:
        result.files.append(_write(out / "study.md", formats.markdown([table])))
    if "tex" in wanted:
        result.files.append(_write(out / "study.tex", formats.latex([table], store.experiment)))
    if "csv" in wanted:
        text = study_frame(study, keys).to_csv(index=False, float_format=formats.CSV_FLOAT, lineterminator="\n")
        result.files.append(_write(out / "study.csv", text))
    figures = study_plots(study, out)
    result.files += [f for _, p in figures for f in plots.figure_files(p)]
    prov = study_provenance(store, study)
    result.files.append(_write(out / "provenance.json", json.dumps(prov.to_dict(), indent=2) + "\n"))
    if "html" in wanted:
        states = ", ".join(f"{n} {s}" for s, n in result.states.items())
        objectives = ", ".join(f"{metric_info(m).name} ({d} is better)" for m, d in study.objectives)
        intro = (f"Tuning study {study.name} of experiment {store.experiment}: {len(study.trials)} Optuna trials "
                 f"({states}), objectives {objectives}. Generated by `harness report` from MLflow.")
        text = page(f"Tuning study report: {store.experiment}", intro, [formats.html_table(table)], figures, prov)
        result.index = _write(out / "index.html", text)
        result.files.append(result.index)
    return result


def provenance(store: Store, sweep: Sweep) -> Provenance:
    """The stamp of a sweep report: the sweep's run, id, commit and hashes, its child runs and their query."""
    tags = sweep.tags
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
    return Provenance(
        generated_utc=now, report_git_commit=git_commit(), sweep_git_commit=tags.get(SweepTags.GIT_COMMIT, "unknown"),
        tracking_uri=store.uri, experiment=store.experiment, experiment_id=store.experiment_id,
        sweep_name=sweep.name, sweep_id=sweep.sweep_id, parent_run_id=sweep.run_id, query=sweep.filter_string,
        dataset_hash=tags.get(SweepTags.DATASET_HASH, "unknown"),
        config_hash=tags.get(SweepTags.CONFIG_HASH, "unknown"),
        child_run_ids=[r for r in sweep.trials["run_id"] if r],
    )


def study_provenance(store: Store, study: Study) -> Provenance:
    """The stamp of a study report: the study's run, id, commit and hashes, its child runs and their query."""
    tags = study.tags
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
    return Provenance(
        generated_utc=now, report_git_commit=git_commit(), sweep_git_commit=tags.get(StudyTags.GIT_COMMIT, "unknown"),
        tracking_uri=store.uri, experiment=store.experiment, experiment_id=store.experiment_id,
        sweep_name=study.name, sweep_id=tags.get(StudyTags.SWEEP_ID, ""), parent_run_id=study.run_id,
        query=study.filter_string, dataset_hash=tags.get(StudyTags.DATASET_HASH, "unknown"),
        config_hash=tags.get(StudyTags.CONFIG_HASH, "unknown"), child_run_ids=list(study.trials["run_id"]),
        kind="study",
    )


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _iso_utc(epoch_ms: int) -> str:
    """An MLflow time (epoch milliseconds) as ISO 8601 UTC, e.g. 2026-11-27T20:41:09Z ("" for a trial never run: 0)."""
    if not epoch_ms:
        return ""
    return dt.datetime.fromtimestamp(epoch_ms / 1000, tz=dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
