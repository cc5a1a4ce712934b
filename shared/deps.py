"""DVC ``deps`` against the in-repo import closure of each stage, so a change reruns exactly what it affects.

For every stage of the root ``dvc.yaml`` and of ``projects/*/dvc.yaml``, the modules its command runs
(``python -m projects.x.stage``, and ``.py`` files named on the command line, such as a report's notebook) are
parsed with :mod:`ast`; every ``import`` of ``shared.*`` or ``projects.*`` anywhere in them (lazy imports inside
functions too) is followed transitively. A stage whose ``deps`` miss a module of that closure, or a stage module
that imports another stage module, is reported::

    python -m shared.deps            # report; exit status 1 when something is missing
    python -m shared.deps --fix      # also add the missing modules to the deps (the dvc.yaml is rewritten)

Package ``__init__.py`` files are not required as deps (they hold titles only, by the house rules).
"""

from __future__ import annotations

import argparse
import ast
import re
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from shared.paths import repo_root

_ROOTS = ("shared", "projects")


@dataclass(frozen=True)
class StageReport:
    """What a stage's ``deps`` miss, and which stage modules it imports."""

    dvcfile: str
    stage: str
    missing: tuple[str, ...]
    imported_stages: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.missing and not self.imported_stages


def module_file(module: str, root: Path) -> Path | None:
    """``projects.x.y`` → ``projects/x/y.py`` (or the package's ``__init__.py``), None outside the repo."""
    if module.split(".")[0] not in _ROOTS:
        return None
    base = root.joinpath(*module.split("."))
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    return None


def _imports(path: Path, root: Path) -> set[Path]:
    """In-repo files imported by ``path`` (any ``import``/``from`` statement, at any depth)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[Path] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        for name in names:
            parts = name.split(".")
            for i in range(2, len(parts) + 1):  # the package path down to the module
                file = module_file(".".join(parts[:i]), root)
                if file is not None:
                    found.add(file)
    return found


@cache
def _closure_cached(start: Path, root: Path) -> frozenset[Path]:
    seen: set[Path] = set()
    todo = [start]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        todo.extend(_imports(path, root) - seen)
    return frozenset(seen)


def closure(files: Iterable[Path], root: Path | None = None) -> set[Path]:
    """Every in-repo module reachable by imports from ``files`` (themselves included)."""
    root = (root or repo_root()).resolve()
    out: set[Path] = set()
    for file in files:
        out |= _closure_cached(Path(file).resolve(), root)
    return out


def stage_entry_files(cmd: str, root: Path) -> tuple[list[Path], list[str]]:
    """The ``.py`` files a stage command runs: ``python -m MODULE`` modules and ``.py`` arguments.

    Returns (files, modules run with ``-m``).
    """
    files, modules = [], []
    for part in re.split(r"&&|;|\|\|", cmd):
        try:
            words = shlex.split(part)
        except ValueError:
            words = part.split()
        for i, word in enumerate(words):
            if word == "-m" and i + 1 < len(words):
                file = module_file(words[i + 1], root)
                if file is not None:
                    files.append(file)
                    modules.append(words[i + 1])
            elif word.endswith(".py") and (root / word).is_file():
                files.append(root / word)
    return files, modules


def _dvcfiles(root: Path) -> list[Path]:
    return [p for p in [root / "dvc.yaml", *sorted((root / "projects").glob("*/dvc.yaml"))] if p.is_file()]


def _load(path: Path) -> dict:
    import yaml

    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def _covered(rel: str, deps: Sequence[str]) -> bool:
    return any(rel == d or rel.startswith(d.rstrip("/") + "/") for d in deps)


def check(root: Path | None = None) -> list[StageReport]:
    """One :class:`StageReport` a stage, for every ``dvc.yaml`` of the repository."""
    root = (root or repo_root()).resolve()
    stage_modules: set[Path] = set()
    stages = []
    for dvcfile in _dvcfiles(root):
        for name, stage in (_load(dvcfile).get("stages") or {}).items():
            cmd = stage.get("cmd", "")
            cmd = " && ".join(cmd) if isinstance(cmd, list) else str(cmd)
            files, modules = stage_entry_files(cmd, root)
            stage_modules |= {module_file(m, root) for m in modules if not m.startswith("shared.")}
            deps = [str(d) for d in stage.get("deps") or []]
            stages.append((dvcfile, name, files, modules, deps))
    reports = []
    for dvcfile, name, files, modules, deps in stages:
        needed = closure(files, root)
        missing = sorted(str(p.relative_to(root)) for p in needed
                         if p.name != "__init__.py" and not _covered(str(p.relative_to(root)), deps))
        own = {module_file(m, root) for m in modules}
        imported = sorted(str(p.relative_to(root)) for p in (needed - own) & stage_modules)
        reports.append(StageReport(str(dvcfile.relative_to(root)), name, tuple(missing), tuple(imported)))
    return reports


def fix(root: Path | None = None) -> list[StageReport]:
    """Add every missing module to its stage's ``deps`` (round-trip YAML: comments and order are kept)."""
    from ruamel.yaml import YAML

    root = (root or repo_root()).resolve()
    reports = [r for r in check(root) if r.missing]
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    for dvcfile in {r.dvcfile for r in reports}:
        path = root / dvcfile
        doc = yaml.load(path.read_text(encoding="utf-8"))
        for report in (r for r in reports if r.dvcfile == dvcfile):
            deps = doc["stages"][report.stage].setdefault("deps", [])
            deps.extend(report.missing)
        with path.open("w", encoding="utf-8") as fh:
            yaml.dump(doc, fh)
    return reports


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Check DVC deps against each stage's in-repo import closure.")
    parser.add_argument("--fix", action="store_true", help="add the missing modules to the deps")
    args = parser.parse_args(argv)
    reports = fix() if args.fix else check()
    bad = [r for r in reports if not r.ok]
    for r in bad:
        if r.missing:
            print(f"{r.dvcfile}:{r.stage}: deps {'gained' if args.fix else 'miss'}: {', '.join(r.missing)}")
        if r.imported_stages:
            print(f"{r.dvcfile}:{r.stage}: imports other stage module(s): {', '.join(r.imported_stages)}")
    if not bad:
        print(f"all {len(reports)} stages list their import closure")
    return 1 if bad and not args.fix else 0


if __name__ == "__main__":
    raise SystemExit(main())
