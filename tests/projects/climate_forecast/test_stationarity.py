"""Unit-root tests and the verdict on series with known answers."""

import json

import numpy as np
import pytest

from projects.climate_forecast import stationarity
from shared.io import DataError


def test_random_walk_is_difference_stationary():
    y = np.cumsum(np.random.default_rng(0).normal(size=400))
    result = stationarity.analyse(y)
    assert result["verdict"] == "difference-stationary" and result["d"] == 1


def test_white_noise_plus_trend_is_trend_stationary():
    rng = np.random.default_rng(0)
    y = 0.05 * np.arange(400) + rng.normal(size=400)
    result = stationarity.analyse(y)
    assert result["verdict"] == "trend-stationary" and result["d"] == 0


def test_table_layout_and_seasonal_differences():
    rng = np.random.default_rng(1)
    t = np.arange(240)
    y = 3 * np.sin(2 * np.pi * t / 12) + np.cumsum(rng.normal(size=240))
    result = stationarity.analyse(y, season=12)
    rows = stationarity.table(result)
    assert {r["transform"] for r in rows} >= {"levels", "first differences", "seasonal differences"}
    assert {r["test"] for r in rows} == {"DF", "ADF", "PP", "KPSS"}
    df = next(r for r in rows if r["test"] == "DF" and r["transform"] == "levels")
    assert df["lags"] == 0 and df["null"] == "unit root"
    assert result["D"] in (0, 1)


def test_too_short_series_is_an_error():
    with pytest.raises(DataError, match="≥ 12 finite values"):
        stationarity.run_tests(np.arange(5.0), regression="c")


def test_stage_main(params, tmp_path):
    from projects.climate_forecast import data

    prepared = tmp_path / "prepared"
    data.main(["--params", str(params), "--raw", str(tmp_path / "raw"), "--out", str(prepared)])
    out = tmp_path / "results"
    assert stationarity.main(["--params", str(params), "--data", str(prepared), "--out", str(out)]) == 0
    result = json.loads((out / "stationarity.json").read_text())
    assert result["verdict"]["verdict"] and "DF(ct) levels" in result["tests"]
    assert (out / "plots" / "acf.csv").stat().st_size > 0 and (out / "plots" / "rolling.csv").stat().st_size > 0
