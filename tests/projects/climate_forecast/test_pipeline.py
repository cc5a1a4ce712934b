"""`dvc repro` of the whole climate_forecast pipeline on tiny params, in a temporary copy of the repo."""

import pytest

from .conftest import TINY


@pytest.mark.slow
def test_dvc_repro_on_tiny_params(repo_copy):
    repo_copy.set_params("climate_forecast", {
        **TINY, "backtest": {**TINY.get("backtest", {}),
                             "models": ["persistence", "trend", "trend_residual", "ets", "hybrid"]}})
    repo_copy.check_pipeline("climate_forecast", "mae_1y")
