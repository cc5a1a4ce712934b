"""Stage ``backtest``: the rolling-origin evaluation, identical for every model.

At each origin ``i`` (annual: every year from ``first_origin`` on; monthly: every
``origin_step`` months) every model receives ``series.upto(i)``, nothing else, and forecasts
horizons 1..H. The expensive part of a model (a network ensemble, ARIMA's order search) is
fitted every ``refit_every`` origins, on the history up to that earlier origin, and reused
until the next refit: the anchor of an origin depends on its position only, so a resumed
run refits exactly what an uninterrupted run fitted.

Leak-freeness is by construction (a model never holds data after its origin) and tested by
poisoning every value after an origin (``tests/projects/climate_forecast/test_backtest.py``).

Writes ``<out>/forecasts.csv`` (one row per model, origin and horizon: forecast, std, 80 and
95% intervals, actual value, MASE scale) and ``<out>/timing.json`` (wall time per model).
Finished (model, origin) rows are kept in ``--work``: a killed backtest resumes.

    python -m projects.climate_forecast.backtest --params projects/climate_forecast/params.yaml \
        --data data/climate_forecast/prepared --work data/climate_forecast/work/backtest \
        --out data/climate_forecast/backtest
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from projects.climate_forecast.baselines import (
    SIMPLE,
    ClassicalConfig,
    Forecaster,
    make_forecaster,
)
from projects.climate_forecast.networks import NetworkForecaster, TrainConfig
from projects.climate_forecast.series import Series
from shared import config as config_lib
from shared.io import DataError, atomic_dir, write_csv, write_json
from shared.stage import run, stage_parser

log = logging.getLogger(__name__)

NETWORKS = ("lstm", "gru")
MODELS = (*SIMPLE, "arima", "ets", *NETWORKS)


@dataclass(frozen=True)
class BacktestConfig:
    #: year of the first origin (the last year, or the December, known to the models)
    first_origin: int = 1990
    #: target periods between origins (monthly data: 12 = one origin per year, at December)
    origin_step: int = 1
    #: horizons reported in the tables, in target periods
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


def origins_for(series: Series, cfg: BacktestConfig) -> list[int]:
    """Origin indices: from ``first_origin`` on, every ``origin_step`` periods, with ≥ one scored horizon."""
    years = np.floor(series.t).astype(int)
    candidates = [i for i in range(series.n) if years[i] >= cfg.first_origin and i + min(cfg.horizons) < series.n]
    if series.season > 1 and cfg.origin_step % series.season == 0:
        candidates = [i for i in candidates if round((series.t[i] % 1) * 12 + 0.5) == 12]  # Decembers
        stride = cfg.origin_step // series.season
    else:
        stride = cfg.origin_step
    origins = candidates[::stride]
    if not origins:
        raise DataError(f"no backtest origin: the series ends before {cfg.first_origin} + {min(cfg.horizons)} periods")
    return origins


def mase_scale(history: Series) -> float:
    """Mean absolute (seasonal) naive one-step error over the history: the MASE denominator."""
    m = history.season
    diffs = np.abs(history.y[m:] - history.y[:-m])
    return float(diffs.mean()) if len(diffs) else float("nan")


def make_models(names: Sequence[str], cfg: BacktestConfig, train: TrainConfig, series: Series,
                workdir: Path | None = None) -> dict[str, Forecaster]:
    models: dict[str, Forecaster] = {}
    for name in names:
        if name == "seasonal_naive" and series.season == 1:
            continue  # annual data: no season
        if name in NETWORKS:
            net_cfg = config_lib.replace(train, network={"cell": name})
            models[name] = NetworkForecaster(net_cfg, name, workdir / name if workdir else None)
        else:
            models[name] = make_forecaster(name, cfg.classical)
    return models


def run_backtest(series: Series, models: Mapping[str, Forecaster], origins: Sequence[int], horizon: int, *,
                 refit_every: int = 5, done: Mapping[tuple[str, int], list[dict]] | None = None,
                 on_rows: Callable[[str, int, list[dict]], None] | None = None, progress: bool = False) -> list[dict]:
    """Forecast from every origin with every model; returns one row per (model, origin, horizon)."""
    from tqdm.auto import tqdm

    done = done or {}
    rows: list[dict] = []
    for name, model in models.items():
        anchor_fitted = None
        bar = tqdm(origins, desc=f"backtest {name}", disable=not progress, leave=False)
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
                new.append({"model": name, "origin": series.periods[i] if series.periods else i, "origin_index": i,
                            "horizon": h, "target": series.periods[j] if j < series.n and series.periods else j,
                            "actual": float(series.y[j]) if j < series.n else np.nan, "forecast": float(fc.mean[h - 1]),
                            "std": float(fc.std[h - 1]), "lo80": float(lo80[h - 1]), "hi80": float(hi80[h - 1]),
                            "lo95": float(lo95[h - 1]), "hi95": float(hi95[h - 1]), "mase_scale": scale,
                            "seconds": seconds if h == 1 else 0.0, "anchor_index": anchor})
            if on_rows is not None:
                on_rows(name, i, new)
            rows += new
    return rows


# --------------------------------------------------------------------------- the stage
def _load_done(path: Path) -> dict[tuple[str, int], list[dict]]:
    done: dict[tuple[str, int], list[dict]] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                item = json.loads(line)
            except json.JSONDecodeError:  # a line cut by a kill
                continue
            done[(item["model"], int(item["origin_index"]))] = item["rows"]
    return done


def backtest(prepared, train: TrainConfig, cfg: BacktestConfig, work: Path, out: Path, *, progress: bool = True
             ) -> pd.DataFrame:
    from projects.climate_forecast.series import from_prepared

    series = from_prepared(prepared)
    horizon = max(cfg.horizons)
    if train.strategy == "direct" and train.horizon < horizon:
        raise DataError(f"train.horizon={train.horizon} is shorter than the largest backtest horizon {horizon}")
    origins = origins_for(series, cfg)
    work = Path(work) / config_lib_hash(prepared, train, cfg)
    work.mkdir(parents=True, exist_ok=True)
    journal = work / "rows.jsonl"
    done = _load_done(journal)
    if done:
        log.info("resuming: %d (model, origin) forecasts already done in %s", len(done), work)

    def keep(name: str, i: int, rows: list[dict]) -> None:
        with open(journal, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"model": name, "origin_index": i, "rows": rows}) + "\n")

    models = make_models(cfg.models, cfg, train, series, work)
    log.info("backtest: %d origins (%s … %s), horizons 1..%d, models %s", len(origins), series.periods[origins[0]],
             series.periods[origins[-1]], horizon, ", ".join(models))
    start = time.perf_counter()
    rows = run_backtest(series, models, origins, horizon, refit_every=cfg.refit_every, done=done, on_rows=keep,
                        progress=progress)
    wall = time.perf_counter() - start
    frame = pd.DataFrame(rows)
    timing = {name: float(frame.loc[frame["model"] == name, "seconds"].sum()) for name in models}
    info = {"seconds": timing, "total_s": float(sum(timing.values())), "wall_s_this_run": wall,
            "resumed_from": len(done), "origins": len(origins), "horizon": horizon,
            "fits": {name: getattr(m, "fits", None) for name, m in models.items() if getattr(m, "fits", None)},
            "arima": getattr(models.get("arima"), "describe", lambda: None)()}
    with atomic_dir(out) as tmp:
        write_csv(tmp / "forecasts.csv", frame)
        write_json(tmp / "timing.json", info)
    shutil.rmtree(work, ignore_errors=True)
    return frame


def config_lib_hash(prepared, train: TrainConfig, cfg: BacktestConfig) -> str:
    """Work folder key: the configs and the data (a changed series must not resume old rows)."""
    from shared.training import config_hash

    digest = pd.util.hash_pandas_object(prepared.inputs, index=False).sum() + \
        pd.util.hash_pandas_object(prepared.target, index=False).sum()
    return config_hash(train, cfg, {"data": int(digest) % (1 << 62)})


def main(argv: Sequence[str] | None = None) -> int:
    from projects.climate_forecast.data import load_prepared

    args = stage_parser(__doc__, inputs=("data",), outputs=("out",), work=True).parse_args(argv)
    train = config_lib.load_section(args.params, "train", TrainConfig)
    cfg = config_lib.load_section(args.params, "backtest", BacktestConfig)
    frame = backtest(load_prepared(args.data), train, cfg, Path(args.work), Path(args.out))
    log.info("backtest: %d forecasts written to %s", len(frame), args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main))
