"""The series every forecaster sees, the trend it is measured against, and moving windows.

:class:`Series` holds the target (``y`` at times ``t``) and the inputs (``x``: column 0 the
target variable at the input frequency, then covariates). ``series.upto(i)`` cuts both at the
end of target period ``i``: the backtest hands each model nothing else, which is what makes
it leak-free.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from shared.io import DataError


@dataclass(frozen=True)
class Series:
    """A target series and its inputs, as every forecaster sees them (see the module docstring).

    Raises:
        DataError: ``x`` is not 2-D, or ``x`` does not have ``len(y) * steps`` rows, or ``tx`` not ``len(x)``.
    """

    y: np.ndarray  # (n,) target values
    t: np.ndarray  # (n,) mid-period times in years
    x: np.ndarray  # (n * steps, c) inputs; column 0 is the target variable
    tx: np.ndarray  # (n * steps,) input times
    steps: int = 1  # input periods per target period
    season: int = 1  # seasonal period of the target (12 monthly, 1 annual)
    names: tuple[str, ...] = ("value",)
    periods: tuple[str, ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        if self.x.ndim != 2 or len(self.x) != len(self.y) * self.steps or len(self.tx) != len(self.x):
            raise DataError(f"inconsistent series: {len(self.y)} targets, inputs {self.x.shape}, steps {self.steps}")

    @property
    def n(self) -> int:
        return len(self.y)

    @property
    def dt(self) -> float:
        return 1.0 / self.season if self.season > 1 else 1.0

    @property
    def input_season(self) -> int:
        return 12 if self.steps == 12 or self.season == 12 else 1

    def upto(self, i: int) -> Series:
        """Everything known at the end of target period ``i`` (0-based, inclusive).

        Raises:
            IndexError: ``i`` outside ``0 … n − 1``.
        """
        if not 0 <= i < self.n:
            raise IndexError(f"origin {i} outside 0..{self.n - 1}")
        k = (i + 1) * self.steps
        return Series(self.y[: i + 1], self.t[: i + 1], self.x[:k], self.tx[:k], self.steps, self.season, self.names,
                      self.periods[: i + 1])

    def future_times(self, horizon: int) -> np.ndarray:
        return self.t[-1] + self.dt * np.arange(1, horizon + 1)

    def future_input_times(self, horizon: int) -> np.ndarray:
        dtx = self.dt / self.steps
        return self.tx[-1] + dtx * np.arange(1, horizon * self.steps + 1)


def from_prepared(prepared) -> Series:
    """:class:`Series` from :class:`projects.climate_forecast.data.Prepared`."""
    from projects.climate_forecast.prepared import period_times

    names = ("value", *prepared.covariates)
    return Series(y=prepared.target["value"].to_numpy(float), t=period_times(prepared.target.index),
                  x=prepared.inputs[list(names)].to_numpy(float), tx=period_times(prepared.inputs.index),
                  steps=prepared.steps, season=prepared.season, names=names,
                  periods=tuple(str(p) for p in prepared.target.index))


# --------------------------------------------------------------------------- trend
def _month(times: np.ndarray) -> np.ndarray:
    return np.floor((np.asarray(times) % 1.0) * 12.0 + 1e-6).astype(int) % 12


@dataclass(frozen=True)
class Trend:
    """``a + b (t − t0)`` plus, for seasonal data, month-of-year offsets that sum to zero."""

    coef: np.ndarray
    t0: float
    season: int

    def design(self, times: np.ndarray) -> np.ndarray:
        times = np.asarray(times, float)
        cols = [np.ones_like(times), times - self.t0]
        if self.season > 1:
            month = _month(times)
            for m in range(1, self.season):
                cols.append((month == m).astype(float) - (month == 0).astype(float))
        return np.stack(cols, axis=-1)

    def __call__(self, times) -> np.ndarray:
        return self.design(times) @ self.coef

    @property
    def slope(self) -> float:
        return float(self.coef[1])


def fit_trend(t: np.ndarray, y: np.ndarray, season: int = 1) -> Trend:
    """Least-squares linear trend (with seasonal offsets when ``season > 1``)."""
    t, y = np.asarray(t, float), np.asarray(y, float)
    season = season if season > 1 and len(t) >= 2 * season else 1
    trend = Trend(np.zeros(2 + max(season - 1, 0)), float(t.mean()), season)
    coef, *_ = np.linalg.lstsq(trend.design(t), y, rcond=None)
    return Trend(coef, trend.t0, season)


def trend_at(series: Series, i: int, window: int) -> Trend:
    """The trend of the target over the ``window`` periods ending at period ``i``."""
    lo = max(0, i - window + 1)
    return fit_trend(series.t[lo:i + 1], series.y[lo:i + 1], series.season)


def input_trend_at(series: Series, i: int, window: int, column: int) -> Trend:
    """The trend of input column ``column`` over the inputs of the same ``window`` target periods."""
    lo, hi = max(0, i - window + 1) * series.steps, (i + 1) * series.steps
    return fit_trend(series.tx[lo:hi], series.x[lo:hi, column], series.input_season)


# --------------------------------------------------------------------------- windows
def make_windows(x: np.ndarray, length: int, ends: np.ndarray | None = None) -> np.ndarray:
    """Moving windows of ``x`` (``(T, features)``) that end at rows ``ends`` (default: every row
    that has ``length`` rows behind it): shape ``(samples, length, features)``.

    A 1-D ``x`` is read as ``(T, 1)``.

    Raises:
        DataError: ``length`` < 1, ``x`` has fewer than ``length`` rows, or an end lies outside
            ``[length − 1, T − 1]``.
    """
    x = np.asarray(x, float)
    if x.ndim == 1:
        x = x[:, None]
    if length < 1:
        raise DataError(f"window length must be ≥ 1, got {length}")
    if len(x) < length:
        raise DataError(f"the series has {len(x)} rows, fewer than the window length {length}")
    ends = np.arange(length - 1, len(x)) if ends is None else np.asarray(ends, int)
    if len(ends) and (ends.min() < length - 1 or ends.max() >= len(x)):
        raise DataError(f"window ends must lie in [{length - 1}, {len(x) - 1}]")
    idx = ends[:, None] + np.arange(-length + 1, 1)[None, :]
    return x[idx]
