"""climate_forecast tools: forecast tables and unit-root tests of a source from the command line.

    capstone climate_forecast forecast --horizon 10                     # embedded GISTEMP, annual
    capstone climate_forecast forecast --source gistemp --frequency annual --horizon 10 --networks
    capstone climate_forecast stationarity --source datahub --frequency annual
    capstone climate_forecast sources

Real sources are read from ``data/climate_forecast/external/`` or downloaded (see ``sources``).
"""

from __future__ import annotations

import argparse

DEFAULT_PARAMS = "projects/climate_forecast/params.yaml"
SOURCES = ("statsmodels_co2", "statsmodels_elnino", "gistemp", "hadcrut5", "noaa", "datahub", "gridded")


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="climate_command", required=True)
    for name, helptext, func in (("forecast", "print the forecast table of every model", cmd_forecast),
                                 ("stationarity", "print the DF/ADF/KPSS/PP table and the verdict", cmd_stationarity)):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("--source", choices=SOURCES, default=None, help="default: data.source of --params")
        p.add_argument("--frequency", choices=["annual", "monthly"], default=None)
        p.add_argument("--params", default=DEFAULT_PARAMS)
        p.add_argument("--raw", default="data/climate_forecast/raw", help="download folder")
        p.add_argument("--external", default=None,
                       help="folder of hand-placed files (default data/climate_forecast/external)")
        if name == "forecast":
            p.add_argument("--horizon", type=int, default=10, help="periods ahead (years or months)")
            p.add_argument("--models", default="persistence,trend,trend_residual,arima,ets",
                           help="comma-separated non-neural models")
            p.add_argument("--networks", action="store_true",
                           help="also train the hybrid (a GRU ensemble on trend_residual's errors; a minute)")
        p.set_defaults(func=func)
    p = sub.add_parser("sources", help="list the sources, their files and URLs")
    p.set_defaults(func=cmd_sources)


def _series(args: argparse.Namespace):
    import dataclasses
    from pathlib import Path

    from projects.climate_forecast.prepared import DataConfig, prepare
    from projects.climate_forecast.series import from_prepared
    from shared import config as config_lib

    cfg = config_lib.load_section(args.params, "data", DataConfig)
    changes = {}
    if args.source:
        changes["source"] = args.source
        changes["covariates"] = {}  # the covariates of --params belong to its own source
    if args.frequency:
        changes["frequency"] = args.frequency
    if changes:
        # dataclasses.replace: shared.config.replace merges mappings, so it cannot empty the covariates
        cfg = dataclasses.replace(cfg, **changes)
    prepared = prepare(cfg, Path(args.raw), external=Path(args.external) if args.external else None)
    return from_prepared(prepared), prepared


def cmd_forecast(args: argparse.Namespace) -> int:
    """``forecast``: mean and 95% interval of each model for ``--horizon`` periods after the series' end.

    Values are in the source's units (``°C anomaly`` for the temperature sources); rows are target periods.

    Raises:
        ConfigError: ``--params`` is missing or its ``data``, ``backtest`` or ``train`` section is invalid; a name
            in ``--models`` is not a classical model (see :func:`make_forecaster`).
        DataError: the source or a covariate cannot be read or downloaded, or fails validation.
    """
    import numpy as np

    from projects.climate_forecast.baselines import make_forecaster
    from projects.climate_forecast.networks import TrainConfig
    from projects.climate_forecast.protocol import BacktestConfig, period_label
    from shared import config as config_lib

    series, prepared = _series(args)
    backtest = config_lib.load_section(args.params, "backtest", BacktestConfig)
    forecasts = {}
    for name in [m.strip() for m in args.models.split(",") if m.strip()]:
        if name == "seasonal_naive" and series.season == 1:
            continue
        model = make_forecaster(name, backtest.classical)
        if model.needs_fit:
            model.fit(series)
        forecasts[name] = model.predict(series, args.horizon)
    if args.networks:
        from projects.climate_forecast.hybrid import HybridForecaster

        train = config_lib.load_section(args.params, "train", TrainConfig)
        hybrid = HybridForecaster(config_lib.replace(train, horizon=max(args.horizon, 1)), backtest.classical)
        hybrid.fit(series)
        forecasts["hybrid"] = hybrid.predict(series, args.horizon)
    times = series.future_times(args.horizon)
    print(f"{prepared.manifest['source']} ({prepared.frequency}, {prepared.manifest['units']}), last value "
          f"{series.periods[-1]} = {series.y[-1]:.4g}; forecast mean [95% interval]")
    width = 26
    print("period".ljust(9) + "".join(name.rjust(width) for name in forecasts))
    for h in range(args.horizon):
        cells = []
        for fc in forecasts.values():
            lo, hi = fc.interval(0.95)
            cells.append(f"{fc.mean[h]:.4g} [{lo[h]:.4g}, {hi[h]:.4g}]".rjust(width))
        print(period_label(float(times[h]), series.season).ljust(9) + "".join(cells))
    if not np.isfinite([fc.mean for fc in forecasts.values()]).all():
        print("warning: some forecasts are not finite")
    return 0


def cmd_stationarity(args: argparse.Namespace) -> int:
    """``stationarity``: DF/ADF/KPSS/PP statistics and p-values of the series and its differences, and the verdict.

    Raises:
        ConfigError: ``--params`` is missing or its ``data`` section is invalid.
        DataError: the source or a covariate cannot be read or downloaded, or fails validation.
    """
    from projects.climate_forecast.unitroot import analyse, table

    series, prepared = _series(args)
    result = analyse(series.y, series.season)
    print(f"{prepared.manifest['source']} ({prepared.frequency}), {series.n} values")
    print(f"{'transform':<22}{'test':<6}{'reg':<5}{'statistic':>11}{'p-value':>9}{'lags':>6}  null / decision at 5%")
    for row in table(result):
        decision = "reject" if row["reject_5pct"] else "keep"
        print(f"{row['transform']:<22}{row['test']:<6}{row['regression']:<5}{row['statistic']:>11.3f}"
              f"{row['p_value']:>9.3f}{row['lags']:>6}  {row['null']}: {decision}")
    for name, reason in result.get("skipped", {}).items():
        print(f"{name}: no tests, the series is {reason}")
    print(f"verdict: {result['verdict']} (d={result['d']}, D={result['D']}): {result['rule']}")
    return 0


def cmd_sources(args: argparse.Namespace) -> int:
    """``sources``: every source with the file it is read from and its URL."""
    from projects.climate_forecast.sources import FILENAMES, URLS

    print("embedded (offline): statsmodels_co2 (Mauna Loa CO2, weekly → monthly), statsmodels_elnino (El Niño SST)")
    print("gridded: any CF NetCDF named by data.gridded_file, placed in data/climate_forecast/external/")
    for key, url in URLS.items():
        print(f"{key:<18} data/climate_forecast/external/{FILENAMES[key]}\n{'':<18} {url}")
    return 0
