"""Stage ``evaluate``: backtest metrics, the strongest baseline, Diebold-Mariano tests, targets, headline.

From the backtest's forecasts, per model and reported horizon (named in periods of the series:
``1y``/``5y``/``10y`` annual, ``1m``/``12m``/``60m`` monthly), on the **test** origins: MAE, RMSE,
bias (forecast − actual), MASE (scaled by the in-sample (seasonal) naive MAE at each origin), skill
against persistence (1 − MAE/MAE_persistence) and the empirical coverage of the 80 and 95% intervals.
Models whose forecasts are identical at every origin of a horizon (persistence and seasonal naive
at multiples of 12 months; ARIMA(0,1,0) with drift and drift) are shown once, the row saying so.

The **strongest baseline** at each horizon is the classical model with the lowest MAE on the
**validation** origins (before the first test origin), never chosen on test. The declared model
(``evaluate.model``, the hybrid) is compared with it: Diebold-Mariano test (squared-error loss, HAC
variance with h − 1 lags, Harvey-Leybourne-Newbold correction, Student t), the targets and the
``headline`` block. Beside them, its ratio to the baseline that turned out best on test.

The future forecast refits the classical models on the whole series and uses the final hybrid of the
``train`` stage, up to ``forecast_to`` (the hybrid: up to the horizon it was trained for).

Writes ``metrics.json`` (headline, targets, backtest table, DM tests, diagnostics), ``errors.csv``
(one row per model, test origin and reported horizon) and plot data under ``plots/``.

    python -m projects.climate_forecast.evaluate --params projects/climate_forecast/params.yaml \
        --data data/climate_forecast/prepared --backtest data/climate_forecast/backtest \
        --model data/climate_forecast/model --out projects/climate_forecast/results
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from projects.climate_forecast.baselines import make_forecaster
from projects.climate_forecast.prepared import load_prepared
from projects.climate_forecast.protocol import NETWORKS, NEURAL, BacktestConfig, horizon_label, period_label
from projects.climate_forecast.series import Series, from_prepared
from shared.config import load_section
from shared.io import DataError, read_json, write_csv
from shared.metrics import headline, write_metrics
from shared.stage import run, stage_parser

log = logging.getLogger(__name__)

DESCRIPTIONS = {
    "hybrid": "hybrid: GRU ensemble on the errors of {base}",
    "gru": "GRU ensemble alone (on the 30-year trend's residuals)",
    "lstm": "LSTM ensemble alone (on the 30-year trend's residuals)",
}


@dataclass(frozen=True)
class EvaluateConfig:
    """The ``evaluate`` section: the model whose targets are checked, the targets and the future forecast.

    Raises:
        ValueError: ``model`` is not one of :data:`NEURAL`.
    """

    #: the model the targets are checked on, declared before the run (hybrid, gru or lstm)
    model: str = "hybrid"
    #: the future forecast runs to the end of this year
    forecast_to: int = 2050
    forecast_models: tuple[str, ...] = ("trend", "trend_residual", "arima", "ets")
    #: MAE ratio to the strongest baseline required at the first horizon (strictly below)
    target_ratio_first: float = 1.0
    #: ... and at the other horizons (at most)
    target_ratio_rest: float = 1.05
    target_coverage95: tuple[float, float] = (0.90, 0.98)
    target_backtest_s: float = 600.0

    def __post_init__(self) -> None:
        if self.model not in NEURAL:
            raise ValueError(f"model must be one of {NEURAL}, got {self.model!r}")


# --------------------------------------------------------------------------- scores
def scores(frame: pd.DataFrame, horizons: Sequence[int]) -> pd.DataFrame:
    """One row per (model, horizon): n, mae, rmse, bias, mase, skill, cov80, cov95."""
    f = frame[frame["actual"].notna()].copy()
    if "split" in f.columns:
        f = f[f["split"] == "test"]
    f["error"] = f["forecast"] - f["actual"]
    f["abs"] = f["error"].abs()
    f["in80"] = (f["actual"] >= f["lo80"]) & (f["actual"] <= f["hi80"])
    f["in95"] = (f["actual"] >= f["lo95"]) & (f["actual"] <= f["hi95"])
    f["scaled"] = f["abs"] / f["mase_scale"]
    f["squared"] = f["error"] ** 2
    g = f[f["horizon"].isin(horizons)].groupby(["model", "horizon"], sort=False)
    table = pd.DataFrame({"n": g.size(), "mae": g["abs"].mean(), "rmse": np.sqrt(g["squared"].mean()),
                          "bias": g["error"].mean(), "mase": g["scaled"].mean(), "cov80": g["in80"].mean(),
                          "cov95": g["in95"].mean()}).reset_index()
    pers = table[table["model"] == "persistence"].set_index("horizon")["mae"]
    table["skill"] = 1 - table["mae"] / table["horizon"].map(pers) if len(pers) else np.nan
    return table


def coinciding(frame: pd.DataFrame, horizons: Sequence[int], split: str = "test") -> dict[int, list[list[str]]]:
    """Groups of models whose forecasts are identical (to 1e-9) at every origin of a horizon: ``{h: [[a, b], ...]}``."""
    f = frame[frame["split"] == split] if "split" in frame.columns else frame
    out: dict[int, list[list[str]]] = {}
    for h in horizons:
        sub = f[f["horizon"] == h].pivot_table(index="origin_index", columns="model", values="forecast", sort=False)
        groups: list[list[str]] = []
        for model in sub.columns:
            for group in groups:
                if np.allclose(sub[group[0]].to_numpy(), sub[model].to_numpy(), rtol=0.0, atol=1e-9, equal_nan=True):
                    group.append(model)
                    break
            else:
                groups.append([model])
        same = [g for g in groups if len(g) > 1]
        if same:
            out[h] = same
    return out


def strongest_baselines(frame: pd.DataFrame, horizons: Sequence[int]) -> dict[int, dict[str, Any]]:
    """Per horizon: the classical model with the lowest MAE on the validation origins.

    Returns ``{h: {"model", "validation_mae", "validation_n", "ranking": {model: mae}, "rule"}}``; empty when
    the backtest has no validation origins (then :func:`evaluate` falls back to a declared baseline).
    """
    if "split" not in frame.columns:
        return {}
    f = frame[(frame["split"] == "validation") & frame["actual"].notna() & ~frame["model"].isin(NEURAL)]
    if f.empty:
        return {}
    f = f.assign(abs=(f["forecast"] - f["actual"]).abs())
    origins = sorted(f["origin"].astype(str).unique())
    out = {}
    for h in horizons:
        g = f[f["horizon"] == h].groupby("model")["abs"]
        if not len(g):
            continue
        ranking = g.mean().sort_values()
        out[h] = {"model": str(ranking.index[0]), "validation_mae": float(ranking.iloc[0]),
                  "validation_n": int(g.size().loc[ranking.index[0]]),
                  "ranking": {str(k): float(v) for k, v in ranking.items()},
                  "rule": f"lowest MAE at h={h} over the validation origins {origins[0]}-{origins[-1]} among "
                          f"{len(ranking)} classical models ({', '.join(map(str, ranking.index))})"}
    return out


def diebold_mariano(e1: np.ndarray, e2: np.ndarray, h: int, power: int = 2) -> dict[str, float]:
    """DM test of equal accuracy of forecast errors ``e1`` and ``e2`` (same targets).

    Loss differential ``d = |e1|^p − |e2|^p``; its long-run variance with ``h − 1``
    autocovariances; Harvey, Leybourne & Newbold (1997) correction; two-sided t(n − 1) p-value.
    Negative statistic: the first forecast is more accurate.
    """
    from scipy import stats

    d = np.abs(np.asarray(e1)) ** power - np.abs(np.asarray(e2)) ** power
    n = len(d)
    if n < 3:
        return {"n": n, "statistic": float("nan"), "p_value": float("nan")}
    mean = d.mean()
    lags = max(0, min(h - 1, n - 2))
    gamma = [np.mean((d[k:] - mean) * (d[: n - k] - mean)) for k in range(lags + 1)]
    var = (gamma[0] + 2 * sum(gamma[1:])) / n
    if var <= 0:
        var = gamma[0] / n  # negative HAC estimate: fall back to the plain variance
    if var <= 0:
        return {"n": n, "statistic": float("nan"), "p_value": float("nan")}
    correction = np.sqrt((n + 1 - 2 * (lags + 1) + (lags + 1) * lags / n) / n)
    stat = correction * mean / np.sqrt(var)
    return {"n": n, "statistic": float(stat), "p_value": float(2 * stats.t.sf(abs(stat), df=n - 1))}


def dm_table(frame: pd.DataFrame, model: str, baselines: dict[int, str], origin_step: int, season: int
             ) -> dict[str, dict[str, Any]]:
    """DM tests of ``model`` against the baseline of each horizon (``{h: name}``), on the test origins."""
    out = {}
    f = frame[frame["actual"].notna()]
    if "split" in f.columns:
        f = f[f["split"] == "test"]
    for h, best in baselines.items():
        a = f[(f["model"] == model) & (f["horizon"] == h)].set_index("origin_index")
        b = f[(f["model"] == best) & (f["horizon"] == h)].set_index("origin_index")
        common = a.index.intersection(b.index)
        if not len(common):
            continue
        e1 = (a.loc[common, "forecast"] - a.loc[common, "actual"]).to_numpy()
        e2 = (b.loc[common, "forecast"] - b.loc[common, "actual"]).to_numpy()
        overlap = int(np.ceil(h / origin_step))  # forecasts of overlapping periods are correlated
        test = diebold_mariano(e1, e2, overlap)
        mae1, mae2 = float(np.mean(np.abs(e1))), float(np.mean(np.abs(e2)))
        if not np.isfinite(test["p_value"]):
            verdict = "not testable"
        elif test["p_value"] < 0.05:
            verdict = f"{model} better" if test["statistic"] < 0 else f"{best} better"
        else:
            verdict = "no significant difference"
        out[horizon_label(h, season)] = {"model": model, "baseline": best, "model_mae": mae1, "baseline_mae": mae2,
                                         "dm_statistic": test["statistic"], "p_value": test["p_value"],
                                         "n": test["n"], "verdict": verdict}
    return out


def diagnostics(frame: pd.DataFrame, models: Sequence[str], h: int) -> dict[str, dict[str, float]]:
    """Residual checks of the horizon-``h`` backtest errors: mean, Ljung-Box and Jarque-Bera p-values."""
    from scipy import stats
    from statsmodels.stats.diagnostic import acorr_ljungbox

    out = {}
    f = frame[frame["actual"].notna() & (frame["horizon"] == h)]
    if "split" in f.columns:
        f = f[f["split"] == "test"]
    for model in models:
        e = (f.loc[f["model"] == model, "forecast"] - f.loc[f["model"] == model, "actual"]).to_numpy()
        if len(e) < 8:
            continue
        lags = min(10, len(e) // 3)
        lb = acorr_ljungbox(e, lags=[lags])
        out[model] = {"mean_error": float(e.mean()), "std_error": float(e.std(ddof=1)),
                      f"ljung_box_p_lag{lags}": float(lb["lb_pvalue"].iloc[0]),
                      "jarque_bera_p": float(stats.jarque_bera(e).pvalue)}
    return out


# --------------------------------------------------------------------------- targets
def targets(table: pd.DataFrame, cfg: EvaluateConfig, horizons: Sequence[int], baselines: dict[int, str],
            seconds: float, season: int) -> dict:
    """The targets of the declared model against the strongest (validation-chosen) baseline, per horizon."""
    t = table.set_index(["model", "horizon"])
    model = cfg.model
    out: dict[str, dict[str, Any]] = {}

    def get(name, h, col="mae"):
        return float(t.loc[(name, h), col]) if (name, h) in t.index else None

    for k, h in enumerate(horizons):
        lab = horizon_label(h, season)
        mae, base = get(model, h), get(baselines.get(h), h)
        if mae is None or base is None:
            continue
        if k == 0:
            out[f"mae_{lab}"] = {"value": mae, "target": f"< {base:.4g} ({baselines[h]})",
                                 "met": mae / base < cfg.target_ratio_first}
        else:
            ratio = mae / base
            out[f"ratio_to_baseline_{lab}"] = {"value": ratio, "target": f"≤ {cfg.target_ratio_rest:g} "
                                               f"({baselines[h]})", "met": ratio <= cfg.target_ratio_rest}
    lo, hi = cfg.target_coverage95
    for h in horizons:
        cov = get(model, h, "cov95")
        if cov is not None:
            out[f"coverage95_{horizon_label(h, season)}"] = {"value": cov, "target": f"{lo:g}-{hi:g}",
                                                             "met": lo <= cov <= hi}
    out["backtest_time_s"] = {"value": seconds, "target": cfg.target_backtest_s,
                              "met": seconds <= cfg.target_backtest_s}
    return out


# --------------------------------------------------------------------------- future forecast
def future_forecast(series: Series, cfg: EvaluateConfig, backtest_cfg: BacktestConfig, model_dir: Path | None
                    ) -> pd.DataFrame:
    """Forecasts beyond the data to ``cfg.forecast_to``: classical models refitted, final ensembles."""
    last_year = int(np.floor(series.t[-1]))
    per_year = series.season if series.season > 1 else 1
    horizon = max(1, (cfg.forecast_to - last_year) * per_year)
    if series.season > 1:
        horizon = max(1, int(round((cfg.forecast_to + 1 - series.t[-1]) * 12 - 0.5)))
    times = series.future_times(horizon)
    rows = []

    def add(name: str, fc, steps: int) -> None:
        lo80, hi80 = fc.interval(0.8)
        lo95, hi95 = fc.interval(0.95)
        for h in range(steps):
            rows.append({"model": name, "horizon": h + 1, "time": times[h], "forecast": fc.mean[h],
                         "lo80": lo80[h], "hi80": hi80[h], "lo95": lo95[h], "hi95": hi95[h]})

    for name in cfg.forecast_models:
        if name == "seasonal_naive" and series.season == 1:
            continue
        model = make_forecaster(name, backtest_cfg.classical)
        if model.needs_fit:
            model.fit(series)
        add(name, model.predict(series, horizon), horizon)
    if model_dir is not None:
        if (model_dir / "hybrid" / "hybrid.json").exists():
            from projects.climate_forecast.hybrid import HybridForecaster, TrainedHybrid

            trained = TrainedHybrid.load(model_dir / "hybrid")
            steps = min(horizon, trained.cfg.horizon)
            add("hybrid", HybridForecaster(trained.cfg, backtest_cfg.classical, trained=trained).predict(series, steps),
                steps)
        for cell in NETWORKS:
            if (model_dir / cell / "network.json").exists():
                from projects.climate_forecast.networks import TrainedNetwork

                net = TrainedNetwork.load(model_dir / cell)
                steps = min(horizon, net.cfg.horizon) if net.cfg.strategy == "direct" else horizon
                add(cell, net.forecast(series, steps), steps)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- the stage
def evaluate(cfg: EvaluateConfig, backtest_cfg: BacktestConfig, prepared, backtest_dir: Path, model_dir: Path | None,
             out: Path, stationarity: dict | None = None) -> dict:
    """Score the backtest, choose the strongest baseline on validation, test, write metrics and plot data.

    Returns:
        The metrics mapping written to ``<out>/metrics.json`` (MAE etc. in the series' units).

    Raises:
        DataError: the backtest's files are missing, or the declared model is not in the backtest.
    """
    forecasts_path = backtest_dir / "forecasts.csv"
    if not forecasts_path.is_file():
        raise DataError(f"{forecasts_path} missing; run the backtest stage first")
    frame = pd.read_csv(forecasts_path, dtype={"origin": str, "target": str})
    if "split" not in frame.columns:
        frame["split"] = "test"
    timing = read_json(backtest_dir / "timing.json")
    horizons = list(backtest_cfg.horizons)
    series = from_prepared(prepared)
    season = series.season
    lab = {h: horizon_label(h, season) for h in horizons}
    table = scores(frame, horizons)
    if cfg.model not in set(table["model"]):
        raise DataError(f"evaluate.model={cfg.model!r} is not in the backtest (models: {sorted(set(table['model']))})")
    units = prepared.manifest.get("units", "")
    same = coinciding(frame, horizons)
    shown_as = {}  # (model, h) -> label of the row it is merged into
    for h, groups in same.items():
        for group in groups:
            for other in group[1:]:
                shown_as[(other, h)] = group[0]
    backtest_table = {}
    for r in table.itertuples():
        if (r.model, r.horizon) in shown_as:
            continue
        twins = [m for (m, h), first in shown_as.items() if first == r.model and h == r.horizon]
        name = r.model + (f" (= {', '.join(twins)})" if twins else "")
        backtest_table[f"{name} {lab[r.horizon]}"] = {"mae": r.mae, "rmse": r.rmse, "bias": r.bias, "mase": r.mase,
                                                       "skill": r.skill, "cov80": r.cov80, "cov95": r.cov95,
                                                       "n": int(r.n)}
    strongest = strongest_baselines(frame, horizons)
    classical = [m for m in dict.fromkeys(frame["model"]) if m not in NEURAL]
    for h in horizons:
        if h not in strongest:  # no validation origins: the hybrid's base, declared before the run
            declared = "trend_residual" if "trend_residual" in classical else classical[0]
            strongest[h] = {"model": declared, "validation_mae": None, "validation_n": 0, "ranking": {},
                            "rule": f"declared before the run ({declared}): the backtest has no validation origins"}
    baselines = {h: strongest[h]["model"] for h in horizons}
    dm = dm_table(frame, cfg.model, baselines, backtest_cfg.origin_step, season)
    models = list(dict.fromkeys(frame["model"]))
    t = table.set_index(["model", "horizon"])
    test_classical = table[table["model"].isin(classical)]
    best_on_test = {h: test_classical[test_classical["horizon"] == h].sort_values("mae").iloc[0] for h in horizons
                    if (test_classical["horizon"] == h).any()}
    first, last = str(frame.loc[frame["split"] == "test", "origin"].iloc[0]), \
        str(frame.loc[frame["split"] == "test", "origin"].iloc[-1])
    covariates = prepared.covariates
    data_label = (f"{_source_label(prepared)} {prepared.frequency}, rolling origins {first}-{last}"
                  + (f", covariates {', '.join(covariates)}" if covariates else ""))
    model_label = DESCRIPTIONS.get(cfg.model, cfg.model).format(base=_hybrid_base(model_dir, timing))
    heads = []
    for h in horizons:
        if (cfg.model, h) not in t.index or (baselines[h], h) not in t.index:
            continue
        key = lab[h]
        sig = dm.get(key)
        heads.append(headline(
            metric=f"MAE at h={key}", unit=units, data=data_label, model=model_label,
            model_value=float(t.loc[(cfg.model, h), "mae"]), baseline=baselines[h],
            baseline_value=float(t.loc[(baselines[h], h), "mae"]), higher_is_better=False,
            baseline_rule=strongest[h]["rule"],
            significance={"test": "Diebold-Mariano (HLN, squared error)", "statistic": sig["dm_statistic"],
                          "p_value": sig["p_value"]} if sig else None))
    if not heads:
        raise DataError("no horizon has both the declared model and its baseline; check backtest.models")
    head = dict(heads[0])
    head["also"] = heads[1:]
    head = headline(**{k: head[k] for k in ("metric", "unit", "data", "model", "model_value", "baseline",
                                            "baseline_value", "higher_is_better", "baseline_rule", "significance")},
                    also=heads[1:])
    metrics = {
        "headline": head,
        "targets": targets(table, cfg, horizons, baselines, timing["total_s"], season),
        "strongest_baseline": {lab[h]: {k: v for k, v in strongest[h].items()} for h in horizons},
        "beside": {f"ratio_to_best_on_test_{lab[h]}": {
            "model_mae": float(t.loc[(cfg.model, h), "mae"]), "best_on_test": str(row["model"]),
            "best_on_test_mae": float(row["mae"]), "ratio": float(t.loc[(cfg.model, h), "mae"] / row["mae"])}
            for h, row in best_on_test.items() if (cfg.model, h) in t.index},
        "backtest": backtest_table,
        "coincide": {lab[h]: groups for h, groups in same.items()},
        "diebold_mariano": dm,
        "diagnostics": diagnostics(frame, models, horizons[0]),
        "backtest_seconds": {k: float(v) for k, v in timing["seconds"].items()},
        "setup": {"source": prepared.manifest.get("source"), "file": _source_label(prepared), "units": units,
                  "frequency": prepared.frequency, "horizons": [lab[h] for h in horizons],
                  "origins": int(timing["origins"]), "first_origin": first, "last_origin": last,
                  "validation_origins": int(timing.get("validation_origins", 0)), "model": cfg.model,
                  "covariates": {name: prepared.manifest.get("files", {}).get(name, "") for name in covariates}
                  or "none",
                  "origin_step": backtest_cfg.origin_step, "refit_every": backtest_cfg.refit_every,
                  "arima": timing.get("arima"), "hybrid_fits": timing.get("fits", {}).get("hybrid"),
                  **({"stationarity": stationarity["verdict"]["verdict"], "d": stationarity["verdict"]["d"]}
                     if stationarity else {})},
    }
    reported = frame[frame["actual"].notna() & frame["horizon"].isin(horizons) & (frame["split"] == "test")]
    errors = reported.assign(error=lambda f: f["forecast"] - f["actual"])
    future = future_forecast(series, cfg, backtest_cfg, model_dir)
    future.insert(2, "period", [period_label(x, season) for x in future["time"]])
    by_h = scores(frame, sorted(frame["horizon"].unique()))

    out.mkdir(parents=True, exist_ok=True)
    write_metrics(out / "metrics.json", metrics)
    write_csv(out / "errors.csv", errors.drop(columns=["seconds", "anchor_index"]))
    plots = out / "plots"
    write_csv(plots / "error_by_horizon.csv", by_h[["model", "horizon", "mae", "rmse", "cov80", "cov95", "n"]])
    write_csv(plots / "forecast.csv", future)
    write_csv(plots / "series.csv", pd.DataFrame({"period": list(series.periods), "time": series.t, "value": series.y}))
    log.info("headline: %s %s: %.4g vs %s %.4g (%s)", head["metric"], cfg.model, head["model_value"],
             head["baseline"], head["baseline_value"], head["verdict"])
    for key, item in metrics["targets"].items():
        met = {True: "met", False: "MISSED", None: "(no target)"}[item["met"]]
        log.info("target %-28s %.4g (%s): %s", key, item["value"], item["target"], met)
    return metrics


def _source_label(prepared) -> str:
    files = prepared.manifest.get("files", {})
    source = prepared.manifest.get("source", "")
    if source == "gistemp":
        where = files.get("gistemp", "")
        return "GISTEMP v4 (embedded copy, to 2023)" if "embedded" in where else f"GISTEMP v4 ({Path(where).name})"
    return {"hadcrut5": "HadCRUT5", "noaa": "NOAAGlobalTemp", "datahub": "datahub global-temp",
            "gridded": "gridded global mean", "statsmodels_co2": "Mauna Loa CO2 (statsmodels)",
            "statsmodels_elnino": "El Niño SST (statsmodels)"}.get(source, source)


def _hybrid_base(model_dir: Path | None, timing: dict) -> str:
    fits = (timing.get("fits") or {}).get("hybrid") or []
    return fits[0].get("base", "trend_residual") if fits else "trend_residual"


def main(argv: Sequence[str] | None = None) -> int:
    """The ``evaluate`` stage.

    Raises:
        ConfigError: the ``evaluate`` or ``backtest`` section of ``--params`` is missing or invalid.
        DataError: ``--stationarity`` or the prepared files are missing or broken, or the backtest or model
            outputs are.
    """
    parser = stage_parser(__doc__, inputs=("data", "backtest", "model"), outputs=("out",))
    parser.add_argument("--stationarity", default=None, help="stationarity.json of the stationarity stage")
    args = parser.parse_args(argv)
    cfg = load_section(args.params, "evaluate", EvaluateConfig)
    backtest_cfg = load_section(args.params, "backtest", BacktestConfig)
    stationarity = read_json(args.stationarity) if args.stationarity else None
    evaluate(cfg, backtest_cfg, load_prepared(args.data), Path(args.backtest), Path(args.model), Path(args.out),
             stationarity)
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main))
