"""The paper's reported numbers as reference rows (docs/paper_numbers.csv; docs/paper_numbers.md).

The CSV has columns ``table, method, <metric names...>, source_note``; ``table`` is ``main``,
``ablation`` or ``independent``. A report shows the paper's own EchoMimicV2 row (``main``) and
the ``ablation`` rows whose method is the label of a variant in the sweep, with values exactly
as printed in the CSV (no re-rounding). They are references only: never bold, never compared.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from harness.errors import HarnessError
from reports.labels import PAPER_COLUMNS

PAPER_METHOD = "EchoMimicV2"


@dataclass(frozen=True)
class PaperRow:
    """One reference row: the paper's method name, its values by metric key, where they come from."""

    method: str
    values: dict[str, str]
    note: str

    @property
    def label(self) -> str:
        return f"{self.method} (paper)"


def paper_rows(path: Path, labels: list[str]) -> list[PaperRow]:
    """The paper's main EchoMimicV2 row and its ablation rows matching labels (in labels' order)."""
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise HarnessError(f"--paper-csv {path}: no such file") from None
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise HarnessError(f"--paper-csv {path}: cannot read it as CSV ({exc})") from None
    need = {"table", "method", "source_note"}
    if not need <= set(frame.columns):
        raise HarnessError(f"--paper-csv {path}: needs columns {sorted(need)}, has {list(frame.columns)}")
    records = frame.to_dict("records")
    rows = [_row(r) for r in records if r["table"] == "main" and r["method"] == PAPER_METHOD]
    ablations = {r["method"]: _row(r) for r in records if r["table"] == "ablation"}
    rows += [ablations[label] for label in labels if label in ablations]
    return rows


def _row(record: dict[str, str]) -> PaperRow:
    values = {key: record[col].strip() for col, key in PAPER_COLUMNS.items() if record.get(col, "").strip()}
    return PaperRow(record["method"], values, record["source_note"])
