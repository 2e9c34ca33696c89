"""What every bench script does at its end: print its figures as JSON (and write them to --json), and turn a
user's mistake (a bad config override) into one line and exit 2, as the harness commands do."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path

from harness.errors import HarnessError


def print_figures(figures: dict, json_path: Path | None) -> None:
    """Print figures as indented JSON; write the same text to json_path when given."""
    text = json.dumps(figures, indent=1)
    print(text)
    if json_path:
        json_path.write_text(text)


@contextlib.contextmanager
def user_errors_as_one_line() -> Iterator[None]:
    """A HarnessError inside (e.g. an unknown override key) prints `error: ...` on stderr and exits 2."""
    try:
        yield
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
