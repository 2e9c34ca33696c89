"""Output folders are proved writable before any work starts.

A read-only mount, a path under a regular file or a full quota would otherwise surface
minutes later as an OSError, PermissionError or SQLAlchemy traceback (the MLflow store lives
in ``paths.runs``). One probe file, created and removed, is the check: ``os.access`` says yes
to root even on a read-only mount.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from harness.errors import HarnessError


def require_writable(folder: Path, label: str) -> Path:
    """Create ``folder`` if needed and write a probe file in it; one line naming it if that fails.

    label: what the folder is to the user, e.g. ``"--out"`` or ``"paths.runs"``.
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-probe-"):
            pass
    except OSError as exc:
        reason = exc.strerror or exc.__class__.__name__
        raise HarnessError(f"{label} {folder}: cannot write there ({reason})") from None
    return folder
