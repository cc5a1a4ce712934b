"""Recurrent forecasters (LSTM, GRU) on moving windows: encoding, training, prediction, intervals.

**What the network sees.** A window of the latest ``window`` input rows (monthly where the
source has months, so an annual forecast reads the late-year months), every column encoded
with information up to the origin only (``train.target``):

* ``residual``: the departure from the ``trend_years`` linear trend fitted at the origin
  (its own trend for each covariate); the forecast is that trend plus the predicted departure;
* ``difference``: first differences; the forecast is the last value plus the predicted change;
* ``level``: the values, standardised with the history's mean and std.

**What it predicts** (``train.strategy``): ``direct``, the targets at horizons 1..H at once
(one output per horizon); ``recursive``, the next input row, fed back ``H × steps`` times
(an annual value is then the mean of its predicted months).

**Training** uses only targets up to the origin: those of the last ``validation_years`` target
periods are held out (by target date, so no validation target is ever trained on) for
early stopping and for the residual variance of the intervals. Training goes through
``shared.training.fit`` (resumable, best weights restored).

**Intervals**: variance = spread of ``members`` networks × ``mc_samples`` Monte-Carlo dropout
passes + the residual variance of the ensemble mean on the held-out targets, per horizon.
"""

from __future__ import annotations

import functools
import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from projects.climate_forecast.baselines import Forecast, Forecaster
from projects.climate_forecast.model import NetworkConfig
from projects.climate_forecast.series import Series, input_trend_at, trend_at
from shared.distributed import PRECISIONS, STRATEGIES
from shared.io import DataError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HybridConfig:
    #: the classical model whose forecasts the network corrects (a simple one: its forecasts at every
    #: training origin are recomputed from the history up to that origin)
    base: Literal["trend_residual", "trend", "drift", "persistence"] = "trend_residual"
    #: shrink the correction by α ∈ [0, 1] fitted on the held-out targets (1: no shrinkage)
    shrink: bool = True


@dataclass(frozen=True)
class TrainConfig:
    """The ``train`` section: the network, the hybrid, the windows and targets, and the optimisation.

    Raises:
        ValueError: ``window`` < 2, ``horizon`` < 1 or ``trend_years`` < 3; ``validation_years``, ``epochs``,
            ``batch_size`` or ``mc_samples`` < 1.
    """

    network: NetworkConfig = field(default_factory=NetworkConfig)
    hybrid: HybridConfig = field(default_factory=HybridConfig)
    #: input rows per window (24 = the last two years of months)
    window: int = 24
    target: Literal["residual", "difference", "level"] = "residual"
    strategy: Literal["direct", "recursive"] = "direct"
    #: target periods predicted (direct) or rolled out (recursive)
    horizon: int = 10
    trend_years: int = 30
    #: the last target periods whose values are held out for early stopping and residual variance
    validation_years: int = 10
    #: feed the covariate columns (CO2, ENSO) to the network
    covariates: bool = True
    epochs: int = 150
    batch_size: int = 32
    learning_rate: float = 3e-3
    patience: int = 20
    mc_samples: int = 10
    seed: int = 0
    #: Keras verbosity: 0 silent, 1 progress bar, 2 one line per epoch
    verbose: int = 0
    #: tf.distribute strategy of the network fits (shared.distributed; ``strategy`` above is the forecasting
    #: strategy): auto | default | mirrored | multi_worker; ``batch_size`` is per replica. ``multi_worker`` (the
    #: cluster of ``TF_CONFIG``) applies to the train stage; the backtest's refits run in one process
    distribute: str = "auto"
    #: float32 | mixed_float16 (GPU; loss scaling applied) | mixed_bfloat16
    precision: str = "float32"
    #: compile the training steps with XLA
    jit_compile: bool = False

    def __post_init__(self) -> None:
        if self.distribute not in STRATEGIES:
            raise ValueError(f"distribute {self.distribute!r}: use one of {', '.join(STRATEGIES)}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision {self.precision!r}: use one of {', '.join(PRECISIONS)}")
        if self.window < 2 or self.horizon < 1 or self.trend_years < 3:
            raise ValueError("window ≥ 2, horizon ≥ 1 and trend_years ≥ 3 are required")
        if self.validation_years < 1 or self.epochs < 1 or self.batch_size < 1 or self.mc_samples < 1:
            raise ValueError("validation_years, epochs, batch_size and mc_samples must be ≥ 1")


# --------------------------------------------------------------------------- encoding
class Encoder:
    """Turns a history into scaled windows and targets, and predictions back into values."""

    def __init__(self, cfg: TrainConfig, series: Series, state: dict | None = None):
        self.cfg = cfg
        self.series = series
        self.columns = series.x.shape[1] if cfg.covariates else 1
        self.periods = cfg.trend_years * (series.season if series.season > 1 else 1)
        self._trends: dict[int, tuple] = {}
        self.state = state or {}
        #: hybrid: the base model's forecasts per origin (horizons 1..H), replacing the trend as the base
        self.base_values: dict[int, np.ndarray] | None = None

    # -- geometry
    def window_end(self, i: int) -> int:
        return (i + 1) * self.series.steps - 1

    def first_origin(self) -> int:
        """The first target origin with a full window (and a trend of ≥ half the trend window)."""
        s = self.series
        lag = 1 if self.cfg.target == "difference" else 0
        first_window = int(np.ceil((self.cfg.window + lag) / s.steps)) - 1
        first_trend = self.periods // 2 if self.cfg.target == "residual" else 1
        return max(first_window, first_trend)

    def trends(self, i: int):
        if i not in self._trends:
            s = self.series
            self._trends[i] = (trend_at(s, i, self.periods),
                               *[input_trend_at(s, i, self.periods, c) for c in range(1, self.columns)])
        return self._trends[i]

    # -- raw (unscaled) encodings
    def raw_rows(self, i: int, rows: np.ndarray) -> np.ndarray:
        """Input rows ``rows`` encoded relative to origin ``i`` (not scaled)."""
        s, x = self.series, self.series.x[:, : self.columns]
        if self.cfg.target == "residual":
            trends = self.trends(i)
            target_trend = trends[0]
            out = np.empty((len(rows), self.columns))
            out[:, 0] = x[rows, 0] - target_trend(s.tx[rows])
            for c in range(1, self.columns):
                out[:, c] = x[rows, c] - trends[c](s.tx[rows])
            return out
        if self.cfg.target == "difference":
            return x[rows] - x[rows - 1]
        return x[rows] - self.state["x_mean"]

    def raw_window(self, i: int, end: int | None = None) -> np.ndarray:
        end = self.window_end(i) if end is None else end
        return self.raw_rows(i, np.arange(end - self.cfg.window + 1, end + 1))

    def base(self, i: int, horizon: int) -> np.ndarray:
        """What the (direct) prediction is added to, at horizons 1..H from origin ``i``."""
        s = self.series
        if self.base_values is not None:
            return np.asarray(self.base_values[i][:horizon], float)
        times = s.t[i] + s.dt * np.arange(1, horizon + 1)
        if self.cfg.target == "residual":
            return self.trends(i)[0](times)
        if self.cfg.target == "difference":
            return np.full(horizon, s.y[i])
        return np.full(horizon, self.state["y_mean"])

    def raw_targets(self, i: int, horizon: int, last: int) -> np.ndarray:
        """Direct targets of origin ``i``: y[i+h] − base, NaN where i + h > ``last``."""
        reach = max(0, min(horizon, last - i))
        out = np.full(horizon, np.nan)
        out[:reach] = self.series.y[i + 1:i + 1 + reach] - self.base(i, horizon)[:reach]
        return out

    # -- scaling
    def fit_scales(self, origins: np.ndarray, last_train: int) -> None:
        s = self.series
        if self.cfg.target == "level":
            self.state.update(x_mean=s.x[:, : self.columns].mean(axis=0).tolist(), y_mean=float(s.y.mean()))
        windows = np.stack([self.raw_window(int(i)) for i in origins])
        self.state["x_scale"] = _safe_std(windows.reshape(-1, self.columns), axis=0).tolist()
        if self.cfg.strategy == "direct":
            targets = np.stack([self.raw_targets(int(i), self.cfg.horizon, last_train) for i in origins])
            if self.cfg.target == "difference":
                scale = [_safe_std(targets[:, h][np.isfinite(targets[:, h])]) for h in range(self.cfg.horizon)]
                known = [v for v in scale if np.isfinite(v)]
                scale = [v if np.isfinite(v) else known[-1] for v in scale]
            else:
                scale = [_safe_std(targets[np.isfinite(targets)])] * self.cfg.horizon
            self.state["y_scale"] = [float(v) for v in scale]

    @property
    def x_scale(self) -> np.ndarray:
        return np.asarray(self.state["x_scale"])

    @property
    def y_scale(self) -> np.ndarray:
        return np.asarray(self.state["y_scale"])

    def window(self, i: int, end: int | None = None) -> np.ndarray:
        return self.raw_window(i, end) / self.x_scale


@functools.cache
def distribute_strategy(name: str):
    """The ``tf.distribute`` strategy ``name`` (``shared.distributed.make_strategy``), made once per process and
    shared by every network fit (call it before other TensorFlow work).

    Raises:
        ConfigError: an unknown name, or ``multi_worker`` without a ``TF_CONFIG`` cluster.
    """
    from shared.distributed import make_strategy

    return make_strategy(name)


def training_batches(x: np.ndarray, y: np.ndarray, batch: int, seed: int, strategy):
    """``(dataset, steps_per_epoch)`` of the training windows ``x`` ``(n, ...)`` and targets ``y`` ``(n, H)``,
    shuffled, in global batches of ``batch``.

    One pass per epoch (``steps_per_epoch`` None) for Keras' ``fit``; under a multi-worker strategy the dataset
    repeats and an epoch is ``ceil(n / batch)`` steps, as :func:`shared.distributed.distributed_fit` needs.
    """
    import tensorflow as tf

    from shared.data import make_dataset

    multi_worker = isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
    dataset = make_dataset(x, y, batch_size=batch, shuffle=True, seed=seed, repeat=multi_worker)
    return dataset, (-(-len(x) // batch) if multi_worker else None)


def build_in_strategy(cfg: TrainConfig, **kwargs):
    """``(model, strategy, global batch)``: :func:`projects.climate_forecast.model.build_model` (``kwargs``) built
    and compiled in the scope of ``cfg.distribute``'s strategy, with ``cfg.precision`` and ``cfg.jit_compile``."""
    from projects.climate_forecast.model import build_model
    from shared.distributed import global_batch_size, set_precision

    strategy = distribute_strategy(cfg.distribute)
    set_precision(cfg.precision)
    with strategy.scope():
        model = build_model(cfg.network, learning_rate=cfg.learning_rate, jit_compile=cfg.jit_compile, **kwargs)
        model.optimizer.build(model.trainable_variables)  # in the scope: fit would build it outside
    return model, strategy, global_batch_size(cfg.batch_size, strategy)


def _safe_std(values: np.ndarray, axis=None):
    std = np.std(values, axis=axis) if np.size(values) else np.nan
    return np.where(np.asarray(std) > 1e-8, std, 1.0) if np.ndim(std) else (float(std) if std > 1e-8 else 1.0)


# --------------------------------------------------------------------------- samples
def direct_samples(enc: Encoder, last: int, holdout: int) -> tuple[np.ndarray, ...]:
    """Windows and targets of every origin ≤ ``last``; targets after ``last − holdout`` go to validation.

    Returns:
        ``(x, train, val, origins)``: windows ``(O, window, columns)`` float32, scaled targets ``(O, horizon)``
        float32 (NaN where a target belongs to the other part or is unknown) for training and for validation,
        and the origins ``(O,)``.

    Raises:
        DataError: fewer than 4 origins before ``last`` (the series is too short for the window and the trend).
    """
    origins = np.arange(enc.first_origin(), last)
    if len(origins) < 4:
        raise DataError(f"only {len(origins)} training windows before origin {last}: the series is too short for "
                        f"window={enc.cfg.window} rows and a {enc.cfg.trend_years}-year trend")
    cut = last - holdout
    enc.fit_scales(origins[origins < cut] if np.sum(origins < cut) >= 4 else origins, cut)
    x = np.stack([enc.window(int(i)) for i in origins]).astype("float32")
    full = np.stack([enc.raw_targets(int(i), enc.cfg.horizon, last) for i in origins]) / enc.y_scale
    target_index = origins[:, None] + np.arange(1, enc.cfg.horizon + 1)[None, :]
    train = np.where(target_index <= cut, full, np.nan).astype("float32")
    val = np.where(target_index > cut, full, np.nan).astype("float32")
    return x, train, val, origins


def recursive_samples(enc: Encoder, last: int, holdout: int) -> tuple[np.ndarray, ...]:
    """Windows ending at every input row, each with the next input row as target.

    Returns:
        ``(x, train, val, origins)``: windows ``(R, window, columns)`` float32, scaled next rows ``(R, columns)``
        float32 (NaN in the other part) for training and for validation, and each window's origin ``(R,)``.

    Raises:
        DataError: fewer than 4 windows (the series is too short for the window).
    """
    s = enc.series
    first_origin = enc.first_origin()
    ends = np.arange(enc.window_end(first_origin), enc.window_end(last))
    if len(ends) < 4:
        raise DataError(f"only {len(ends)} training windows: the series is too short for window={enc.cfg.window}")
    origin_of = (ends + 1) // s.steps - 1
    cut_row = enc.window_end(last - holdout)
    enc.fit_scales(np.unique(origin_of[ends < cut_row]) if np.sum(ends < cut_row) >= 4 else np.unique(origin_of),
                   last - holdout)
    x = np.stack([enc.window(int(i), int(e)) for i, e in zip(origin_of, ends)]).astype("float32")
    y = np.stack([enc.raw_rows(int(i), np.array([e + 1]))[0] for i, e in zip(origin_of, ends)]) / enc.x_scale
    train = np.where((ends + 1 <= cut_row)[:, None], y, np.nan).astype("float32")
    val = np.where((ends + 1 > cut_row)[:, None], y, np.nan).astype("float32")
    return x, train, val, origin_of


# --------------------------------------------------------------------------- the trained ensemble
class TrainedNetwork:
    """A trained ensemble with its encoder state and held-out residual spread."""

    def __init__(self, model, cfg: TrainConfig, state: dict, sigma: np.ndarray, info: dict):
        self.model, self.cfg, self.state, self.sigma, self.info = model, cfg, state, np.asarray(sigma), info
        self._compiled: dict[bool, Any] = {}

    def __call__(self, x: np.ndarray, dropout: bool = False) -> np.ndarray:
        """The ensemble's raw outputs ``(batch, members, outputs)``; ``dropout``: Monte-Carlo dropout on."""
        import tensorflow as tf

        if dropout not in self._compiled:
            spec = tf.TensorSpec((None, *self.model.input_shape[1:]), tf.float32)
            self._compiled[dropout] = tf.function(lambda v: self.model(v, training=dropout), input_signature=[spec])
        return self._compiled[dropout](tf.constant(x, tf.float32)).numpy()

    def encoder(self, series: Series) -> Encoder:
        return Encoder(self.cfg, series, dict(self.state))

    def samples(self, series: Series, origins: list[int], horizon: int, mc: int = 0) -> np.ndarray:
        """Forecast samples, shape ``(len(origins), draws, horizon)``, in the series' units.

        ``mc = 0``: members only, dropout off (draws = members); else ``mc`` dropout passes.

        Raises:
            ValueError: a ``direct`` network asked for more than the ``horizon`` it was trained for.
        """
        enc = self.encoder(series)
        passes = max(mc, 1)
        if self.cfg.strategy == "direct":
            if horizon > self.cfg.horizon:
                raise ValueError(f"the network predicts {self.cfg.horizon} steps directly, {horizon} asked")
            x = np.stack([enc.window(int(i)) for i in origins]).astype("float32")
            outs = [self(x, dropout=mc > 0) for _ in range(passes)]
            pred = np.concatenate(outs, axis=1)[:, :, :horizon]  # (origins, members * passes, H)
            base = np.stack([enc.base(int(i), horizon) for i in origins])
            return base[:, None, :] + pred * enc.y_scale[None, None, :horizon]
        return self._rollout(enc, origins, horizon, passes, mc > 0)

    def _rollout(self, enc: Encoder, origins: list[int], horizon: int, passes: int, dropout: bool) -> np.ndarray:
        s, cfg = enc.series, self.cfg
        members = self.model.output_shape[1]
        draws = members * passes
        windows = np.stack([enc.window(int(i)) for i in origins])  # (O, L, c)
        state = np.repeat(windows[:, None], draws, axis=1).reshape(-1, cfg.window, enc.columns).astype("float32")
        member_of = np.tile(np.repeat(np.arange(members), passes), len(origins))
        steps = horizon * s.steps
        preds = np.empty((len(state), steps))
        for k in range(steps):
            out = self(state, dropout)[np.arange(len(state)), member_of]  # (B, c)
            preds[:, k] = out[:, 0]
            state = np.concatenate([state[:, 1:], out[:, None, :].astype("float32")], axis=1)
        preds = preds.reshape(len(origins), draws, steps) * enc.x_scale[0]
        result = np.empty((len(origins), draws, horizon))
        for o, i in enumerate(origins):
            i = int(i)
            times = s.tx[enc.window_end(i)] + (s.dt / s.steps) * np.arange(1, steps + 1)
            if cfg.target == "residual":
                values = preds[o] + enc.trends(i)[0](times)[None, :]
            elif cfg.target == "difference":
                values = s.x[enc.window_end(i), 0] + np.cumsum(preds[o], axis=1)
            else:
                values = preds[o] + enc.state["x_mean"][0]
            result[o] = values.reshape(draws, horizon, s.steps).mean(axis=2)
        return result

    def forecast(self, series: Series, horizon: int) -> Forecast:
        """The forecast after the last period of ``series``: ``mean`` and ``std`` ``(horizon,)`` in its units.

        ``std`` combines the spread of the draws with the held-out residual spread ``sigma``.

        Raises:
            ValueError: a ``direct`` network asked for more than the ``horizon`` it was trained for.
        """
        draws = self.samples(series, [series.n - 1], horizon, mc=self.cfg.mc_samples if self._has_dropout() else 0)[0]
        sigma = _extend(self.sigma, horizon)
        return Forecast(draws.mean(axis=0), np.sqrt(draws.var(axis=0) + sigma ** 2))

    def _has_dropout(self) -> bool:
        net = self.cfg.network
        return net.dropout > 0 or net.input_dropout > 0

    def save(self, directory: str | os.PathLike) -> Path:
        from shared.config import to_dict

        return save_model_dir(directory, self.model, "network.json", {"config": to_dict(self.cfg), "state": self.state,
                                                                      "sigma": self.sigma.tolist(), "info": self.info})

    @classmethod
    def load(cls, directory: str | os.PathLike) -> TrainedNetwork:
        """The network that :meth:`save` wrote to ``directory``.

        Raises:
            DataError: ``network.json`` is missing, empty or not valid JSON; ``model.keras`` is missing or not a
                readable Keras model.
            ConfigError: the saved config does not match :class:`TrainConfig`.
        """
        model, meta, cfg = load_model_dir(directory, "network.json")
        return cls(model, cfg, meta["state"], np.asarray(meta["sigma"]), meta.get("info", {}))


def save_model_dir(directory: str | os.PathLike, model: Any, meta_file: str, meta: dict[str, Any]) -> Path:
    """Write ``model.keras`` and the JSON ``meta_file`` (config, state, ...) into ``directory``, each atomically.

    Returns:
        ``directory``.
    """
    from shared.io import atomic_path, write_json

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    with atomic_path(directory / "model.keras") as tmp:
        model.save(tmp)
    write_json(directory / meta_file, meta)
    return directory


def load_model_dir(directory: str | os.PathLike, meta_file: str) -> tuple[Any, dict[str, Any], TrainConfig]:
    """Read what :func:`save_model_dir` wrote: ``(keras model, meta dict, TrainConfig of meta["config"])``.

    Raises:
        DataError: ``meta_file`` is missing, empty or not valid JSON; ``model.keras`` is missing or not a readable
            Keras model.
        ConfigError: the saved config does not match :class:`TrainConfig`.
    """
    import keras

    from shared.config import from_mapping
    from shared.io import read_json

    directory = Path(directory)
    meta = read_json(directory / meta_file)
    path = directory / "model.keras"
    if not path.is_file():
        raise DataError(f"{path} missing; run the train stage")
    try:
        model = keras.saving.load_model(path)
    except Exception as exc:
        raise DataError(f"{path} is not a readable Keras model (corrupt or truncated?): {exc}") from exc
    return model, meta, from_mapping(TrainConfig, meta["config"], where=str(directory / meta_file))


def _extend(sigma: np.ndarray, horizon: int) -> np.ndarray:
    sigma = np.asarray(sigma, float)
    if horizon <= len(sigma):
        return sigma[:horizon]
    tail = sigma[-1] * np.sqrt(np.arange(len(sigma) + 1, horizon + 1) / len(sigma))
    return np.concatenate([sigma, tail])


def train_network(series: Series, cfg: TrainConfig, *, workdir: str | os.PathLike | None = None,
                  live_dir: str | os.PathLike | None = None) -> TrainedNetwork:
    """Train an ensemble on ``series`` (a history: everything in it may be used).

    Args:
        series: the history (targets ``(n,)``, inputs ``(n * steps, features)``, in the series' units).
        cfg: the ``train`` section. workdir: checkpoints (resumable). live_dir: training curves.

    Returns:
        :class:`TrainedNetwork`: the ensemble, its encoder state and the held-out RMS error per horizon.

    Raises:
        DataError: too few windows or held-out targets for ``window``, ``trend_years`` and ``validation_years``.
    """
    from shared.data import make_dataset
    from shared.training import fit, set_seed

    distribute_strategy(cfg.distribute)  # first: before other TensorFlow work
    last = series.n - 1
    enc = Encoder(cfg, series)
    holdout = min(cfg.validation_years * (series.season if series.season > 1 else 1), max(1, last // 4))
    make = direct_samples if cfg.strategy == "direct" else recursive_samples
    x, y_train, y_val, _ = make(enc, last, holdout)
    has_train = np.isfinite(y_train).any(axis=1)
    has_val = np.isfinite(y_val).any(axis=1)
    if has_train.sum() < 4:
        raise DataError(f"only {int(has_train.sum())} training targets: the series is too short for the windows")
    set_seed(cfg.seed)
    model, strategy, batch = build_in_strategy(cfg, window=cfg.window, features=enc.columns,
                                               outputs=y_train.shape[1])
    train_ds, steps = training_batches(x[has_train], y_train[has_train], batch, cfg.seed, strategy)
    val_ds = make_dataset(x[has_val], y_val[has_val], batch_size=256) if has_val.any() else None
    with tempfile.TemporaryDirectory(prefix="climate-fit-") as tmp:
        history = fit(model, train_ds, validation=val_ds, epochs=cfg.epochs, workdir=workdir or tmp,
                      steps_per_epoch=steps, patience=cfg.patience, live_dir=live_dir, verbose=cfg.verbose,
                      strategy=strategy)
    trained = TrainedNetwork(model, cfg, dict(enc.state), np.zeros(cfg.horizon),
                             {"epochs": len(history.get("epoch", [])), "origin": series.periods[-1] if series.periods
                              else int(last), "n_train": int(has_train.sum()), "n_val": int(has_val.sum()),
                              "history": {k: v for k, v in history.items()}})
    trained.sigma = heldout_sigma(trained, series, holdout)
    return trained


def heldout_sigma(trained: TrainedNetwork, series: Series, holdout: int) -> np.ndarray:
    """RMS error per horizon of the ensemble mean on the held-out targets (the last ``holdout`` periods).

    Returns:
        ``(horizon,)`` in the series' units, ``horizon`` = ``trained.cfg.horizon``.

    Raises:
        DataError: some horizon has no held-out target (its RMS is not finite).
    """
    cfg = trained.cfg
    last, horizon = series.n - 1, cfg.horizon
    cut = last - holdout
    enc = trained.encoder(series)
    origins = [i for i in range(max(enc.first_origin(), cut - horizon + 1), last)]
    errors: list[list[float]] = [[] for _ in range(horizon)]
    if origins:
        mean = trained.samples(series, origins, horizon).mean(axis=1)
        for o, i in enumerate(origins):
            for h in range(1, horizon + 1):
                if cut < i + h <= last:
                    errors[h - 1].append(series.y[i + h] - mean[o, h - 1])
    from projects.climate_forecast.baselines import _rms_by_horizon

    sigma = _rms_by_horizon(errors)
    if not np.all(np.isfinite(sigma)):
        raise DataError("no held-out targets to size the intervals; lengthen the series or train.validation_years")
    return sigma


class NetworkForecaster(Forecaster):
    """The backtest's view of a network: ``fit`` trains an ensemble, ``predict`` forecasts."""

    needs_fit = True

    def __init__(self, cfg: TrainConfig, name: str | None = None, workdir: str | os.PathLike | None = None):
        self.cfg = cfg
        self.name = name or cfg.network.cell
        self.workdir = Path(workdir) if workdir else None
        self.trained: TrainedNetwork | None = None
        self.fits: list[dict[str, Any]] = []

    def fit(self, history: Series) -> None:
        import keras

        keras.backend.clear_session(free_memory=True)
        work = self.workdir / f"fit_{history.n - 1}" if self.workdir else None
        self.trained = train_network(history, self.cfg, workdir=work)
        self.fits.append({"origin": self.trained.info["origin"], "epochs": self.trained.info["epochs"],
                          "sigma": self.trained.sigma.tolist()})

    def predict(self, history: Series, horizon: int) -> Forecast:
        if self.trained is None:
            self.fit(history)
        return self.trained.forecast(history, horizon)
