"""The rolling-origin backtest: leak-free (poisoned future), resumable, scored."""

import numpy as np
import pandas as pd
import pytest

from projects.climate_forecast import backtest, evaluate
from projects.climate_forecast.baselines import ArimaConfig, BaselineConfig, ClassicalConfig
from projects.climate_forecast.model import NetworkConfig
from projects.climate_forecast.networks import TrainConfig
from projects.climate_forecast.series import Series, from_prepared

from .conftest import annual_prepared

TRAIN = TrainConfig(network=NetworkConfig(units=3, members=2), window=12, horizon=3, epochs=1, patience=2,
                    mc_samples=2, validation_years=5)
CFG = backtest.BacktestConfig(first_origin=1985, horizons=(1, 3), refit_every=2,
                              classical=ClassicalConfig(baseline=BaselineConfig(calibration_years=10),
                                                        arima=ArimaConfig(max_p=1, max_q=1, maxiter=10)))


def poisoned(series: Series, after: int) -> Series:
    """Every target and input value after target period ``after`` replaced by garbage."""
    y, x = series.y.copy(), series.x.copy()
    y[after + 1:] = 1e6
    x[(after + 1) * series.steps:] = -1e6
    return Series(y, series.t, x, series.tx, series.steps, series.season, series.names, series.periods)


@pytest.mark.slow
def test_backtest_never_uses_data_after_the_origin():
    series = from_prepared(annual_prepared(n_years=50, first=1945, covariate=True))
    origins = backtest.origins_for(series, CFG)[:3]
    cut = origins[1]
    clean = backtest.run_backtest(series, backtest.make_models(CFG.models, CFG, TRAIN, series), origins, 3,
                                  refit_every=2)
    dirty = backtest.run_backtest(poisoned(series, cut), backtest.make_models(CFG.models, CFG, TRAIN, series),
                                  origins, 3, refit_every=2)
    a, b = pd.DataFrame(clean), pd.DataFrame(dirty)
    assert set(a["model"]) == {"persistence", "drift", "trend", "trend_residual", "arima", "ets", "lstm", "gru"}
    keep = a["origin_index"] <= cut
    cols = ["forecast", "std", "lo95", "hi95"]
    np.testing.assert_allclose(a.loc[keep, cols].to_numpy(), b.loc[keep, cols].to_numpy(), rtol=1e-6, atol=1e-6)
    # and the poison is visible after the cut: the test would catch a leak
    late = a["origin_index"] > cut
    assert not np.allclose(a.loc[late, "forecast"], b.loc[late, "forecast"])


def test_origins_and_mase_scale():
    series = from_prepared(annual_prepared(n_years=50, first=1945))
    origins = backtest.origins_for(series, CFG)
    assert series.periods[origins[0]] == "1985" and origins[-1] == series.n - 2
    assert backtest.mase_scale(Series(np.array([1.0, 2, 4]), np.arange(3.0), np.ones((3, 1)), np.arange(3.0))) == 1.5


def test_resume_after_a_kill_gives_the_same_rows(tmp_path):
    prepared = annual_prepared(n_years=50, first=1945)
    cfg = backtest.BacktestConfig(first_origin=1985, horizons=(1, 3), refit_every=2,
                                  models=("persistence", "trend", "trend_residual"))
    full = backtest.backtest(prepared, TRAIN, cfg, tmp_path / "w1", tmp_path / "o1", progress=False)

    calls = {"n": 0}
    original = backtest.run_backtest

    def killed(*args, on_rows=None, **kw):
        def boom(name, i, rows):
            on_rows(name, i, rows)
            calls["n"] += 1
            if calls["n"] == 5:
                raise KeyboardInterrupt

        return original(*args, on_rows=boom, **kw)

    backtest.run_backtest = killed
    try:
        with pytest.raises(KeyboardInterrupt):
            backtest.backtest(prepared, TRAIN, cfg, tmp_path / "w2", tmp_path / "o2", progress=False)
    finally:
        backtest.run_backtest = original
    resumed = backtest.backtest(prepared, TRAIN, cfg, tmp_path / "w2", tmp_path / "o2", progress=False)
    cols = ["model", "origin_index", "horizon", "forecast", "std"]
    pd.testing.assert_frame_equal(full[cols], resumed[cols])
    assert not any((tmp_path / "w2").iterdir())  # the journal is removed once the output is written


def test_scores_and_diebold_mariano():
    rows = []
    rng = np.random.default_rng(0)
    for i in range(40):
        actual = rng.normal()
        for model, noise in (("persistence", 1.0), ("trend", 0.5), ("gru", 0.2)):
            f = actual + rng.normal(0, noise)
            rows.append({"model": model, "origin_index": i, "origin": str(i), "horizon": 1, "actual": actual,
                         "forecast": f, "lo80": f - 1.28 * noise, "hi80": f + 1.28 * noise, "lo95": f - 1.96 * noise,
                         "hi95": f + 1.96 * noise, "mase_scale": 1.0})
    frame = pd.DataFrame(rows)
    table = evaluate.scores(frame, [1])
    gru = table[table["model"] == "gru"].iloc[0]
    assert gru["skill"] > 0.5 and 0.8 <= gru["cov95"] <= 1.0
    errors = frame[frame["model"] == "gru"].eval("forecast - actual")
    assert gru["rmse"] == pytest.approx(np.sqrt(np.mean(errors ** 2)))
    assert table[table["model"] == "persistence"].iloc[0]["rmse"] > 0.8
    dm = evaluate.dm_table(frame, table, "gru", [1], 1)["h1"]
    assert dm["baseline"] == "trend" and dm["p_value"] < 0.05 and dm["verdict"] == "gru better"
    same = evaluate.diebold_mariano(np.ones(10), np.ones(10), 1)
    assert np.isnan(same["statistic"])
