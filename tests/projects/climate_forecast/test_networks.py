"""The recurrent ensembles: factory, masked loss, encodings, a training step, save and load."""

import numpy as np
import pytest

from projects.climate_forecast.model import NetworkConfig, build_model, masked_mse
from projects.climate_forecast.networks import Encoder, TrainConfig, TrainedNetwork, direct_samples, train_network
from projects.climate_forecast.series import from_prepared
from shared.io import DataError

from .conftest import annual_prepared

TINY = dict(network=NetworkConfig(units=4, members=2), window=12, horizon=3, epochs=2, patience=2, mc_samples=2,
            validation_years=5)


def test_model_output_shape_and_masked_loss():
    model = build_model(NetworkConfig(units=3, members=3), window=6, features=2, outputs=4)
    x = np.random.default_rng(0).normal(size=(5, 6, 2)).astype("float32")
    assert model(x).shape == (5, 3, 4)
    y = np.full((5, 4), np.nan, "float32")
    y[:, 0] = 1.0
    pred = np.asarray(model(x))
    expected = np.mean((pred[:, :, 0] - 1.0) ** 2, axis=1)
    assert np.allclose(np.asarray(masked_mse(y, pred)), expected, atol=1e-5)
    assert np.allclose(np.asarray(masked_mse(np.full((5, 4), np.nan, "float32"), pred)), 0.0)


def test_direct_samples_hold_out_targets_by_date():
    series = from_prepared(annual_prepared(n_years=50))
    enc = Encoder(TrainConfig(**TINY), series)
    x, train, val, origins = direct_samples(enc, series.n - 1, holdout=5)
    assert x.shape == (len(origins), 12, 1)
    target_index = origins[:, None] + np.arange(1, 4)[None, :]
    cut = series.n - 1 - 5
    assert np.all(np.isnan(train[target_index > cut])) and np.all(np.isfinite(train[target_index <= cut]))
    assert np.all(np.isnan(val[target_index <= cut])) and np.all(np.isfinite(val[(target_index > cut) &
                                                                                 (target_index < series.n)]))


@pytest.mark.parametrize("target, strategy", [("residual", "direct"), ("difference", "recursive"),
                                              ("level", "direct"), ("residual", "recursive")])
def test_every_encoding_trains_and_forecasts(target, strategy):
    series = from_prepared(annual_prepared(n_years=45, covariate=True))
    net = train_network(series, TrainConfig(**{**TINY, "target": target, "strategy": strategy}))
    fc = net.forecast(series, 3)
    assert fc.mean.shape == (3,) and np.all(np.isfinite(fc.mean)) and np.all(fc.std > 0)
    assert abs(fc.mean[0] - series.y[-1]) < 5.0


def test_training_reduces_the_loss_and_saves(tmp_path):
    series = from_prepared(annual_prepared(n_years=60))
    net = train_network(series, TrainConfig(**{**TINY, "epochs": 8, "patience": 8}))
    loss = net.info["history"]["loss"]
    assert loss[-1] < loss[0]
    net.save(tmp_path / "gru")
    again = TrainedNetwork.load(tmp_path / "gru")
    a, b = net.samples(series, [series.n - 1], 3), again.samples(series, [series.n - 1], 3)
    assert np.allclose(a, b, atol=1e-5)
    (tmp_path / "gru" / "model.keras").write_bytes(b"garbage")
    with pytest.raises(DataError, match="not a readable Keras model"):
        TrainedNetwork.load(tmp_path / "gru")


@pytest.mark.slow
def test_training_under_the_mirrored_strategy(tmp_path):
    """``distribute: mirrored`` (one CPU replica here): the ensemble trains, forecasts and saves (the hybrid is
    built by the same ``build_in_strategy``)."""
    series = from_prepared(annual_prepared(n_years=45))
    net = train_network(series, TrainConfig(**{**TINY, "distribute": "mirrored"}))
    fc = net.forecast(series, 3)
    assert fc.mean.shape == (3,) and np.all(np.isfinite(fc.mean)) and np.all(fc.std > 0)
    net.save(tmp_path / "gru")
    assert (tmp_path / "gru" / "model.keras").stat().st_size > 0


def test_too_short_for_the_windows():
    series = from_prepared(annual_prepared(n_years=8))
    with pytest.raises(DataError, match="too short"):
        train_network(series, TrainConfig(**{**TINY, "window": 60}))
