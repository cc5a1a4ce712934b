"""The hybrid forecaster: a recurrent ensemble on what the classical base model leaves.

The base (``train.hybrid.base``, by default ``trend_residual``: the 30-year linear trend plus
β_h × the latest months' departure from it) forecasts horizons 1..H. The network reads the
window of the latest input months (target variable and covariates such as ENSO and CO2, each as
its departure from its own 30-year trend at the origin) and predicts the base's error at every
horizon; the forecast is ``base + α × correction``.

Leak-free training: the base's forecast at each training origin ``s`` is recomputed from
``history.upto(s)`` (its β fitted on that history only), so the network learns the errors the
base really makes out of sample. The targets of the last ``validation_years`` periods are held
out (early stopping) and fit α ∈ [0, 1] (least squares of the held-out base errors on the
corrections, pooled over horizons; ``hybrid.shrink: false`` keeps α = 1): a correction that does
not help on held-out data is shrunk towards the base.

Intervals: the base's own calibrated intervals (its RMS error at earlier origins, per horizon),
widened by the held-out ratio of the hybrid's to the base's RMS error when the hybrid did worse
there (never narrowed: the held-out sample is small).
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from projects.climate_forecast.baselines import ClassicalConfig, Forecast, Forecaster, make_forecaster
from projects.climate_forecast.networks import (
    Encoder,
    TrainConfig,
    build_in_strategy,
    direct_samples,
    distribute_strategy,
    load_model_dir,
    save_model_dir,
    training_batches,
)
from projects.climate_forecast.series import Series
from shared.io import DataError

log = logging.getLogger(__name__)


def base_forecasts(base: Forecaster, series: Series, origins, horizon: int) -> dict[int, np.ndarray]:
    """The base model's point forecasts ``(horizon,)`` at each origin, each from ``series.upto(origin)`` only."""
    point = base.point
    return {int(i): np.asarray(point(series.upto(int(i)), horizon), float) for i in origins}


@dataclass
class TrainedHybrid:
    """A trained correction network with its encoder state, α and held-out scores."""

    model: Any
    cfg: TrainConfig
    state: dict
    alpha: float
    widen: float
    info: dict
    _predict: Any = field(default=None, repr=False, compare=False)

    def correction(self, series: Series, origin: int, horizon: int) -> np.ndarray:
        """The (shrunk) correction ``(horizon,)`` at ``origin`` of ``series``, in the series' units."""
        import tensorflow as tf

        if self._predict is None:
            spec = tf.TensorSpec((None, *self.model.input_shape[1:]), tf.float32)
            self._predict = tf.function(lambda v: self.model(v, training=False), input_signature=[spec])
        enc = Encoder(self.cfg, series, dict(self.state))
        x = enc.window(int(origin))[None].astype("float32")
        out = self._predict(tf.constant(x)).numpy()[0]  # (members, H)
        return self.alpha * out.mean(axis=0)[:horizon] * enc.y_scale[:horizon]

    def save(self, directory: str | os.PathLike) -> Path:
        from shared.config import to_dict

        return save_model_dir(directory, self.model, "hybrid.json", {"config": to_dict(self.cfg), "state": self.state,
                                                                     "alpha": self.alpha, "widen": self.widen,
                                                                     "info": self.info})

    @classmethod
    def load(cls, directory: str | os.PathLike) -> TrainedHybrid:
        """The hybrid that :meth:`save` wrote to ``directory``.

        Raises:
            DataError: ``hybrid.json`` is missing, empty or not valid JSON; ``model.keras`` is missing or not a
                readable Keras model.
            ConfigError: the saved config does not match :class:`TrainConfig`.
        """
        model, meta, cfg = load_model_dir(directory, "hybrid.json")
        return cls(model, cfg, meta["state"], float(meta["alpha"]), float(meta["widen"]), meta.get("info", {}))


def train_hybrid(series: Series, cfg: TrainConfig, classical: ClassicalConfig, *,
                 workdir: str | os.PathLike | None = None) -> TrainedHybrid:
    """Train the correction ensemble on ``series`` (a history: everything in it may be used).

    Args:
        series: the history; targets ``(n,)`` and inputs ``(n * steps, features)`` in the series' units.
        cfg: the ``train`` section (``target`` is taken as ``residual`` for the inputs; ``strategy`` direct).
        classical: the classical models' settings (the base's trend window, late months, calibration).

    Returns:
        :class:`TrainedHybrid`.

    Raises:
        DataError: the history is too short for the window, the base's trend and the held-out years.
    """
    from shared import config as config_lib
    from shared.data import make_dataset
    from shared.training import fit, set_seed

    distribute_strategy(cfg.distribute)  # first: before other TensorFlow work
    cfg = config_lib.replace(cfg, target="residual", strategy="direct")
    base = make_forecaster(cfg.hybrid.base, classical)
    last = series.n - 1
    enc = Encoder(cfg, series)
    first = max(enc.first_origin(), base.min_history(series))
    enc.first_origin = lambda: first  # type: ignore[method-assign]
    enc.base_values = base_forecasts(base, series, range(first, last), cfg.horizon)
    holdout = min(cfg.validation_years * (series.season if series.season > 1 else 1), max(1, last // 4))
    x, y_train, y_val, origins = direct_samples(enc, last, holdout)
    has_train = np.isfinite(y_train).any(axis=1)
    has_val = np.isfinite(y_val).any(axis=1)
    if has_train.sum() < 4:
        raise DataError(f"only {int(has_train.sum())} training targets: the series is too short for the windows")
    set_seed(cfg.seed)
    model, strategy, batch = build_in_strategy(cfg, window=cfg.window, features=enc.columns,
                                               outputs=y_train.shape[1], name="hybrid")
    train_ds, steps = training_batches(x[has_train], y_train[has_train], batch, cfg.seed, strategy)
    val_ds = make_dataset(x[has_val], y_val[has_val], batch_size=256) if has_val.any() else None
    with tempfile.TemporaryDirectory(prefix="climate-hybrid-") as tmp:
        history = fit(model, train_ds, validation=val_ds, epochs=cfg.epochs, workdir=workdir or tmp,
                      steps_per_epoch=steps, patience=cfg.patience, verbose=cfg.verbose, strategy=strategy)
    # held-out: base errors e and corrections c (scaled units), pooled over horizons
    alpha, widen = 1.0, 1.0
    if has_val.any():
        c = model.predict(x[has_val], verbose=0).mean(axis=1)
        e = y_val[has_val]
        ok = np.isfinite(e)
        cv, ev = c[ok], e[ok]
        if cfg.hybrid.shrink and len(ev) >= 5 and np.sum(cv ** 2) > 0:
            alpha = float(np.clip(np.sum(cv * ev) / np.sum(cv ** 2), 0.0, 1.0))
        base_rms = float(np.sqrt(np.mean(ev ** 2))) if len(ev) else 0.0
        hybrid_rms = float(np.sqrt(np.mean((ev - alpha * cv) ** 2))) if len(ev) else 0.0
        widen = max(1.0, hybrid_rms / base_rms) if base_rms > 0 else 1.0
    info = {"epochs": len(history.get("epoch", [])), "origin": series.periods[-1] if series.periods else int(last),
            "n_train": int(has_train.sum()), "n_val": int(has_val.sum()), "alpha": alpha, "widen": widen,
            "base": cfg.hybrid.base}
    log.debug("hybrid at %s: %s", info["origin"], info)
    return TrainedHybrid(model, cfg, dict(enc.state), alpha, widen, info)


class HybridForecaster(Forecaster):
    """The backtest's view of the hybrid: ``fit`` trains the correction, ``predict`` = base + correction."""

    name = "hybrid"
    needs_fit = True

    def __init__(self, cfg: TrainConfig, classical: ClassicalConfig | None = None,
                 workdir: str | os.PathLike | None = None, trained: TrainedHybrid | None = None):
        self.cfg = cfg
        self.classical = classical or ClassicalConfig()
        self.workdir = Path(workdir) if workdir else None
        self.trained = trained
        self.base = make_forecaster(cfg.hybrid.base, self.classical)
        self.fits: list[dict[str, Any]] = []

    def fit(self, history: Series) -> None:
        import keras

        keras.backend.clear_session(free_memory=True)
        work = self.workdir / f"fit_{history.n - 1}" if self.workdir else None
        self.trained = train_hybrid(history, self.cfg, self.classical, workdir=work)
        self.fits.append(dict(self.trained.info))

    def predict(self, history: Series, horizon: int) -> Forecast:
        """Base forecast plus correction at horizons 1..``horizon`` (≤ ``train.horizon``).

        Raises:
            ValueError: ``horizon`` exceeds the horizons the network was trained for.
        """
        if self.trained is None:
            self.fit(history)
        if horizon > self.trained.cfg.horizon:
            raise ValueError(f"the hybrid predicts {self.trained.cfg.horizon} steps, {horizon} asked")
        base = self.base.predict(history, horizon)
        corr = self.trained.correction(history, history.n - 1, horizon)
        return Forecast(base.mean + corr, base.std * self.trained.widen)
