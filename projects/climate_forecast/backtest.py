"""Stage ``backtest``: the rolling-origin evaluation, identical for every model.

The protocol is :mod:`projects.climate_forecast.protocol`: at each origin ``i`` every model
receives ``series.upto(i)``, nothing else, and forecasts horizons 1..H; the classical models also
run on the validation origins (before ``first_origin``), where the strongest baseline is chosen.

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
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from projects.climate_forecast.networks import TrainConfig
from projects.climate_forecast.protocol import (
    NEURAL,
    BacktestConfig,
    make_models,
    origins_for,
    run_backtest,
    validation_origins,
)
from shared import config as config_lib
from shared.io import DataError, atomic_dir, write_csv, write_json
from shared.stage import run, stage_parser

log = logging.getLogger(__name__)


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
    """Rolling-origin forecasts of every model of ``cfg`` (validation origins, then test origins), resumable.

    Writes ``forecasts.csv`` (one row per model, origin and horizon, in the series' units) and ``timing.json``
    (seconds per model) into ``out``; returns the forecasts.

    Raises:
        DataError: ``train.strategy`` is ``direct`` and ``train.horizon`` is shorter than the largest backtest
            horizon, or the series ends before the first origin plus the shortest horizon.
    """
    from projects.climate_forecast.series import from_prepared

    if train.distribute == "multi_worker":  # hundreds of small refits: not worth a cluster, and no TF_CONFIG here
        log.info("train.distribute is multi_worker: the backtest refits its networks in this one process (auto)")
        train = config_lib.replace(train, distribute="auto")
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
    val = validation_origins(series, cfg)
    log.info("backtest: %d test origins (%s … %s), %d validation origins (%s), horizons 1..%d, models %s",
             len(origins), series.periods[origins[0]], series.periods[origins[-1]], len(val),
             f"{series.periods[val[0]]} … {series.periods[val[-1]]}" if val else "none", horizon, ", ".join(models))
    start = time.perf_counter()
    rows = []
    if val:
        classical = {k: v for k, v in models.items() if k not in NEURAL}
        val_done = {(m, i - VALIDATION_KEY): r for (m, i), r in done.items() if i >= VALIDATION_KEY}
        rows += run_backtest(series, classical, val, horizon, refit_every=cfg.refit_every, done=val_done,
                             on_rows=lambda n, i, r: keep(n, i + VALIDATION_KEY, r), progress=progress,
                             split="validation")
        arima_validation = getattr(classical.get("arima"), "describe", lambda: None)()
        for m in classical.values():  # the test pass refits from scratch
            if hasattr(m, "spec"):
                m.spec = None
    rows += run_backtest(series, models, origins, horizon, refit_every=cfg.refit_every,
                         done={k: v for k, v in done.items() if k[1] < VALIDATION_KEY}, on_rows=keep,
                         progress=progress)
    wall = time.perf_counter() - start
    frame = pd.DataFrame(rows)
    test = frame[frame["split"] == "test"]
    timing = {name: float(test.loc[test["model"] == name, "seconds"].sum()) for name in models}
    info = {"seconds": timing, "total_s": float(sum(timing.values())), "wall_s_this_run": wall,
            "validation_seconds": float(frame.loc[frame["split"] == "validation", "seconds"].sum()),
            "resumed_from": len(done), "origins": len(origins), "validation_origins": len(val), "horizon": horizon,
            "fits": {name: getattr(m, "fits", None) for name, m in models.items() if getattr(m, "fits", None)},
            "arima": getattr(models.get("arima"), "describe", lambda: None)(),
            "arima_validation": arima_validation if val else None}
    with atomic_dir(out) as tmp:
        write_csv(tmp / "forecasts.csv", frame)
        write_json(tmp / "timing.json", info)
    shutil.rmtree(work, ignore_errors=True)
    return frame


#: journal keys of validation origins are offset by this (a validation and a test origin never collide)
VALIDATION_KEY = 1_000_000


def config_lib_hash(prepared, train: TrainConfig, cfg: BacktestConfig) -> str:
    """Work folder key: the configs and the data (a changed series must not resume old rows)."""
    from shared.training import config_hash

    digest = pd.util.hash_pandas_object(prepared.inputs, index=False).sum() + \
        pd.util.hash_pandas_object(prepared.target, index=False).sum()
    return config_hash(train, cfg, {"data": int(digest) % (1 << 62)})


def main(argv: Sequence[str] | None = None) -> int:
    """The ``backtest`` stage.

    Raises:
        ConfigError: the ``train`` or ``backtest`` section of ``--params`` is missing or invalid.
        DataError: the prepared files are missing or broken (see :func:`load_prepared`), or the backtest
            cannot run on them (see :func:`backtest`).
    """
    from projects.climate_forecast.prepared import load_prepared

    args = stage_parser(__doc__, inputs=("data",), outputs=("out",), work=True).parse_args(argv)
    train = config_lib.load_section(args.params, "train", TrainConfig)
    cfg = config_lib.load_section(args.params, "backtest", BacktestConfig)
    frame = backtest(load_prepared(args.data), train, cfg, Path(args.work), Path(args.out))
    log.info("backtest: %d forecasts written to %s", len(frame), args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main))
