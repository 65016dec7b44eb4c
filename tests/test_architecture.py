"""The layout's rules, checked on the source: no import circles, no private names across modules, small modules.

See docs/architecture.md for the boundaries these rules keep.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.helpers import ROOT

PACKAGES = ("rag", "bench", "eval")
MAX_LINES = 520  # "no module over ~500 lines" outside the answerer and the question analysis
LONG_ALLOWED = ("rag/answer/", "rag/query/")


def _modules() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


MODULES = _modules()


def _resolve(module: str, path: Path, node: ast.ImportFrom) -> str:
    """The absolute module an ImportFrom names (relative imports resolved against ``module``)."""
    if not node.level:
        return node.module or ""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(module: str, path: Path) -> list[tuple[str, str, int]]:
    """(imported module, imported name or "", line) for every import in the file, lazy ones included."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.extend((alias.name, "", node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, path, node)
            out.extend((target, alias.name, node.lineno) for alias in node.names)
    return out


def _edges() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for module, path in MODULES.items():
        for target, name, _ in _imports(module, path):
            full = f"{target}.{name}" if name else target
            if full in MODULES:  # "from rag.index import records": the submodule itself
                graph[module].add(full)
            elif target in MODULES and target != module:
                graph[module].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_the_checker_sees_a_circle_and_a_private_import(tmp_path):
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]
    source = tmp_path / "m.py"
    source.write_text("from rag.ingest.plan import _secret\nfrom . import sibling\n", encoding="utf-8")
    imports = _imports("rag.ingest.m", source)
    assert ("rag.ingest.plan", "_secret", 1) in imports and ("rag.ingest", "sibling", 2) in imports


def test_no_import_circles():
    assert _cycles(_edges()) == []


def test_no_module_imports_another_modules_private_names():
    offences = [
        f"{path.relative_to(ROOT)}:{line}: {target}.{name}"
        for module, path in MODULES.items()
        for target, name, line in _imports(module, path)
        if target != module
        and (target.split(".")[0] in PACKAGES or name.startswith("_"))
        and (name.startswith("_") and not name.startswith("__") or any(p.startswith("_") and not p.startswith("__") for p in target.split(".")))
    ]
    assert offences == []


@pytest.mark.parametrize("module", sorted(m for m, p in MODULES.items() if not any(str(p.relative_to(ROOT)).startswith(a) for a in LONG_ALLOWED)))
def test_modules_stay_small_and_say_what_they_do(module):
    path = MODULES[module]
    text = path.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= MAX_LINES, f"{path.relative_to(ROOT)} has {len(text.splitlines())} lines"
    if text.strip():
        assert ast.get_docstring(ast.parse(text)), f"{path.relative_to(ROOT)} has no module docstring"
