"""The ``report`` stage shared by every project: execute ``notebook.py``, export HTML.

``notebook.py`` is a jupytext percent-format script. Papermill executes it (parameters go
into the cell tagged ``parameters``) with the repository root as working directory, and
nbconvert exports the executed notebook to HTML without input cells::

    python -m shared.report --notebook projects/pinn_ode/notebook.py \
        --out projects/pinn_ode/results/report.html -p results_dir=projects/pinn_ode/results
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from shared.io import atomic_path, write_text
from shared.paths import repo_root
from shared.stage import run

log = logging.getLogger(__name__)


def _parse_value(text: str) -> Any:
    import yaml

    return yaml.safe_load(text)


def notebook_parameters(notebook: str | os.PathLike) -> set[str]:
    """Names assigned in the notebook's cell tagged ``parameters``."""
    import ast

    import jupytext

    nb = jupytext.read(notebook)
    names: set[str] = set()
    for cell in nb.cells:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            for node in ast.walk(ast.parse(cell.source)):
                if isinstance(node, ast.Assign):
                    names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
                elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                    names.add(node.target.id)
    return names


def check_parameters(notebook: str | os.PathLike, parameters: Mapping[str, Any], where: str) -> None:
    """Refuse parameters that the notebook's ``parameters`` cell does not define.

    Raises:
        ConfigError: a key of ``parameters`` is not assigned in that cell (``where`` names the source).
    """
    from shared.config import ConfigError

    known = notebook_parameters(notebook)
    unknown = sorted(set(parameters) - known)
    if unknown:
        raise ConfigError(f"unknown key(s) {', '.join(map(repr, unknown))} in {where}; the notebook's parameters "
                          f"cell defines: {', '.join(sorted(known)) or 'nothing'}")


def execute_notebook(notebook: str | os.PathLike, html: str | os.PathLike, *,
                     parameters: Mapping[str, Any] | None = None, cwd: str | os.PathLike | None = None,
                     ipynb: str | os.PathLike | None = None, timeout: int = 1800) -> Path:
    """Execute a jupytext notebook with papermill and write it as HTML (inputs hidden).

    Raises:
        FileNotFoundError: ``notebook`` is not a file.
        papermill.PapermillExecutionError: a cell raised (propagated from papermill; nothing is written).
    """
    import jupytext
    import nbformat
    import papermill as pm
    from nbconvert import HTMLExporter

    notebook, html = Path(notebook), Path(html)
    if not notebook.is_file():
        raise FileNotFoundError(f"notebook not found: {notebook}")
    cwd = Path(cwd) if cwd else repo_root()
    nb = jupytext.read(notebook)
    nb.metadata.setdefault("kernelspec", {"name": "python3", "display_name": "Python 3", "language": "python"})
    with tempfile.TemporaryDirectory(prefix="capstone-report-") as tmp:
        src, out = Path(tmp) / "in.ipynb", Path(tmp) / "out.ipynb"
        nbformat.write(nb, src)
        start = time.perf_counter()
        # TF_CPP_MIN_LOG_LEVEL=3 silences TensorFlow's C++ start-up lines (oneDNN, CUDA) in the kernel
        env = {"PYTHONPATH": str(repo_root()), "MPLBACKEND": "module://matplotlib_inline.backend_inline",
               "TF_CPP_MIN_LOG_LEVEL": "3", "ABSL_MIN_LOG_LEVEL": "3"}
        old = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            pm.execute_notebook(str(src), str(out), parameters=dict(parameters or {}), cwd=str(cwd),
                                kernel_name="python3", progress_bar=False, execution_timeout=timeout,
                                log_output=False)
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        log.info("executed %s in %.1f s", notebook, time.perf_counter() - start)
        executed = nbformat.read(out, as_version=4)
    drop_library_noise(executed)
    if ipynb is not None:
        with atomic_path(ipynb) as tmp_nb:
            nbformat.write(executed, tmp_nb)
    exporter = HTMLExporter(template_name="lab")
    exporter.exclude_input = True
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    body, _ = exporter.from_notebook_node(executed)
    write_text(html, body)
    return html


def drop_library_noise(nb) -> int:
    """Move stderr stream outputs (library start-up chatter, warnings) out of the report into the stage's log.

    Errors raised by a cell stay: papermill stops on them and the stage fails. Returns the number of outputs moved.
    """
    moved = 0
    for cell in nb.cells:
        outputs = cell.get("outputs")
        if not outputs:
            continue
        kept = []
        for output in outputs:
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                text = "".join(output.get("text", ""))
                log.info("notebook stderr (kept out of the report): %s", text.strip()[:2000])
                moved += 1
            else:
                kept.append(output)
        cell["outputs"] = kept
    return moved


def main(argv: Sequence[str] | None = None) -> int:
    """The report stage: execute ``--notebook`` with the ``report`` section of ``--params`` and ``-p`` values.

    Raises:
        ConfigError: ``--params`` is missing or not YAML, or a parameter is not in the notebook's parameters cell.
        FileNotFoundError: the notebook does not exist.
        SystemExit: a ``-p`` item is not KEY=VALUE (``argparse`` error, status 2).
    """
    import argparse

    parser = argparse.ArgumentParser(description="Execute a project notebook and export it to HTML.")
    parser.add_argument("--notebook", required=True, help="jupytext percent-format notebook (.py)")
    parser.add_argument("--out", required=True, help="HTML file to write")
    parser.add_argument("--ipynb", default=None, help="also keep the executed notebook here")
    parser.add_argument("--params", default=None, help="params.yaml whose 'report' section holds notebook parameters")
    parser.add_argument("-p", "--parameter", action="append", default=[], metavar="KEY=VALUE",
                        help="papermill parameter (YAML value), repeatable")
    args = parser.parse_args(argv)
    params = {}
    if args.params:
        from shared.config import read_yaml

        params.update(read_yaml(args.params).get("report") or {})
    for item in args.parameter:
        key, sep, value = item.partition("=")
        if not sep:
            parser.error(f"parameter must be KEY=VALUE, got {item!r}")
        params[key] = _parse_value(value)
    check_parameters(args.notebook, params, f"section 'report' of {args.params}" if args.params else "-p")
    execute_notebook(args.notebook, args.out, parameters=params, ipynb=args.ipynb)
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main))
