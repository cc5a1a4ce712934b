"""Stage ``stationarity``: DF, ADF, KPSS and Phillips-Perron tests, and a combined verdict.

The tests and the verdict rule are :mod:`projects.climate_forecast.unitroot`. Writes
``<out>/stationarity.json`` (DVC metrics: the table, the verdict and its rule) and plot data:
``plots/acf.csv`` (ACF and PACF of levels and differences) and ``plots/rolling.csv`` (rolling
mean and standard deviation).

    python -m projects.climate_forecast.stationarity --params projects/climate_forecast/params.yaml \
        --data data/climate_forecast/prepared --out projects/climate_forecast/results
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from projects.climate_forecast.prepared import load_prepared
from projects.climate_forecast.unitroot import StationarityConfig, analyse, degenerate, table
from shared.config import load_section
from shared.io import write_csv
from shared.metrics import write_metrics
from shared.stage import run, stage_parser

log = logging.getLogger(__name__)


def write_outputs(result: dict, y: pd.Series, cfg: StationarityConfig, out: Path, season: int) -> None:
    from statsmodels.tsa.stattools import acf, pacf

    rows = table(result)
    metrics = {"verdict": {"verdict": result["verdict"], "d": result["d"], "D": result["D"], "rule": result["rule"],
                           "skipped": result.get("skipped", {})},
               "tests": {f"{r['test']}({r['regression']}) {r['transform']}": {
                   "statistic": r["statistic"], "p_value": r["p_value"], "lags": r["lags"], "null": r["null"],
                   "reject_5pct": r["reject_5pct"]} for r in rows}}
    write_metrics(out / "stationarity.json", metrics)
    values = y.to_numpy(float)
    transforms = {"levels": values, "first differences": np.diff(values)}
    if season > 1:
        transforms["seasonal differences"] = values[season:] - values[:-season]
    acf_rows = []
    for name, v in transforms.items():
        nlags = min(cfg.acf_lags, len(v) // 2 - 1)
        if nlags < 1 or degenerate(v, "c"):
            continue  # nothing to correlate (constant or too short)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            a, p = acf(v, nlags=nlags, fft=True), pacf(v, nlags=nlags, method="ywm")
        acf_rows += [{"transform": name, "lag": k, "acf": a[k], "pacf": p[k], "band": 1.96 / np.sqrt(len(v))}
                     for k in range(nlags + 1)]
    write_csv(out / "plots" / "acf.csv", pd.DataFrame(acf_rows, columns=["transform", "lag", "acf", "pacf", "band"]))
    window = max(2, min(cfg.rolling_window * season, len(values) // 3))
    roll = pd.DataFrame({"period": [str(p) for p in y.index], "value": values,
                         "rolling_mean": y.rolling(window).mean().to_numpy(),
                         "rolling_std": y.rolling(window).std().to_numpy()})
    write_csv(out / "plots" / "rolling.csv", roll)


def main(argv: Sequence[str] | None = None) -> int:
    """The ``stationarity`` stage.

    Raises:
        ConfigError: the ``stationarity`` section of ``--params`` is missing or invalid.
        DataError: the prepared files are missing or broken (see :func:`load_prepared`).
    """
    args = stage_parser(__doc__, inputs=("data",), outputs=("out",)).parse_args(argv)
    cfg = load_section(args.params, "stationarity", StationarityConfig)
    prepared = load_prepared(args.data)
    y = prepared.target["value"]
    result = analyse(y.to_numpy(float), prepared.season, cfg.alpha, cfg.max_lag)
    write_outputs(result, y, cfg, Path(args.out), prepared.season)
    log.info("verdict: %s (d=%d, D=%d): %s", result["verdict"], result["d"], result["D"], result["rule"])
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main))
