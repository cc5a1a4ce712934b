"""Results tables in the READMEs, generated from ``metrics.json`` (never typed by hand).

Each project package declares its title in its light ``__init__.py``::

    TITLE = "Physics-informed networks for ODEs"

and its ``results/metrics.json`` holds a ``headline`` block made by :func:`shared.metrics.headline`
(the model against its strongest baseline). ``refresh()`` rewrites the block between
``<!-- results:begin -->`` and ``<!-- results:end -->`` of ``projects/<name>/README.md`` (the
headline table first, then every metrics table) and the root README's ``<!-- projects:begin/end -->``
table: model, baseline, ratio and verdict side by side. The root DVC stage ``readme`` runs it
(``python -m shared.readme``), and so does ``capstone readme``.
"""

from __future__ import annotations

import importlib
import json
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
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
    if isinstance(value, (list, tuple)) and not any(isinstance(v, (Mapping, list, tuple)) for v in value):
        return ", ".join(fmt(v) for v in value)
    return str(value)


def is_records(value: Any) -> bool:
    """Whether ``value`` is a non-empty list of flat records (``[{column: value}, ...]``), a table of its own."""
    return isinstance(value, list) and bool(value) and all(isinstance(r, Mapping) for r in value)


def _columns(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """The non-nested keys of ``rows``, in order of first appearance."""
    columns: list[str] = []
    for row in rows:
        columns += [c for c in row if c not in columns and not isinstance(row[c], Mapping)]
    return columns


def render_records(records: Sequence[Mapping[str, Any]]) -> str:
    """``[{column: value}, ...]`` → a Markdown table, one row per record (columns in order of appearance)."""
    columns = _columns(records)
    lines = ["| " + " | ".join(cell(c) for c in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(fmt(r.get(c))) for c in columns) + " |" for r in records]
    return "\n".join(lines)


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
        columns = _columns(table.values())
        lines = ["| " + " | ".join(cell(c) for c in [row_header or " ", *columns]) + " |",
                 "|" + "---|" * (len(columns) + 1)]
        for name, row in table.items():
            lines.append("| " + " | ".join(cell(c) for c in [name, *(fmt(row.get(c)) for c in columns)]) + " |")
        return "\n".join(lines)
    lines = ["| | value |", "|---|---|"]
    lines += [f"| {cell(k)} | {cell(fmt(v))} |" for k, v in table.items() if not isinstance(v, Mapping)]
    return "\n".join(lines)


def _headline_rows(block: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [block, *(block.get("also") or ())]


def render_headline(block: Mapping[str, Any]) -> str:
    """The headline block (and its ``also`` entries) as a Markdown table: model against strongest baseline."""
    lines = ["| metric | data | model | value | strongest baseline | value | ratio | verdict | baseline chosen by |",
             "|---|---|---|---|---|---|---|---|---|"]
    for row in _headline_rows(block):
        unit = f" ({row['unit']})" if row.get("unit") and row["unit"] not in row["metric"] else ""
        lines.append("| " + " | ".join(cell(c) for c in (
            row["metric"] + unit, row["data"], row["model"], fmt(row["model_value"]), row["baseline"],
            fmt(row["baseline_value"]), fmt(row.get("ratio")), f"**{row['verdict']}**", row["baseline_rule"])) + " |")
    return "\n".join(lines)


def render_metrics(metrics: Mapping[str, Any]) -> str:
    parts = []
    if isinstance(metrics.get("headline"), Mapping):
        parts.append("**headline: model against its strongest baseline**\n\n" + render_headline(metrics["headline"]))
        metrics = {k: v for k, v in metrics.items() if k != "headline"}
    scalars = {k: v for k, v in metrics.items() if not isinstance(v, Mapping) and not is_records(v)}
    if scalars:
        parts.append(render_table(scalars))
    for name, table in metrics.items():
        if isinstance(table, Mapping) and table:
            parts.append(f"**{name.replace('_', ' ')}**\n\n{render_table(table)}")
        elif is_records(table):
            parts.append(f"**{name.replace('_', ' ')}**\n\n{render_records(table)}")
    return "\n\n".join(parts)


def replace_block(text: str, name: str, content: str) -> str:
    """``text`` with the ``name`` block between its BEGIN and END markers replaced by ``content``.

    Raises:
        ValueError: ``text`` has no such block.
    """
    begin, end = BEGIN.format(name=name), END.format(name=name)
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
    block = f"{begin}\n{content.strip()}\n{end}"
    if not pattern.search(text):
        raise ValueError(f"README has no {begin} … {end} block")
    return pattern.sub(lambda _: block, text)


def _metrics(project: str, root: Path) -> dict | None:
    path = root / "projects" / project / "results" / "metrics.json"
    return json.loads(path.read_text()) if path.exists() else None


def project_title(project: str) -> str:
    """``TITLE`` of the project's light ``__init__.py`` (the package name where it has none)."""
    module = importlib.import_module(f"projects.{project}")
    return getattr(module, "TITLE", project)


def headline_cells(metrics: Mapping[str, Any] | None) -> tuple[str, str, str, str, str]:
    """(metric and data, model = value, baseline = value, ratio, verdict) of a project's headline, for tables."""
    block = (metrics or {}).get("headline")
    if not isinstance(block, Mapping):
        return ("not run yet" if metrics is None else "no headline block in metrics.json", "–", "–", "–", "–")
    return (f"{block['metric']}, {block['data']}", f"{block['model']} = {fmt(block['model_value'])}",
            f"{block['baseline']} = {fmt(block['baseline_value'])}", fmt(block.get("ratio")), block["verdict"])


def render_project_table(root: Path | None = None) -> str:
    """The root README's table: one row a project, its headline model against its strongest baseline."""
    root = root or repo_root()
    lines = ["| project | what | headline metric, data | model | strongest baseline | ratio | verdict |",
             "|---|---|---|---|---|---|---|"]
    for name in project_names(root):
        what, model, baseline, ratio, verdict = headline_cells(_metrics(name, root))
        lines.append(f"| [`{name}`](projects/{name}/) | {cell(project_title(name))} | {cell(what)} | {cell(model)} | "
                     f"{cell(baseline)} | {cell(ratio)} | **{cell(verdict)}** |")
    return "\n".join(lines)


def render_profiles_table(root: Path | None = None) -> str:
    """The root README's list of real-data profiles: project, profile, what it is, the files it needs."""
    from shared.profiles import read_profiles

    root = root or repo_root()
    lines = ["| project | profile | data | files to put in place first |", "|---|---|---|---|"]
    for name in project_names(root):
        for profile in read_profiles(name, root).values():
            files = "<br>".join(f"`{r.path}`" + (f" ({r.source})" if r.source else "") for r in profile.requires)
            lines.append(f"| `{name}` | `{profile.name}` | {cell(profile.description)} | {cell(files) or 'none'} |")
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
    if BEGIN.format(name="profiles") in new:
        new = replace_block(new, "profiles", render_profiles_table(root))
    if new != text:
        write_text(readme, new)
        changed.append(readme)
    return changed


def main(argv: Iterable[str] | None = None) -> int:
    """``python -m shared.readme [PROJECT ...]``: regenerate the README results blocks (the root ``readme`` stage)."""
    import argparse

    from shared.log import setup_logging

    parser = argparse.ArgumentParser(description="Regenerate the README results blocks from metrics.json.")
    parser.add_argument("projects", nargs="*", help="projects to refresh (default: all)")
    args = parser.parse_args(list(argv) if argv is not None else None)
    setup_logging()
    for path in refresh(args.projects or None):
        logging.getLogger(__name__).info("updated %s", path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
