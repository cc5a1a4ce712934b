"""pinn_ode tools: solve a built-in ODE problem with a PINN from the command line.

    capstone pinn_ode solve --problem damped_oscillator
    capstone pinn_ode solve --problem sir --mode inverse --set training.causal_eps=10
    capstone pinn_ode solve --problem van_der_pol --mode parametric --out runs/vdp --plot vdp.png
    capstone pinn_ode problems
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import yaml

from shared.config import ConfigError

DEFAULT_PARAMS = "projects/pinn_ode/params.yaml"


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="pinn_command", required=True)
    p = sub.add_parser("solve", help="train a PINN on a built-in problem and report its error")
    p.add_argument("--problem", required=True, help="built-in problem (see `capstone pinn_ode problems`)")
    p.add_argument("--mode", choices=["forward", "inverse", "parametric"], default="forward")
    p.add_argument("--params", default=DEFAULT_PARAMS, help="params.yaml whose data/train sections configure it")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="change a network/training setting, e.g. training.adam_steps=6000 (repeatable)")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="change a physical parameter of the problem, e.g. xi=0.2 (repeatable)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--points", type=int, default=11, help="rows of the printed solution table")
    p.add_argument("--out", default=None, help="save the solution (model.keras + solution.json) here")
    p.add_argument("--plot", default=None, help="write a PNG of PINN against reference")
    p.add_argument("--progress", action="store_true", help="Keras progress bars")
    p.set_defaults(func=cmd_solve)
    p = sub.add_parser("problems", help="list the built-in problems")
    p.set_defaults(func=cmd_problems)


def cmd_problems(args: argparse.Namespace) -> int:
    """``capstone pinn_ode problems``: one line per built-in problem (``t_span``, ``y0``, parameters)."""
    from projects.pinn_ode.problems import BUILTIN, get_problem

    for name in BUILTIN:
        prob = get_problem(name)
        params = ", ".join(f"{k}={v:g}" for k, v in prob.params.items())
        print(f"{name:<18} t∈[{prob.t_span[0]:g}, {prob.t_span[1]:g}]  y0={list(prob.y0)}  {params}")
    return 0


def _parse_sets(items: list[str]) -> dict[str, dict]:
    changes: dict[str, dict] = {}
    for item in items:
        key, sep, value = item.partition("=")
        section, dot, name = key.partition(".")
        if not sep or not dot or section not in ("network", "training"):
            raise ConfigError(f"--set takes network.KEY=VALUE or training.KEY=VALUE, got {item!r}")
        try:
            changes.setdefault(section, {})[name] = yaml.safe_load(value)
        except yaml.YAMLError as exc:
            raise ConfigError(f"--set {item!r}: the value is not valid YAML ({' '.join(str(exc).split())[:120]})"
                              ) from None
    return changes


def _parse_params(items: list[str]) -> dict[str, float]:
    physical: dict[str, float] = {}
    for item in items:
        name, sep, value = item.partition("=")
        try:
            number = float(value)
        except ValueError:
            number = float("nan")
        if not sep or not name.strip() or not math.isfinite(number):
            raise ConfigError(f"--param takes NAME=NUMBER (e.g. xi=0.2), got {item!r}")
        physical[name.strip()] = number
    return physical


def cmd_solve(args: argparse.Namespace) -> int:
    """``capstone pinn_ode solve``: train a PINN on a built-in problem and print its error against solve_ivp.

    Prints the rel-L2 error (forward; parametric: at 5 values of the parameter) or the identified parameter
    (inverse), then a table of ``--points`` times with each component, PINN and reference, in the problem's units.

    Returns:
        0.

    Raises:
        ProblemError: ``--problem`` is not built in, or a ``--param`` name is not one of its parameters.
        ConfigError: ``--params`` is missing or invalid, a ``--set`` item is not ``network.KEY=VALUE`` or
            ``training.KEY=VALUE`` or its key or value is invalid, or a ``--param`` item is not ``NAME=VALUE``
            with a finite number.
    """
    import numpy as np

    from projects.pinn_ode.cases import TrainStageConfig, case_config
    from projects.pinn_ode.data import DataConfig
    from projects.pinn_ode.pinn import PINNConfig, solve
    from projects.pinn_ode.problems import (
        get_problem,
        inverse_parameter,
        make_observations,
        parametric_range,
        reference_solution,
    )
    from shared import config as config_lib
    from shared.metrics import rel_l2

    physical = _parse_params(args.param)
    problem = get_problem(args.problem, **physical)
    stage_cfg = config_lib.load_section(args.params, "train", TrainStageConfig)
    data_cfg = config_lib.load_section(args.params, "data", DataConfig)
    base = case_config(stage_cfg, args.problem, args.mode, args.seed)
    changes = _parse_sets(args.set)
    pcfg = PINNConfig(network=config_lib.replace(base.network, **changes.get("network", {})),
                      training=config_lib.replace(base.training, **changes.get("training", {})))
    param = inverse_parameter(args.problem)
    low, high = parametric_range(args.problem)
    verbose = 1 if args.progress else 0
    t = np.linspace(*problem.t_span, 2001)
    if args.mode == "forward":
        solution = solve(problem, pcfg, verbose=verbose)
        err = rel_l2(solution(t), reference_solution(problem, t))
        print(f"{problem.name}: rel-L2 {err:.3g} in {solution.wall_time:.1f} s ({solution.iterations} iterations)")
    elif args.mode == "inverse":
        comps = tuple((data_cfg.observed or {}).get(args.problem, (0,)))
        obs = make_observations(problem, data_cfg.n_observations, data_cfg.noise, data_cfg.noise_seed, comps)
        solution = solve(problem, pcfg, observations=obs, unknown={param: 0.5 * (low + high)}, verbose=verbose)
        true = problem.params[param]
        est = solution.params[param]
        print(f"{problem.name}: {param} = {est:.6g} (true {true:g}, error {100 * abs(est / true - 1):.3g}%) "
              f"from {obs.t.size} observations with {100 * data_cfg.noise:g}% noise, in {solution.wall_time:.1f} s")
    else:
        solution = solve(problem, pcfg, parametric={param: (low, high)}, verbose=verbose)
        for v in np.linspace(low, high, 5):
            err = rel_l2(solution(t, **{param: v}), reference_solution(problem, t, params={param: v}))
            print(f"{problem.name}: {param}={v:.4g}  rel-L2 {err:.3g}")
        print(f"trained in {solution.wall_time:.1f} s")
    kw = {param: problem.params[param]} if args.mode == "parametric" else {}
    ts = np.linspace(*problem.t_span, args.points)
    pred, ref = solution(ts, **kw), reference_solution(problem, ts, params=kw or None)
    header = "t".rjust(8) + "".join(f"{c + ' pinn':>14}{c + ' ref':>14}" for c in problem.components)
    print(header)
    for i, ti in enumerate(ts):
        print(f"{ti:8.3f}" + "".join(f"{pred[i, j]:14.6f}{ref[i, j]:14.6f}" for j in range(problem.dim)))
    if args.out:
        print(f"saved to {solution.save(Path(args.out))}")
    if args.plot:
        from shared.plots import savefig, use_agg

        use_agg()
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 3.5))
        pred_d, ref_d = solution(t, **kw), reference_solution(problem, t, params=kw or None)
        for j, comp in enumerate(problem.components):
            ax.plot(t, pred_d[:, j], label=f"{comp} (PINN)")
            ax.plot(t, ref_d[:, j], "k--", lw=0.8)
        ax.set_xlabel("t")
        ax.legend(frameon=False)
        ax.set_title(f"{problem.name} ({args.mode}); dashed: solve_ivp")
        print(f"plot written to {savefig(fig, args.plot)}")
    return 0
