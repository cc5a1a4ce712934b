"""Stage ``benchmark``: what each technique contributes, DeepXDE like for like, and solve_ivp beside them.

* Ablation: the headline problem's forward solve with the configured techniques, then with
  one technique switched off or on at a time (variants in ``params.yaml``), each timed.
* Comparison (``comparison`` in ``params.yaml``), on the same problem, collocation points, Adam and
  L-BFGS budgets, learning-rate schedule, loss and seeds:

  - **plain against plain**: a tanh MLP on raw ``t``, soft initial condition (a loss term),
    Adam then L-BFGS, here and in DeepXDE;
  - **techniques against techniques**: the hard initial condition ``y0 + (t − t0)/T · N`` (DeepXDE:
    ``apply_output_transform``) and ``t`` scaled to [-1, 1] with the same Fourier features (DeepXDE:
    ``apply_feature_transform``), here and in DeepXDE;
  - the classical reference: ``solve_ivp`` with its default settings (RK45, rtol 1e-3, atol 1e-6)
    and with DOP853 at rtol 1e-8.

  Each row has the final rel-L2 error, the wall time and the time to reach rel-L2 ≤ ``target``
  (measured at the same checkpoints on both sides: every ``check_every`` Adam steps and after every
  1000 L-BFGS iterations, DeepXDE's own L-BFGS block; the time spent measuring is not counted).
  DeepXDE (``pip install -e .[bench]``) runs in a subprocess so that its backend settings stay apart;
  without it the stage logs why and the DeepXDE rows are absent.

    python -m projects.pinn_ode.benchmark --params projects/pinn_ode/params.yaml \
        --data data/pinn_ode/prepared --out projects/pinn_ode/results
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from projects.pinn_ode.cases import TrainStageConfig, case_config, run_case
from projects.pinn_ode.pinn import PINNConfig
from projects.pinn_ode.problems import get_problem, load_prepared, solve_ivp_timed
from shared import config as config_lib
from shared.io import write_csv
from shared.metrics import rel_l2, summarize, write_metrics
from shared.stage import run, stage_parser

log = logging.getLogger(__name__)

#: L-BFGS iterations per checkpoint of the time-to-target measurement (DeepXDE's L-BFGS block)
LBFGS_CHECK = 1000


@dataclass(frozen=True)
class ComparisonConfig:
    """The like-for-like runs against DeepXDE: budgets shared by both sides."""

    adam_steps: int = 3000
    lbfgs_steps: int = 3000
    #: rel-L2 whose first crossing is timed
    target: float = 1e-3
    #: Adam steps between two checkpoints of the error
    check_every: int = 100


@dataclass(frozen=True)
class BenchmarkConfig:
    """The ``benchmark`` section: the ablation variants and the comparison against DeepXDE.

    Raises:
        ValueError: a variant has a section other than ``network`` and ``training``.
    """

    problem: str = "damped_oscillator"
    seeds: tuple[int, ...] = (0,)
    #: name → {network: {...}, training: {...}} changes to the configured forward solve
    variants: dict[str, dict[str, dict[str, Any]]] = field(default_factory=lambda: {"configured": {}})
    deepxde: bool = True
    comparison: ComparisonConfig = field(default_factory=ComparisonConfig)

    def __post_init__(self) -> None:
        for name, change in self.variants.items():
            unknown = set(change) - {"network", "training"}
            if unknown:
                raise ValueError(f"variant {name!r}: unknown section(s) {sorted(unknown)}; use network or training")


def variant_config(base: PINNConfig, change: dict[str, dict[str, Any]]) -> PINNConfig:
    return PINNConfig(network=config_lib.replace(base.network, **change.get("network", {})),
                      training=config_lib.replace(base.training, **change.get("training", {})))


def ablation(cfg: BenchmarkConfig, train_cfg: TrainStageConfig, prepared: Path) -> list[dict[str, Any]]:
    _, arrays = load_prepared(prepared, cfg.problem)
    rows = []
    for name, change in cfg.variants.items():
        for seed in cfg.seeds:
            pcfg = variant_config(case_config(train_cfg, cfg.problem, "forward", seed), change)
            solution = run_case(cfg.problem, "forward", pcfg, prepared)
            rows.append({"method": name, "seed": seed, "rel_l2": rel_l2(solution(arrays["t"]), arrays["y"]),
                         "time_s": solution.wall_time, "iterations": solution.iterations})
            log.info("%-20s seed %d: rel-L2 %.3g in %.1f s", name, seed, rows[-1]["rel_l2"], rows[-1]["time_s"])
    return rows


# --------------------------------------------------------------------------- comparison
PLAIN = {"fourier_features": 0, "input_scaling": False, "hard_ic": False}
TECHNIQUES = {"input_scaling": True, "hard_ic": True}


def comparison_configs(cfg: BenchmarkConfig, train_cfg: TrainStageConfig, seed: int) -> dict[str, PINNConfig]:
    """The two PINN set-ups of the comparison, with the comparison's Adam and L-BFGS budgets (forward solve)."""
    base = case_config(train_cfg, cfg.problem, "forward", seed)
    steps = {"adam_steps": cfg.comparison.adam_steps, "lbfgs_steps": cfg.comparison.lbfgs_steps,
             "steps_per_epoch": cfg.comparison.check_every, "resample": False, "causal_eps": 0.0}
    return {"plain": variant_config(base, {"network": PLAIN, "training": steps}),
            "techniques": variant_config(base, {"network": TECHNIQUES, "training": steps})}


class _Clock:
    """Wall time since start, less the time spent measuring the error; the first time under target."""

    def __init__(self, t: np.ndarray, ref: np.ndarray, target: float):
        self.t, self.ref, self.target = t, ref, target
        self.start, self.paused, self.hit, self.trace = time.perf_counter(), 0.0, None, []

    def check(self, predict, iteration: int) -> None:
        begin = time.perf_counter()
        err = rel_l2(predict(self.t), self.ref)
        now = begin - self.start - self.paused
        self.trace.append((now, iteration, err))
        if self.hit is None and err <= self.target:
            self.hit = now
        self.paused += time.perf_counter() - begin


def run_pinn_timed(problem_name: str, pcfg: PINNConfig, arrays: dict[str, np.ndarray], comparison: ComparisonConfig
                   ) -> dict[str, Any]:
    """A forward PINN solve with the error measured at the comparison's checkpoints."""
    import keras

    from projects.pinn_ode import pinn

    problem = get_problem(problem_name)
    clock: _Clock | None = None
    adam = pcfg.training.adam_steps

    def predict_with(net):
        return lambda t: np.asarray(net(t[:, None].astype(pcfg.network.dtype), training=False), dtype=float)

    class Checkpoints(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            step = int(self.model.optimizer.iterations.numpy())
            if step % comparison.check_every == 0:
                clock.check(predict_with(self.model.net), step)

    def on_lbfgs(trainer, k):
        if k % LBFGS_CHECK == 0:
            clock.check(predict_with(trainer.net), adam + k)

    clock = _Clock(arrays["t"], arrays["y"], comparison.target)
    solution = pinn.solve(problem, pcfg, callbacks=[Checkpoints()], on_lbfgs_iteration=on_lbfgs)
    clock.check(lambda t: solution(t), solution.iterations)
    total = time.perf_counter() - clock.start - clock.paused
    return {"rel_l2": clock.trace[-1][2], "time_s": total, "time_to_target_s": clock.hit,
            "iterations": solution.iterations}


def deepxde_available() -> bool:
    return importlib.util.find_spec("deepxde") is not None


def deepxde_request(problem_name: str, pcfg: PINNConfig, prepared: Path, comparison: ComparisonConfig
                    ) -> dict[str, Any]:
    """Everything the DeepXDE worker needs to repeat a PINN config: the same points, frequencies and loss."""
    from projects.pinn_ode import pinn
    from projects.pinn_ode.model import build_model

    problem = get_problem(problem_name)
    net_cfg, tr = pcfg.network, pcfg.training
    net = build_model(net_cfg, t_span=problem.t_span, y0=problem.y0)
    trainer = pinn.PINNTrainer(net, problem, tr, hard_ic=net_cfg.hard_ic)
    frequencies = None
    if net_cfg.fourier_features:
        frequencies = np.asarray(net.get_layer("fourier").frequencies).ravel().tolist()
    return {"problem": problem_name, "prepared": str(prepared), "width": net_cfg.width, "depth": net_cfg.depth,
            "points": np.asarray(trainer.points)[:, 0].tolist(), "adam_steps": tr.adam_steps,
            "learning_rate": tr.learning_rate, "decay_steps": tr.decay_steps, "decay_rate": tr.decay_rate,
            "lbfgs_steps": tr.lbfgs_steps, "lbfgs_memory": tr.lbfgs_memory, "seed": tr.seed,
            "hard_ic": net_cfg.hard_ic, "input_scaling": net_cfg.input_scaling, "frequencies": frequencies,
            "ic_weight": tr.ic_weight, "target": comparison.target, "check_every": comparison.check_every}


def run_deepxde(request: dict[str, Any], timeout: float = 3600) -> dict[str, Any]:
    """One DeepXDE solve in a subprocess; returns rel-L2, times and iterations (or the error)."""
    env = {**os.environ, "DDE_BACKEND": "tensorflow"}
    cmd = [sys.executable, "-m", "projects.pinn_ode.benchmark", "--deepxde-worker", json.dumps(request)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        return {"error": (proc.stderr.strip().splitlines() or ["no output"])[-1]}
    return json.loads(lines[-1])


def _deepxde_worker(request: dict[str, Any]) -> dict[str, Any]:  # pragma: no cover - needs the bench extra
    import deepxde as dde
    from deepxde.backend import tf

    problem = get_problem(request["problem"])
    _, arrays = load_prepared(request["prepared"], request["problem"])
    dde.config.set_random_seed(request["seed"])
    p = problem.params
    dim = problem.dim
    t0, t1 = problem.t_span
    span = t1 - t0

    def residual(t, y):
        from projects.pinn_ode.rhs import evaluate_tf

        f = evaluate_tf(problem.rhs, t, [y[:, i:i + 1] for i in range(dim)], p)
        return [dde.grad.jacobian(y, t, i=i) - f[i] for i in range(dim)]

    geom = dde.geometry.TimeDomain(t0, t1)

    def constant(value):
        return lambda t: np.full((len(t), 1), value)

    points = np.asarray(request["points"], dtype=float)[:, None]
    if request["hard_ic"]:
        ics, ic_weights = [], []
    else:
        ics = [dde.icbc.IC(geom, constant(v), lambda _, on: on, component=i) for i, v in enumerate(problem.y0)]
        ic_weights = [request["ic_weight"] / dim] * dim  # the mean over components, as in PINNTrainer
    data = dde.data.TimePDE(geom, residual, ics, num_domain=0, num_boundary=2 if ics else 0, anchors=points,
                            num_test=None)
    net = dde.nn.FNN([1] + [request["width"]] * request["depth"] + [dim], "tanh", "Glorot normal")
    if request["input_scaling"] or request["frequencies"]:
        freqs = None if not request["frequencies"] else tf.constant([request["frequencies"]], tf.float32)

        def features(t):
            s = 2.0 * (t - t0) / span - 1.0 if request["input_scaling"] else t
            if freqs is None:
                return s
            z = np.pi * tf.matmul(s, freqs)
            return tf.concat([s, tf.sin(z), tf.cos(z)], axis=1)

        net.apply_feature_transform(features)
        if freqs is not None:  # the first layer now takes 1 + 2k inputs
            net.denses[0].build((None, 1 + 2 * len(request["frequencies"])))
    if request["hard_ic"]:
        y0 = tf.constant([problem.y0], tf.float32)
        net.apply_output_transform(lambda t, n: y0 + (t - t0) / span * n)
    # The loss of PINNTrainer: the residual in scaled time (× T, so the squared residual × T²).
    model = dde.Model(data, net)
    weights = [span**2] * dim + ic_weights
    t_grid, ref = arrays["t"][:, None], arrays["y"]
    state = {"start": None, "paused": 0.0, "hit": None, "trace": [], "phase": "adam"}

    def check(iteration):
        begin = time.perf_counter()
        err = rel_l2(model.predict(t_grid), ref)
        now = begin - state["start"] - state["paused"]
        state["trace"].append((now, iteration, err))
        if state["hit"] is None and err <= request["target"]:
            state["hit"] = now
        state["paused"] += time.perf_counter() - begin

    class Checkpoints(dde.callbacks.Callback):
        def on_epoch_end(self):  # Adam: after every step; L-BFGS: after every block of iterations
            step = int(self.model.train_state.step)
            if state["phase"] == "lbfgs" or step % request["check_every"] == 0:
                check(step)

    state["start"] = time.perf_counter()
    schedule = tf.keras.optimizers.schedules.ExponentialDecay(request["learning_rate"], request["decay_steps"],
                                                              request["decay_rate"])
    model.compile(tf.keras.optimizers.Adam(learning_rate=schedule), loss_weights=weights)
    iterations = 0
    if request["adam_steps"]:
        model.train(iterations=request["adam_steps"], display_every=request["adam_steps"], verbose=0,
                    callbacks=[Checkpoints()])
        iterations = request["adam_steps"]
    if request["lbfgs_steps"]:
        dde.optimizers.config.set_LBFGS_options(maxcor=request["lbfgs_memory"], ftol=0, gtol=0,
                                                maxiter=request["lbfgs_steps"])
        model.compile("L-BFGS", loss_weights=weights)
        state["phase"] = "lbfgs"
        model.train(display_every=request["lbfgs_steps"], verbose=0, callbacks=[Checkpoints()])
        iterations = int(model.train_state.step)
    elapsed = time.perf_counter() - state["start"] - state["paused"]
    err = rel_l2(model.predict(t_grid), ref)
    if state["hit"] is None and err <= request["target"]:
        state["hit"] = elapsed
    return {"rel_l2": err, "time_s": elapsed, "time_to_target_s": state["hit"], "iterations": iterations,
            "version": dde.__version__, "trace": state["trace"]}


def classical_rows(problem_name: str, arrays: dict[str, np.ndarray], target: float) -> list[dict[str, Any]]:
    """solve_ivp on the same problem and grid: its default settings, and DOP853 at rtol 1e-8."""
    problem = get_problem(problem_name)
    rows = []
    for name, method, rtol, atol in (("solve_ivp (RK45, default tolerances)", "RK45", 1e-3, 1e-6),
                                     ("solve_ivp (DOP853, rtol 1e-8)", "DOP853", 1e-8, 1e-10)):
        res = solve_ivp_timed(problem, arrays["t"], arrays["y"], method=method, rtol=rtol, atol=atol)
        rows.append({"method": name, "rel_l2": res["rel_l2"], "time_s": res["time_s"],
                     "time_to_target_s": res["time_s"] if res["rel_l2"] <= target else None,
                     "iterations": res["nfev"]})
    return rows


def comparison(cfg: BenchmarkConfig, train_cfg: TrainStageConfig, prepared: Path, with_deepxde: bool
               ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    _, arrays = load_prepared(prepared, cfg.problem)
    rows = []
    for seed in cfg.seeds:
        for setup, pcfg in comparison_configs(cfg, train_cfg, seed).items():
            res = run_pinn_timed(cfg.problem, pcfg, arrays, cfg.comparison)
            rows.append({"method": f"pinn_ode, {setup}", "seed": seed, **res})
            log.info("pinn_ode %-10s seed %d: %s", setup, seed, res)
            if with_deepxde:
                res = run_deepxde(deepxde_request(cfg.problem, pcfg, prepared, cfg.comparison))
                if "error" in res:
                    log.warning("DeepXDE %s seed %d failed: %s", setup, seed, res["error"])
                    continue
                log.info("DeepXDE %s %-10s seed %d: rel-L2 %.3g in %.1f s (1e-3 at %s s)", res["version"], setup,
                         seed, res["rel_l2"], res["time_s"], res["time_to_target_s"])
                rows.append({"method": f"DeepXDE {res['version']}, {setup}", "seed": seed,
                             **{k: res[k] for k in ("rel_l2", "time_s", "time_to_target_s", "iterations")}})
    for row in classical_rows(cfg.problem, arrays, cfg.comparison.target):
        rows.append({**row, "seed": None})
    table: dict[str, Any] = {}
    frame = pd.DataFrame(rows)
    for method, group in frame.groupby("method", sort=False):
        hits = [v for v in group["time_to_target_s"] if v is not None and np.isfinite(v)]
        table[method] = {"rel_l2": float(np.median(group["rel_l2"])), "time_s": float(np.median(group["time_s"])),
                         "time_to_target_s": float(np.median(hits)) if len(hits) == len(group)
                         else None, "iterations": float(np.median(group["iterations"])),
                         "seeds": int(group["seed"].notna().sum())}
    setup = {"problem": cfg.problem, "adam_steps": cfg.comparison.adam_steps,
             "lbfgs_steps": cfg.comparison.lbfgs_steps, "n_collocation": train_cfg.training.n_collocation,
             "seeds": list(cfg.seeds), "target_rel_l2": cfg.comparison.target,
             "deepxde": "ran" if with_deepxde else "not installed or switched off (pip install -e .[bench])"}
    return {"setup": setup, "table": table}, rows


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    if argv and argv[0] == "--deepxde-worker":
        print(json.dumps(_deepxde_worker(json.loads(argv[1]))))
        return 0
    args = stage_parser(__doc__, inputs=("data",), outputs=("out",)).parse_args(argv)
    cfg = config_lib.load_section(args.params, "benchmark", BenchmarkConfig)
    train_cfg = config_lib.load_section(args.params, "train", TrainStageConfig)
    prepared, out = Path(args.data), Path(args.out)
    rows = ablation(cfg, train_cfg, prepared)
    with_deepxde = cfg.deepxde and deepxde_available()
    if cfg.deepxde and not with_deepxde:
        log.info("deepxde is not installed (pip install -e .[bench]); the comparison runs without it")
    compared, comp_rows = comparison(cfg, train_cfg, prepared, with_deepxde)
    frame = pd.DataFrame(rows)
    write_csv(out / "plots" / "ablation.csv", frame)
    write_csv(out / "plots" / "comparison.csv", pd.DataFrame(comp_rows))
    table = {}
    for method, group in frame.groupby("method", sort=False):
        err, tim = summarize(group["rel_l2"]), summarize(group["time_s"])
        table[method] = {"rel_l2": err["median"], "rel_l2_max": err["max"], "time_s": tim["median"],
                         "iterations": float(np.median(group["iterations"])), "seeds": err["n"]}
    write_metrics(out / "benchmark.json", {"ablation": table, "comparison": compared["table"],
                                           "comparison_setup": compared["setup"]})
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main))
