"""The hybrid: a network on what trend_residual leaves; leak-free, base + shrunk correction, saved and loaded."""

import numpy as np
import pytest

from projects.climate_forecast.baselines import BaselineConfig, ClassicalConfig, TrendResidual
from projects.climate_forecast.hybrid import HybridForecaster, TrainedHybrid, base_forecasts, train_hybrid
from projects.climate_forecast.model import NetworkConfig
from projects.climate_forecast.networks import TrainConfig
from projects.climate_forecast.series import from_prepared

from .conftest import annual_prepared

TRAIN = TrainConfig(network=NetworkConfig(units=3, members=2), window=12, horizon=3, epochs=3, patience=2,
                    validation_years=5, trend_years=10)
CLASSICAL = ClassicalConfig(baseline=BaselineConfig(trend_years=10, calibration_years=10))


def test_base_forecasts_are_made_from_the_history_up_to_each_origin():
    series = from_prepared(annual_prepared(n_years=40, first=1950))
    base = TrendResidual(CLASSICAL.baseline)
    got = base_forecasts(base, series, [20, 30], 3)
    np.testing.assert_allclose(got[20], base.point(series.upto(20), 3))
    y = series.y.copy()
    y[21:] = 1e6  # the future of origin 20 does not reach its base forecast
    from projects.climate_forecast.series import Series

    poisoned = Series(y, series.t, series.x, series.tx, series.steps, series.season, series.names, series.periods)
    np.testing.assert_allclose(base_forecasts(base, poisoned, [20], 3)[20], got[20])


def test_hybrid_is_base_plus_shrunk_correction_and_round_trips(tmp_path):
    series = from_prepared(annual_prepared(n_years=45, first=1950, covariate=True))
    model = HybridForecaster(TRAIN, CLASSICAL)
    model.fit(series)
    trained = model.trained
    assert 0.0 <= trained.alpha <= 1.0 and trained.widen >= 1.0 and trained.info["base"] == "trend_residual"
    fc = model.predict(series, 3)
    base = TrendResidual(CLASSICAL.baseline).predict(series, 3)
    corr = trained.correction(series, series.n - 1, 3)
    np.testing.assert_allclose(fc.mean, base.mean + corr, rtol=1e-6)
    np.testing.assert_allclose(fc.std, base.std * trained.widen, rtol=1e-6)
    trained.save(tmp_path / "h")
    again = TrainedHybrid.load(tmp_path / "h")
    np.testing.assert_allclose(again.correction(series, series.n - 1, 3), corr, rtol=1e-5)
    with pytest.raises(ValueError, match="predicts 3 steps"):
        model.predict(series, 5)


def test_no_shrinkage_keeps_alpha_one():
    from shared import config as config_lib

    series = from_prepared(annual_prepared(n_years=40, first=1950))
    trained = train_hybrid(series, config_lib.replace(TRAIN, hybrid={"shrink": False}), CLASSICAL)
    assert trained.alpha == 1.0
