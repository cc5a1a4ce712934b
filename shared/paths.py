"""Where things live: the repository root and each project's data folders."""

from __future__ import annotations

import os
from pathlib import Path

_MARKERS = ("pyproject.toml", "dvc.yaml")


def repo_root(start: str | os.PathLike | None = None) -> Path:
    """Return the monorepo root: the nearest parent holding ``pyproject.toml`` and ``dvc.yaml``.

    ``CAPSTONE_ROOT`` overrides the search (used by tests that copy the repository).
    """
    env = os.environ.get("CAPSTONE_ROOT")
    if env:
        return Path(env).resolve()
    here = Path(start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if all((candidate / marker).exists() for marker in _MARKERS):
            return candidate
    # Fall back to the source checkout this package lives in.
    return Path(__file__).resolve().parents[1]


def project_names(root: str | os.PathLike | None = None) -> list[str]:
    """Projects are the packages under ``projects/`` that carry a ``dvc.yaml``."""
    base = repo_root(root) / "projects"
    return sorted(p.name for p in base.iterdir() if (p / "dvc.yaml").exists() and (p / "__init__.py").exists())


def data_dir(project: str, kind: str = "", root: str | os.PathLike | None = None) -> Path:
    """``data/<project>/<kind>``; kind is one of raw, external, prepared, model (or empty)."""
    path = repo_root(root) / "data" / project
    return path / kind if kind else path


def external_dir(project: str, root: str | os.PathLike | None = None) -> Path:
    """The folder where a user puts files they downloaded by hand."""
    return data_dir(project, "external", root)
