"""The registry of job kinds, and the rule that the jobs app imports no other app of the project."""
import ast
from pathlib import Path

import pytest

from apps.jobs import registry
from apps.jobs.models import Job

JOBS_APP = Path(__file__).resolve().parents[2] / "apps" / "jobs"


def test_register_job_kind_maps_a_kind_to_its_function(monkeypatch):
    monkeypatch.setattr(registry, "_KINDS", {})

    @registry.register_job_kind("some_kind", label="Some kind")
    def run(job):
        return registry.JobOutcome({"n": 1})

    entry = registry.job_kind("some_kind")
    assert (entry.kind, entry.label, entry.execute) == ("some_kind", "Some kind", run)
    assert set(registry.registered_kinds()) == {"some_kind"}


def test_a_kind_registered_twice_by_another_function_is_refused(monkeypatch):
    monkeypatch.setattr(registry, "_KINDS", {})
    registry.register_job_kind("some_kind", label="Some kind")(lambda job: None)

    def other(job):
        return None

    with pytest.raises(ValueError, match="some_kind.*already registered"):
        registry.register_job_kind("some_kind", label="Other")(other)


def test_an_unregistered_kind_is_a_job_error_naming_the_known_kinds(monkeypatch):
    monkeypatch.setattr(registry, "_KINDS", {"known": registry.JobKind("known", "Known", lambda job: None)})
    with pytest.raises(registry.JobError, match=r"'missing'.*registered: known"):
        registry.job_kind("missing")


def test_every_kind_of_the_job_table_is_registered_by_the_app_that_owns_it():
    kinds = registry.registered_kinds()
    assert set(kinds) == set(Job.Kind.values)
    owners = {kind: entry.execute.__module__ for kind, entry in kinds.items()}
    assert owners[Job.Kind.RECOMPUTE_BENCHMARKS] == "apps.benchmarks.jobs"
    assert owners[Job.Kind.PUBLISH_DEMO_RELEASE] == "apps.releases.jobs"
    others = set(Job.Kind.values) - {Job.Kind.RECOMPUTE_BENCHMARKS, Job.Kind.PUBLISH_DEMO_RELEASE}
    assert {owners[k] for k in others} == {"apps.analysis.jobs"}
    assert all(kinds[k].label == Job.Kind(k).label for k in kinds)


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_the_jobs_app_imports_no_other_app_of_the_project():
    files = sorted(JOBS_APP.rglob("*.py"))
    assert files, f"no modules found under {JOBS_APP}"
    offenders = {
        f"{path.relative_to(JOBS_APP)}: {name}"
        for path in files
        for name in _imported_modules(path)
        if (name == "apps" or name.startswith("apps.")) and not name.startswith("apps.jobs")
    }
    assert not offenders, f"apps/jobs imports other apps: {sorted(offenders)}"
