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
# # Physics-informed neural networks for ODEs
#
# A PINN represents the solution $y(t)$ of $y' = f(t, y, p)$, $y(t_0) = y_0$ by a network
# $y_\theta(t)$ and trains $\theta$ so that the residual $y_\theta'(t) - f(t, y_\theta, p)$
# vanishes at collocation points; $y_\theta'$ comes from automatic differentiation. The same
# machinery solves the **inverse** problem (unknown $p$ from noisy observations, adding a data
# term and making $p$ trainable) and the **parametric** problem ($p$ becomes a network input,
# so one model covers a range of parameters).
#
# Every number below was computed by this run of the pipeline (`dvc repro`) on this machine.
# Errors are relative L2 errors against `scipy.integrate.solve_ivp` (rtol $10^{-10}$) on a
# dense grid of 2001 points.

# %% tags=["parameters"]
results = "projects/pinn_ode/results"

# %%
import json
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display

from shared.readme import render_table

plt.rcParams.update({"figure.dpi": 110, "axes.grid": True, "grid.alpha": 0.3})
results = Path(results)
metrics = json.loads((results / "metrics.json").read_text())
bench = json.loads((results / "benchmark.json").read_text()) if (results / "benchmark.json").exists() else {}
solutions = pd.read_csv(results / "plots" / "solutions.csv")
loss = pd.read_csv(results / "plots" / "loss.csv")
trajectory = pd.read_csv(results / "plots" / "inverse_trajectory.csv")
cases = pd.read_csv(results / "cases.csv")

# %% [markdown]
# ## Targets
# Over all six problems: each value is the **worst problem** (`worst`), each problem's value a median
# over its seeds (three for the damped oscillator $x'' + 2\xi x' + x = 0$, whose value is shown beside);
# wall time of training on this CPU, TensorFlow import excluded.

# %%
display(Markdown(render_table(metrics["targets"], "target")))

# %% [markdown]
# ## Forward solves
# Solid: the PINN; dashed: the reference. The lower panel of each problem shows the
# pointwise absolute error, which is where the PINN's weaknesses show.

# %%
fwd = solutions[solutions["mode"] == "forward"]
problems = list(dict.fromkeys(fwd["problem"]))
fig, axes = plt.subplots(2, len(problems), figsize=(3.2 * len(problems), 5.2), sharex="col",
                         gridspec_kw={"height_ratios": [2, 1]})
for j, name in enumerate(problems):
    sub = fwd[fwd["problem"] == name]
    for comp, g in sub.groupby("component", sort=False):
        line, = axes[0, j].plot(g["t"], g["pinn"], label=comp)
        axes[0, j].plot(g["t"], g["reference"], "--", color="k", lw=0.8)
        axes[1, j].semilogy(g["t"], (g["pinn"] - g["reference"]).abs().clip(lower=1e-9), color=line.get_color())
    axes[0, j].set_title(name.replace("_", " "), fontsize=9)
    axes[0, j].legend(fontsize=7, frameon=False)
    axes[1, j].set_xlabel("t")
axes[1, 0].set_ylabel("|error|")
fig.tight_layout()

# %%
display(Markdown("**Forward**, one row per problem (median over seeds)\n\n" + render_table(metrics["forward"], "problem")))

# %% [markdown]
# ## Training: Adam, then L-BFGS
# The objective (mean squared residual in scaled time, plus the data term of inverse solves),
# against the iteration count: Adam (one point per epoch) brings it into the basin, L-BFGS (one
# point per iteration) gains orders of magnitude. Where causal weighting is on, Adam descends the
# weighted loss, so the unweighted objective shown here may stay high until L-BFGS takes over.
# In float32 L-BFGS stops when its line search no longer finds a decrease.

# %%
first_seed = loss["seed"].min()
fig, axes = plt.subplots(1, 3, figsize=(13, 3.4), sharey=True)
for ax, mode in zip(axes, ["forward", "inverse", "parametric"]):
    for name, g in loss[(loss["mode"] == mode) & (loss["seed"] == first_seed)].groupby("problem", sort=False):
        ax.semilogy(g["step"], g["loss"], label=name)
    ax.set_title(mode)
    ax.set_xlabel("Adam step, then L-BFGS iteration")
axes[0].set_ylabel("objective")
axes[-1].legend(fontsize=7, frameon=False)
fig.tight_layout()

# %% [markdown]
# ## Inverse problems
# Each unknown parameter starts at the middle of its range and is identified from 50
# observations with 1% noise. The **least-squares fit of the exact ODE solution** to the same
# data is the noise floor: with this data no method can be expected to do better.

# %%
display(Markdown(render_table(metrics["inverse"], "problem")))

# %%
names = list(dict.fromkeys(trajectory["problem"]))
fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 3), squeeze=False)
for ax, name in zip(axes[0], names):
    g = trajectory[(trajectory["problem"] == name) & (trajectory["seed"] == trajectory["seed"].min())]
    ax.plot(g["step"], g["estimate"])
    ax.axhline(g["true_value"].iloc[0], color="k", ls="--", lw=0.8, label="true")
    ax.axhline(metrics["inverse"][name]["least_squares_estimate"], color="C3", ls=":", label="least squares")
    ax.set_title(name.replace("_", " "), fontsize=9)
    ax.set_xlabel("Adam step, then L-BFGS iteration")
axes[0][0].legend(fontsize=7, frameon=False)
fig.tight_layout()

# %% [markdown]
# ## Parametric solves
# One network per problem takes the parameter as a second input; the error is measured at
# seven parameter values across the range.

# %%
display(Markdown(render_table(metrics["parametric"], "problem")))
perr = pd.read_csv(results / "plots" / "parametric_error.csv")
fig, ax = plt.subplots(figsize=(6, 3.2))
for name, g in perr[perr["seed"] == perr["seed"].min()].groupby("problem", sort=False):
    lo, hi = g["value"].min(), g["value"].max()
    ax.semilogy((g["value"] - lo) / (hi - lo), g["rel_l2_pct"], "o-", label=f"{name} ({g['parameter'].iloc[0]})")
ax.set_xlabel("position in the parameter range (0 = low, 1 = high)")
ax.set_ylabel("rel-L2 error (%)")
ax.legend(fontsize=7, frameon=False)
fig.tight_layout()

# %% [markdown]
# ## What each technique contributes
# The damped oscillator solved with the configured techniques, then with one switched off
# (or on) at a time, and finally a plain tanh MLP trained by Adam alone. Where DeepXDE is
# installed (`pip install -e .[bench]`), the identical problem solved by DeepXDE appears too.

# %%
if bench:
    ab = pd.DataFrame(bench["ablation"]).T
    display(Markdown(render_table(bench["ablation"], "variant")))
    fig, axes = plt.subplots(1, 2, figsize=(11, 0.45 * len(ab) + 1.2), sharey=True)
    axes[0].barh(ab.index, ab["rel_l2"], color="C0")
    axes[0].set_xscale("log")
    axes[0].set_xlabel("rel-L2 error (log)")
    axes[1].barh(ab.index, ab["time_s"], color="C1")
    axes[1].set_xlabel("training time (s)")
    axes[0].invert_yaxis()
    fig.tight_layout()
else:
    display(Markdown("*The benchmark stage has not run.*"))

# %% [markdown]
# ## Like for like: DeepXDE, and solve_ivp beside the PINNs
# The damped oscillator, forward, with the same collocation points, Adam and L-BFGS budgets,
# learning-rate schedule, loss (the residual in scaled time) and seeds on both sides:
# **plain** is a tanh MLP on raw $t$ with the initial condition as a loss term; **techniques** adds
# the hard initial condition (DeepXDE: `apply_output_transform`) and the scaled time with the same
# Fourier features (DeepXDE: `apply_feature_transform`). The time to reach the target error is read
# at the same checkpoints on both sides (every 100 Adam steps, after every 1000 L-BFGS iterations);
# empty means never reached. `solve_ivp` rows are the classical solver on the same grid.

# %%
if bench.get("comparison"):
    display(Markdown(f"Set-up: `{bench['comparison_setup']}`\n\n" + render_table(bench["comparison"], "method")))

# %% [markdown]
# ## Headline: the PINN against its classical counterpart
# Forward solves are what `solve_ivp` does best: at its default tolerances it is thousands of times
# faster (the trained PINN can be more accurate than that default), and at rtol 1e-8 it is far more
# accurate and still about a thousand times faster (comparison table above). The headline is the
# inverse problem, where the PINN and least squares through `solve_ivp` use the same noisy data and
# are limited by the same noise.

# %%
if "headline" in metrics:
    from shared.readme import render_headline

    display(Markdown(render_headline(metrics["headline"])))

# %% [markdown]
# ## Reading the results
# * The targets table above is the honest scorecard: a **no** is reported as measured.
# * The inverse errors should be compared with the least-squares noise floor, not with zero.
# * Wall times are single runs on a shared 2-core CPU; expect ±20%.
