"""Load an ExperimentConfig from YAML files and ``a.b.c=value`` overrides.

Errors a user can cause become one ``ConfigError`` whose message names the file (or the
override) and the dotted key path, e.g. ``experiments/x.yaml: train.lr: Input should be a
valid number``; unknown keys come with the nearest valid key.
"""

from __future__ import annotations

import copy
import difflib
from pathlib import Path
from typing import Any, get_args

import yaml
from pydantic import BaseModel, ValidationError

from harness.config import ExperimentConfig
from harness.config_checks import CheckFailed, run_study_checks
from harness.errors import ConfigError

EXTENDS_KEY = "extends"
Origins = dict[tuple[str, ...], str]  # dotted key path -> where its value came from


def load(path: str | Path | None, overrides: list[str] | None = None) -> ExperimentConfig:
    """Resolve schema defaults <- YAML chain <- overrides into a validated config."""
    raw: dict[str, Any] = {}
    origins: Origins = {}
    if path is not None:
        raw = _load_chain(Path(path), origins, seen=())
        raw.setdefault("name", Path(path).stem)
    for item in overrides or []:
        key_path, value = parse_override(item)
        _set_path(raw, key_path, value, origins, f"override '{item}'")
    return validate(raw, origins, default_source=str(path) if path else "config", study=True)


def load_dict(raw: dict[str, Any], source: str = "config") -> ExperimentConfig:
    """Validate an already-merged dict (e.g. a sweep trial's config): the schema, not the study checks."""
    return validate(raw, {}, default_source=source)


def validate(raw: dict[str, Any], origins: Origins, default_source: str, study: bool = False) -> ExperimentConfig:
    """Build the config; on failure raise ConfigError naming the source and key path.

    study: also run the checks of the study the experiment defines (config_checks.run_study_checks),
    as for an experiment a user loads; a derived config (a variant, a trial) is not a study.
    """
    try:
        cfg = ExperimentConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc, origins, default_source)) from None
    _validate_variants(cfg, raw, origins, default_source)
    if study:
        try:
            run_study_checks(cfg)
        except CheckFailed as failure:
            loc = tuple(str(p) for p in failure.loc)
            dotted = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in failure.loc).lstrip(".")
            raise ConfigError(f"{_source_of(loc, origins, default_source)}: {dotted}: {failure.message}") from None
    return cfg


def sweep_trial_config(base: dict[str, Any], variant: str, seed: int) -> ExperimentConfig:
    """The resolved config of one sweep trial: the variant's diff over the base, train.seed = seed."""
    raw = apply_diff(base, base["sweep"]["variants"][variant])
    raw.setdefault("train", {})["seed"] = int(seed)
    return load_dict(raw, source=f"sweep variant {variant!r}")


def apply_diff(base: dict[str, Any], diff: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge ``diff`` into a copy of ``base`` (dicts merge, everything else replaces)."""
    out = copy.deepcopy(base)
    _deep_merge(out, diff, {}, (), "")
    return out


def parse_override(item: str) -> tuple[tuple[str, ...], Any]:
    """``a.b.c=value`` -> (("a", "b", "c"), yaml-parsed value)."""
    shown = item.encode("utf-8", "backslashreplace").decode("ascii", "backslashreplace")  # argv may hold undecodable bytes
    try:
        item.encode("utf-8")
    except UnicodeEncodeError:
        raise ConfigError(f"override '{shown}': not UTF-8 text") from None
    key, sep, text = item.partition("=")
    if not sep or not key.strip() or any(not part for part in key.strip().split(".")):
        raise ConfigError(f"override '{item}': expected KEY.PATH=VALUE, e.g. train.lr=0.5")
    try:
        value = yaml.load(text, Loader=_UniqueKeyLoader) if text.strip() else None  # noqa: S506  a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ConfigError(f"override '{shown}': value is not valid YAML ({_yaml_problem(exc)})") from None
    return tuple(key.strip().split(".")), value


# --------------------------------------------------------------------------- internals


def _load_chain(path: Path, origins: Origins, seen: tuple[Path, ...]) -> dict[str, Any]:
    """Read ``path`` and, first, the file it ``extends`` (relative to it)."""
    resolved = path.resolve()
    if resolved in seen:
        raise ConfigError(f"{path}: '{EXTENDS_KEY}' cycle through {' -> '.join(map(str, seen + (resolved,)))}")
    data = _read_yaml(path)
    base_ref = data.pop(EXTENDS_KEY, None)
    merged: dict[str, Any] = {}
    if base_ref is not None:
        if not isinstance(base_ref, str):
            raise ConfigError(f"{path}: {EXTENDS_KEY}: expected a file name, got {base_ref!r}")
        base_path = path.parent / base_ref
        if not base_path.is_file():
            raise ConfigError(f"{path}: {EXTENDS_KEY}: {base_ref}: no such config file ({base_path})")
        merged = _load_chain(base_path, origins, seen + (resolved,))
        merged.pop("name", None)  # the name always comes from the leaf file
        merged.pop("description", None)
    _deep_merge(merged, data, origins, (), str(path))
    return merged


class _UniqueKeyLoader(yaml.SafeLoader):
    """yaml.safe_load, except that a key given twice in one mapping is an error, not "last wins"."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """One line for a YAML error: what and where (ReaderError, e.g. a control byte, has no `problem`)."""
    mark = getattr(exc, "problem_mark", None)
    where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
    return f"{getattr(exc, 'problem', None) or str(exc).splitlines()[0]}{where}"


def _read_yaml(path: Path) -> dict[str, Any]:
    if path.is_dir():
        raise ConfigError(f"{path}: is a folder, not a config file (e.g. experiments/smoke.yaml)")
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file")
    try:
        data = yaml.load(path.read_bytes().decode("utf-8"), Loader=_UniqueKeyLoader)  # noqa: S506  a SafeLoader subclass
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {_yaml_problem(exc)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections, got {type(data).__name__}")
    return data


def _deep_merge(dst: dict, src: dict, origins: Origins, prefix: tuple[str, ...], source: str) -> None:
    for key, value in src.items():
        here = prefix + (str(key),)
        if isinstance(value, dict) and isinstance(dst.get(key), dict):
            _deep_merge(dst[key], value, origins, here, source)
        else:
            dst[key] = copy.deepcopy(value)
            origins[here] = source


def _set_path(raw: dict, key_path: tuple[str, ...], value: Any, origins: Origins, source: str) -> None:
    node = raw
    for i, part in enumerate(key_path[:-1]):
        nxt = node.get(part)
        if nxt is None:
            nxt = node[part] = {}
        elif not isinstance(nxt, dict):
            where = ".".join(key_path[: i + 1])
            raise ConfigError(f"{source}: {where}: is a value, not a section; cannot set {'.'.join(key_path)}")
        node = nxt
    node[key_path[-1]] = value
    origins[key_path] = source


def _source_of(loc: tuple[str, ...], origins: Origins, default: str) -> str:
    for n in range(len(loc), 0, -1):  # the key itself or the nearest section that set it
        if loc[:n] in origins:
            return origins[loc[:n]]
    below = [src for key, src in origins.items() if key[: len(loc)] == loc]
    return below[-1] if below else default  # an unknown section: whoever wrote into it


def _format_errors(exc: ValidationError, origins: Origins, default_source: str) -> str:
    lines = []
    for err in exc.errors():
        loc = tuple(str(p) for p in err["loc"])
        dotted = ".".join(loc) or "<root>"
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "unknown key" + _suggestion(loc)
        lines.append(f"{_source_of(loc, origins, default_source)}: {dotted}: {message}")
    return "\n".join(lines)


def _suggestion(loc: tuple[str, ...]) -> str:
    """' (did you mean model.apdh?)' from the valid keys at that level of the schema."""
    model: type[BaseModel] | None = ExperimentConfig
    for part in loc[:-1]:
        field = model.model_fields.get(part) if model else None
        if field is not None:
            model = _submodel(field.annotation)
        # else: a list index or dict key: the item model stays the same
    if model is None:
        return ""
    close = difflib.get_close_matches(loc[-1], list(model.model_fields), n=1, cutoff=0.5)
    return f" (did you mean {'.'.join(loc[:-1] + (close[0],))}?)" if close else ""


def _submodel(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside an annotation such as ``list[ApdhPhase]`` or ``X | None``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _submodel(arg)
        if found is not None:
            return found
    return None


def _validate_variants(cfg: ExperimentConfig, raw: dict, origins: Origins, default_source: str) -> None:
    """Each sweep variant is a config diff: it must give a valid config too."""
    base = {k: v for k, v in raw.items() if k != "sweep"}
    for name, diff in cfg.sweep.variants.items():
        prefix = ("sweep", "variants", name)
        try:
            ExperimentConfig.model_validate(apply_diff(base, diff))
        except ValidationError as exc:
            sub = {prefix + k: v for k, v in origins.items()}
            msg = _format_errors(exc, sub, _source_of(prefix, origins, default_source))
            raise ConfigError("\n".join(_prefix_line(line, prefix) for line in msg.splitlines())) from None


def _prefix_line(line: str, prefix: tuple[str, ...]) -> str:
    source, _, rest = line.partition(": ")
    return f"{source}: {'.'.join(prefix)}.{rest}"
