"""Shared test fixtures. TensorFlow tests run in one process (no xdist): TF start-up dominates."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CAPSTONE_LOG_LEVEL", "WARNING")

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture
def tiny_params(tmp_path):
    """Write a params.yaml derived from a project's real one, with changes; returns its path."""
    import yaml

    def make(project: str, changes: dict) -> Path:
        params = yaml.safe_load((ROOT / "projects" / project / "params.yaml").read_text())

        def merge(base: dict, new: dict) -> dict:
            for key, value in new.items():
                if isinstance(value, dict) and isinstance(base.get(key), dict) and not value.get("__replace__"):
                    merge(base[key], value)
                else:
                    base[key] = {k: v for k, v in value.items() if k != "__replace__"} \
                        if isinstance(value, dict) else value
            return base

        path = tmp_path / "params.yaml"
        path.write_text(yaml.safe_dump(merge(params, changes), sort_keys=False))
        return path

    return make
