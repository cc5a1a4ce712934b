"""Stage ``evaluate``: every model beside its baselines, per experiment, the targets, and speed.

Per experiment (a split of the data stage) and model (the U-Net designs trained on it, the
POD-RBF and freestream baselines fitted on the same training split) on its **test** split:

* field errors over fluid cells: RMSE (|U∞| = 1 for u and v; Cp as is) and relative L2 per
  variable; MAE of the surface Cp (extrapolated from the grid to the panel midpoints);
* C_L two ways, (a) circulation around an ellipse in the fluid and (b) the surface-Cp
  integral, as mean absolute error and Spearman rank correlation ρ_L, with the floor of each
  method measured on the true fields of the same samples; the C_L baselines thin-airfoil
  theory and the MLP on the Kulfan parameters and α;
* the headline (``shared.metrics.headline``): on the held-out UIUC families, the U-Net against
  the baseline with the lowest error on the validation families, with a paired bootstrap;
* speed at the data grid: the panel solver (surface only, and with the field) against the
  surrogate (network only, and end to end including its inputs: SDF and mask, and for
  ``pod_residual`` the Kulfan fit and POD-RBF's field), for one case and for a batch.

The targets and the headline are checked on one design: ``headline_design`` names it, or ``auto`` takes the
random-split design with the lowest |ΔC_L| on the validation families (never a test score).

    python -m projects.airfoil_flow.evaluate --params projects/airfoil_flow/params.yaml \
        --data data/airfoil_flow/prepared --model data/airfoil_flow/model \
        --validation projects/airfoil_flow/results/validation.json --out projects/airfoil_flow/results
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from projects.airfoil_flow.baselines import PODRegression, freestream, parameters
from projects.airfoil_flow.dataset import FieldData, load_fields, load_splits
from projects.airfoil_flow.geometry import Airfoil, naca
from projects.airfoil_flow.lift import circulation_cl, surface_cp, thin_airfoil_cl
from projects.airfoil_flow.panel import basis_field, force_coefficients, single_thread_blas, solve, solve_basis
from projects.airfoil_flow.surrogate import Surrogate, load_keras, load_surrogate
from shared.config import load_section
from shared.io import DataError, read_json, write_csv, write_netcdf
from shared.metrics import headline, timeit, write_metrics
from shared.stage import run, stage_parser

log = logging.getLogger(__name__)

VARS = ("u", "v", "cp")
MLP = "mlp (Kulfan, α)"
POD = "pod"
#: the experiment of the headline: real sections of families that no model saw
HEADLINE_EXP = "uiuc_families"
#: the speed table's row of the whole surrogate, inputs included
END_TO_END = "surrogate, end to end (inputs + network)"


@dataclass(frozen=True)
class SpeedConfig:
    #: surrogate batch (cases); the solver's batch time is measured on ``solver_cases`` cases
    batch: int = 1000
    solver_cases: int = 50
    repeats: int = 5
    predict_batch_size: int = 64


@dataclass(frozen=True)
class EvaluateConfig:
    #: the design of the headline and the targets; auto: the random-split design with the lowest |ΔC_L| on the
    #: validation families
    headline_design: str = "geometry"
    target_rmse_uv: float = 0.01
    target_rmse_cp: float = 0.02
    target_cl_abs: float = 0.01
    target_spearman: float = 0.99
    #: α-extrapolation errors at most this multiple of the in-distribution errors
    target_alpha_ratio: float = 2.0
    target_speedup: float = 10.0
    pod_modes: int = 32
    pod_smoothing: float = 1e-4
    contour_centre: tuple[float, float] = (0.5, 0.0)
    contour_semi_axes: tuple[float, float] = (0.9, 0.6)
    #: airfoils and angles of the surrogate's polar (random-split models)
    polar_airfoils: tuple[str, ...] = ("0012", "2412", "4412")
    polar_alphas: tuple[float, float, float] = (-12.0, 18.0, 1.0)
    speed: SpeedConfig = field(default_factory=SpeedConfig)
    predict_batch_size: int = 32


# --------------------------------------------------------------------------- models
def load_models(model_dir: Path) -> tuple[dict, dict[tuple[str, str], Any]]:
    """``summary.json`` of the train stage and its models, ``(experiment, design)`` → a
    :class:`~projects.airfoil_flow.surrogate.Surrogate` (the U-Nets) or a Keras model (the C_L MLP).

    Raises:
        DataError: ``summary.json`` is missing, empty or not valid JSON, or a listed model cannot be loaded.
    """
    summary = read_json(model_dir / "summary.json")
    models = {}
    for entry in summary["models"]:
        folder = model_dir / entry["experiment"] / entry["design"]
        models[(entry["experiment"], entry["design"])] = (load_keras(folder / "model.keras")
                                                          if entry["design"] == "mlp" else load_surrogate(folder))
    return summary, models


def predict_fields(model: Surrogate, fields: FieldData, idx, batch_size: int) -> np.ndarray:
    """``(len(idx), H, W, 3)`` u, v, Cp of the surrogate, in batches of ``batch_size`` samples."""
    return model.predict(model.inputs(fields, idx), batch_size)


# --------------------------------------------------------------------------- metrics
def case_metrics(pred: np.ndarray, fields: FieldData, idx, cfg: EvaluateConfig) -> pd.DataFrame:
    """One row per test sample: field RMSEs, surface-Cp MAE, C_L both ways."""
    rows = []
    grid = fields.grid
    for k, i in enumerate(idx):
        fluid = ~fields.mask[i]
        row: dict[str, Any] = {"sample": int(i)}
        for c, var in enumerate(VARS):
            err = pred[k, ..., c][fluid] - getattr(fields, var)[i][fluid]
            row[f"se_{var}"] = float(np.sum(err**2))
            row[f"ss_{var}"] = float(np.sum(getattr(fields, var)[i][fluid] ** 2))
            row[f"rmse_{var}"] = float(np.sqrt(np.mean(err**2)))
        row["n_fluid"] = int(fluid.sum())
        contour = fields.contour(i)
        alpha = float(fields.meta["alpha"][i])
        cps = surface_cp(pred[k, ..., 2], fields.mask[i], grid, contour)
        row["surface_cp_mae"] = float(np.mean(np.abs(cps - fields.meta["surface_cp"][i])))
        row["cl_circulation"] = circulation_cl(pred[k, ..., 0], pred[k, ..., 1], grid, fields.mask[i],
                                               cfg.contour_centre, cfg.contour_semi_axes)
        row["cl_surface"] = force_coefficients(cps, contour, alpha)[0]
        rows.append(row)
    return pd.DataFrame(rows)


def summarize_cases(frame: pd.DataFrame, cl_true: np.ndarray) -> dict[str, float]:
    from scipy.stats import spearmanr

    out: dict[str, float] = {}
    for var in VARS:
        out[f"rmse_{var}"] = float(np.sqrt(frame[f"se_{var}"].sum() / frame["n_fluid"].sum()))
    for var in VARS:
        out[f"rel_l2_{var}"] = float(np.sqrt(frame[f"se_{var}"].sum() / max(frame[f"ss_{var}"].sum(), 1e-30)))
    out["surface_cp_mae"] = float(frame["surface_cp_mae"].mean())
    for how in ("circulation", "surface"):
        out[f"cl_mae_{how}"] = float(np.mean(np.abs(frame[f"cl_{how}"] - cl_true)))
    if len(frame) > 2:
        out["spearman_cl"] = float(spearmanr(frame["cl_circulation"], cl_true).statistic)
    return out


def evaluate_experiment(exp: str, split: dict[str, np.ndarray], fields: FieldData, models: dict, designs: list[str],
                        cfg: EvaluateConfig, mlp) -> tuple[dict[str, dict], pd.DataFrame, dict[str, np.ndarray]]:
    test, train = split["test"], split["train"]
    cl_true = fields.meta["cl"][test]
    preds: dict[str, np.ndarray] = {}
    for design in designs:
        start = time.perf_counter()
        preds[design] = predict_fields(models[design], fields, test, cfg.predict_batch_size)
        log.info("%s / %s: predicted %d test fields in %.1f s", exp, design, len(test), time.perf_counter() - start)
    pod = PODRegression(cfg.pod_modes, cfg.pod_smoothing).fit(fields, train)
    preds["pod"] = pod.predict(fields, test)
    preds["freestream"] = freestream(fields, test)
    truth = np.stack([fields.u[test], fields.v[test], fields.cp[test]], axis=-1)
    table: dict[str, dict] = {}
    frames = []
    for name, pred in [("truth", truth), *preds.items()]:
        frame = case_metrics(pred, fields, test, cfg)
        frame.insert(0, "model", name)
        frames.append(frame)
        row = summarize_cases(frame, cl_true)
        if name == "truth":  # the resolution floor of the grid, not a model
            table["floor (true field)"] = {k: v for k, v in row.items() if k.startswith(("cl_mae", "surface_cp"))}
        else:
            table[name] = row
    table["pod"]["pod_energy"] = pod.energy_
    contours = [fields.contour(i) for i in test]
    thin = np.array([thin_airfoil_cl(c, a)[()] for c, a in zip(contours, fields.meta["alpha"][test])])
    table["thin-airfoil theory"] = {"cl_mae_circulation": float(np.mean(np.abs(thin - cl_true)))}
    cl_pred = {name: frame["cl_circulation"].to_numpy() for name, frame in zip(["truth", *preds], frames)}
    cl_pred["thin-airfoil theory"] = thin
    if mlp is not None:
        cl_mlp = mlp.predict(parameters(fields, test).astype("float32"), verbose=0)[:, 0]
        cl_pred[MLP] = cl_mlp
        table[MLP] = {"cl_mae_circulation": float(np.mean(np.abs(cl_mlp - cl_true)))}
        if len(test) > 2:
            from scipy.stats import spearmanr

            table[MLP]["spearman_cl"] = float(spearmanr(cl_mlp, cl_true).statistic)
    table["_cl_pred"] = cl_pred
    cases = pd.concat(frames, ignore_index=True)
    cases.insert(1, "experiment", exp)
    meta = pd.DataFrame({"sample": test, "alpha": fields.meta["alpha"][test], "t": fields.meta["t"][test],
                         "m": fields.meta["m"][test], "cl_true": cl_true, "name": fields.meta["name"][test],
                         "family": fields.meta["family"][test]})
    cases = cases.merge(meta, on="sample").drop(columns=[c for c in cases if c.startswith(("se_", "ss_"))])
    return table, cases, preds


# --------------------------------------------------------------------------- speed
def speed(model: Surrogate, fields: FieldData, cfg: SpeedConfig) -> dict[str, dict[str, float]]:
    """Per-case wall times (ms) of solver and surrogate at the data grid, single and batched; the surrogate end
    to end builds its inputs from the contours (SDF, mask; Kulfan fit and POD-RBF for ``pod_residual``)."""
    import tensorflow as tf

    grid = fields.grid
    rng = np.random.default_rng(0)
    pool = rng.choice(len(fields), size=max(cfg.batch, cfg.solver_cases), replace=True)
    foils = [Airfoil(str(fields.meta["name"][i]), fields.contour(i)) for i in pool]
    alphas = fields.meta["alpha"][pool]
    foil0, alpha0 = foils[0], float(alphas[0])

    def solve_surface(f, a):
        return solve(f, a)

    def solve_field(f, a):
        return basis_field(f, grid, solve_basis(f)).at(a)

    net = tf.function(lambda x: model.model(x, training=False), reduce_retracing=True)

    def surrogate(fs, al, bs):
        x = model.inputs_for(fs, al, grid)
        for i in range(0, len(x), bs):
            net(x[i:i + bs]).numpy()

    x_batch = model.inputs_for(foils[: cfg.batch], alphas[: cfg.batch], grid)

    def network_only(x, bs):
        for i in range(0, len(x), bs):
            net(x[i:i + bs]).numpy()

    bs = cfg.predict_batch_size
    n_solver = cfg.solver_cases
    with single_thread_blas():
        t_surface = timeit(solve_surface, foil0, alpha0, repeats=cfg.repeats)["median_s"]
        t_field = timeit(solve_field, foil0, alpha0, repeats=cfg.repeats)["median_s"]
        start = time.perf_counter()
        for f, a in zip(foils[:n_solver], alphas[:n_solver]):
            solve_field(f, a)
        t_field_batch = (time.perf_counter() - start) / n_solver
        t_net1 = timeit(network_only, x_batch[:1], 1, repeats=cfg.repeats)["median_s"]
        t_e2e1 = timeit(surrogate, foils[:1], alphas[:1], 1, repeats=cfg.repeats)["median_s"]
        network_only(x_batch[:bs], bs)  # trace the batch shape once
        t_net_batch = timeit(network_only, x_batch, bs, repeats=1, warmup=0)["median_s"] / cfg.batch
        t_e2e_batch = timeit(surrogate, foils[: cfg.batch], alphas[: cfg.batch], bs, repeats=1,
                             warmup=0)["median_s"] / cfg.batch
    ms = 1000.0
    table = {
        "solver, surface only (C_L)": {"single_ms": t_surface * ms, "batch_ms_per_case": t_surface * ms},
        "solver, surface + field": {"single_ms": t_field * ms, "batch_ms_per_case": t_field_batch * ms,
                                    "batch_cases_timed": n_solver},
        "surrogate, network only": {"single_ms": t_net1 * ms, "batch_ms_per_case": t_net_batch * ms,
                                    "batch_cases_timed": cfg.batch},
        END_TO_END: {"single_ms": t_e2e1 * ms, "batch_ms_per_case": t_e2e_batch * ms,
                     "batch_cases_timed": cfg.batch},
    }
    for row in table.values():
        row["speedup_vs_field_solve"] = t_field_batch * ms / row["batch_ms_per_case"]
    return table


# --------------------------------------------------------------------------- polars and examples
def surrogate_polar(models: dict, designs: list[str], fields: FieldData, cfg: EvaluateConfig) -> pd.DataFrame:
    lo, hi, step = cfg.polar_alphas
    alphas = np.arange(lo, hi + 1e-9, step)
    n_panels = fields.meta["contour_x"].shape[1] - 1
    rows = []
    for code in cfg.polar_airfoils:
        foil = naca(code, n_panels)
        for design in designs:
            x = models[design].inputs_for([foil] * len(alphas), alphas, fields.grid)
            pred = models[design].predict(x, cfg.predict_batch_size)
            mask = x[0, ..., 1].astype(bool)
            for a, p in zip(alphas, pred):
                rows.append({"airfoil": f"NACA {code}", "alpha": a, "model": design,
                             "cl": circulation_cl(p[..., 0], p[..., 1], fields.grid, mask, cfg.contour_centre,
                                                  cfg.contour_semi_axes)})
    return pd.DataFrame(rows)


def pick_examples(cases: pd.DataFrame, design: str) -> list[tuple[str, str, int]]:
    """(experiment, label, sample): the typical and the worst test case of each experiment."""
    picks = []
    for exp, group in cases[cases["model"] == design].groupby("experiment", sort=False):
        score = group["rmse_cp"].to_numpy()
        order = np.argsort(score)
        picks.append((exp, "typical", int(group["sample"].iloc[order[len(order) // 2]])))
        picks.append((exp, "worst", int(group["sample"].iloc[order[-1]])))
    return picks


def write_examples(path: Path, picks, preds_by_exp, tests, fields: FieldData) -> pd.DataFrame:
    import xarray as xr

    models = ["truth", *sorted({m for p in preds_by_exp.values() for m in p if m not in ("freestream", "pod")})]
    data = np.zeros((len(picks), len(models), 3, fields.grid.ny, fields.grid.nx), "float32")
    surface_rows = []
    for c, (exp, _, sample) in enumerate(picks):
        k = int(np.flatnonzero(tests[exp] == sample)[0])
        truth = np.stack([fields.u[sample], fields.v[sample], fields.cp[sample]], axis=-1)
        contour = fields.contour(sample)
        mid = 0.5 * (contour[:-1] + contour[1:])
        for m, name in enumerate(models):
            pred = truth if name == "truth" else preds_by_exp[exp].get(name)
            if pred is None:
                data[c, m] = np.nan
                continue
            pred = pred if name == "truth" else pred[k]
            data[c, m] = np.moveaxis(pred, -1, 0)
            cps = fields.meta["surface_cp"][sample] if name == "truth" else surface_cp(
                pred[..., 2], fields.mask[sample], fields.grid, contour)
            surface_rows += [{"case": c, "model": name, "x": float(mx), "y": float(my), "cp": float(v)}
                             for (mx, my), v in zip(mid, cps)]
        for name in ("pod",):  # baselines only in the surface plot
            if name in preds_by_exp[exp]:
                cps = surface_cp(preds_by_exp[exp][name][k][..., 2], fields.mask[sample], fields.grid, contour)
                surface_rows += [{"case": c, "model": name, "x": float(mx), "y": float(my), "cp": float(v)}
                                 for (mx, my), v in zip(mid, cps)]
    # rounded to 1e-4 (plenty for the plots), so that the committed file compresses well
    ds = xr.Dataset({"field": (("case", "model", "var", "y", "x"), np.round(data, 4)),
                     "mask": (("case", "y", "x"), fields.mask[[p[2] for p in picks]].astype("int8"))},
                    coords={"model": models, "var": list(VARS), "x": fields.grid.x, "y": fields.grid.y,
                            "experiment": ("case", [p[0] for p in picks]), "label": ("case", [p[1] for p in picks]),
                            "sample": ("case", [p[2] for p in picks]),
                            "name": ("case", [str(fields.meta["name"][p[2]]) for p in picks]),
                            "alpha": ("case", [float(fields.meta["alpha"][p[2]]) for p in picks])})
    write_netcdf(path, ds, encoding={"field": {"zlib": True, "complevel": 6, "shuffle": True}})
    return pd.DataFrame(surface_rows)


# --------------------------------------------------------------------------- targets
def targets(cfg: EvaluateConfig, head: str, tables: dict[str, dict], speed_table: dict | None,
            validation: dict | None) -> dict[str, dict[str, Any]]:
    """Every target of ``cfg`` on the design ``head``: the field and C_L errors as the worst of the NACA test
    split and the held-out families, the α-extrapolation ratio, the batched speed-ups and the solver checks."""
    out: dict[str, dict[str, Any]] = {}

    def add(key, value, limit, higher_is_better=False):
        if value is None or not np.isfinite(value):
            return
        met = value >= limit if higher_is_better else value <= limit
        out[key] = {"value": float(value), "target": float(limit), "met": bool(met)}

    rnd = tables.get("random", {}).get(head)
    if rnd:
        # the field and C_L targets cover the NACA test cases and the held-out families: worst case
        covered = [e for e in ("random", HEADLINE_EXP) if head in tables.get(e, {})]
        suffix = "worst_of_" + "_and_".join(covered)
        for key, metric, limit in (("rmse_u", "rmse_u", cfg.target_rmse_uv), ("rmse_v", "rmse_v", cfg.target_rmse_uv),
                                   ("rmse_cp", "rmse_cp", cfg.target_rmse_cp),
                                   ("cl_abs_circulation", "cl_mae_circulation", cfg.target_cl_abs)):
            add(f"{key}_{suffix}", max(tables[e][head][metric] for e in covered), limit)
        add("random_spearman_cl", rnd.get("spearman_cl"), cfg.target_spearman, higher_is_better=True)
        ext = tables.get("alpha_extrapolation", {}).get(head)
        if ext:
            keys = ("rmse_u", "rmse_v", "rmse_cp", "cl_mae_circulation")
            add("alpha_extrapolation_error_ratio", max(ext[k] / max(rnd[k], 1e-12) for k in keys),
                cfg.target_alpha_ratio)
    if speed_table:
        add("speedup_end_to_end_batched",
            speed_table[END_TO_END]["speedup_vs_field_solve"],
            cfg.target_speedup, higher_is_better=True)
        add("speedup_network_only_batched", speed_table["surrogate, network only"]["speedup_vs_field_solve"],
            cfg.target_speedup, higher_is_better=True)
    for key, check in (validation or {}).get("solver_checks", {}).items():
        out[f"solver_{key}"] = {k: check[k] for k in ("value", "target", "met")}
    return out


def paired_bootstrap(model_err: np.ndarray, base_err: np.ndarray, n: int = 2000, seed: int = 0) -> dict[str, Any]:
    """95 % paired bootstrap interval of mean(model_err) − mean(base_err) over the same cases."""
    diff = np.asarray(model_err, float) - np.asarray(base_err, float)
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, len(diff), size=(n, len(diff)))].mean(axis=1)
    return {"test": "paired bootstrap", "low": float(np.quantile(means, 0.025)),
            "high": float(np.quantile(means, 0.975))}


def make_headline(head: str, tables: dict, cl_preds: dict, val_table: dict | None, fields: FieldData,
                  splits: dict) -> dict[str, Any] | None:
    """The U-Net against the strongest baseline (chosen on the validation families) on held-out families.

    Main block: circulation |ΔC_L|; ``also``: the RMSE of u, v and Cp, each against the field
    baseline that is best on validation, and the same C_L comparison on the NACA test split.
    """
    if val_table is None or head not in tables.get(HEADLINE_EXP, {}):
        return None
    test = splits[HEADLINE_EXP]["test"]
    cl_true = fields.meta["cl"][test]
    n_fam = len(set(fields.meta["family"][test]))
    data = f"UIUC sections of {n_fam} families held out from training ({len(test)} cases), panel-method truth"
    cl_candidates = [b for b in (POD, MLP, "thin-airfoil theory") if b in val_table]
    best_cl = min(cl_candidates, key=lambda b: val_table[b]["cl_mae_circulation"])
    rule = "lowest error on the validation families among {}".format(", ".join(cl_candidates))
    err_model = np.abs(cl_preds[HEADLINE_EXP][head] - cl_true)
    err_base = np.abs(cl_preds[HEADLINE_EXP][best_cl] - cl_true)
    also = []
    field_candidates = [b for b in (POD, "freestream") if b in val_table and "rmse_u" in val_table[b]]
    for var in VARS:
        best = min(field_candidates, key=lambda b: val_table[b][f"rmse_{var}"])
        also.append(headline(metric=f"RMSE of {var} over fluid cells", data=data, model=f"{head} U-Net",
                             model_value=tables[HEADLINE_EXP][head][f"rmse_{var}"], baseline=best,
                             baseline_value=tables[HEADLINE_EXP][best][f"rmse_{var}"], higher_is_better=False,
                             baseline_rule="lowest error on the validation families among "
                                           + ", ".join(field_candidates),
                             unit="U_inf" if var != "cp" else "1", significance=None))
    rnd = tables.get("random", {})
    if head in rnd and best_cl in rnd:
        rtest = splits["random"]["test"]
        rtrue = fields.meta["cl"][rtest]
        also.append(headline(metric="|ΔC_L| by circulation, mean", data=f"NACA 4-digit test split ({len(rtest)} cases)",
                             model=f"{head} U-Net", model_value=rnd[head]["cl_mae_circulation"], baseline=best_cl,
                             baseline_value=rnd[best_cl]["cl_mae_circulation"], higher_is_better=False,
                             baseline_rule=rule, unit="1",
                             significance=paired_bootstrap(np.abs(cl_preds["random"][head] - rtrue),
                                                           np.abs(cl_preds["random"][best_cl] - rtrue))))
    return headline(metric="|ΔC_L| by circulation, mean", data=data, model=f"{head} U-Net",
                    model_value=float(err_model.mean()), baseline=best_cl, baseline_value=float(err_base.mean()),
                    higher_is_better=False, baseline_rule=rule, unit="1",
                    significance=paired_bootstrap(err_model, err_base), also=also)


def choose_design(rule: str, designs: list[str], val_table: dict | None) -> str | None:
    """The design of the headline and the targets: ``rule`` itself, or for ``auto`` the design among
    ``designs`` with the lowest circulation |ΔC_L| on the validation families (the first design without them).

    Raises:
        DataError: ``rule`` names a design that was not trained on the random split.
    """
    if rule != "auto":
        if designs and rule not in designs:
            raise DataError(f"evaluate.headline_design {rule!r} was not trained on the random split "
                            f"(trained: {', '.join(designs)}); name one of them or use auto")
        return rule
    if not designs:
        return None
    if not val_table:
        return designs[0]
    return min(designs, key=lambda d: val_table[d]["cl_mae_circulation"])


def evaluate(cfg: EvaluateConfig, prepared: Path, model_dir: Path, validation: Path | None, out: Path,
             with_speed: bool = True) -> dict[str, Any]:
    """Score every trained model and the baselines on its experiment's test split; write the results to ``out``.

    Raises:
        DataError: the prepared files or the models are missing or broken (see :func:`load_fields`,
            :func:`load_models`), or a model's experiment is not in ``splits.json``.
    """
    fields = load_fields(prepared / "fields.nc")
    splits = load_splits(prepared / "splits.json", len(fields))
    summary, models = load_models(model_dir)
    experiments = list(summary["config"]["models"])
    if HEADLINE_EXP in splits and "random" in experiments:
        experiments.append(HEADLINE_EXP)  # real sections of families the random-split models never saw
    tables, all_cases, preds_by_exp, tests, cl_preds = {}, [], {}, {}, {}
    for exp in experiments:
        if exp not in splits:
            raise DataError(f"the models were trained on experiment {exp!r}, which splits.json lacks")
        source = "random" if exp == HEADLINE_EXP else exp
        designs = [d for (e, d) in models if e == source and d != "mlp"]
        exp_models = {d: models[(source, d)] for d in designs}
        table, cases, preds = evaluate_experiment(exp, splits[exp], fields, exp_models, designs, cfg,
                                                  models.get((source, "mlp")))
        cl_preds[exp] = table.pop("_cl_pred")
        tables[exp], preds_by_exp[exp], tests[exp] = table, preds, splits[exp]["test"]
        all_cases.append(cases)
        for name, row in table.items():
            if "rmse_u" in row:
                log.info("%-20s %-10s rmse u %.4f v %.4f cp %.4f | C_L mae circ %.4f surf %.4f | rho %.4f", exp,
                         name, row["rmse_u"], row["rmse_v"], row["rmse_cp"], row["cl_mae_circulation"],
                         row["cl_mae_surface"], row.get("spearman_cl", float("nan")))
    cases = pd.concat(all_cases, ignore_index=True)
    random_designs = [d for (e, d) in models if e == "random" and d != "mlp"]
    val_table = None
    if HEADLINE_EXP in tables and random_designs:
        # the same models on the validation families: the baselines (and an auto design) are chosen here
        split = splits[HEADLINE_EXP]
        val_split = {"train": split["train"], "test": split["val_real"]}
        val_table, _, _ = evaluate_experiment("validation", val_split, fields,
                                              {d: models[("random", d)] for d in random_designs}, random_designs,
                                              cfg, models.get(("random", "mlp")))
        val_table.pop("_cl_pred")
    head = choose_design(cfg.headline_design, random_designs, val_table)
    speed_table = None
    if with_speed and head is not None and ("random", head) in models:
        speed_table = speed(models[("random", head)], fields, cfg.speed)
        for name, row in speed_table.items():
            log.info("speed %-46s single %.2f ms, batch %.2f ms/case", name, row["single_ms"],
                     row["batch_ms_per_case"])
    val = read_json(validation) if validation is not None and Path(validation).exists() else None
    fields_table = {f"{exp} · {name}": {k: v for k, v in row.items() if not k.startswith(("cl_", "spearman"))}
                    for exp, table in tables.items() for name, row in table.items()
                    if "rmse_u" in row or "surface_cp_mae" in row}  # the floor row: surface-Cp sampling only
    lift_table = {f"{exp} · {name}": {k: v for k, v in row.items() if k.startswith(("cl_", "spearman"))}
                  for exp, table in tables.items() for name, row in table.items()}
    train_table = {f"{m['experiment']} · {m['design']}": {"wall_time_s": m["wall_time_s"], "epochs": m["epochs"],
                                                         "params": m["params"], "n_train": m["n_train"]}
                   for m in summary["models"]}
    head_block = make_headline(head, tables, cl_preds, val_table, fields, splits)
    metrics = {**({"headline": head_block} if head_block else {}),
               "headline_design": {"design": head, "rule": cfg.headline_design if cfg.headline_design != "auto"
                                   else "auto: the lowest |ΔC_L| on the validation families"},
               **({"validation_families": val_table} if val_table else {}),
               "targets": targets(cfg, head, tables, speed_table, val), "fields": fields_table, "lift": lift_table,
               **({"speed": speed_table} if speed_table else {}), "training": train_table,
               "total_training_time_s": float(sum(m["wall_time_s"] for m in summary["models"])),
               "grid": f"{fields.grid.nx}x{fields.grid.ny}", "data_source": fields.attrs.get("source", "?"),
               "uiuc_source": fields.attrs.get("uiuc_source", "?")}
    out.mkdir(parents=True, exist_ok=True)
    write_metrics(out / "metrics.json", metrics)
    write_csv(out / "cases.csv", cases.round(6))
    plots = out / "plots"
    cl_rows = cases[cases["model"] != "freestream"][["experiment", "model", "sample", "alpha", "cl_true",
                                                     "cl_circulation", "cl_surface"]]
    write_csv(plots / "cl_scatter.csv", cl_rows)
    hist_rows = []
    for m in summary["models"]:
        info = read_json(model_dir / m["experiment"] / m["design"] / "info.json")
        hist = info["history"]
        for i, epoch in enumerate(hist["epoch"]):
            hist_rows.append({"experiment": m["experiment"], "design": m["design"], "epoch": epoch + 1,
                              **{k: v[i] for k, v in hist.items() if k != "epoch"}})
    write_csv(plots / "history.csv", hist_rows)
    if random_designs:
        write_csv(plots / "polar_surrogate.csv",
                  surrogate_polar({d: models[("random", d)] for d in random_designs}, random_designs, fields, cfg))
    picks = pick_examples(cases, head if head in cases["model"].values else cases["model"].iloc[0])
    surface = write_examples(out / "examples.nc", picks, preds_by_exp, tests, fields)
    write_csv(plots / "surface_cp.csv", surface.round(5))
    for key, t in metrics["targets"].items():
        log.info("target %-40s %.4g (target %g): %s", key, t["value"], t["target"], "met" if t["met"] else "MISSED")
    return metrics


def main(argv: Sequence[str] | None = None) -> int:
    """The ``evaluate`` stage.

    Raises:
        ConfigError: the ``evaluate`` section of ``--params`` is missing or invalid.
        DataError: ``--model`` holds no ``summary.json`` (the train stage has not run), or an input is missing
            or broken (see :func:`evaluate`).
    """
    parser = stage_parser(__doc__, inputs=("data", "model"), outputs=("out",))
    parser.add_argument("--validation", default=None, help="validation.json of the validate stage (optional)")
    parser.add_argument("--no-speed", action="store_true", help="skip the timing measurements")
    args = parser.parse_args(argv)
    cfg = load_section(args.params, "evaluate", EvaluateConfig)
    model = Path(args.model)
    if not (model / "summary.json").exists():
        raise DataError(f"{model} holds no trained models (summary.json missing); run the train stage first")
    evaluate(cfg, Path(args.data), model, Path(args.validation) if args.validation else None, Path(args.out),
             with_speed=not args.no_speed)
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main))
