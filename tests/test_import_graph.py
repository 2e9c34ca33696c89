"""The import graph of harness/, metrics/ and reports/ (read from the source with `ast`, nothing
imported): no cycles, counting imports inside functions too, and reports/ stays off the
training and tuning code (it reads MLflow only)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO

PACKAGES = ("harness", "metrics", "reports")


def module_name(path: Path) -> str:
    """Dotted module name of a source file under REPO (a package's __init__.py is the package)."""
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_modules() -> dict[str, Path]:
    """{module name: file} of every .py file in PACKAGES."""
    return {module_name(p): p for pkg in PACKAGES for p in sorted((REPO / pkg).rglob("*.py"))}


def imported_names(path: Path, module: str, modules: dict[str, Path]) -> set[str]:
    """Every dotted name the file imports, at any depth (module level, functions, branches).

    `from a.b import c` is "a.b.c" when that is a module of ours, else "a.b" (c is a name in it);
    relative imports are resolved against the file's package. A submodule's parent packages
    are not counted (Python initialises them first, whoever imports the submodule)."""
    is_package = path.name == "__init__.py"
    package = module if is_package else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                names.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
    return names


def resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The most specific module of ours that `name` refers to (None for outside code)."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules:
            return candidate
    return None


def import_graph() -> dict[str, set[str]]:
    """{module: modules of ours it imports} (self-references dropped)."""
    modules = source_modules()
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        targets = {resolve(n, modules) for n in imported_names(path, module, modules)}
        graph[module] = {t for t in targets if t is not None and t != module}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as [a, b, ..., a], or None (iterative depth-first search, three colours)."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    for root in sorted(graph):
        if state.get(root):
            continue
        path, stack = [root], [iter(sorted(graph[root]))]
        state[root] = 1
        while stack:
            child = next(stack[-1], None)
            if child is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(child) == 1:
                return path[path.index(child):] + [child]
            elif not state.get(child):
                state[child] = 1
                path.append(child)
                stack.append(iter(sorted(graph.get(child, ()))))
    return None


def test_graph_reader_sees_every_kind_of_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The reader itself: function-level, relative and `from pkg import module` imports become
    edges, and the cycle finder reports a cycle made only of function-level imports."""
    pkg = tmp_path / "harness"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from harness import b\n")
    (pkg / "b.py").write_text("from .c import thing\n")
    (pkg / "c.py").write_text("import os\n\ndef g():\n    if True:\n        import harness.a\nthing = 1\n")
    monkeypatch.setattr(f"{__name__}.REPO", tmp_path)
    monkeypatch.setattr(f"{__name__}.PACKAGES", ("harness",))
    graph = import_graph()
    assert graph == {"harness": set(), "harness.a": {"harness.b"}, "harness.b": {"harness.c"},
                     "harness.c": {"harness.a"}}
    assert find_cycle(graph) == ["harness.a", "harness.b", "harness.c", "harness.a"]
    assert find_cycle({"x": {"y"}, "y": set()}) is None


def test_no_import_cycles() -> None:
    graph = import_graph()
    assert len(graph) > 100, "the source tree was not found"
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_reports_read_no_training_or_tuning_code() -> None:
    """reports/ draws from MLflow only: no reports module imports harness.train or harness.tune."""
    graph = import_graph()
    bad = []
    for module in sorted(m for m in graph if m.split(".")[0] == "reports"):
        for target in sorted(graph[module]):
            if target.startswith(("harness.train", "harness.tune")):
                bad.append(f"{module} -> {target}")
    assert not bad, "reports import training/tuning code: " + "; ".join(bad)


def test_sweep_and_tune_share_the_runtime_not_each_other() -> None:
    """harness.runtime stands below sweep and tune, and tune imports nothing from sweep."""
    graph = import_graph()
    runtime_up = [f"{m} -> {t}" for m in sorted(graph) if m.startswith("harness.runtime")
                  for t in sorted(graph[m]) if t.startswith(("harness.sweep", "harness.tune", "harness.commands"))]
    assert not runtime_up, "the runtime imports its users: " + "; ".join(runtime_up)
    tune_to_sweep = {(m, t) for m in graph if m.startswith("harness.tune")
                     for t in graph[m] if t.startswith("harness.sweep")}
    assert not tune_to_sweep, f"tune imports sweep: {sorted(tune_to_sweep)}"
