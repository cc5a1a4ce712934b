"""Fixtures of climate_forecast: tiny series and tiny params."""

import numpy as np
import pandas as pd
import pytest

from projects.climate_forecast.prepared import Prepared

#: the default set-up (embedded GISTEMP, annual target, monthly inputs), shrunk to seconds
TINY = {
    "data": {"first_year": 1950},
    "train": {"window": 12, "horizon": 3, "trend_years": 10, "epochs": 2, "patience": 2, "mc_samples": 2,
              "validation_years": 3, "network": {"units": 4, "members": 2}},
    "backtest": {"first_origin": 2016, "validation_first": 2006, "horizons": [1, 3], "refit_every": 4,
                 "classical": {"arima": {"max_p": 1, "max_q": 1, "max_P": 0, "max_Q": 0, "maxiter": 10},
                               "baseline": {"calibration_years": 5, "trend_years": 10}}},
    "evaluate": {"forecast_to": 2030},
}


@pytest.fixture
def params(tiny_params, tmp_path):
    return tiny_params("climate_forecast", {**TINY, "report": {"results": str(tmp_path / "results")}})


def annual_prepared(n_years: int = 70, first: int = 1940, seed: int = 0, covariate: bool = False) -> Prepared:
    """A warming-like annual target with monthly inputs: trend + AR(1) monthly noise."""
    rng = np.random.default_rng(seed)
    months = pd.period_range(f"{first}-01", periods=12 * n_years, freq="M")
    noise = np.zeros(len(months))
    for k in range(1, len(months)):
        noise[k] = 0.8 * noise[k - 1] + rng.normal(0, 0.1)
    monthly = 0.015 * np.arange(len(months)) / 12 + noise
    inputs = pd.DataFrame({"value": monthly}, index=months)
    if covariate:
        inputs["enso"] = np.sin(np.arange(len(months)) / 7.0) + rng.normal(0, 0.1, len(months))
    target = inputs.groupby(months.year).mean()
    target.index = pd.PeriodIndex([pd.Period(str(int(y)), freq="Y") for y in target.index], freq="Y")
    return Prepared(target=target, inputs=inputs, manifest={"source": "synthetic", "units": "K"})
