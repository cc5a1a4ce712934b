"""`dvc repro` of the whole climate_forecast pipeline on tiny params, in a temporary copy of the repo, and what each
stage wrote (the stages run once, through DVC, as a user runs them)."""

import pytest

from .conftest import TINY


@pytest.mark.slow
def test_dvc_repro_on_tiny_params(repo_copy):
    repo_copy.set_params("climate_forecast", TINY)
    metrics = repo_copy.check_pipeline("climate_forecast", "mae_1y")
    model = repo_copy.root / "data" / "climate_forecast" / "model"
    results = repo_copy.root / "projects" / "climate_forecast" / "results"
    assert sorted(p.name for p in model.iterdir()) == ["hybrid", "summary.json"]
    assert set(metrics["targets"]) == {"mae_1y", "ratio_to_baseline_3y", "coverage95_1y", "coverage95_3y",
                                       "backtest_time_s"}
    assert {"hybrid", "arima", "trend", "trend_residual"} <= {k.split(" ")[0] for k in metrics["backtest"]}
    assert {k.rsplit(" ", 1)[1] for k in metrics["backtest"]} == {"1y", "3y"}
    assert set(metrics["diebold_mariano"]) == {"1y", "3y"}
    head = metrics["headline"]
    assert head["model"].startswith("hybrid") and head["metric"] == "MAE at h=1y" and len(head["also"]) == 1
    assert head["baseline"] == metrics["strongest_baseline"]["1y"]["model"] != "hybrid"
    assert "validation origins 2006-" in head["baseline_rule"] and head["significance"]["test"].startswith("Diebold")
    assert metrics["setup"]["validation_origins"] > 0 and metrics["setup"]["covariates"] == "none"
    forecast = (results / "plots" / "forecast.csv").read_text()
    assert "2030" in forecast and "hybrid" in forecast
    assert (results / "errors.csv").stat().st_size > 1000
    assert (results / "stationarity.json").stat().st_size > 0
