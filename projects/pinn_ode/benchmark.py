"""Stage ``benchmark``: what each technique contributes, and DeepXDE side by side.

Ablation: the headline problem's forward solve with the configured techniques, then with
one technique switched off or on at a time (variants in ``params.yaml``), each timed.

DeepXDE (optional, ``pip install -e .[bench]``): the identical problem (same network,
collocation-point count, Adam steps, learning rate, L-BFGS iteration cap and seeds) solved by
DeepXDE's TensorFlow backend. It runs only when ``deepxde`` is importable and
``benchmark.deepxde`` is true, in a subprocess so that its backend settings stay apart.

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
from projects.pinn_ode.problems import load_prepared
from shared import config as config_lib
from shared.io import write_csv
from shared.metrics import rel_l2, summarize, write_metrics
from shared.stage import run, stage_parser

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BenchmarkConfig:
    problem: str = "damped_oscillator"
    seeds: tuple[int, ...] = (0,)
    #: name → {network: {...}, training: {...}} changes to the configured forward solve
    variants: dict[str, dict[str, dict[str, Any]]] = field(default_factory=lambda: {"configured": {}})
    deepxde: bool = True

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


def deepxde_available() -> bool:
    return importlib.util.find_spec("deepxde") is not None


def run_deepxde(problem: str, pcfg: PINNConfig, prepared: Path, timeout: float = 3600) -> dict[str, Any]:
    """One DeepXDE solve in a subprocess; returns rel-L2, time and iterations (or the error)."""
    request = {"problem": problem, "prepared": str(prepared), "width": pcfg.network.width,
               "depth": pcfg.network.depth, "n_collocation": pcfg.training.n_collocation,
               "adam_steps": pcfg.training.adam_steps, "learning_rate": pcfg.training.learning_rate,
               "decay_steps": pcfg.training.decay_steps, "decay_rate": pcfg.training.decay_rate,
               "lbfgs_steps": pcfg.training.lbfgs_steps, "seed": pcfg.training.seed}
    env = {**os.environ, "DDE_BACKEND": "tensorflow"}
    cmd = [sys.executable, "-m", "projects.pinn_ode.benchmark", "--deepxde-worker", json.dumps(request)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        return {"error": (proc.stderr.strip().splitlines() or ["no output"])[-1]}
    return json.loads(lines[-1])


def _deepxde_worker(request: dict[str, Any]) -> dict[str, Any]:  # pragma: no cover - needs the bench extra
    import deepxde as dde

    from projects.pinn_ode.problems import get_problem

    problem = get_problem(request["problem"])
    _, arrays = load_prepared(request["prepared"], request["problem"])
    dde.config.set_random_seed(request["seed"])
    p = problem.params
    dim = problem.dim

    def residual(t, y):
        ys = [y[:, i:i + 1] for i in range(dim)]
        rhs = problem.rhs(t, ys, p)
        return [dde.grad.jacobian(y, t, i=i) - rhs[i] for i in range(dim)]

    geom = dde.geometry.TimeDomain(*problem.t_span)
    def constant(value):
        return lambda t: np.full((len(t), 1), value)

    ics = [dde.icbc.IC(geom, constant(v), lambda _, on: on, component=i) for i, v in enumerate(problem.y0)]
    data = dde.data.TimePDE(geom, residual, ics, num_domain=request["n_collocation"], num_boundary=2)
    net = dde.nn.FNN([1] + [request["width"]] * request["depth"] + [dim], "tanh", "Glorot normal")
    model = dde.Model(data, net)
    start = time.perf_counter()
    # DeepXDE's TensorFlow backend has inverse-time and cosine decay, not exponential decay: use inverse-time decay
    # that reaches the same learning rate at the end of Adam, lr * rate**(steps / decay_steps).
    periods = request["adam_steps"] / request["decay_steps"]
    k = (request["decay_rate"] ** -periods - 1) / periods if periods > 0 else 0.0
    model.compile("adam", lr=request["learning_rate"], decay=("inverse time", request["decay_steps"], k))
    model.train(iterations=request["adam_steps"], display_every=max(1, request["adam_steps"]))
    iterations = request["adam_steps"]
    if request["lbfgs_steps"]:
        dde.optimizers.config.set_LBFGS_options(maxiter=request["lbfgs_steps"])
        model.compile("L-BFGS")
        losshistory, _ = model.train(display_every=max(1, request["lbfgs_steps"]))
        iterations = int(losshistory.steps[-1])
    elapsed = time.perf_counter() - start
    pred = model.predict(arrays["t"][:, None])
    return {"rel_l2": rel_l2(pred, arrays["y"]), "time_s": elapsed, "iterations": iterations,
            "version": dde.__version__}


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
    if cfg.deepxde and deepxde_available():
        for seed in cfg.seeds:
            res = run_deepxde(cfg.problem, case_config(train_cfg, cfg.problem, "forward", seed), prepared)
            log.info("DeepXDE seed %d: %s", seed, res)
            if "error" in res:
                log.warning("DeepXDE failed: %s", res["error"])
                continue
            rows.append({"method": "deepxde", "seed": seed, **{k: res[k] for k in ("rel_l2", "time_s", "iterations")}})
    elif cfg.deepxde:
        log.info("deepxde is not installed (pip install -e .[bench]); skipping the side-by-side run")
    frame = pd.DataFrame(rows)
    write_csv(out / "plots" / "ablation.csv", frame)
    table = {}
    for method, group in frame.groupby("method", sort=False):
        err, tim = summarize(group["rel_l2"]), summarize(group["time_s"])
        table[method] = {"rel_l2": err["median"], "rel_l2_max": err["max"], "time_s": tim["median"],
                         "iterations": float(np.median(group["iterations"])), "seeds": err["n"]}
    write_metrics(out / "benchmark.json", {"ablation": table})
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main))
