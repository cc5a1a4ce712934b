"""DF, ADF, KPSS and Phillips-Perron tests and a combined verdict (library of the ``stationarity`` stage).

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

A degenerate series (all NaN, too short, constant, exactly a straight line) gets a one-line
verdict instead of tests (:func:`degenerate`); a test that fails on a legal series is a NaN row
with its reason, never a traceback.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np

from shared.io import DataError

log = logging.getLogger(__name__)

NULLS = {"DF": "unit root", "ADF": "unit root", "PP": "unit root", "KPSS": "stationary"}


@dataclass(frozen=True)
class StationarityConfig:
    """The ``stationarity`` section: test level, ADF lag search and the plot data.

    Raises:
        ValueError: ``alpha`` outside (0, 0.5).
    """

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


#: fewest values the tests are run on (ADF with a trend and a few lags, KPSS's lag window)
MIN_LENGTH = 12


def degenerate(y: np.ndarray, regression: str = "c") -> str | None:
    """Why the unit-root tests cannot say anything about ``y``, or None when they can.

    ``y`` (n,): a series in any units. Checked in order: no finite value, a NaN or infinity inside,
    fewer than :data:`MIN_LENGTH` values, a constant series, and (``regression="ct"``) a series that
    is exactly a straight line (nothing left after detrending: the regressions of DF/ADF/PP are then
    singular and statsmodels returns absurd statistics or fails).
    """
    y = np.asarray(y, float)
    if not np.isfinite(y).any():
        return "no finite values (all NaN)"
    if not np.isfinite(y).all():
        return f"{int((~np.isfinite(y)).sum())} NaN or infinite value(s) among {len(y)}"
    if len(y) < MIN_LENGTH:
        return f"too short: {len(y)} values, the tests need at least {MIN_LENGTH}"
    scale = max(float(np.max(np.abs(y))), 1e-300)
    if float(np.ptp(y)) <= 1e-9 * scale:
        return f"constant (every value {y[0]:.6g})"
    if regression == "ct":
        t = np.arange(len(y), dtype=float)
        slope, intercept = np.polyfit(t, y, 1)
        if float(np.std(y - (intercept + slope * t))) <= 1e-9 * scale:
            return f"exactly a straight line (slope {slope:.6g} per period): no variance left after detrending"
    return None


def run_tests(y: np.ndarray, *, regression: str, alpha: float = 0.05, max_lag: int | None = None) -> list[dict]:
    """DF, ADF, PP (with ``regression``) and KPSS (c and ct) on one series.

    Args:
        y: (n,) finite values, n ≥ :data:`MIN_LENGTH`, not degenerate (:func:`degenerate`).
        regression: deterministic terms of DF/ADF/PP, ``"c"`` (constant) or ``"ct"`` (constant and trend).
        alpha: level of the decisions. max_lag: ADF's largest lag (None: 12 (n/100)^{1/4}), capped so
            that the regression keeps enough degrees of freedom on short series.

    Returns:
        One row per test: test, regression, statistic, p_value, lags, null, reject_5pct. A test that
        cannot run on this series (statsmodels or arch raise) has a NaN statistic, ``reject_5pct``
        False and its reason in ``note``.

    Raises:
        DataError: ``y`` is degenerate (the message is the one-line reason).
    """
    from arch.unitroot import PhillipsPerron
    from statsmodels.tsa.stattools import adfuller, kpss

    y = np.asarray(y, float)
    reason = degenerate(y, regression)
    if reason:
        raise DataError(f"stationarity tests: the series is {reason}")
    n = len(y)
    # ADF regresses on lags + trend terms; keep at least ~n/2 degrees of freedom
    cap = max(0, (n - 4) // 3 - 1)
    max_lag = min(max_lag if max_lag is not None else int(np.ceil(12 * (n / 100) ** 0.25)), cap)
    specs = [("DF", regression, lambda: adfuller(y, maxlag=0, autolag=None, regression=regression)[:3]),
             ("ADF", regression, lambda: adfuller(y, maxlag=max_lag, autolag="AIC", regression=regression)[:3]),
             ("PP", regression, lambda: _pp(PhillipsPerron(y, trend="ct" if regression == "ct" else "c")))]
    specs += [("KPSS", reg, (lambda r=reg: kpss(y, regression=r, nlags="legacy")[:3])) for reg in ("c", "ct")]
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # KPSS p-values outside its table, short-sample notes
        for name, reg, compute in specs:
            try:
                stat, p, lags = compute()
                note = "" if np.isfinite(stat) and np.isfinite(p) else "not finite"
            except (ValueError, np.linalg.LinAlgError, ZeroDivisionError, IndexError) as exc:
                stat, p, lags, note = np.nan, np.nan, 0, f"not computable: {str(exc).splitlines()[0]}"
            rows.append({"test": name, "regression": reg, "statistic": float(stat), "p_value": float(p),
                         "lags": int(lags), "null": NULLS[name], "reject_5pct": bool(np.isfinite(p) and p < alpha),
                         **({"note": note} if note else {})})
    return rows


def _pp(test) -> tuple[float, float, int]:
    return float(test.stat), float(test.pvalue), int(test.lags)


def _unit_root_rejected(rows: list[dict]) -> bool:
    votes = [r["reject_5pct"] for r in rows if r["test"] in ("DF", "ADF", "PP")]
    return sum(votes) >= 2


def _kpss_ok(rows: list[dict], reg: str) -> bool:
    row = next(r for r in rows if r["test"] == "KPSS" and r["regression"] == reg)
    return np.isfinite(row["p_value"]) and not row["reject_5pct"]


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
    """Every test on levels and differences, the verdict and the differencing orders (d, D).

    Args:
        y: (n,) the series (any units), oldest first. season: 12 for monthly data, 1 for annual.

    Returns:
        ``{"verdict", "d", "D", "rule", "tables"}``. A degenerate series (:func:`degenerate`: all NaN,
        too short, constant, exactly a straight line) gets no tests (``tables`` empty) and a one-line
        verdict: ``constant`` (d = 0), ``deterministic trend`` (d = 0, ARIMA with a trend) or
        ``not testable`` (d = 1); a degenerate difference (e.g. a straight line's constant
        differences) is left out of the tables with its reason in ``skipped``.
    """
    y = np.asarray(y, float)
    reason = degenerate(y, "ct")
    if reason:
        if reason.startswith("constant"):
            name, d = "constant", 0
        elif reason.startswith("exactly a straight line"):
            name, d = "deterministic trend", 0
        else:
            name, d = "not testable", 1
        return {"verdict": name, "d": d, "D": 0, "rule": f"the series is {reason}; no unit-root test applies",
                "tables": {}, "skipped": {"levels": reason}}
    transforms = {"levels": (y, "ct"), "first differences": (np.diff(y), "c")}
    if season > 1 and len(y) > 3 * season:
        transforms["seasonal differences"] = (y[season:] - y[:-season], "c")
    tables: dict[str, list[dict]] = {}
    skipped: dict[str, str] = {}

    def add(name: str, values: np.ndarray, regression: str) -> None:
        why = degenerate(values, regression)
        if why:
            skipped[name] = why
        else:
            tables[name] = run_tests(values, regression=regression, alpha=alpha, max_lag=max_lag)

    for name, (values, regression) in transforms.items():
        add(name, values, regression)
    name, d, rule = verdict(tables)
    if (d == 2 or name == "tests disagree") and len(y) > MIN_LENGTH + 2:
        add("second differences", np.diff(y, 2), "c")
        name, d, rule = verdict(tables)
    seasonal_d = seasonal_order(y, season)
    return {"verdict": name, "d": d, "D": seasonal_d, "rule": rule, "tables": tables, "skipped": skipped}


def seasonal_order(y: np.ndarray, season: int) -> int:
    """D by the OCSB test (0 for annual data)."""
    if season <= 1 or len(y) < 3 * season:
        return 0
    from pmdarima.arima import nsdiffs

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return int(nsdiffs(np.asarray(y, float), m=season, test="ocsb", max_D=1))
        except (ValueError, np.linalg.LinAlgError) as exc:
            log.warning("OCSB seasonal test failed (%s); D = 0", str(exc).splitlines()[0])
            return 0


def differencing_order(y: np.ndarray, season: int = 1, alpha: float = 0.05) -> tuple[int, int]:
    """(d, D) for ARIMA from the verdict rule, on the history given (leak-free when given a history)."""
    result = analyse(y, season, alpha)
    return result["d"], result["D"]


def table(result: dict) -> list[dict]:
    """One flat table: transform, test, regression, statistic, p-value, lags, null, decision."""
    return [{"transform": name, **row} for name, rows in result["tables"].items() for row in rows]
