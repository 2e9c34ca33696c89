"""Find and check weight files. Never downloads.

Resolution order for a manifest entry (metrics/manifest.py):
    1. an explicit path given by the caller (must exist);
    2. ``$HARNESS_WEIGHTS/<file>`` or ``$HARNESS_WEIGHTS/<name>/<file>`` (or the ``weights_dir``
       argument, e.g. the config's ``paths.weights``, which takes the place of the variable);
    3. caches: ``$XDG_CACHE_HOME/harness/weights/<file>`` (default ~/.cache), torch hub's
       ``$TORCH_HOME/hub/checkpoints/<file>``, then the installed offline package's copy.
A file that is found is hashed (sha256, plus the git blob id when that is what the manifest
records) and must match; a missing or mismatching file raises ``WeightError`` (a
HarnessError: one line, CLI exit 2) naming the file, its hash and where to put it.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError
from metrics.manifest import MANIFEST, WeightSpec, spec

ENV_VAR = "HARNESS_WEIGHTS"
_HASH_CACHE: dict[tuple[str, int, int], tuple[str, str]] = {}


class WeightError(HarnessError):
    """A weight file is missing or does not match the manifest."""


@dataclass(frozen=True)
class Resolved:
    """A located and hashed weight file."""

    spec: WeightSpec
    path: Path
    sha256: str
    verified: bool  # True: matches the manifest hash; False: the manifest has no hash for it


def weights_dir(override: str | Path | None = None) -> Path | None:
    """The user's weights folder: ``override`` or ``$HARNESS_WEIGHTS`` (None when unset)."""
    if override:
        return Path(override).expanduser()
    env = os.environ.get(ENV_VAR)
    return Path(env).expanduser() if env else None


def cache_dir() -> Path:
    """Harness weight cache: $XDG_CACHE_HOME/harness/weights (default ~/.cache/...)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "harness" / "weights"


def _torch_hub_dir() -> Path:
    home = os.environ.get("TORCH_HOME") or str(Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "torch")
    return Path(home) / "hub" / "checkpoints"


def package_file(s: WeightSpec) -> Path | None:
    """Path of the spec's file inside its installed offline package (never imports it)."""
    if not s.package or not s.package_path:
        return None
    try:
        dist = importlib.metadata.distribution(s.package)
    except importlib.metadata.PackageNotFoundError:
        return None
    path = Path(str(dist.locate_file(s.package_path)))
    return path if path.is_file() else None


def candidates(s: WeightSpec, override_dir: str | Path | None = None) -> list[Path]:
    """Every place the file is looked for, in resolution order (explicit path excluded)."""
    out: list[Path] = []
    user = weights_dir(override_dir)
    if user is not None:
        out += [user / s.file, user / s.name / s.file]
    out += [cache_dir() / s.file, _torch_hub_dir() / s.file]
    pkg = package_file(s)
    if pkg is not None:
        out.append(pkg)
    return out


def file_hashes(path: Path) -> tuple[str, str]:
    """(sha256, git blob id) of a file, memoised on (path, size, mtime)."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _HASH_CACHE:
        sha, blob = hashlib.sha256(), hashlib.sha1(f"blob {st.st_size}\0".encode())
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                sha.update(chunk)
                blob.update(chunk)
        _HASH_CACHE[key] = (sha.hexdigest(), blob.hexdigest())
    return _HASH_CACHE[key]


def expected_hash(s: WeightSpec) -> str:
    """The manifest's hash as text for messages."""
    if s.sha256:
        return f"sha256 {s.sha256}"
    if s.git_blob:
        return f"git blob {s.git_blob} (no sha256 published; check with `git hash-object`)"
    return "no published hash"


def check(s: WeightSpec, path: Path) -> Resolved:
    """Hash ``path`` and compare with the manifest; WeightError on a mismatch."""
    sha, blob = file_hashes(path)
    if s.sha256 and sha != s.sha256:
        raise WeightError(f"weight file {path} ({s.name}) has sha256 {sha}, expected {s.sha256}: replace it")
    if not s.sha256 and s.git_blob and blob != s.git_blob:
        raise WeightError(f"weight file {path} ({s.name}) has git blob {blob}, expected {s.git_blob}: replace it")
    return Resolved(spec=s, path=path, sha256=sha, verified=bool(s.sha256 or s.git_blob))


def missing_message(s: WeightSpec, override_dir: str | Path | None = None) -> str:
    """One line: which file, its hash, where to put it, where to get it."""
    user = weights_dir(override_dir)
    where = f"${ENV_VAR} ({user})" if user else f"${ENV_VAR} (unset) or {cache_dir()}"
    get = s.offline_source if s.package else s.official_source
    return (
        f"missing weight file {s.file} ({s.name}, {expected_hash(s)}): put it in {where}; "
        f"get it from {get}"
    )


def unloadable(resolved: Resolved, exc: BaseException) -> WeightError:
    """One line for a weight file that was found (and matched what the manifest records) but does not load."""
    s, where = resolved.spec, weights_dir() or cache_dir()
    return WeightError(
        f"weight file {resolved.path} ({s.name}, {expected_hash(s)}) does not load ({exc.__class__.__name__}): "
        f"put a good copy at {where / s.file}; get it from {s.offline_source if s.package else s.official_source}")


def resolve(name: str, explicit: str | Path | None = None, override_dir: str | Path | None = None) -> Resolved:
    """Locate and verify the weight file ``name``; WeightError when missing or wrong."""
    s = spec(name)
    if explicit is not None:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise WeightError(f"weight file {path} ({s.name}, {expected_hash(s)}) does not exist")
        return check(s, path)
    for path in candidates(s, override_dir):
        if path.is_file():
            return check(s, path)
    raise WeightError(missing_message(s, override_dir))


def find(name: str, override_dir: str | Path | None = None) -> Path | None:
    """The first existing candidate for ``name`` without hashing it (None when absent)."""
    return next((p for p in candidates(spec(name), override_dir) if p.is_file()), None)


def all_names() -> list[str]:
    """Manifest names in declaration order."""
    return list(MANIFEST)
