"""The layout of `apps/`, checked from the source with `ast` (no import is executed, no database).

Rules (issue 11, shared/DESIGN.md):
- cycles: no import cycle between modules of `apps/`, counting imports inside functions
  (they only postpone a cycle, they do not remove it); imports under `if TYPE_CHECKING:` are not
  executed and do not count.
- pure: the engine (`apps/analysis/eis/`), the instrument parsers (`apps/measurements/parsers/`)
  and the benchmark statistics (`apps/benchmarks/statistics.py`) import nothing from Django, DRF or
  Celery, nor any `apps.` module outside themselves.
- direction: accounts <- catalog <- measurements <- analysis <- benchmarks; the domain of an app
  (models, services, selectors, tasks, signals, pure packages, anything not listed below) never
  imports an app above it. The presentation edge (`EDGE_PARTS`: views, API, serializers, forms,
  filters, plots and page figures, admin, urls, the demo and management commands) composes pages
  and endpoints from several apps and may read from higher ones; it still may not close a cycle.
  `apps.jobs` and `apps.common` are shared below everything: they import no other project app,
  edge or not. Every app must be placed in this order (a new app is a decision to make here).

Each violation is one readable line; `KNOWN_VIOLATIONS` lists those the current branch is known to
have, so that the test fails on any *new* one.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
APPS = ROOT / "apps"

#: Lower apps first; an app may import only apps before it in this list.
APP_ORDER = ("accounts", "catalog", "measurements", "analysis", "benchmarks", "releases")
#: Shared apps that import no other project app (and may be imported by any).
SHARED_APPS = ("common", "jobs")
#: Module prefixes that must stay free of the web stack and of the rest of the project.
PURE_PREFIXES = ("apps.analysis.eis", "apps.measurements.parsers", "apps.benchmarks.statistics", "apps.releases.archive",
                 "apps.releases.identifiers", "apps.common.formatting", "apps.common.flags")
FRAMEWORKS = ("django", "rest_framework", "celery")
#: Module names (right below the app) that form the presentation edge of an app.
EDGE_PARTS = frozenset({"views", "api", "serializers", "forms", "filters", "plots", "figures", "comparison", "admin",
                        "urls", "demo", "management"})

#: Violations present when this test was written. Each line is exactly as `layout_violations()`
#: reports it; `test_known_violations_are_still_real` fails once one is fixed, so the list only
#: shrinks. Do not add to it: fix the import instead.
KNOWN_VIOLATIONS: frozenset[str] = frozenset({
})


@dataclass(frozen=True)
class Import:
    source: str  # importing module, dotted
    target: str  # imported module or package, dotted (project modules resolved to a file)
    line: int


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> dict[str, Path]:
    return {
        module_name(p): p for p in sorted(APPS.rglob("*.py"))
        if "migrations" not in p.relative_to(APPS).parts
    }


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    """ids of the nodes under `if TYPE_CHECKING:` (never executed at run time)."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If):
            test = node.test
            name = test.id if isinstance(test, ast.Name) else test.attr if isinstance(test, ast.Attribute) else None
            if name == "TYPE_CHECKING":
                for child in node.body:
                    skipped.update(id(n) for n in ast.walk(child))
    return skipped


def _resolve(module: str, name: str | None, modules: dict[str, Path]) -> str:
    """`from module import name`: the submodule when `name` is one, else the module itself."""
    if name and f"{module}.{name}" in modules:
        return f"{module}.{name}"
    return module


def imports_of(module: str, path: Path, modules: dict[str, Path]) -> list[Import]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    skipped = _type_checking_nodes(tree)
    is_package = path.name == "__init__.py"
    found: list[Import] = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.extend(Import(module, alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.extend(Import(module, _resolve(target, alias.name, modules), node.lineno) for alias in node.names)
    return found


_GRAPHS: dict[Path, tuple[dict[str, set[str]], list[Import]]] = {}


def import_graph() -> tuple[dict[str, set[str]], list[Import]]:
    """Edges between project modules, and every import statement (one parse per tree and session)."""
    if ROOT not in _GRAPHS:
        _GRAPHS[ROOT] = _build_graph()
    return _GRAPHS[ROOT]


def _build_graph() -> tuple[dict[str, set[str]], list[Import]]:
    modules = project_modules()
    edges: dict[str, set[str]] = {m: set() for m in modules}
    every: list[Import] = []
    for module, path in modules.items():
        for imp in imports_of(module, path, modules):
            every.append(imp)
            if imp.target in modules and imp.target != module:
                edges[module].add(imp.target)
    return edges, every


def strongly_connected(edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative; components of more than one module, each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
    return sorted(components)


def example_cycle(component: list[str], edges: dict[str, set[str]]) -> list[str]:
    """One closed path through the component's first module (breadth-first, so a shortest one)."""
    members = set(component)
    start = component[0]
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in sorted(edges[node] & members):
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [start] + path[::-1][1:] + [start] if len(path) > 1 else [start, node, start]
                if child not in previous:
                    previous[child] = node
                    following.append(child)
        frontier = following
    return component


def app_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "apps" and len(parts) > 1 else None


def _is_edge(module: str) -> bool:
    parts = module.split(".")
    return len(parts) > 2 and parts[2] in EDGE_PARTS


def _is_pure(module: str) -> str | None:
    return next((p for p in PURE_PREFIXES if module == p or module.startswith(p + ".")), None)


def layout_violations() -> list[str]:
    edges, every = import_graph()
    found: set[str] = set()
    for component in strongly_connected(edges):
        found.add("cycle among " + ", ".join(component))
    for imp in every:
        pure = _is_pure(imp.source)
        top = imp.target.split(".")[0]
        if pure and (top in FRAMEWORKS or (top == "apps" and not (imp.target == pure
                                                                   or imp.target.startswith(pure + ".")))):
            found.add(f"pure: {imp.source} imports {imp.target}")
        source_app, target_app = app_of(imp.source), app_of(imp.target)
        if source_app is None or target_app is None or source_app == target_app:
            continue
        if source_app in SHARED_APPS:
            found.add(f"direction: {imp.source} imports {imp.target} ({source_app} imports no project app)")
        elif target_app in SHARED_APPS:
            continue
        elif source_app not in APP_ORDER or target_app not in APP_ORDER:
            unplaced = source_app if source_app not in APP_ORDER else target_app
            found.add(f"direction: app {unplaced!r} is not placed in APP_ORDER or SHARED_APPS")
        elif APP_ORDER.index(target_app) > APP_ORDER.index(source_app) and not _is_edge(imp.source):
            found.add(f"direction: {imp.source} imports {imp.target} ({source_app} is below {target_app})")
    return sorted(found)


def _explain(violations: list[str]) -> str:
    edges, every = import_graph()
    lines = []
    for violation in violations:
        lines.append(f"  - {violation}")
        if violation.startswith("cycle among "):
            component = violation.removeprefix("cycle among ").split(", ")
            lines.append("      e.g. " + " -> ".join(example_cycle(component, edges)))
        else:
            words = violation.split()
            if len(words) >= 4 and words[2] == "imports":
                at = sorted({i.line for i in every if i.source == words[1] and i.target == words[3]})
                lines.append(f"      at {words[1].replace('.', '/')}.py line(s) {', '.join(map(str, at))}")
    return "\n".join(lines)


def test_graph_sees_the_project():
    edges, _ = import_graph()
    assert "apps.benchmarks.metrics" in edges
    assert "apps.benchmarks.statistics" in edges["apps.benchmarks.metrics"]


def test_no_new_layout_violation():
    new = [v for v in layout_violations() if v not in KNOWN_VIOLATIONS]
    assert not new, "layout violations (see tests/test_layout.py for the rules):\n" + _explain(new)


def test_known_violations_are_still_real():
    current = set(layout_violations())
    stale = sorted(KNOWN_VIOLATIONS - current)
    assert not stale, "fixed; remove from KNOWN_VIOLATIONS in tests/test_layout.py:\n" + "\n".join(
        f"  - {v}" for v in stale)


# --- the checker itself, on a throwaway tree ---------------------------------------------------


@pytest.fixture
def fake_apps(tmp_path, monkeypatch):
    def write(files: dict[str, str]) -> None:
        for name, text in files.items():
            path = tmp_path / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        monkeypatch.setitem(globals(), "ROOT", tmp_path)
        monkeypatch.setitem(globals(), "APPS", tmp_path / "apps")

    return write


def test_function_level_cycle_is_found_and_named(fake_apps):
    fake_apps({
        "apps/__init__.py": "",
        "apps/analysis/__init__.py": "",
        "apps/analysis/services.py": "def run():\n    from apps.benchmarks.services import go\n",
        "apps/benchmarks/__init__.py": "",
        "apps/benchmarks/services.py": "from apps.analysis import services\n",
    })
    assert "cycle among apps.analysis.services, apps.benchmarks.services" in layout_violations()
    edges, _ = import_graph()
    assert example_cycle(["apps.analysis.services", "apps.benchmarks.services"], edges) == [
        "apps.analysis.services", "apps.benchmarks.services", "apps.analysis.services"]


def test_page_of_a_lower_app_may_read_a_higher_one(fake_apps):
    fake_apps({
        "apps/__init__.py": "",
        "apps/catalog/__init__.py": "",
        "apps/catalog/views/__init__.py": "",
        "apps/catalog/views/home.py": "from apps.benchmarks.selectors import leaderboard\n",
        "apps/benchmarks/__init__.py": "",
        "apps/benchmarks/selectors.py": "",
    })
    assert layout_violations() == []


def test_type_checking_imports_do_not_count(fake_apps):
    fake_apps({
        "apps/__init__.py": "",
        "apps/catalog/__init__.py": "",
        "apps/catalog/models.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                                  "    from apps.benchmarks.models import Entry\n",
        "apps/benchmarks/__init__.py": "",
        "apps/benchmarks/models.py": "from apps.catalog.models import Cell\n",
    })
    assert layout_violations() == []


@pytest.mark.parametrize("files, expected", [
    ({"apps/catalog/selectors.py": "from apps.benchmarks.selectors import leaderboard\n"},
     "direction: apps.catalog.selectors imports apps.benchmarks.selectors (catalog is below benchmarks)"),
    ({"apps/common/views.py": "from apps.catalog import models\n"},
     "direction: apps.common.views imports apps.catalog.models (common imports no project app)"),
    ({"apps/jobs/services.py": "from apps.analysis import services\n"},
     "direction: apps.jobs.services imports apps.analysis.services (jobs imports no project app)"),
    ({"apps/analysis/eis/fit.py": "from django.db import models\n"},
     "pure: apps.analysis.eis.fit imports django.db"),
    ({"apps/measurements/parsers/core.py": "from ...catalog import models\n"},
     "pure: apps.measurements.parsers.core imports apps.catalog.models"),
    ({"apps/robots/views.py": "from apps.catalog import models\n"},
     "direction: app 'robots' is not placed in APP_ORDER or SHARED_APPS"),
])
def test_each_rule_reports_a_readable_line(fake_apps, files, expected):
    base = {
        "apps/__init__.py": "", "apps/catalog/__init__.py": "", "apps/catalog/models.py": "",
        "apps/benchmarks/__init__.py": "", "apps/benchmarks/selectors.py": "",
        "apps/analysis/__init__.py": "", "apps/analysis/services.py": "", "apps/analysis/eis/__init__.py": "",
        "apps/measurements/__init__.py": "", "apps/measurements/parsers/__init__.py": "",
    }
    fake_apps({**base, **files})
    assert layout_violations() == [expected]
