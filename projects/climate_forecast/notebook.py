# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Forecasting global temperature: a hybrid network against the strongest classical model
#
# One series, every model, one protocol. The series is tested for unit roots (DF, ADF,
# KPSS, Phillips-Perron), then a **rolling-origin backtest** hands each model the history up
# to an origin, and nothing after it, and scores its forecasts 1..H periods ahead. The models:
# persistence, drift, seasonal naive (monthly data), a 30-year linear trend, that trend corrected
# by the latest months' departure from it (`trend_residual`), ARIMA (capped order search), damped
# ETS; the **hybrid**, a GRU ensemble that predicts the errors `trend_residual` makes, from the
# latest 24 months; and, for reference, a GRU ensemble alone. The strongest baseline at each
# horizon is chosen on validation origins before the test origins. Finally the hybrid and the
# classical models forecast beyond the data.
#
# Every number below was computed by this run of the pipeline (`dvc repro`).

# %% tags=["parameters"]
results = "projects/climate_forecast/results"

# %%
import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from shared.readme import fmt, render_table

plt.rcParams.update({"figure.dpi": 100, "axes.grid": True, "grid.alpha": 0.3})
results = Path(results)
metrics = json.loads((results / "metrics.json").read_text())
stationarity = json.loads((results / "stationarity.json").read_text())
series = pd.read_csv(results / "plots" / "series.csv", dtype={"period": str})
errors = pd.read_csv(results / "errors.csv", dtype={"origin": str, "target": str})
by_h = pd.read_csv(results / "plots" / "error_by_horizon.csv")
future = pd.read_csv(results / "plots" / "forecast.csv", dtype={"period": str})
acf = pd.read_csv(results / "plots" / "acf.csv")
rolling = pd.read_csv(results / "plots" / "rolling.csv", dtype={"period": str})
setup = metrics["setup"]
units = setup["units"]
network = setup["model"]
labels_h = setup["horizons"]
horizons = [int(h[:-1]) for h in labels_h]
display(Markdown(f"**Series**: {setup['file']} ({setup['frequency']}, {units}), {len(series)} values "
                 f"from {series['period'].iloc[0]} to {series['period'].iloc[-1]}; covariates: "
                 f"{setup['covariates']}; test origins {setup['first_origin']} … {setup['last_origin']} "
                 f"({setup['origins']} origins), {setup['validation_origins']} validation origins before them; "
                 f"horizons {', '.join(labels_h)}."))
head = metrics["headline"]
display(Markdown("**Headline**\n\n" + render_table(
    {h["metric"]: {"model": h["model_value"], "baseline": f"{h['baseline']} {fmt(h['baseline_value'])}",
                   "ratio": h["ratio"], "DM p": (h["significance"] or {}).get("p_value"), "verdict": h["verdict"]}
     for h in [head, *head["also"]]}, "")))

# %%
fig, ax = plt.subplots(figsize=(10, 3.2))
ax.plot(series["time"], series["value"], lw=0.9, color="k")
ax.set_ylabel(units)
ax.set_title("the series")
fig.tight_layout()

# %% [markdown]
# ## Stationarity
# DF (ADF with zero lags), ADF (lags by AIC) and Phillips-Perron test the null of a unit
# root; KPSS tests the null of (level or trend) stationarity. Levels are tested with a
# trend, differences with a constant. The verdict, its rule and the differencing order it
# gives ARIMA:

# %%
v = stationarity["verdict"]
display(Markdown(f"**Verdict: {v['verdict']}** (d = {v['d']}, seasonal D = {v['D']}). Rule: {v['rule']}."))
if stationarity["tests"]:
    display(Markdown(render_table(stationarity["tests"], "test on")))

# %%
transforms = list(dict.fromkeys(acf["transform"]))
fig, axes = plt.subplots(2, len(transforms), figsize=(4 * len(transforms), 5), squeeze=False, sharex=True)
for j, name in enumerate(transforms):
    g = acf[acf["transform"] == name]
    for i, col in enumerate(["acf", "pacf"]):
        ax = axes[i, j]
        ax.vlines(g["lag"], 0, g[col], lw=1.5)
        ax.fill_between(g["lag"], -g["band"], g["band"], color="C0", alpha=0.15)
        ax.axhline(0, color="k", lw=0.6)
        ax.set_title(f"{col.upper()}: {name}", fontsize=9)
    axes[1, j].set_xlabel("lag")
fig.tight_layout()

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 3), sharex=True)
t = np.arange(len(rolling))
axes[0].plot(series["time"], rolling["value"], lw=0.6, color="0.6", label="series")
axes[0].plot(series["time"], rolling["rolling_mean"], label="rolling mean")
axes[0].legend(frameon=False, fontsize=8)
axes[1].plot(series["time"], rolling["rolling_std"], color="C1")
axes[1].set_title("rolling standard deviation", fontsize=9)
axes[0].set_title("rolling mean", fontsize=9)
fig.tight_layout()

# %% [markdown]
# ## Rolling-origin backtest
# MAE, RMSE and bias (forecast − actual) in the series' units; MASE divides each absolute
# error by the in-sample (seasonal) naive MAE at its origin; skill is 1 − MAE/MAE(persistence);
# cov80/cov95 are the shares of actual values inside the 80 and 95% intervals (a well
# calibrated model has 0.8 and 0.95).

# %%
display(Markdown(f"The networks are trained, and the ARIMA order searched, at every {setup['refit_every']}th "
                 f"origin on the history up to it; the other origins reuse them with their own, later, inputs. "
                 f"Origins are {setup['origin_step']} period(s) apart."))
table = pd.DataFrame(metrics["backtest"]).T
table.index.name = "model, horizon"
for lab in labels_h:
    sub = {k.rsplit(" ", 1)[0]: row for k, row in metrics["backtest"].items() if k.endswith(f" {lab}")}
    strongest = metrics["strongest_baseline"][lab]
    display(Markdown(f"**h = {lab}**: strongest baseline `{strongest['model']}` ({strongest['rule']})\n\n"
                     + render_table(sub, "model")))
if metrics["coincide"]:
    display(Markdown("Models that coincide (identical forecasts at every origin; shown once): " + "; ".join(
        f"{lab}: " + ", ".join(" = ".join(g) for g in groups) for lab, groups in metrics["coincide"].items())))

# %%
models = list(dict.fromkeys(by_h["model"]))
fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))
for m in models:
    g = by_h[by_h["model"] == m]
    style = "-" if m in ("lstm", "gru", "hybrid") else "--"
    axes[0].plot(g["horizon"], g["mae"], style, label=m, lw=2 if m == network else 1.2)
    axes[1].plot(g["horizon"], g["cov95"], style, label=m, lw=2 if m == network else 1.2)
axes[0].set_xlabel("horizon")
axes[0].set_ylabel(f"MAE ({units})")
axes[0].set_title("error by horizon")
axes[1].axhspan(0.90, 0.98, color="C2", alpha=0.12, label="target band")
axes[1].axhline(0.95, color="k", lw=0.6)
axes[1].set_xlabel("horizon")
axes[1].set_ylabel("coverage of the 95% interval")
axes[1].set_ylim(0, 1.02)
axes[0].legend(fontsize=7, frameon=False, ncol=2)
fig.tight_layout()

# %% [markdown]
# ## Targets and the Diebold-Mariano test
# The targets are checked on the model declared before the run (`evaluate.model`) against the
# strongest baseline of each horizon (chosen on validation). The Diebold-Mariano test compares
# them on the same test origins (squared-error loss, HAC variance, Harvey-Leybourne-Newbold
# correction): a p-value above 0.05 means the data cannot tell the two apart. Beside them, the
# ratio to the baseline that turned out best on test (chosen after the fact, so not a target).

# %%
display(Markdown(render_table(metrics["targets"], "target")))
dm = metrics["diebold_mariano"]
display(Markdown(render_table(dm, "horizon")))
display(Markdown(render_table(metrics["beside"], "beside the targets")))
lines = []
for key, row in dm.items():
    if row["model_mae"] < row["baseline_mae"]:
        what = f"the {row['model']} has the lower MAE ({fmt(row['model_mae'])} vs {fmt(row['baseline_mae'])})"
    else:
        what = (f"the {row['model']} does **not** beat `{row['baseline']}` "
                f"(MAE {fmt(row['model_mae'])} vs {fmt(row['baseline_mae'])})")
    lines.append(f"* {key}: {what}; DM p-value {fmt(row['p_value'])}: {row['verdict']}.")
display(Markdown("\n".join(lines)))

# %% [markdown]
# ## Forecast beyond the data
# Classical models refitted on the whole series; the final hybrid of the `train` stage
# forecasts as far as the horizon it was trained for. Shaded: 80 and 95% intervals.

# %%
fig, ax = plt.subplots(figsize=(11, 4.2))
recent = series[series["time"] >= series["time"].iloc[-1] - 40]
ax.plot(recent["time"], recent["value"], color="k", lw=0.9, label="observed")
colors = {"trend_residual": "C1", "arima": "C2", network: "C3"}
for m, c in colors.items():
    g = future[future["model"] == m]
    if g.empty:
        continue
    ax.plot(g["time"], g["forecast"], color=c, label=m)
    ax.fill_between(g["time"], g["lo95"], g["hi95"], color=c, alpha=0.12)
    ax.fill_between(g["time"], g["lo80"], g["hi80"], color=c, alpha=0.2)
ax.set_ylabel(units)
ax.legend(frameon=False, fontsize=8, loc="upper left")
ax.set_title("forecast with 80 and 95% intervals")
fig.tight_layout()

# %%
last = future.groupby("model").tail(1).set_index("model")
display(Markdown("**At the end of each model's forecast**\n\n" + render_table(
    {m: {"period": r["period"], "forecast": r["forecast"], "lo95": r["lo95"], "hi95": r["hi95"]}
     for m, r in last.iterrows()}, "model")))

# %% [markdown]
# ## Residual diagnostics
# Backtest errors at the first horizon of the hybrid and of the strongest baseline, over
# the origins, their autocorrelation and their distribution. Ljung-Box tests for remaining
# autocorrelation, Jarque-Bera for non-normality (the intervals assume normal errors).

# %%
h1 = horizons[0]
baseline = metrics["strongest_baseline"][labels_h[0]]["model"]
fig, axes = plt.subplots(1, 3, figsize=(13, 3.3))
for m, c in ((network, "C3"), (baseline, "C0")):
    e = errors[(errors["model"] == m) & (errors["horizon"] == h1)]
    axes[0].plot(range(len(e)), e["error"], "o-", ms=3, color=c, label=m)
    ee = e["error"].to_numpy()
    ee = ee - ee.mean()
    lags = np.arange(1, min(12, len(ee) // 2))
    r = [np.sum(ee[k:] * ee[:-k]) / np.sum(ee * ee) for k in lags]
    axes[1].plot(lags, r, "o-", color=c, label=m)
    axes[2].hist(e["error"], bins=15, alpha=0.5, color=c, label=m)
labels = list(e["origin"])
ticks = list(range(0, len(labels), max(1, len(labels) // 6)))
axes[0].set_xticks(ticks, [labels[k] for k in ticks], fontsize=8)
axes[0].axhline(0, color="k", lw=0.6)
axes[0].set_title(f"errors at h = {h1}, by origin")
axes[1].axhline(0, color="k", lw=0.6)
axes[1].axhspan(-1.96 / np.sqrt(max(len(ee), 1)), 1.96 / np.sqrt(max(len(ee), 1)), color="0.5", alpha=0.15)
axes[1].set_title("autocorrelation of the errors")
axes[2].set_title("distribution")
axes[0].legend(frameon=False, fontsize=8)
fig.tight_layout()
display(Markdown(render_table(metrics["diagnostics"], "model")))

# %% [markdown]
# ## Reading the results
# * The targets table is the scorecard; a **no** is reported as measured, not tuned away.
# * The backtest origins overlap for long horizons, so the h = 5/10-year (or 12/60-month)
#   columns rest on few independent errors: read them with the DM p-values in mind.
# * Wall times are those of this run on a shared 2-core CPU.
