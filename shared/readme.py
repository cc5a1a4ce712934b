"""Results tables in the READMEs, generated from ``metrics.json`` (never typed by hand).

Each project package declares, in its light ``__init__.py``::

    TITLE = "Physics-informed networks for ODEs"
    HEADLINE = ("forward.damped_oscillator.rel_l2", "forward rel-L2, damped oscillator")

``refresh()`` rewrites the block between ``<!-- results:begin -->`` and
``<!-- results:end -->`` of ``projects/<name>/README.md`` and the row of the project in
the root README's ``<!-- projects:begin/end -->`` block.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from shared.io import write_text
from shared.paths import project_names, repo_root

BEGIN, END = "<!-- {name}:begin -->", "<!-- {name}:end -->"


def cell(text: Any) -> str:
    """Text safe inside a Markdown table cell (a literal ``|`` would start a new column)."""
    return str(text).replace("|", "\\|")


def fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value == 0:
            return "0"
        if abs(value) >= 1e4 or abs(value) < 1e-3:
            return f"{value:.2e}"
        return f"{value:.4g}"
    return str(value)


def lookup(metrics: Mapping[str, Any], dotted: str) -> Any:
    node: Any = metrics
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def render_table(table: Mapping[str, Any], row_header: str = "") -> str:
    """``{row: {col: value}}`` or ``{name: value}`` → a Markdown table."""
    if all(isinstance(v, Mapping) for v in table.values()):
        columns: list[str] = []
        for row in table.values():
            columns += [c for c in row if c not in columns and not isinstance(row[c], Mapping)]
        lines = ["| " + " | ".join(cell(c) for c in [row_header or " ", *columns]) + " |",
                 "|" + "---|" * (len(columns) + 1)]
        for name, row in table.items():
            lines.append("| " + " | ".join(cell(c) for c in [name, *(fmt(row.get(c)) for c in columns)]) + " |")
        return "\n".join(lines)
    lines = ["| | value |", "|---|---|"]
    lines += [f"| {cell(k)} | {cell(fmt(v))} |" for k, v in table.items() if not isinstance(v, Mapping)]
    return "\n".join(lines)


def render_metrics(metrics: Mapping[str, Any]) -> str:
    parts = []
    scalars = {k: v for k, v in metrics.items() if not isinstance(v, Mapping)}
    if scalars:
        parts.append(render_table(scalars))
    for name, table in metrics.items():
        if isinstance(table, Mapping) and table:
            parts.append(f"**{name.replace('_', ' ')}**\n\n{render_table(table)}")
    return "\n\n".join(parts)


def replace_block(text: str, name: str, content: str) -> str:
    begin, end = BEGIN.format(name=name), END.format(name=name)
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
    block = f"{begin}\n{content.strip()}\n{end}"
    if not pattern.search(text):
        raise ValueError(f"README has no {begin} … {end} block")
    return pattern.sub(lambda _: block, text)


def _metrics(project: str, root: Path) -> dict | None:
    path = root / "projects" / project / "results" / "metrics.json"
    return json.loads(path.read_text()) if path.exists() else None


def project_info(project: str) -> tuple[str, tuple[str, str] | None]:
    module = importlib.import_module(f"projects.{project}")
    return getattr(module, "TITLE", project), getattr(module, "HEADLINE", None)


def render_project_table(root: Path | None = None) -> str:
    root = root or repo_root()
    lines = ["| project | what | headline result |", "|---|---|---|"]
    for name in project_names(root):
        title, headline = project_info(name)
        metrics = _metrics(name, root)
        if metrics is None or headline is None:
            result = "not run yet"
        else:
            result = f"{headline[1]}: **{fmt(lookup(metrics, headline[0]))}**"
        lines.append(f"| [`{name}`](projects/{name}/) | {cell(title)} | {cell(result)} |")
    return "\n".join(lines)


def refresh(projects: Iterable[str] | None = None, root: Path | None = None) -> list[Path]:
    """Rewrite the generated blocks of the given projects' READMEs and of the root README."""
    root = root or repo_root()
    changed = []
    for name in projects or project_names(root):
        metrics = _metrics(name, root)
        readme = root / "projects" / name / "README.md"
        if metrics is not None and readme.exists():
            text = readme.read_text(encoding="utf-8")
            new = replace_block(text, "results", render_metrics(metrics))
            if new != text:
                write_text(readme, new)
                changed.append(readme)
    readme = root / "README.md"
    text = readme.read_text(encoding="utf-8")
    new = replace_block(text, "projects", render_project_table(root))
    if new != text:
        write_text(readme, new)
        changed.append(readme)
    return changed
