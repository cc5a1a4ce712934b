"""Stage ``stationarity``: DF, ADF, KPSS and Phillips-Perron tests, and a combined verdict.

Each test runs on the levels, the first differences and, for monthly data, the seasonal
differences (lag 12):

* **DF**: ADF with zero lags (``statsmodels.tsa.stattools.adfuller(maxlag=0, autolag=None)``);
* **ADF**: lags chosen by AIC;
* **KPSS** around a level (``c``) and around a trend (``ct``), Schwert's lag rule 12 (n/100)^{1/4}
  (statsmodels' ``nlags="auto"`` picks ~n lags on short differenced series, which voids the test);
* **PP**: ``arch.unitroot.PhillipsPerron``.

On the levels the unit-root tests include a trend (``ct``, the series warm or grow), on
differences a constant. The verdict rule (:func:`verdict`), with ``reject`` at 5%:

1. *unit root rejected* on a transform when at least two of DF, ADF, PP reject it;
2. levels, unit root rejected: KPSS(c) not rejected → **stationary** (d = 0); else KPSS(ct)
   not rejected → **trend-stationary** (d = 0, with a trend); else **tests disagree**;
3. levels, unit root kept: first differences with the unit root rejected and KPSS(c) (or
   KPSS(ct): a changing drift) not rejected → **difference-stationary** (d = 1);
4. else second differences pass → **difference-stationary, order 2** (d = 2);
5. otherwise **tests disagree**, and ARIMA uses d = 1 (the conservative choice for a trending series).

For monthly data the seasonal order D comes from the OCSB test (``pmdarima.arima.nsdiffs``).

Writes ``<out>/stationarity.json`` (DVC metrics: the table, the verdict and its rule) and plot
data: ``plots/acf.csv`` (ACF and PACF of levels and differences) and ``plots/rolling.csv``
(rolling mean and standard deviation).

    python -m projects.climate_forecast.stationarity --params projects/climate_forecast/params.yaml \
        --data data/climate_forecast/prepared --out projects/climate_forecast/results
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from shared.config import load_section
from shared.io import DataError, write_csv
from shared.metrics import write_metrics
from shared.stage import run, stage_parser

log = logging.getLogger(__name__)

NULLS = {"DF": "unit root", "ADF": "unit root", "PP": "unit root", "KPSS": "stationary"}


@dataclass(frozen=True)
class StationarityConfig:
    alpha: float = 0.05
    #: ADF lag search: the largest lag tried (None: statsmodels' 12 (n/100)^{1/4})
    max_lag: int | None = None
    #: lags of the ACF/PACF plot data
    acf_lags: int = 40
    #: window of the rolling mean/std, in target periods
    rolling_window: int = 30

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 0.5:
            raise ValueError(f"alpha must lie in (0, 0.5), got {self.alpha}")


def run_tests(y: np.ndarray, *, regression: str, alpha: float = 0.05, max_lag: int | None = None) -> list[dict]:
    """DF, ADF, PP (with ``regression``) and KPSS (c and ct) on one series."""
    from arch.unitroot import PhillipsPerron
    from statsmodels.tsa.stattools import adfuller, kpss

    y = np.asarray(y, float)
    if len(y) < 12 or not np.all(np.isfinite(y)):
        raise DataError(f"stationarity tests need ≥ 12 finite values, got {len(y)}")
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # KPSS p-values outside its table, short-sample notes
        stat, p, lags, *_ = adfuller(y, maxlag=0, autolag=None, regression=regression)
        rows.append(("DF", regression, stat, p, lags))
        stat, p, lags, *_ = adfuller(y, maxlag=max_lag, autolag="AIC", regression=regression)
        rows.append(("ADF", regression, stat, p, lags))
        pp = PhillipsPerron(y, trend="ct" if regression == "ct" else "c")
        rows.append(("PP", regression, float(pp.stat), float(pp.pvalue), int(pp.lags)))
        for reg in ("c", "ct"):
            stat, p, lags, _ = kpss(y, regression=reg, nlags="legacy")
            rows.append(("KPSS", reg, stat, p, lags))
    return [{"test": name, "regression": reg, "statistic": float(stat), "p_value": float(p), "lags": int(lags),
             "null": NULLS[name], "reject_5pct": bool(p < alpha)} for name, reg, stat, p, lags in rows]


def _unit_root_rejected(rows: list[dict]) -> bool:
    votes = [r["reject_5pct"] for r in rows if r["test"] in ("DF", "ADF", "PP")]
    return sum(votes) >= 2


def _kpss_ok(rows: list[dict], reg: str) -> bool:
    return not next(r["reject_5pct"] for r in rows if r["test"] == "KPSS" and r["regression"] == reg)


def verdict(tables: dict[str, list[dict]]) -> tuple[str, int, str]:
    """The combined verdict, the order of differencing d and the rule that decided."""
    levels = tables["levels"]
    if _unit_root_rejected(levels):
        if _kpss_ok(levels, "c"):
            return "stationary", 0, "levels: ≥2 of DF/ADF/PP reject a unit root and KPSS(c) keeps stationarity"
        if _kpss_ok(levels, "ct"):
            return ("trend-stationary", 0,
                    "levels: ≥2 of DF/ADF/PP (with trend) reject a unit root and KPSS(ct) keeps trend-stationarity")
        return ("tests disagree", 1, "levels: ≥2 of DF/ADF/PP reject a unit root, but KPSS rejects both level- and "
                                     "trend-stationarity (e.g. a changing trend); ARIMA falls back to d = 1")
    diff = tables.get("first differences")
    if diff and _unit_root_rejected(diff):
        if _kpss_ok(diff, "c"):
            return ("difference-stationary", 1, "levels: a unit root is not rejected; first differences: ≥2 of "
                                                "DF/ADF/PP reject a unit root and KPSS(c) keeps stationarity")
        if _kpss_ok(diff, "ct"):
            return ("difference-stationary (changing drift)", 1,
                    "levels: a unit root is not rejected; first differences reject it and are trend-stationary "
                    "by KPSS(ct)")
    diff2 = tables.get("second differences")
    if diff2 and _unit_root_rejected(diff2) and _kpss_ok(diff2, "c"):
        return "difference-stationary (order 2)", 2, "levels and first differences fail; second differences pass"
    return "tests disagree", 1, "no transform passes both kinds of test; ARIMA falls back to d = 1"


def analyse(y: np.ndarray, season: int = 1, alpha: float = 0.05, max_lag: int | None = None) -> dict:
    """Every test on levels and differences, the verdict and the differencing orders (d, D)."""
    y = np.asarray(y, float)
    tables = {"levels": run_tests(y, regression="ct", alpha=alpha, max_lag=max_lag),
              "first differences": run_tests(np.diff(y), regression="c", alpha=alpha, max_lag=max_lag)}
    if season > 1 and len(y) > 3 * season:
        tables["seasonal differences"] = run_tests(y[season:] - y[:-season], regression="c", alpha=alpha,
                                                   max_lag=max_lag)
    name, d, rule = verdict(tables)
    if d == 2 or name == "tests disagree":
        tables["second differences"] = run_tests(np.diff(y, 2), regression="c", alpha=alpha, max_lag=max_lag)
        name, d, rule = verdict(tables)
    seasonal_d = seasonal_order(y, season)
    return {"verdict": name, "d": d, "D": seasonal_d, "rule": rule, "tables": tables}


def seasonal_order(y: np.ndarray, season: int) -> int:
    """D by the OCSB test (0 for annual data)."""
    if season <= 1 or len(y) < 3 * season:
        return 0
    from pmdarima.arima import nsdiffs

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return int(nsdiffs(np.asarray(y, float), m=season, test="ocsb", max_D=1))


def differencing_order(y: np.ndarray, season: int = 1, alpha: float = 0.05) -> tuple[int, int]:
    """(d, D) for ARIMA from the verdict rule, on the history given (leak-free when given a history)."""
    result = analyse(y, season, alpha)
    return result["d"], result["D"]


def table(result: dict) -> list[dict]:
    """One flat table: transform, test, regression, statistic, p-value, lags, null, decision."""
    return [{"transform": name, **row} for name, rows in result["tables"].items() for row in rows]


def write_outputs(result: dict, y: pd.Series, cfg: StationarityConfig, out: Path, season: int) -> None:
    from statsmodels.tsa.stattools import acf, pacf

    rows = table(result)
    metrics = {"verdict": {"verdict": result["verdict"], "d": result["d"], "D": result["D"], "rule": result["rule"]},
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
        a, p = acf(v, nlags=nlags, fft=True), pacf(v, nlags=nlags, method="ywm")
        acf_rows += [{"transform": name, "lag": k, "acf": a[k], "pacf": p[k], "band": 1.96 / np.sqrt(len(v))}
                     for k in range(nlags + 1)]
    write_csv(out / "plots" / "acf.csv", pd.DataFrame(acf_rows))
    window = max(2, min(cfg.rolling_window * season, len(values) // 3))
    roll = pd.DataFrame({"period": [str(p) for p in y.index], "value": values,
                         "rolling_mean": y.rolling(window).mean().to_numpy(),
                         "rolling_std": y.rolling(window).std().to_numpy()})
    write_csv(out / "plots" / "rolling.csv", roll)


def main(argv: Sequence[str] | None = None) -> int:
    from projects.climate_forecast.data import load_prepared

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
