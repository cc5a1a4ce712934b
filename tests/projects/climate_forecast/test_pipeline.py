"""`dvc repro` of the whole climate_forecast pipeline on tiny params, in a temporary copy of the repo."""

import json

import pytest

from .conftest import TINY


@pytest.mark.slow
def test_dvc_repro_on_tiny_params(repo_copy):
    repo_copy.set_params("climate_forecast", {
        **TINY, "backtest": {**TINY.get("backtest", {}),
                             "models": ["persistence", "trend", "trend_residual", "ets", "gru"]}})
    repo_copy.dvc("repro", "projects/climate_forecast/dvc.yaml")
    results = repo_copy.root / "projects" / "climate_forecast" / "results"
    metrics = json.loads((results / "metrics.json").read_text())
    assert "network_mae_h1" in metrics["targets"]
    assert (results / "report.html").stat().st_size > 10_000
    readme = (repo_copy.root / "projects" / "climate_forecast" / "README.md").read_text()
    assert "network_mae_h1" in readme
    status = repo_copy.dvc("status", "projects/climate_forecast/dvc.yaml")
    assert "up to date" in status.stdout, status.stdout
    shown = repo_copy.dvc("metrics", "show")
    assert "network_mae_h1" in shown.stdout, shown.stdout
