"""Simple and classical forecasters, behind one interface.

A forecaster has ``fit(history)`` (the expensive part: an order search, a network; called
by the backtest only every few origins) and ``predict(history, horizon) -> Forecast`` (mean
and standard deviation at horizons 1..H). Both only ever receive a history cut at the origin
(:meth:`projects.climate_forecast.series.Series.upto`).

Simple models, their intervals from their own errors at earlier origins of the history
(the last ``calibration`` periods): the RMS error at each horizon is the predictive std.

Horizons beyond the errors available widen linearly in h.

* ``persistence``: the last value;
* ``drift``: the line through the first and last values;
* ``seasonal_naive`` (monthly data): the value of the same month last year;
* ``trend``: the least-squares line over the last ``trend_window`` periods (with month-of-year
  offsets for monthly data);
* ``trend_residual``: that trend plus β_h × the mean residual of the latest ``late_months``
  input months (October-December of the origin year for annual data), β_h fitted by least
  squares on the history only.

Classical models, with their own likelihood-based intervals:

* ``arima``: ``pmdarima.auto_arima`` with d (and D) from the stationarity rule on the history,
  a capped stepwise search (``max_p``, ``max_q``, ``maxiter``) done at ``fit`` and reused,
  refitted with the same order, at every origin until the next ``fit``; optional covariates
  (their future values are their own trend forecast: no future information);
* ``ets``: statsmodels ``ETSModel``, additive errors, damped additive trend (damped Holt),
  additive seasonality for monthly data.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field

import numpy as np

from projects.climate_forecast.series import Series, fit_trend, trend_at

log = logging.getLogger(__name__)

Z80, Z95 = 1.2815515655446004, 1.959963984540054


@dataclass
class Forecast:
    mean: np.ndarray
    std: np.ndarray

    def interval(self, level: float) -> tuple[np.ndarray, np.ndarray]:
        z = {0.8: Z80, 0.95: Z95}[level]
        return self.mean - z * self.std, self.mean + z * self.std


@dataclass(frozen=True)
class BaselineConfig:
    #: periods of the trend window (30 years: 30 annual or 360 monthly values)
    trend_years: int = 30
    #: input months whose mean residual feeds ``trend_residual`` (3: October-December)
    late_months: int = 3
    #: years of earlier origins whose errors calibrate the intervals of the simple models
    calibration_years: int = 30


class Forecaster:
    """Base class: ``fit`` does nothing, ``predict`` must be implemented."""

    name = "forecaster"
    #: whether the backtest calls ``fit`` (only every ``refit_every`` origins)
    needs_fit = False

    def fit(self, history: Series) -> None:  # pragma: no cover - trivial
        pass

    def predict(self, history: Series, horizon: int) -> Forecast:
        """The forecast of the ``horizon`` target periods after ``history``.

        Returns:
            a :class:`Forecast` whose ``mean`` and ``std`` are ``(horizon,)``, in the series' units.

        Raises:
            NotImplementedError: always, here; subclasses implement it.
        """
        raise NotImplementedError


class SimpleForecaster(Forecaster):
    """A point rule plus empirical intervals from its errors at earlier origins."""

    def __init__(self, cfg: BaselineConfig | None = None):
        self.cfg = cfg or BaselineConfig()

    def window(self, history: Series) -> int:
        return self.cfg.trend_years * (history.season if history.season > 1 else 1)

    def point(self, history: Series, horizon: int) -> np.ndarray:
        """The point forecast ``(horizon,)`` of the rule, in the series' units.

        Raises:
            NotImplementedError: always, here; subclasses implement it.
        """
        raise NotImplementedError

    def calibration_origins(self, history: Series, horizon: int) -> np.ndarray:
        years = self.cfg.calibration_years * (history.season if history.season > 1 else 1)
        first = max(self.min_history(history), history.n - 1 - years)
        return np.arange(first, history.n - 1)

    def min_history(self, history: Series) -> int:
        return 1

    def rule(self, history: Series, horizon: int):
        """The point rule used at the origin and at the calibration origins (parameters fitted once)."""
        return self.point

    def predict(self, history: Series, horizon: int) -> Forecast:
        point = self.rule(history, horizon)
        mean = point(history, horizon)
        errors = [[] for _ in range(horizon)]
        for s in self.calibration_origins(history, horizon):
            past = point(history.upto(int(s)), min(horizon, history.n - 1 - int(s)))
            for h, value in enumerate(past):
                errors[h].append(history.y[s + h + 1] - value)
        return Forecast(mean, _rms_by_horizon(errors))


def _rms_by_horizon(errors: list[list[float]], min_errors: int | None = None) -> np.ndarray:
    """RMS error per horizon, from horizons with at least ``min_errors`` errors (default: a third
    of the largest count, between 3 and 30). Longer horizons extrapolate the last one linearly in h
    (conservative: the error of an extrapolated trend grows like h); shorter ones take the first."""
    counts = [len(e) for e in errors]
    if min_errors is None:
        min_errors = max(3, min(30, max(counts, default=0) // 3))
    std = np.array([float(np.sqrt(np.mean(np.square(e)))) if len(e) >= min_errors else np.nan for e in errors])
    known = np.flatnonzero(np.isfinite(std))
    if not len(known):
        return np.full(len(errors), np.nan)
    first, last = known[0], known[-1]
    for h in range(len(errors)):
        if not np.isfinite(std[h]):
            if h > last:
                std[h] = std[last] * (h + 1) / (last + 1)
            elif h < first:
                std[h] = std[first]
            else:
                std[h] = std[known[known < h][-1]]
    return std


class Persistence(SimpleForecaster):
    name = "persistence"

    def point(self, history, horizon):
        return np.full(horizon, history.y[-1])


class Drift(SimpleForecaster):
    name = "drift"

    def point(self, history, horizon):
        slope = (history.y[-1] - history.y[0]) / max(history.n - 1, 1)
        return history.y[-1] + slope * np.arange(1, horizon + 1)


class SeasonalNaive(SimpleForecaster):
    name = "seasonal_naive"

    def min_history(self, history):
        return history.season

    def point(self, history, horizon):
        m = history.season
        h = np.arange(1, horizon + 1)
        return history.y[history.n - 1 + h - m * ((h - 1) // m + 1)]


class LinearTrend(SimpleForecaster):
    name = "trend"

    def min_history(self, history):
        return max(2, self.window(history) // 2)

    def point(self, history, horizon):
        return trend_at(history, history.n - 1, self.window(history))(history.future_times(horizon))


def late_residual(history: Series, i: int, trend, months: int) -> float:
    """Mean residual from ``trend`` of the last ``months`` input rows of target period ``i``."""
    end = (i + 1) * history.steps
    k = min(months, end) if history.steps > 1 else 1
    rows = slice(end - k, end)
    return float(np.mean(history.x[rows, 0] - trend(history.tx[rows])))


class TrendResidual(SimpleForecaster):
    """The 30-year trend plus β_h × the latest months' residual from it."""

    name = "trend_residual"

    def min_history(self, history):
        return max(2, self.window(history) // 2)

    def _pairs(self, history: Series, horizon: int):
        w = self.window(history)
        first = self.min_history(history)
        r, e = [], []
        trends = {}
        for s in range(first, history.n - 1):
            trend = trends[s] = trend_at(history, s, w)
            r.append(late_residual(history, s, trend, self.cfg.late_months))
            reach = min(horizon, history.n - 1 - s)
            e.append(np.concatenate([history.y[s + 1:s + 1 + reach] - trend(history.t[s + 1:s + 1 + reach]),
                                     np.full(horizon - reach, np.nan)]))
        return np.asarray(r), np.asarray(e).reshape(len(r), horizon)

    def betas(self, history: Series, horizon: int) -> np.ndarray:
        r, e = self._pairs(history, horizon)
        beta = np.full(horizon, np.nan)
        for h in range(horizon):
            ok = np.isfinite(e[:, h]) if len(e) else np.zeros(0, bool)
            if ok.sum() >= 3 and np.sum(r[ok] ** 2) > 0:
                beta[h] = np.sum(r[ok] * e[ok, h]) / np.sum(r[ok] ** 2)
        # horizons longer than the history allows keep the last estimated β (0 if none)
        known = np.flatnonzero(np.isfinite(beta))
        for h in range(horizon):
            if not np.isfinite(beta[h]):
                beta[h] = beta[known[known < h][-1]] if np.any(known < h) else 0.0
        return beta

    def rule(self, history, horizon):
        beta = self.betas(history, horizon)
        return lambda hist, h: self.point(hist, h, beta[:h])

    def point(self, history, horizon, beta=None):
        trend = trend_at(history, history.n - 1, self.window(history))
        beta = self.betas(history, horizon) if beta is None else beta
        return trend(history.future_times(horizon)) + beta * late_residual(history, history.n - 1, trend,
                                                                           self.cfg.late_months)


# --------------------------------------------------------------------------- classical
@dataclass(frozen=True)
class ArimaConfig:
    max_p: int = 3
    max_q: int = 3
    max_P: int = 1
    max_Q: int = 1
    maxiter: int = 50
    #: use the covariates as exogenous regressors (future values: their own trend forecast)
    exogenous: bool = False
    information_criterion: str = "aic"


@dataclass(frozen=True)
class EtsConfig:
    damped: bool = True
    seasonal: bool = True


def _quiet_threads():
    """One BLAS thread: statsmodels' small state-space fits are 50× slower when two cores are shared."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1)


class Arima(Forecaster):
    name = "arima"
    needs_fit = True

    def __init__(self, cfg: ArimaConfig | None = None, baseline: BaselineConfig | None = None):
        self.cfg = cfg or ArimaConfig()
        self.baseline = baseline or BaselineConfig()
        self.spec: dict | None = None

    def _exog(self, history: Series, horizon: int | None = None):
        if not self.cfg.exogenous or history.x.shape[1] < 2:
            return None
        cov = history.x[:, 1:].reshape(history.n, history.steps, -1).mean(axis=1)
        if horizon is None:
            return cov
        window = self.baseline.trend_years * (history.season if history.season > 1 else 1)
        lo = max(0, history.n - window)
        return np.stack([fit_trend(history.t[lo:], cov[lo:, j], history.season)(history.future_times(horizon))
                         for j in range(cov.shape[1])], axis=1)

    def fit(self, history: Series) -> None:
        import pmdarima as pm

        from projects.climate_forecast.unitroot import differencing_order

        d, seasonal_d = differencing_order(history.y, history.season)
        m = history.season
        with _quiet_threads(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = pm.auto_arima(history.y, X=self._exog(history), d=d, D=seasonal_d if m > 1 else 0,
                                  seasonal=m > 1, m=m, start_p=min(2, self.cfg.max_p), start_q=min(2, self.cfg.max_q),
                                  start_P=min(1, self.cfg.max_P), start_Q=min(1, self.cfg.max_Q),
                                  max_p=self.cfg.max_p, max_q=self.cfg.max_q,
                                  max_P=self.cfg.max_P, max_Q=self.cfg.max_Q, stepwise=True, maxiter=self.cfg.maxiter,
                                  information_criterion=self.cfg.information_criterion, suppress_warnings=True,
                                  error_action="ignore", trend="ct" if d == 0 else None)
        self.spec = {"order": model.order, "seasonal_order": model.seasonal_order,
                     "with_intercept": model.with_intercept, "trend": model.trend}
        log.debug("arima at n=%d: %s", history.n, self.spec)

    def predict(self, history: Series, horizon: int) -> Forecast:
        import pmdarima as pm

        if self.spec is None:
            self.fit(history)
        with _quiet_threads(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = pm.ARIMA(self.spec["order"], self.spec["seasonal_order"], trend=self.spec["trend"],
                             with_intercept=self.spec["with_intercept"], maxiter=self.cfg.maxiter,
                             suppress_warnings=True)
            model.fit(history.y, X=self._exog(history))
            mean, ci = model.predict(horizon, X=self._exog(history, horizon), return_conf_int=True, alpha=0.05)
        mean = np.asarray(mean, float)
        std = (np.asarray(ci)[:, 1] - np.asarray(ci)[:, 0]) / (2 * Z95)
        return Forecast(mean, std)

    def describe(self) -> str:
        if not self.spec:
            return "arima (not fitted)"
        s = self.spec
        seasonal = f"{s['seasonal_order']}" if s["seasonal_order"][3] > 1 else ""
        return f"ARIMA{tuple(s['order'])}{seasonal}" + (f" trend={s['trend']}" if s["trend"] else "") + \
            (" with drift" if s["with_intercept"] and s["order"][1] else "")


class Ets(Forecaster):
    name = "ets"

    def __init__(self, cfg: EtsConfig | None = None):
        self.cfg = cfg or EtsConfig()

    def predict(self, history: Series, horizon: int) -> Forecast:
        import pandas as pd
        from statsmodels.tsa.exponential_smoothing.ets import ETSModel

        seasonal = "add" if self.cfg.seasonal and history.season > 1 and history.n >= 2 * history.season + 2 else None
        with _quiet_threads(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = ETSModel(pd.Series(history.y), error="add", trend="add", damped_trend=self.cfg.damped,
                             seasonal=seasonal, seasonal_periods=history.season if seasonal else None)
            res = model.fit(disp=False, maxiter=200)
            frame = res.get_prediction(start=history.n, end=history.n + horizon - 1).summary_frame(alpha=0.05)
        mean = frame["mean"].to_numpy(float)
        std = (frame["pi_upper"].to_numpy(float) - frame["pi_lower"].to_numpy(float)) / (2 * Z95)
        return Forecast(mean, std)


SIMPLE = {"persistence": Persistence, "drift": Drift, "seasonal_naive": SeasonalNaive, "trend": LinearTrend,
          "trend_residual": TrendResidual}


@dataclass(frozen=True)
class ClassicalConfig:
    baseline: BaselineConfig = field(default_factory=BaselineConfig)
    arima: ArimaConfig = field(default_factory=ArimaConfig)
    ets: EtsConfig = field(default_factory=EtsConfig)


def make_forecaster(name: str, cfg: ClassicalConfig) -> Forecaster:
    """A classical forecaster by name: one of :data:`SIMPLE`, ``arima`` or ``ets``.

    Raises:
        ConfigError: ``name`` is none of these (the message lists the names).
    """
    if name in SIMPLE:
        return SIMPLE[name](cfg.baseline)
    if name == "arima":
        return Arima(cfg.arima, cfg.baseline)
    if name == "ets":
        return Ets(cfg.ets)
    from shared.config import ConfigError

    raise ConfigError(f"unknown classical model {name!r}; choose from {', '.join([*SIMPLE, 'arima', 'ets'])}")
