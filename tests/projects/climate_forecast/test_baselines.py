"""Simple and classical forecasters, the trend and moving windows."""

import numpy as np
import pytest

from projects.climate_forecast import baselines
from projects.climate_forecast.series import Series, fit_trend, from_prepared, make_windows
from shared.config import ConfigError
from shared.io import DataError

from .conftest import annual_prepared


def annual(y):
    y = np.asarray(y, float)
    t = np.arange(len(y)) + 1950.5
    return Series(y=y, t=t, x=y[:, None], tx=t, periods=tuple(str(int(v)) for v in t))


def test_window_shapes():
    x = np.arange(40.0).reshape(20, 2)
    w = make_windows(x, 5)
    assert w.shape == (16, 5, 2) and np.array_equal(w[0, :, 0], [0, 2, 4, 6, 8])
    w = make_windows(np.arange(10.0), 3, ends=np.array([2, 9]))
    assert w.shape == (2, 3, 1) and list(w[1, :, 0]) == [7, 8, 9]
    with pytest.raises(DataError, match="fewer than the window length"):
        make_windows(np.arange(3.0), 5)
    with pytest.raises(DataError, match="window ends"):
        make_windows(np.arange(10.0), 3, ends=np.array([1]))


def test_trend_with_seasonal_offsets_is_exact_on_its_own_model():
    t = 2000 + (np.arange(120) + 0.5) / 12
    month = np.arange(120) % 12
    y = 1.5 + 0.3 * (t - 2000) + np.sin(2 * np.pi * month / 12)
    trend = fit_trend(t, y, season=12)
    future = 2010 + (np.arange(12) + 0.5) / 12
    assert np.allclose(trend(future), 1.5 + 0.3 * (future - 2000) + np.sin(2 * np.pi * np.arange(12) / 12))
    assert trend.slope == pytest.approx(0.3)


def test_simple_point_forecasts():
    s = annual(np.arange(40.0) * 0.1)
    assert np.allclose(baselines.Persistence().point(s, 3), 3.9)
    assert np.allclose(baselines.Drift().point(s, 2), [4.0, 4.1])
    assert np.allclose(baselines.LinearTrend().point(s, 2), [4.0, 4.1])
    t = 2000 + (np.arange(36) + 0.5) / 12
    y = np.tile(np.arange(12.0), 3)
    seasonal = Series(y=y, t=t, x=y[:, None], tx=t, season=12)
    assert np.allclose(baselines.SeasonalNaive().point(seasonal, 14), [*range(12), 0, 1])


def test_empirical_intervals_grow_with_the_errors():
    rng = np.random.default_rng(0)
    fc = baselines.Persistence().predict(annual(np.cumsum(rng.normal(size=80))), 5)
    assert fc.std.shape == (5,) and np.all(np.diff(fc.std) > -0.2) and fc.std[-1] > fc.std[0]
    lo, hi = fc.interval(0.95)
    assert np.all(lo < fc.mean) and np.all(hi > fc.mean)


def test_trend_residual_recovers_the_late_year_persistence():
    """Annual anomalies whose departure from the trend persists: β at h=1 is clearly positive."""
    series = from_prepared(annual_prepared(n_years=80))
    model = baselines.TrendResidual()
    beta = model.betas(series, 3)
    assert beta[0] > 0.3 and beta[0] > beta[2]
    fc = model.predict(series, 3)
    assert np.all(np.isfinite(fc.mean)) and np.all(fc.std > 0)


def test_classical_models_forecast_with_intervals():
    series = from_prepared(annual_prepared(n_years=60))
    for name in ("arima", "ets"):
        model = baselines.make_forecaster(name, baselines.ClassicalConfig(
            arima=baselines.ArimaConfig(max_p=1, max_q=1, maxiter=20)))
        if model.needs_fit:
            model.fit(series)
        fc = model.predict(series, 4)
        assert fc.mean.shape == (4,) and np.all(fc.std > 0) and np.all(np.isfinite(fc.mean))
    assert model.name == "ets"
    with pytest.raises(ConfigError, match="unknown classical model 'prophet'"):
        baselines.make_forecaster("prophet", baselines.ClassicalConfig())
