"""The self-contained HTML report page: tables, plots as base64 PNG, a provenance stamp.

No external CSS, JS, fonts or images: the page is one file that opens offline and can be
attached to a mail or an issue. The provenance stamp says where every number came from:
the git commit that ran the sweep (or the tuning study) and the one that wrote the report,
the MLflow tracking URI, experiment and run ids, the query that found the trials, the date
and the dataset hash.
"""

from __future__ import annotations

import base64
import html
from dataclasses import asdict, dataclass, field
from pathlib import Path

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2em auto;max-width:1200px;
 color:#222;padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}
div.scroll{overflow-x:auto}
table.report{border-collapse:collapse;margin:0.5em 0;font-size:0.9em}
table.report caption{text-align:left;font-weight:600;padding:0.3em 0}
table.report th,table.report td{padding:0.3em 0.7em;border-bottom:1px solid #e4e4e4;white-space:nowrap}
table.report thead th{border-bottom:2px solid #444}
td.r,th.r{text-align:right}td.l,th.l{text-align:left}
tr.section td{font-style:italic;background:#f5f5f5}
span.delta{font-size:0.85em;color:#666}span.worse{color:#b00020}span.better{color:#1b7f3b}
ul.notes{font-size:0.85em;color:#444}
figure{display:inline-block;margin:0.5em;vertical-align:top}
figure img{max-width:100%;border:1px solid #eee}
figcaption{font-size:0.85em;color:#555}
figure.panel img{image-rendering:pixelated}
table.prov td{padding:0.15em 0.7em;font-family:ui-monospace,monospace;font-size:0.85em;vertical-align:top}
table.prov td:first-child{font-family:inherit;color:#555}
"""


@dataclass
class Provenance:
    """Where the report's numbers came from."""

    generated_utc: str
    report_git_commit: str
    sweep_git_commit: str
    tracking_uri: str
    experiment: str
    experiment_id: str
    sweep_name: str
    sweep_id: str
    parent_run_id: str
    query: str
    dataset_hash: str
    config_hash: str
    child_run_ids: list[str] = field(default_factory=list)
    kind: str = "sweep"  # "study": the sweep_* fields hold the tuning study's name, id and commit

    def to_dict(self) -> dict:
        return asdict(self)


def image_tag(path: Path, alt: str) -> str:
    """An <img> with the PNG inlined as a data URI."""
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def panel_figure(path: Path, caption: str) -> str:
    """The qualitative panel (reports/samples.py) as a figure; pixelated: enlarged frames stay sharp."""
    return f'<figure class="panel">{image_tag(path, caption)}<figcaption>{html.escape(caption)}</figcaption></figure>'


def provenance_table(prov: Provenance) -> str:
    kind = prov.kind
    rows = [
        ("generated (UTC)", prov.generated_utc), ("report git commit", prov.report_git_commit),
        (f"{kind} git commit", prov.sweep_git_commit), ("MLflow tracking URI", prov.tracking_uri),
        ("experiment", f"{prov.experiment} (id {prov.experiment_id})"),
        (kind, f"{prov.sweep_name} ({kind} id {prov.sweep_id})"),
        ("parent run id" if kind == "sweep" else f"{kind} run id", prov.parent_run_id),
        ("query", prov.query), ("dataset hash", prov.dataset_hash), ("config hash", prov.config_hash),
        ("child run ids", ", ".join(prov.child_run_ids) or "none"),
    ]
    body = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>" for k, v in rows)
    return f'<table class="prov" id="provenance">{body}</table>'


def page(title: str, intro: str, tables: list[str], figures: list[tuple[str, Path]], prov: Provenance,
         extra_sections: list[tuple[str, str]] | None = None) -> str:
    """The whole page: title, intro, table fragments (already HTML), figures (caption, PNG), provenance."""
    figs = "".join(f"<figure>{image_tag(p, cap)}<figcaption>{html.escape(cap)}</figcaption></figure>"
                   for cap, p in figures)
    extra = "".join(f"<h2>{html.escape(h)}</h2>{body}" for h, body in extra_sections or [])
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{CSS}</style></head>\n'
        f"<body><h1>{html.escape(title)}</h1><p>{html.escape(intro)}</p>\n"
        f"<h2>Tables</h2>{''.join(tables)}\n"
        f"<h2>Plots</h2>{figs or '<p>No plots.</p>'}\n{extra}"
        f"<h2>Provenance</h2>{provenance_table(prov)}\n"
        "</body></html>\n"
    )
