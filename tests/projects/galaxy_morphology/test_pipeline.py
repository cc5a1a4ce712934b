"""`dvc repro` of the whole galaxy_morphology pipeline on tiny params, in a temporary copy of the repo."""

import json

import pytest


@pytest.mark.slow
def test_dvc_repro_on_tiny_params(repo_copy, tiny_changes):
    repo_copy.set_params("galaxy_morphology", tiny_changes)
    repo_copy.dvc("repro", "projects/galaxy_morphology/dvc.yaml")
    results = repo_copy.root / "projects" / "galaxy_morphology" / "results"
    metrics = json.loads((results / "metrics.json").read_text())
    assert "test_accuracy" in metrics["targets"]
    assert (results / "report.html").stat().st_size > 50_000
    readme = (repo_copy.root / "projects" / "galaxy_morphology" / "README.md").read_text()
    assert "test_accuracy" in readme
    status = repo_copy.dvc("status", "projects/galaxy_morphology/dvc.yaml")
    assert "up to date" in status.stdout, status.stdout
    shown = repo_copy.dvc("metrics", "show")
    assert "test_accuracy" in shown.stdout, shown.stdout
