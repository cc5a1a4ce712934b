"""The rolling-origin protocol shared by the ``backtest``, ``train`` and ``evaluate`` stages.

At each origin ``i`` every model receives ``series.upto(i)``, nothing else, and forecasts
horizons 1..H. Two sets of origins:

* **validation** origins (``validation_first`` up to the year before ``first_origin``, only those
  whose targets are all known by ``first_origin``): the classical models only; the strongest
  baseline is chosen on them, per horizon, before any test origin is looked at;
* **test** origins (``first_origin`` to the last period minus the shortest horizon): every model.

The expensive part of a model (a network, ARIMA's order search) is fitted every
``refit_every`` origins, on the history up to that earlier origin, and reused until the next
refit: the anchor of an origin depends on its position only, so a resumed run refits exactly
what an uninterrupted run fitted.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from projects.climate_forecast.baselines import SIMPLE, ClassicalConfig, Forecaster, make_forecaster
from projects.climate_forecast.series import Series
from shared.io import DataError

#: plain recurrent ensembles (a reference: the network alone)
NETWORKS = ("lstm", "gru")
#: the network on what the strongest classical model leaves
HYBRIDS = ("hybrid",)
NEURAL = (*NETWORKS, *HYBRIDS)
MODELS = (*SIMPLE, "arima", "ets", *NEURAL)


@dataclass(frozen=True)
class BacktestConfig:
    """The ``backtest`` section: origins, horizons, models and refit interval.

    Raises:
        ValueError: an unknown model; ``horizons`` empty or with a horizon < 1, ``origin_step`` < 1 or
            ``refit_every`` < 1; ``validation_first`` not before ``first_origin``.
    """

    #: year of the first test origin (the last year, or the December, known to the models)
    first_origin: int = 1990
    #: year of the first validation origin (baselines only; None: no validation origins)
    validation_first: int | None = 1960
    #: target periods between origins (monthly data: 12 = one origin per year, at December)
    origin_step: int = 1
    #: horizons reported in the tables, in target periods (years for annual data, months for monthly)
    horizons: tuple[int, ...] = (1, 5, 10)
    models: tuple[str, ...] = MODELS
    #: origins between two fits of the networks and two ARIMA order searches
    refit_every: int = 5
    classical: ClassicalConfig = field(default_factory=ClassicalConfig)

    def __post_init__(self) -> None:
        unknown = [m for m in self.models if m not in MODELS]
        if unknown:
            raise ValueError(f"unknown model(s) {unknown}; models: {', '.join(MODELS)}")
        if not self.horizons or min(self.horizons) < 1 or self.origin_step < 1 or self.refit_every < 1:
            raise ValueError("horizons ≥ 1, origin_step ≥ 1 and refit_every ≥ 1 are required")
        if self.validation_first is not None and self.validation_first >= self.first_origin:
            raise ValueError("validation_first must come before first_origin")


def horizon_label(h: int, season: int) -> str:
    """A horizon named in periods of the series: ``"5y"`` (annual), ``"12m"`` (monthly)."""
    return f"{h}{'m' if season > 1 else 'y'}"


def _candidates(series: Series, cfg: BacktestConfig, first_year: int, last_year: int | None, reach: int) -> list[int]:
    years = np.floor(series.t).astype(int)
    out = [i for i in range(series.n) if years[i] >= first_year and (last_year is None or years[i] <= last_year)
           and i + reach < series.n]
    if series.season > 1 and cfg.origin_step % series.season == 0:
        out = [i for i in out if round((series.t[i] % 1) * 12 + 0.5) == 12]  # Decembers
        return out[:: cfg.origin_step // series.season]
    return out[:: cfg.origin_step]


def origins_for(series: Series, cfg: BacktestConfig) -> list[int]:
    """Test origin indices: from ``first_origin`` on, every ``origin_step`` periods, with ≥ one scored horizon.

    Raises:
        DataError: the series ends before the first origin plus the shortest horizon.
    """
    origins = _candidates(series, cfg, cfg.first_origin, None, min(cfg.horizons))
    if not origins:
        raise DataError(f"no backtest origin: the series ends before {cfg.first_origin} + {min(cfg.horizons)} periods")
    return origins


def validation_origins(series: Series, cfg: BacktestConfig) -> list[int]:
    """Validation origin indices: ``validation_first`` … before ``first_origin``, every target (up to the
    largest horizon) known by the end of ``first_origin`` (empty where the series starts too late)."""
    if cfg.validation_first is None:
        return []
    years = np.floor(series.t).astype(int)
    end = int(np.searchsorted(years, cfg.first_origin, side="right")) - 1  # last period of the first origin year
    out = _candidates(series, cfg, cfg.validation_first, cfg.first_origin - 1, 1)
    return [i for i in out if i + max(cfg.horizons) <= end]


def period_label(time: float, season: int) -> str:
    """The label of the period at mid-period ``time`` (years): ``"2031"`` or ``"2031-07"``."""
    year = int(np.floor(time))
    if season > 1:
        return f"{year}-{int(np.floor((time - year) * 12)) + 1:02d}"
    return str(year)


def mase_scale(history: Series) -> float:
    """Mean absolute (seasonal) naive one-step error over the history: the MASE denominator."""
    m = history.season
    diffs = np.abs(history.y[m:] - history.y[:-m])
    return float(diffs.mean()) if len(diffs) else float("nan")


def make_models(names: Sequence[str], cfg: BacktestConfig, train, series: Series, workdir: Path | None = None
                ) -> dict[str, Forecaster]:
    """The forecasters named in ``names`` (``seasonal_naive`` dropped for annual data)."""
    from shared import config as config_lib

    models: dict[str, Forecaster] = {}
    for name in names:
        if name == "seasonal_naive" and series.season == 1:
            continue  # annual data: no season
        if name in NETWORKS:
            from projects.climate_forecast.networks import NetworkForecaster

            net_cfg = config_lib.replace(train, network={"cell": name})
            models[name] = NetworkForecaster(net_cfg, name, workdir / name if workdir else None)
        elif name in HYBRIDS:
            from projects.climate_forecast.hybrid import HybridForecaster

            models[name] = HybridForecaster(train, cfg.classical, workdir / name if workdir else None)
        else:
            models[name] = make_forecaster(name, cfg.classical)
    return models


def run_backtest(series: Series, models: Mapping[str, Forecaster], origins: Sequence[int], horizon: int, *,
                 refit_every: int = 5, done: Mapping[tuple[str, int], list[dict]] | None = None,
                 on_rows: Callable[[str, int, list[dict]], None] | None = None, progress: bool = False,
                 split: str = "test") -> list[dict]:
    """Forecast from every origin with every model; returns one row per (model, origin, horizon).

    Rows: model, split, origin (period label), origin_index, horizon (periods), target, actual,
    forecast, std, lo80/hi80/lo95/hi95 (series units), mase_scale, seconds (wall time of the origin,
    on the horizon-1 row), anchor_index (the origin the model was last fitted at).
    """
    from tqdm.auto import tqdm

    done = done or {}
    rows: list[dict] = []
    for name, model in models.items():
        anchor_fitted = None
        bar = tqdm(origins, desc=f"{split} {name}", disable=not progress, leave=False)
        for k, i in enumerate(bar):
            if (name, i) in done:
                rows += done[(name, i)]
                continue
            start = time.perf_counter()
            anchor = origins[k - k % refit_every]
            if model.needs_fit and anchor_fitted != anchor:
                model.fit(series.upto(anchor))
                anchor_fitted = anchor
            history = series.upto(i)
            fc = model.predict(history, horizon)
            seconds = time.perf_counter() - start
            lo80, hi80 = fc.interval(0.8)
            lo95, hi95 = fc.interval(0.95)
            scale = mase_scale(history)
            new = []
            for h in range(1, horizon + 1):
                j = i + h
                new.append({"model": name, "split": split, "origin": series.periods[i] if series.periods else i,
                            "origin_index": i, "horizon": h,
                            "target": series.periods[j] if j < series.n and series.periods else j,
                            "actual": float(series.y[j]) if j < series.n else np.nan, "forecast": float(fc.mean[h - 1]),
                            "std": float(fc.std[h - 1]), "lo80": float(lo80[h - 1]), "hi80": float(hi80[h - 1]),
                            "lo95": float(lo95[h - 1]), "hi95": float(hi95[h - 1]), "mase_scale": scale,
                            "seconds": seconds if h == 1 else 0.0, "anchor_index": anchor})
            if on_rows is not None:
                on_rows(name, i, new)
            rows += new
    return rows
