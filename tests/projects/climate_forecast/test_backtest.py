"""The rolling-origin backtest: leak-free (poisoned future), resumable, scored."""

import numpy as np
import pandas as pd
import pytest

from projects.climate_forecast import backtest, evaluate, protocol
from projects.climate_forecast.baselines import ArimaConfig, BaselineConfig, ClassicalConfig
from projects.climate_forecast.model import NetworkConfig
from projects.climate_forecast.networks import TrainConfig
from projects.climate_forecast.series import Series, from_prepared

from .conftest import annual_prepared

TRAIN = TrainConfig(network=NetworkConfig(units=3, members=2), window=12, horizon=3, epochs=1, patience=2,
                    mc_samples=2, validation_years=5)
CFG = protocol.BacktestConfig(first_origin=1985, horizons=(1, 3), refit_every=2,
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
    origins = protocol.origins_for(series, CFG)[:2]   # two origins, one fit each run: the suite's time budget
    cut = origins[0]
    names = [m for m in CFG.models if m != "lstm"]  # one plain network (gru) and the hybrid
    clean = protocol.run_backtest(series, protocol.make_models(names, CFG, TRAIN, series), origins, 3,
                                  refit_every=2)
    dirty = protocol.run_backtest(poisoned(series, cut), protocol.make_models(names, CFG, TRAIN, series),
                                  origins, 3, refit_every=2)
    a, b = pd.DataFrame(clean), pd.DataFrame(dirty)
    assert set(a["model"]) == {"persistence", "drift", "trend", "trend_residual", "arima", "ets", "gru", "hybrid"}
    keep = a["origin_index"] <= cut
    cols = ["forecast", "std", "lo95", "hi95"]
    np.testing.assert_allclose(a.loc[keep, cols].to_numpy(), b.loc[keep, cols].to_numpy(), rtol=1e-6, atol=1e-6)
    # and the poison is visible after the cut: the test would catch a leak
    late = a["origin_index"] > cut
    assert not np.allclose(a.loc[late, "forecast"], b.loc[late, "forecast"])


def test_origins_and_mase_scale():
    series = from_prepared(annual_prepared(n_years=50, first=1945))
    origins = protocol.origins_for(series, CFG)
    assert series.periods[origins[0]] == "1985" and origins[-1] == series.n - 2
    val = protocol.validation_origins(series, CFG)  # 1960 … 1982: every target (h ≤ 3) known by 1985
    assert series.periods[val[0]] == "1960" and series.periods[val[-1]] == "1982"
    assert protocol.validation_origins(series, protocol.BacktestConfig(first_origin=1985, validation_first=None)) == []
    assert protocol.horizon_label(5, 1) == "5y" and protocol.horizon_label(12, 12) == "12m"
    assert protocol.mase_scale(Series(np.array([1.0, 2, 4]), np.arange(3.0), np.ones((3, 1)), np.arange(3.0))) == 1.5


def test_resume_after_a_kill_gives_the_same_rows(tmp_path):
    prepared = annual_prepared(n_years=50, first=1945)
    cfg = protocol.BacktestConfig(first_origin=1985, horizons=(1, 3), refit_every=2,
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
    dm = evaluate.dm_table(frame, "gru", {1: "trend"}, 1, 1)["1y"]
    assert dm["baseline"] == "trend" and dm["p_value"] < 0.05 and dm["verdict"] == "gru better"
    same = evaluate.diebold_mariano(np.ones(10), np.ones(10), 1)
    assert np.isnan(same["statistic"])


def _rows(models, split, n=30, h=1, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        actual = rng.normal()
        for model, noise in models.items():
            f = actual + (rng.normal(0, noise) if noise else 0.5)
            rows.append({"model": model, "split": split, "origin_index": i, "origin": str(1900 + i), "horizon": h,
                         "actual": actual, "forecast": f, "lo80": f - 1, "hi80": f + 1, "lo95": f - 2, "hi95": f + 2,
                         "mase_scale": 1.0})
    return rows


def test_strongest_baseline_is_chosen_on_validation_never_on_test():
    val = _rows({"trend": 0.2, "arima": 0.6, "hybrid": 0.01}, "validation")
    test = _rows({"trend": 0.8, "arima": 0.1, "hybrid": 0.3}, "test", seed=1)
    best = evaluate.strongest_baselines(pd.DataFrame(val + test), [1])
    assert best[1]["model"] == "trend" and "validation origins 1900-1929" in best[1]["rule"]
    assert set(best[1]["ranking"]) == {"trend", "arima"}  # neural models are never a baseline
    assert evaluate.strongest_baselines(pd.DataFrame(test), [1]) == {}


def test_identical_models_are_reported_as_coinciding():
    frame = pd.DataFrame(_rows({"persistence": 0, "seasonal_naive": 0, "trend": 0.3}, "test"))
    assert evaluate.coinciding(frame, [1]) == {1: [["persistence", "seasonal_naive"]]}
