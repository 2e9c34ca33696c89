"""Ablation and tuning-study reports generated from MLflow (`harness report`): tables, plots, one HTML page.

Flat on purpose (generated report folders ``reports/<experiment>/`` are git-ignored by
``/reports/*/``, so source must never live in a subfolder here):

    query.py     MLflow -> pandas: the sweep's trials (variant, seed, status, metrics, backends, error), curves
    stats.py     aggregation over seeds, paired t-test / CI against the baseline, Pareto front
    labels.py    metric names, directions, decimals; the paper's row names for variants
    paper.py     the paper's reported numbers as reference rows
    tables.py    the table cell model (ablation table, comparison table)
    study.py     a tuning study's table (one row per Optuna trial), its CSV and plots
    formats.py   Markdown, LaTeX, HTML fragment, CSV
    schedule.py  APDH phases in steps per variant (for the diagram)
    plots.py     PNG plots (matplotlib Agg)
    html.py      the self-contained page and its provenance stamp
    build.py     build_report() / build_study_report(): everything above, written to one folder
"""
