"""README's "API in five minutes" runs as written: every example, against a live server with the demo loaded.

The ```bash and ```python blocks between the section's heading and the next ``## `` heading are extracted
and run in order, as a reader would: curl commands through bash (exported variables carry over to the
next command), Python blocks as scripts with the client package. The base URL and the instrument-files
folder are swapped for the live server's and the shared folder; each output is compared with the comment
under its command: a JSON comment by the keys and values it states (``…`` stands for any value, a string
with ``…`` in it is a pattern, ``…]`` allows further items), a Python block's ``# Output:`` line by line.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.management import call_command

from tests.conftest import INSTRUMENT_FILES

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
SECTION = "## API in five minutes"
README_URL = "http://127.0.0.1:8000"
README_FILES = "../shared/data/instrument-files/"
ANY = "…"
MORE_ITEMS = "\u2026more items\u2026"
FLOAT_REL_TOLERANCE = 1e-6


@dataclass
class Example:
    language: str  # "bash" | "python"
    code: str
    expected: str  # the comment that states the output; "" when none is stated


def section_text(readme: str) -> str:
    start = readme.index(f"\n{SECTION}\n")
    end = readme.find("\n## ", start + 1)
    return readme[start : end if end != -1 else len(readme)]


def _bash_examples(block: str) -> list[Example]:
    """One example per command (backslash-continued lines joined), with the ``# `` comment lines under it."""
    examples: list[Example] = []
    command: list[str] = []
    comment: list[str] = []

    def close() -> None:
        if command:
            examples.append(Example("bash", "\n".join(command), "\n".join(comment)))
        command.clear()
        comment.clear()

    continued = False
    for line in block.splitlines():
        stripped = line.strip()
        if continued:
            command.append(line)
        elif stripped.startswith("#"):
            comment.append(stripped[1:].strip())
        elif stripped:
            close()
            command.append(line)
        continued = bool(command) and not comment and line.rstrip().endswith("\\")
    close()
    return examples


def _python_example(block: str) -> Example:
    code, _, output = block.partition("# Output:\n")
    expected = "\n".join(line.strip()[1:].strip() for line in output.splitlines() if line.strip())
    return Example("python", code, expected)


def readme_examples(readme: str) -> list[Example]:
    examples: list[Example] = []
    for language, block in re.findall(r"```(bash|python)\n(.*?)```", section_text(readme), flags=re.S):
        examples.extend(_bash_examples(block) if language == "bash" else [_python_example(block)])
    return examples


# ----------------------------------------------------------------------------- comparing outputs with comments


def parse_stated_json(text: str):
    """The JSON a comment states, with ``…`` made explicit: any value, more items, more keys."""
    text = re.sub(r"\{\s*…\s*\}", f'"{ANY}"', text)
    text = re.sub(r",\s*…\s*\]", f', "{MORE_ITEMS}"]', text)
    text = re.sub(r",\s*…\s*\}", "}", text)
    text = re.sub(r"(?<=[:\[])\s*…\s*(?=[,}\]])", f' "{ANY}"', text)
    return json.loads(text)


def matches(stated, actual, where: str = "$") -> list[str]:
    """Differences between what the README states and what the server answered (empty: they agree)."""
    if stated == ANY:
        return []
    if isinstance(stated, dict):
        if not isinstance(actual, dict):
            return [f"{where}: expected an object, got {actual!r}"]
        problems = [f"{where}.{key}: missing" for key in stated if key not in actual]
        for key in stated:
            if key in actual:
                problems += matches(stated[key], actual[key], f"{where}.{key}")
        return problems
    if isinstance(stated, list):
        if not isinstance(actual, list):
            return [f"{where}: expected a list, got {actual!r}"]
        more = bool(stated) and stated[-1] == MORE_ITEMS
        items = stated[:-1] if more else stated
        if len(actual) < len(items) or (not more and len(actual) != len(items)):
            return [f"{where}: {len(actual)} items, the README shows {len(items)}{' or more' if more else ''}"]
        return [p for i, item in enumerate(items) for p in matches(item, actual[i], f"{where}[{i}]")]
    if isinstance(stated, str) and ANY in stated:
        pattern = ".*".join(re.escape(part) for part in stated.split(ANY))
        ok = isinstance(actual, str) and re.fullmatch(pattern, actual, flags=re.S)
        return [] if ok else [f"{where}: {actual!r} does not read {stated!r}"]
    if isinstance(stated, float) and isinstance(actual, (int, float)) and not isinstance(actual, bool):
        ok = actual == pytest.approx(stated, rel=FLOAT_REL_TOLERANCE)
        return [] if ok else [f"{where}: {actual!r}, the README shows {stated!r}"]
    if stated != actual or type(stated) is not type(actual):
        return [f"{where}: {actual!r}, the README shows {stated!r}"]
    return []


def lines_match(stated: str, actual: str) -> list[str]:
    want, got = stated.splitlines(), actual.strip().splitlines()
    if len(want) != len(got):
        return [f"{len(got)} lines printed, the README shows {len(want)}:\n{actual}"]
    problems = []
    for number, (line, printed) in enumerate(zip(want, got), start=1):
        pattern = ".*".join(re.escape(part) for part in line.split(ANY))
        if not re.fullmatch(pattern, printed.strip()):
            problems.append(f"line {number}: {printed!r} does not read {line!r}")
    return problems


# ----------------------------------------------------------------------------- running them


class Runner:
    """Runs the examples in order like a reader's shell: exported variables carry over."""

    def __init__(self, base_url: str, workdir: Path) -> None:
        self.base_url = base_url
        self.workdir = workdir
        self.env = {key: value for key, value in os.environ.items() if not key.startswith(("ASSBDB", "TOKEN"))}
        self.env["PYTHONPATH"] = str(REPO / "client" / "src")

    def localise(self, text: str) -> str:
        return text.replace(README_URL, self.base_url).replace(README_FILES, f"{INSTRUMENT_FILES}/")

    def run(self, example: Example) -> str:
        code = self.localise(example.code)
        if example.language == "python":
            result = subprocess.run(
                [sys.executable, "-c", code], cwd=REPO, env=self.env, capture_output=True, text=True, timeout=120
            )
        else:
            env_file = self.workdir / "env"
            script = f"set -o pipefail\n{code}\nenv -0 > '{env_file}'\n"
            result = subprocess.run(
                ["bash", "-c", script], cwd=REPO, env=self.env, capture_output=True, text=True, timeout=120
            )
            if result.returncode == 0:
                entries = env_file.read_text().split("\0")
                self.env = dict(entry.split("=", 1) for entry in entries if "=" in entry)
        assert result.returncode == 0, f"{example.code}\nexited {result.returncode}:\n{result.stdout}\n{result.stderr}"
        return result.stdout


def check(example: Example, output: str, base_url: str) -> list[str]:
    stated = example.expected.replace(README_URL, base_url)
    if not stated:
        return []
    if example.language == "python":
        return lines_match(stated, output)
    try:
        answer = json.loads(output)
    except json.JSONDecodeError:
        return [f"not JSON: {output[:500]!r}"]
    return matches(parse_stated_json(stated), answer)


# ----------------------------------------------------------------------------- the tests


def test_the_section_has_examples_with_stated_outputs():
    examples = readme_examples(README.read_text(encoding="utf-8"))
    assert {e.language for e in examples} == {"bash", "python"}
    assert sum(1 for e in examples if e.expected) >= 6  # most commands state what they answer


@pytest.mark.parametrize(
    ("stated", "actual", "agrees"),
    [
        ('{"count": 1, "results": [{"id": 3, …}]}', {"count": 1, "results": [{"id": 3, "name": "x"}]}, True),
        ('{"count": 1, "results": [{"id": 3, …}]}', {"count": 1, "results": [{"id": 4, "name": "x"}]}, False),
        ('{"count": 1, "results": [{"id": 3, …}]}', {"count": 2, "results": [{"id": 3}, {"id": 5}]}, False),
        ('{"results": [{"id": 3}, …]}', {"results": [{"id": 3}, {"id": 5}]}, True),
        ('{"token": "…", "jobs": [{…}]}', {"token": "abc", "jobs": [{"id": 1}]}, True),
        ('{"id": …, "state": "succeeded"}', {"id": 9, "state": "failed"}, False),
        ('{"message": "raw file 18: …"}', {"message": "raw file 18: spectrum 96"}, True),
        ('{"message": "raw file 18: …"}', {"message": "raw file 19: spectrum 96"}, False),
        ('{"x": 25.0, "ok": true}', {"x": 25.0000000001, "ok": True}, True),
        ('{"x": 25.0}', {}, False),
    ],
)
def test_the_checker_compares_stated_keys_and_values(stated, actual, agrees):
    assert (matches(parse_stated_json(stated), actual) == []) is agrees


@pytest.mark.parametrize(
    ("printed", "agrees"),
    [("cell 2: Au|LATP|Au\nspectrum 99: 72 points\n", True), ("cell 3: Au|LATP|Au\nspectrum 99: 72 points", False),
     ("cell 2: Au|LATP|Au", False)],
)
def test_printed_lines_are_compared_line_by_line(printed, agrees):
    assert (lines_match("cell 2: Au|LATP|Au\nspectrum 99: … points", printed) == []) is agrees


def test_bash_commands_are_split_with_their_comments():
    block = "export A=$(echo 1 \\\n  | cat)\n\ncurl -s x \\\n     -F a=1\n# {\"a\": 1,\n#  \"b\": 2}\n"
    examples = _bash_examples(block)
    assert [(e.code.split()[0], e.expected) for e in examples] == [("export", ""), ("curl", '{"a": 1,\n"b": 2}')]


@pytest.fixture
def demo_server(live_server, django_db_reset_sequences, standard_protocols):
    """A live server over the demo as ``make run`` loads it (ids from 1, the shared instrument files attached)."""
    cache.clear()  # throttle counts and sign-in failures of earlier tests
    call_command("load_demo", "--analyse", "none", "--instrument-files", str(INSTRUMENT_FILES), verbosity=0)
    yield live_server.url
    cache.clear()


def test_every_example_of_api_in_five_minutes_runs_and_prints_what_the_readme_shows(demo_server, tmp_path):
    runner = Runner(demo_server, tmp_path)
    failures = []
    for example in readme_examples(README.read_text(encoding="utf-8")):
        output = runner.run(example)
        problems = check(example, output, demo_server)
        if problems:
            failures.append(f"{example.code}\n  " + "\n  ".join(problems))
    assert not failures, "README examples disagree with the server:\n\n" + "\n\n".join(failures)
