"""Where analysis code lives: analysis never imports benchmarks, no app imports another's tasks, and the
modules of apps/analysis and apps/jobs import each other without a circle and stay readable in size."""
import ast
from pathlib import Path

import pytest

APPS = Path(__file__).resolve().parents[2] / "apps"
MAX_MODULE_LINES = 600


def _module_name(path: Path) -> str:
    parts = path.relative_to(APPS.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, *, top_level_only: bool) -> set[str]:
    """Absolute names of the modules ``path`` imports (relative imports resolved)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    names = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def _sources(*apps: str) -> list[Path]:
    return sorted(p for app in apps for p in (APPS / app).rglob("*.py") if "migrations" not in p.parts)


def test_analysis_imports_nothing_of_benchmarks():
    offenders = [
        f"{p.relative_to(APPS)}: {name}" for p in _sources("analysis")
        for name in _imports(p, top_level_only=False) if name.startswith("apps.benchmarks")
    ]
    assert not offenders, offenders


def test_no_app_imports_the_tasks_of_another():
    offenders = []
    for path in _sources(*[d.name for d in APPS.iterdir() if d.is_dir() and (d / "__init__.py").exists()]):
        own = path.relative_to(APPS).parts[0]
        for name in _imports(path, top_level_only=False):
            if name.startswith("apps.") and ".tasks" in name and name.split(".")[1] != own:
                offenders.append(f"{path.relative_to(APPS)}: {name}")
    assert not offenders, offenders


def test_modules_of_analysis_and_jobs_import_each_other_without_a_circle():
    modules = {_module_name(p): p for p in _sources("analysis", "jobs")}
    graph = {
        name: {m for m in _imports(path, top_level_only=True) if m in modules and m != name}
        for name, path in modules.items()
    }
    done, on_path = set(), []

    def visit(name):
        if name in on_path:
            raise AssertionError(" -> ".join(on_path[on_path.index(name):] + [name]))
        if name in done:
            return
        on_path.append(name)
        for dependency in sorted(graph[name]):
            visit(dependency)
        on_path.pop()
        done.add(name)

    for name in sorted(graph):
        visit(name)


@pytest.mark.parametrize("app", ["analysis", "jobs"])
def test_no_module_is_over_the_size_a_reader_can_hold(app):
    too_long = {
        str(p.relative_to(APPS)): n for p in _sources(app)
        if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert not too_long, too_long
