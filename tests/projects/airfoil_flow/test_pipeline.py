"""`dvc repro` of the whole airfoil_flow pipeline on tiny params, in a temporary copy of the repo."""

import json

import pytest


@pytest.mark.slow
def test_dvc_repro_on_tiny_params(repo_copy, tiny_overrides):
    repo_copy.set_params("airfoil_flow", tiny_overrides)
    repo_copy.dvc("repro", "projects/airfoil_flow/dvc.yaml")
    results = repo_copy.root / "projects" / "airfoil_flow" / "results"
    metrics = json.loads((results / "metrics.json").read_text())
    assert "random_cl_abs_circulation" in metrics["targets"]
    assert (results / "report.html").stat().st_size > 10_000
    readme = (repo_copy.root / "projects" / "airfoil_flow" / "README.md").read_text()
    assert "random_cl_abs_circulation" in readme
    status = repo_copy.dvc("status", "projects/airfoil_flow/dvc.yaml")
    assert "up to date" in status.stdout, status.stdout
    shown = repo_copy.dvc("metrics", "show")
    assert "random_cl_abs_circulation" in shown.stdout, shown.stdout
