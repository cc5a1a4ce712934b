"""Stage pieces on tiny params: resume, clean errors (the whole chain runs in test_pipeline.py)."""

import subprocess
import sys

import pytest

from projects.climate_forecast import backtest, data, evaluate, train
from projects.climate_forecast.prepared import load_prepared
from shared.config import ConfigError
from shared.io import DataError


def test_train_publishes_nothing_after_a_kill(params, tmp_path, monkeypatch):
    from projects.climate_forecast.baselines import ClassicalConfig
    from projects.climate_forecast.model import NetworkConfig
    from projects.climate_forecast.networks import TrainConfig

    data.main(["--params", str(params), "--raw", str(tmp_path / "raw"), "--out", str(tmp_path / "prepared")])
    prepared = load_prepared(tmp_path / "prepared")
    cfg = TrainConfig(network=NetworkConfig(units=2, members=1), window=6, horizon=2, epochs=1, validation_years=3,
                      trend_years=10)
    real = train.train_hybrid

    def killed(*args, **kw):
        raise KeyboardInterrupt("simulated kill")

    monkeypatch.setattr(train, "train_hybrid", killed)
    with pytest.raises(KeyboardInterrupt):
        train.train_all(prepared, cfg, ClassicalConfig(), tmp_path / "work", tmp_path / "model")
    assert not (tmp_path / "model").exists()  # nothing half-written
    monkeypatch.setattr(train, "train_hybrid", real)
    summary = train.train_all(prepared, cfg, ClassicalConfig(), tmp_path / "work", tmp_path / "model")
    assert (tmp_path / "model" / "hybrid" / "model.keras").exists() and 0 <= summary["hybrid"]["alpha"] <= 1
    assert not any((tmp_path / "work").iterdir())


@pytest.mark.slow
def test_hybrid_killed_mid_fit_resumes_to_the_weights_of_an_uninterrupted_run(params, tmp_path, monkeypatch):
    import keras
    import numpy as np

    import shared.training as training
    from projects.climate_forecast.baselines import ClassicalConfig
    from projects.climate_forecast.model import NetworkConfig
    from projects.climate_forecast.networks import TrainConfig
    from projects.climate_forecast.series import from_prepared

    data.main(["--params", str(params), "--raw", str(tmp_path / "raw"), "--out", str(tmp_path / "prepared")])
    series = from_prepared(load_prepared(tmp_path / "prepared"))
    cfg = TrainConfig(network=NetworkConfig(units=2, members=1), window=6, horizon=2, epochs=3, validation_years=3,
                      trend_years=10)
    reference = train.train_hybrid(series, cfg, ClassicalConfig(), workdir=tmp_path / "ref")

    class Kill(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise KeyboardInterrupt("simulated kill")

    real_fit = training.fit
    monkeypatch.setattr(training, "fit", lambda *a, **kw: real_fit(*a, **{**kw, "callbacks": [Kill()]}))
    with pytest.raises(KeyboardInterrupt):
        train.train_hybrid(series, cfg, ClassicalConfig(), workdir=tmp_path / "run")
    assert training.completed_epochs(tmp_path / "run") >= 1
    monkeypatch.setattr(training, "fit", real_fit)
    resumed = train.train_hybrid(series, cfg, ClassicalConfig(), workdir=tmp_path / "run")
    for a, b in zip(reference.model.get_weights(), resumed.model.get_weights(), strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)


def test_unknown_param_key_names_key_and_file(tiny_params):
    path = tiny_params("climate_forecast", {"train": {"network": {"unitz": 3}}})
    with pytest.raises(ConfigError) as err:
        train.main(["--params", str(path), "--data", "x", "--work", "w", "--out", "o"])
    assert "'unitz'" in str(err.value) and str(path) in str(err.value)
    path = tiny_params("climate_forecast", {"backtest": {"models": ["prophet"]}})
    with pytest.raises(ConfigError, match="unknown model"):
        backtest.main(["--params", str(path), "--data", "x", "--work", "w", "--out", "o"])


@pytest.mark.parametrize("key, value, fragment", [
    ("distribute", "tpu", "distribute 'tpu': use one of"),
    ("precision", "float64", "precision 'float64': use one of"),
])
def test_bad_distribute_or_precision_is_one_line(tiny_params, key, value, fragment):
    path = tiny_params("climate_forecast", {"train": {key: value}})
    with pytest.raises(ConfigError, match=fragment) as err:
        train.main(["--params", str(path), "--data", "x", "--work", "w", "--out", "o"])
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("name", ["auto", "default", "mirrored", "multi_worker"])
def test_distribute_strategies_accepted(name):
    assert train.TrainConfig(distribute=name).distribute == name


def test_multi_worker_without_a_cluster_is_a_config_error_and_the_backtest_runs_in_one_process(params, tmp_path,
                                                                                                 monkeypatch):
    from projects.climate_forecast.networks import distribute_strategy

    monkeypatch.delenv("TF_CONFIG", raising=False)
    distribute_strategy.cache_clear()
    with pytest.raises(ConfigError, match="TF_CONFIG"):
        distribute_strategy("multi_worker")
    import yaml

    cfg = yaml.safe_load(params.read_text())
    cfg["train"]["distribute"] = "multi_worker"
    cfg["backtest"]["models"] = ["persistence", "hybrid"]
    params.write_text(yaml.safe_dump(cfg))
    data.main(["--params", str(params), "--raw", str(tmp_path / "raw"), "--out", str(tmp_path / "prepared")])
    assert backtest.main(["--params", str(params), "--data", str(tmp_path / "prepared"), "--work",
                          str(tmp_path / "bw"), "--out", str(tmp_path / "bt")]) == 0
    assert (tmp_path / "bt" / "forecasts.csv").is_file()


@pytest.mark.slow
def test_two_workers_on_loopback_train_the_hybrid_and_the_chief_publishes(params, tmp_path, loopback_cluster):
    """The train stage's command in two processes with a cluster in TF_CONFIG (``distribute: multi_worker``):
    both train the hybrid together, worker 0 (the chief) writes the model folder, worker 1 nothing."""
    import json

    import yaml

    from projects.climate_forecast.hybrid import TrainedHybrid

    cfg = yaml.safe_load(params.read_text())
    cfg["train"].update(distribute="multi_worker", batch_size=8)
    params.write_text(yaml.safe_dump(cfg))
    data.main(["--params", str(params), "--raw", str(tmp_path / "raw"), "--out", str(tmp_path / "prepared")])
    loopback_cluster().run(lambda i: ["-m", "projects.climate_forecast.train", "--params", str(params), "--data",
                                      str(tmp_path / "prepared"), "--work", str(tmp_path / "work"),
                                      "--out", str(tmp_path / f"model{i}")], timeout=240)
    assert not (tmp_path / "model1").exists()  # the worker writes nothing
    summary = json.loads((tmp_path / "model0" / "summary.json").read_text())
    assert summary["networks"]["hybrid"]["epochs"] == 2
    trained = TrainedHybrid.load(tmp_path / "model0" / "hybrid")
    assert 0 <= trained.alpha <= 1


def test_missing_inputs_are_reported(params, tmp_path):
    with pytest.raises(DataError, match="run the data stage first|file not found"):
        load_prepared(tmp_path)
    data.main(["--params", str(params), "--raw", str(tmp_path / "raw"), "--out", str(tmp_path / "prepared")])
    with pytest.raises(DataError, match="run the backtest stage first"):
        evaluate.main(["--params", str(params), "--data", str(tmp_path / "prepared"), "--backtest", str(tmp_path),
                       "--model", str(tmp_path), "--out", str(tmp_path / "r")])


def test_stage_exits_cleanly_on_bad_input(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "projects.climate_forecast.stationarity", "--params",
                           "projects/climate_forecast/params.yaml", "--data", str(tmp_path), "--out",
                           str(tmp_path / "r")], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "DataError" in proc.stderr and "Traceback" not in proc.stderr


def test_cli_forecast_stationarity_and_sources(capsys, tmp_path):
    from shared import cli

    assert cli.main(["climate_forecast", "forecast", "--horizon", "3", "--models", "persistence,trend,trend_residual",
                     "--raw", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "gistemp (annual, °C anomaly (1951-1980))" in out and "2026" in out and "trend_residual" in out
    assert cli.main(["climate_forecast", "stationarity", "--raw", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "verdict:" in out and "KPSS" in out
    assert cli.main(["climate_forecast", "sources"]) == 0
    assert "GLB.Ts+dSST.csv" in capsys.readouterr().out
    assert cli.main(["climate_forecast", "forecast", "--source", "gridded", "--raw", str(tmp_path / "raw")]) == 2
