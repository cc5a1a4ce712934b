"""Stage ``evaluate``: errors of every trained case against the reference, and the targets.

Every error is a relative L2 error on the dense reference grid of the ``data`` stage.

* forward: rel-L2 of the solution, wall time, iterations;
* inverse: identified parameter and its relative error, beside the least-squares fit of the
  exact ODE solution to the same observations (the noise floor no method can beat);
* parametric: rel-L2 at every reference parameter value, mean and worst.

Writes ``metrics.json`` (DVC metrics: targets and one table per mode), ``cases.csv`` (one row
per case and seed) and plot data under ``plots/``.

    python -m projects.pinn_ode.evaluate --params projects/pinn_ode/params.yaml \
        --data data/pinn_ode/prepared --model data/pinn_ode/model --out projects/pinn_ode/results
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from projects.pinn_ode.cases import case_dir
from projects.pinn_ode.pinn import Solution
from projects.pinn_ode.problems import Observations, get_problem, least_squares_timed, load_prepared, solve_ivp_timed
from shared.config import load_section
from shared.io import DataError, read_json, write_csv
from shared.metrics import headline, rel_l2, write_metrics
from shared.stage import run, stage_parser

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvaluateConfig:
    #: targets of the headline problem (see the project README)
    target_forward_rel_l2: float = 1e-4
    target_forward_time_s: float = 60.0
    target_inverse_error_pct: float = 1.0
    target_inverse_time_s: float = 60.0
    target_parametric_mean_pct: float = 1.0
    target_parametric_max_pct: float = 3.0
    #: points per curve kept in the plot data
    plot_points: int = 201
    history_points: int = 300


def evaluate_case(solution: Solution, mode: str, meta: dict, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    t = arrays["t"]
    row: dict[str, Any] = {"time_s": solution.wall_time, "iterations": solution.iterations,
                           "final_loss": solution.info.get("final_loss")}
    if mode == "parametric":
        param = meta["inverse_parameter"]
        errors = [rel_l2(solution(t, **{param: v}), ref) for v, ref in zip(arrays["param_values"], arrays["y_param"])]
        row.update(mean_rel_l2_pct=100 * float(np.mean(errors)), max_rel_l2_pct=100 * float(np.max(errors)),
                   per_value_pct=[100 * e for e in errors])
    else:
        row["rel_l2"] = rel_l2(solution(t), arrays["y"])
    if mode == "inverse":
        param = meta["inverse_parameter"]
        true = meta["inverse_true_value"]
        row.update(parameter=param, true_value=true, estimate=solution.params[param],
                   error_pct=100 * abs(solution.params[param] / true - 1))
    return row


def noise_floor(name: str, meta: dict, arrays: dict[str, np.ndarray]) -> dict[str, float]:
    """The classical inverse solve: least squares through solve_ivp on the same observations, timed."""
    problem = get_problem(name)
    obs = Observations(t=arrays["obs_t"], y=arrays["obs_y"], components=tuple(arrays["obs_components"]))
    param = meta["inverse_parameter"]
    fit, seconds = least_squares_timed(problem, obs, [param], {param: meta["inverse_initial_guess"]})
    return {"least_squares_estimate": fit[param],
            "least_squares_error_pct": 100 * abs(fit[param] / meta["inverse_true_value"] - 1),
            "least_squares_time_s": seconds}


def classical_forward(name: str, arrays: dict[str, np.ndarray]) -> dict[str, float]:
    """The classical forward solve: solve_ivp with its default settings (RK45, rtol 1e-3, atol 1e-6), timed."""
    res = solve_ivp_timed(get_problem(name), arrays["t"], arrays["y"])
    return {"solve_ivp_rel_l2": res["rel_l2"], "solve_ivp_time_s": res["time_s"]}


def classical_parametric(name: str, meta: dict, arrays: dict[str, np.ndarray]) -> dict[str, float]:
    """solve_ivp (defaults) re-run at every reference parameter value: its worst rel-L2 and its total time."""
    problem, param = get_problem(name), meta["inverse_parameter"]
    runs = [solve_ivp_timed(problem, arrays["t"], ref, params={param: float(v)}, repeats=3)
            for v, ref in zip(arrays["param_values"], arrays["y_param"])]
    return {"solve_ivp_max_rel_l2_pct": 100 * max(r["rel_l2"] for r in runs),
            "solve_ivp_time_s": sum(r["time_s"] for r in runs)}


def make_headline(tables: dict[str, dict[str, dict[str, Any]]], problem: str, n_seeds: int) -> dict[str, Any] | None:
    """The PINN against its classical counterpart: the inverse problem, where a PINN is meant to pay.

    Main line: the identified parameter's error on the headline problem against least squares through
    solve_ivp on the same 50 noisy observations. Beside it: the worst problem, and the forward solve
    against solve_ivp (error and time), where the classical solver wins.
    """
    inv, fwd = tables.get("inverse", {}), tables.get("forward", {})
    if problem not in inv:
        return None
    rule = ("the classical method for the task (no choice among baselines): least squares of the solve_ivp solution "
            "(rtol 1e-9), Levenberg-Marquardt, same data and initial guess")
    seeds = f"median of {n_seeds} seeds" if n_seeds > 1 else "1 seed"
    also = []
    worst_pinn = max(inv, key=lambda n: inv[n]["error_pct"])
    worst_ls = max(inv, key=lambda n: inv[n]["least_squares_error_pct"])
    also.append(headline(metric="inverse: parameter error, worst problem (%)", unit="%",
                         data=f"{len(inv)} problems, 50 observations with 1% noise each (PINN worst: "
                              f"{worst_pinn}; least squares worst: {worst_ls})",
                         model="PINN", model_value=inv[worst_pinn]["error_pct"],
                         baseline="least squares through solve_ivp",
                         baseline_value=inv[worst_ls]["least_squares_error_pct"], higher_is_better=False,
                         baseline_rule=rule))
    if problem in fwd:
        frule = "solve_ivp as a user calls it: its default method and tolerances (RK45, rtol 1e-3, atol 1e-6)"
        also.append(headline(metric="forward: rel-L2 error", data=f"{problem}, 2001-point grid ({seeds})",
                             model="PINN", model_value=fwd[problem]["rel_l2"], baseline="solve_ivp (RK45, defaults)",
                             baseline_value=fwd[problem]["solve_ivp_rel_l2"], higher_is_better=False,
                             baseline_rule=frule))
        also.append(headline(metric="forward: wall time (s)", unit="s", data=f"{problem} on 2 CPU cores ({seeds})",
                             model="PINN (training)", model_value=fwd[problem]["time_s"],
                             baseline="solve_ivp (RK45, defaults)", baseline_value=fwd[problem]["solve_ivp_time_s"],
                             higher_is_better=False, baseline_rule=frule))
    para = tables.get("parametric", {})
    if para:
        worst = max(para, key=lambda n: para[n]["max_rel_l2_pct"])
        also.append(headline(metric="parametric: worst rel-L2 over the parameter range, worst problem (%)", unit="%",
                             data=f"{worst}, {len(para)} problems, 7 parameter values each (target ≤ 3%)",
                             model="PINN (one network for the range)", model_value=para[worst]["max_rel_l2_pct"],
                             baseline="solve_ivp (RK45, defaults) at each value",
                             baseline_value=para[worst]["solve_ivp_max_rel_l2_pct"], higher_is_better=False,
                             baseline_rule="solve_ivp as a user calls it: its default method and tolerances, "
                                           "re-run for every parameter value"))
    also.append(headline(metric="inverse: wall time (s)", unit="s", data=f"{problem} on 2 CPU cores ({seeds})",
                         model="PINN (training)", model_value=inv[problem]["time_s"],
                         baseline="least squares through solve_ivp",
                         baseline_value=inv[problem]["least_squares_time_s"], higher_is_better=False,
                         baseline_rule=rule))
    return headline(metric="inverse: identified parameter error (%)", unit="%",
                    data=f"{problem}, 50 observations with 1% noise ({seeds})", model="PINN",
                    model_value=inv[problem]["error_pct"], baseline="least squares through solve_ivp",
                    baseline_value=inv[problem]["least_squares_error_pct"], higher_is_better=False,
                    baseline_rule=rule, also=also)


def _median(rows: list[dict], key: str) -> float:
    return float(np.median([r[key] for r in rows]))


def _log_spaced(n: int, k: int) -> list[int]:
    """At most about ``k`` indices of ``range(n)``, dense at the start and always with the last (for log-x plots)."""
    if n <= k:
        return list(range(n))
    return sorted({int(i) for i in np.geomspace(1, n, k).round() - 1} | {n - 1})


def evaluate(cfg: EvaluateConfig, prepared: Path, model: Path, out: Path) -> dict[str, Any]:
    """Score every trained case against the prepared references; write the tables and plot data to ``out``.

    Raises:
        DataError: ``summary.json``, a saved solution or a prepared file is missing or broken.
        ProblemError: a saved solution is of another problem than its case folder says.
    """
    summary = read_json(model / "summary.json")
    train_cfg = summary["config"]
    headline = train_cfg["headline"]
    rows, curves, losses, trajectories = [], [], [], []
    for case in summary["cases"]:
        name, mode, seed = case["problem"], case["mode"], case["seed"]
        meta, arrays = load_prepared(prepared, name)
        solution = Solution.load(case_dir(model, name, mode, seed), get_problem(name))
        row = {"problem": name, "mode": mode, "seed": seed, **evaluate_case(solution, mode, meta, arrays)}
        rows.append(row)
        if seed == train_cfg["seeds"][0]:
            idx = np.linspace(0, arrays["t"].size - 1, cfg.plot_points).round().astype(int)
            t = arrays["t"][idx]
            if mode == "parametric":
                param = meta["inverse_parameter"]
                pairs = [(f"{param}={v:g}", solution(t, **{param: v}), ref[idx])
                         for v, ref in zip(arrays["param_values"], arrays["y_param"])]
            else:
                pairs = [("", solution(t), arrays["y"][idx])]
            for label, pred, ref in pairs:
                for j, comp in enumerate(meta["components"]):
                    curves.append(pd.DataFrame({"problem": name, "mode": mode, "case": label, "component": comp,
                                                "t": t, "pinn": pred[:, j], "reference": ref[:, j]}))
        # one global iteration axis: Adam epochs at their last step, then L-BFGS iterations
        adam_steps = int(solution.info.get("adam_steps", 0))
        n_epochs = max(1, len(solution.history.get("adam", {}).get("loss", [])))
        for phase in ("adam", "lbfgs"):
            hist = solution.history.get(phase, {})
            steps = [(i + 1) * adam_steps // n_epochs if phase == "adam" else adam_steps + i + 1
                     for i in range(len(hist.get("loss", [])))]
            keep = _log_spaced(len(steps), cfg.history_points)
            values = hist.get("objective", hist.get("loss", []))
            losses.extend((name, mode, seed, phase, steps[i], values[i]) for i in keep)
            if mode == "inverse":
                values = hist.get(meta["inverse_parameter"], [])
                trajectories.extend((name, seed, phase, steps[i], values[i], meta["inverse_true_value"])
                                    for i in keep if i < len(values))
    frame = pd.DataFrame(rows)

    tables: dict[str, dict[str, dict[str, Any]]] = {"forward": {}, "inverse": {}, "parametric": {}}
    for (name, mode), group in frame.groupby(["problem", "mode"], sort=False):
        g = group.to_dict("records")
        entry: dict[str, Any] = {"seeds": len(g), "time_s": _median(g, "time_s"),
                                 "iterations": _median(g, "iterations")}
        if mode == "parametric":
            entry.update(mean_rel_l2_pct=_median(g, "mean_rel_l2_pct"), max_rel_l2_pct=_median(g, "max_rel_l2_pct"),
                         **classical_parametric(name, *load_prepared(prepared, name)))
        else:
            entry["rel_l2"] = _median(g, "rel_l2")
        if mode == "forward":
            entry.update(classical_forward(name, load_prepared(prepared, name)[1]))
        if mode == "inverse":
            meta, arrays = load_prepared(prepared, name)
            entry.update(estimate=_median(g, "estimate"), error_pct=_median(g, "error_pct"),
                         **noise_floor(name, meta, arrays))
        tables[mode][name] = entry

    targets: dict[str, dict[str, Any]] = {}

    def target(key: str, mode: str, column: str, limit: float) -> None:
        # every problem the stage solved: the worst one is the value (each a median over its seeds)
        entries = tables.get(mode, {})
        if entries:
            worst = max(entries, key=lambda name: entries[name][column])
            value = entries[worst][column]
            targets[key] = {"value": value, "target": limit, "met": bool(value <= limit), "worst": worst,
                            headline_problem: entries.get(headline_problem, {}).get(column)}

    headline_problem = headline
    target("forward_rel_l2", "forward", "rel_l2", cfg.target_forward_rel_l2)
    target("forward_time_s", "forward", "time_s", cfg.target_forward_time_s)
    target("inverse_error_pct", "inverse", "error_pct", cfg.target_inverse_error_pct)
    target("inverse_time_s", "inverse", "time_s", cfg.target_inverse_time_s)
    target("parametric_mean_pct", "parametric", "mean_rel_l2_pct", cfg.target_parametric_mean_pct)
    target("parametric_max_pct", "parametric", "max_rel_l2_pct", cfg.target_parametric_max_pct)
    metrics = {"targets": targets, **{k: v for k, v in tables.items() if v},
               "total_training_time_s": float(frame["time_s"].sum())}
    block = make_headline(tables, headline, len(train_cfg["seeds"]))
    if block is not None:
        metrics = {"headline": block, **metrics}
    out.mkdir(parents=True, exist_ok=True)
    write_metrics(out / "metrics.json", metrics)
    write_csv(out / "cases.csv", frame.drop(columns=[c for c in ("per_value_pct",) if c in frame]))
    plots = out / "plots"
    if curves:
        write_csv(plots / "solutions.csv", pd.concat(curves, ignore_index=True), float_format="%.7g")
    write_csv(plots / "loss.csv", pd.DataFrame(losses, columns=["problem", "mode", "seed", "phase", "step", "loss"]),
              float_format="%.5g")
    write_csv(plots / "inverse_trajectory.csv",
              pd.DataFrame(trajectories, columns=["problem", "seed", "phase", "step", "estimate", "true_value"]),
              float_format="%.6g")
    if "per_value_pct" in frame:
        para = frame[frame["mode"] == "parametric"]
        rows_pv = []
        for _, r in para.iterrows():
            meta, arrays = load_prepared(prepared, r["problem"])
            for v, e in zip(arrays["param_values"], r["per_value_pct"]):
                rows_pv.append({"problem": r["problem"], "seed": r["seed"], "parameter": meta["inverse_parameter"],
                                "value": float(v), "rel_l2_pct": e})
        write_csv(plots / "parametric_error.csv", pd.DataFrame(rows_pv))
    for key, t in targets.items():
        log.info("target %-22s %.4g (≤ %g): %s", key, t["value"], t["target"], "met" if t["met"] else "MISSED")
    return metrics


def main(argv: Sequence[str] | None = None) -> int:
    """The ``evaluate`` stage.

    Raises:
        ConfigError: the ``evaluate`` section of ``--params`` is missing or invalid.
        DataError: ``--model`` holds no ``summary.json`` (the train stage has not run), or a prepared file or a
            saved solution is missing or broken.
    """
    args = stage_parser(__doc__, inputs=("data", "model"), outputs=("out",)).parse_args(argv)
    cfg = load_section(args.params, "evaluate", EvaluateConfig)
    model = Path(args.model)
    if not (model / "summary.json").exists():
        raise DataError(f"{model} holds no trained cases (summary.json missing); run the train stage first")
    evaluate(cfg, Path(args.data), model, Path(args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main))
