"""Which cell (and conditions) a file goes to: the nearest `assbdb.toml`, else the first matching mapping rule.

Mapping file (TOML)::

    [[rule]]
    glob = "LLZTO-*/*.DTA"         # matched against the path relative to the watched folder
    cell = 3
    conditions = { temperature_c = 25, stack_pressure_mpa = 10 }

Per-folder `assbdb.toml` (applies to the folder and its subfolders)::

    cell = 3
    visibility = "group"           # optional: group, visibility, embargo_until
    [conditions]
    temperature_c = 25

A glob without "/" is matched against the file name only; `*` also crosses folders.
"""
from __future__ import annotations

import fnmatch
import tomllib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

FOLDER_CONFIG = "assbdb.toml"
UPLOAD_OPTIONS = ("group", "visibility", "embargo_until")


class MappingError(ValueError):
    """A mapping or assbdb.toml file that cannot be used, naming the file and the problem."""


@dataclass(frozen=True)
class FileTarget:
    """Where one file goes: the cell, the conditions of its spectra, upload options, and which rule said so."""

    cell: int
    conditions: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    source: str = ""


def _target(table: dict[str, Any], where: str) -> FileTarget:
    cell = table.get("cell")
    if not isinstance(cell, int) or isinstance(cell, bool) or cell < 1:
        raise MappingError(f"{where}: `cell` must be a cell id (a positive whole number), got {cell!r}")
    conditions = table.get("conditions", {})
    if not isinstance(conditions, dict):
        raise MappingError(f"{where}: `conditions` must be a table, e.g. conditions = {{ temperature_c = 25 }}")
    options = {name: table[name] for name in UPLOAD_OPTIONS if name in table}
    return FileTarget(cell=cell, conditions=dict(conditions), options=options, source=where)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise MappingError(f"{path}: {error}") from error


@dataclass(frozen=True)
class Rule:
    glob: str
    target: FileTarget

    def matches(self, relative: PurePosixPath) -> bool:
        subject = relative.as_posix() if "/" in self.glob else relative.name
        return fnmatch.fnmatchcase(subject, self.glob)


@dataclass
class Mapping:
    """Resolves a file of the watched `root` to its `FileTarget`, or None when nothing names a cell for it."""

    root: Path
    rules: list[Rule] = field(default_factory=list)
    _folder_configs: dict[Path, FileTarget | None] = field(default_factory=dict, repr=False)

    def target_for(self, path: Path) -> FileTarget | None:
        folder = path.parent
        while True:
            config = self._folder_config(folder)
            if config is not None:
                return config
            if folder == self.root or self.root not in folder.parents:
                break
            folder = folder.parent
        relative = PurePosixPath(path.relative_to(self.root).as_posix())
        return next((rule.target for rule in self.rules if rule.matches(relative)), None)

    def _folder_config(self, folder: Path) -> FileTarget | None:
        config_path = folder / FOLDER_CONFIG
        if folder not in self._folder_configs:
            self._folder_configs[folder] = _target(_read_toml(config_path), str(config_path)) if config_path.is_file() else None
        return self._folder_configs[folder]

    def forget_folder_configs(self) -> None:
        """Re-read the assbdb.toml files on the next look-up (they may have been edited)."""
        self._folder_configs.clear()


def load_mapping(root: Path, mapping_file: Path | None = None) -> Mapping:
    """The mapping for `root`: rules from `mapping_file` (if any) plus the folders' assbdb.toml files."""
    rules: list[Rule] = []
    if mapping_file is not None:
        document = _read_toml(mapping_file)
        entries = document.get("rule", [])
        if not isinstance(entries, list) or not entries:
            raise MappingError(f"{mapping_file}: no [[rule]] tables (each with glob and cell)")
        for index, entry in enumerate(entries, start=1):
            where = f"{mapping_file}, rule {index}"
            glob = entry.get("glob")
            if not isinstance(glob, str) or not glob:
                raise MappingError(f"{where}: `glob` must be a pattern such as \"*.DTA\"")
            rules.append(Rule(glob=glob, target=_target(entry, where)))
    return Mapping(root=root, rules=rules)
