"""Stage ``data``: reference solutions and noisy observation sets for every problem.

For each built-in problem it writes ``<out>/<problem>.npz`` with

* ``t``, ``y``: the ``solve_ivp`` reference (DOP853/Radau, rtol 1e-10) on a dense grid;
* ``param_values``, ``y_param``: references over the parametric range (parametric solves);
* ``obs_t``, ``obs_y``, ``obs_components``: observations for the inverse solve, i.e. the
  reference at random times plus seeded Gaussian noise (``noise`` × the component's RMS);

and ``<out>/manifest.json`` with the problem parameters and the generation settings.

    python -m projects.pinn_ode.data --params projects/pinn_ode/params.yaml --out data/pinn_ode/prepared
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from projects.pinn_ode.problems import (
    BUILTIN,
    get_problem,
    inverse_parameter,
    load_prepared,  # noqa: F401  (the reader lives in the library module; re-exported for callers)
    make_observations,
    parametric_range,
    reference_solution,
)
from shared.config import load_section
from shared.io import atomic_dir, save_npz, write_json
from shared.stage import run, stage_parser

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DataConfig:
    """The ``data`` section: the problems to prepare, the reference grid and the noisy observations.

    Raises:
        ProblemError: a name in ``problems`` is not a built-in problem.
        ValueError: ``grid_points`` < 10, ``n_observations`` < 1 or ``parametric_values`` < 2; ``noise`` outside
            ``[0, 1)``; a key of ``observed`` is not a built-in problem.
    """

    problems: tuple[str, ...] = tuple(BUILTIN)
    grid_points: int = 2001
    n_observations: int = 50
    noise: float = 0.01
    noise_seed: int = 1234
    #: observed components per problem (default: the first component only)
    observed: dict[str, tuple[int, ...]] | None = None
    parametric_values: int = 7

    def __post_init__(self) -> None:
        for name in self.problems:
            get_problem(name)
        if self.grid_points < 10 or self.n_observations < 1 or self.parametric_values < 2:
            raise ValueError("grid_points ≥ 10, n_observations ≥ 1 and parametric_values ≥ 2 are required")
        if not 0 <= self.noise < 1:
            raise ValueError(f"noise is a fraction of the signal RMS, 0 ≤ noise < 1; got {self.noise}")
        for name in self.observed or {}:
            if name not in BUILTIN:
                raise ValueError(f"observed: unknown problem {name!r}")


def generate(cfg: DataConfig, out: Path) -> dict:
    """Write the prepared files into ``out`` (a new folder) and return the manifest."""
    manifest: dict = {"problems": {}, "noise": cfg.noise, "noise_seed": cfg.noise_seed,
                      "n_observations": cfg.n_observations}
    for name in cfg.problems:
        problem = get_problem(name)
        t = np.linspace(*problem.t_span, cfg.grid_points)
        y = reference_solution(problem, t)
        param = inverse_parameter(name)
        low, high = parametric_range(name)
        values = np.linspace(low, high, cfg.parametric_values)
        y_param = np.stack([reference_solution(problem, t, params={param: v}) for v in values])
        components = tuple((cfg.observed or {}).get(name, (0,)))
        obs = make_observations(problem, cfg.n_observations, cfg.noise, seed=cfg.noise_seed, components=components)
        save_npz(out / f"{name}.npz", t=t, y=y, param_values=values, y_param=y_param,
                 obs_t=obs.t, obs_y=obs.y, obs_components=np.array(obs.components))
        manifest["problems"][name] = {
            "params": problem.params, "t_span": problem.t_span, "y0": problem.y0,
            "components": problem.components, "inverse_parameter": param,
            "inverse_true_value": problem.params[param],
            # the initial guess of the inverse solve is the middle of the parametric range,
            # chosen independently of the true value that generated the data
            "inverse_initial_guess": 0.5 * (low + high), "parametric_range": [low, high],
            "observed_components": list(obs.components),
        }
        log.info("%s: reference on %d points, %d observations of %s", name, t.size, obs.t.size,
                 [problem.components[c] for c in obs.components])
    write_json(out / "manifest.json", manifest)
    return manifest


def main(argv: Sequence[str] | None = None) -> int:
    args = stage_parser(__doc__, outputs=("out",)).parse_args(argv)
    cfg = load_section(args.params, "data", DataConfig)
    with atomic_dir(args.out) as tmp:
        generate(cfg, tmp)
    log.info("wrote %s", args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main))
