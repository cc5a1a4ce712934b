"""Stage ``train``: PINN solves of every prepared problem, forward, inverse and parametric.

Each case (problem × mode × seed) is one :func:`projects.pinn_ode.pinn.solve`; the headline
problem runs with every seed, the others with the first. A case is saved as
``<out>/<problem>/<mode>/seed<k>/`` (``model.keras`` + ``solution.json`` with history,
identified parameters, wall time and iterations).

Killed runs resume: finished cases are kept in ``--work``, and the case in progress resumes
from its last finished epoch (``BackupAndRestore``) or skips its finished Adam phase.

    python -m projects.pinn_ode.train --params projects/pinn_ode/params.yaml \
        --data data/pinn_ode/prepared --work data/pinn_ode/work/train --out data/pinn_ode/model
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from projects.pinn_ode.data import load_prepared
from projects.pinn_ode.model import NetworkConfig
from projects.pinn_ode.pinn import PINNConfig, Solution, TrainConfig, solve
from projects.pinn_ode.problems import BUILTIN, Observations, get_problem
from shared import config as config_lib
from shared.io import read_json
from shared.stage import run, stage_parser
from shared.training import config_hash, publish_runs

log = logging.getLogger(__name__)

Mode = Literal["forward", "inverse", "parametric"]
MODES: tuple[str, ...] = ("forward", "inverse", "parametric")


@dataclass(frozen=True)
class TrainStageConfig:
    problems: tuple[str, ...] = tuple(BUILTIN)
    modes: tuple[Mode, ...] = MODES
    #: the problem whose targets are measured over several seeds
    headline: str = "damped_oscillator"
    seeds: tuple[int, ...] = (0, 1, 2)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    training: TrainConfig = field(default_factory=TrainConfig)
    #: TrainConfig changes for a mode, a problem or one "problem/mode" pair (applied in that order)
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Keras verbosity: 0 silent, 1 progress bar, 2 one line per epoch
    verbose: int = 2

    def __post_init__(self) -> None:
        for name in self.problems:
            get_problem(name)
        if self.headline not in self.problems:
            raise ValueError(f"headline problem {self.headline!r} is not among problems {list(self.problems)}")
        if not self.seeds:
            raise ValueError("seeds must name at least one seed")
        for key, changes in self.overrides.items():
            problem, _, mode = key.partition("/")
            valid = (key in BUILTIN or key in MODES) if not mode else (problem in BUILTIN and mode in MODES)
            if not valid:
                raise ValueError(f"overrides: {key!r} is neither a problem ({', '.join(BUILTIN)}), a mode "
                                 f"({', '.join(MODES)}) nor a problem/mode pair")
            config_lib.replace(self.training, **changes)  # unknown keys fail here, naming the key

    def seeds_for(self, problem: str) -> tuple[int, ...]:
        return self.seeds if problem == self.headline else self.seeds[:1]


def case_config(cfg: TrainStageConfig, problem: str, mode: str, seed: int) -> PINNConfig:
    """The PINN config of one case: base → mode → problem → problem/mode overrides, then the seed."""
    training = cfg.training
    for key in (mode, problem, f"{problem}/{mode}"):
        if key in cfg.overrides:
            training = config_lib.replace(training, **cfg.overrides[key])
    return PINNConfig(network=config_lib.replace(cfg.network, seed=seed),
                      training=config_lib.replace(training, seed=seed))


def run_case(name: str, mode: str, pcfg: PINNConfig, prepared: str | Path, *, workdir: Path | None = None,
             verbose: int | str = 0) -> Solution:
    """Solve one problem in one mode with the prepared references and observations."""
    meta, arrays = load_prepared(prepared, name)
    problem = get_problem(name)
    param = meta["inverse_parameter"]
    if mode == "forward":
        return solve(problem, pcfg, workdir=workdir, verbose=verbose)
    if mode == "inverse":
        obs = Observations(t=arrays["obs_t"], y=arrays["obs_y"], components=tuple(arrays["obs_components"]))
        return solve(problem, pcfg, observations=obs, unknown={param: meta["inverse_initial_guess"]},
                     workdir=workdir, verbose=verbose)
    if mode == "parametric":
        return solve(problem, pcfg, parametric={param: tuple(meta["parametric_range"])}, workdir=workdir,
                     verbose=verbose)
    raise ValueError(f"unknown mode {mode!r}; modes: {', '.join(MODES)}")


def case_dir(root: Path, problem: str, mode: str, seed: int) -> Path:
    return Path(root) / problem / mode / f"seed{seed}"


def train_all(cfg: TrainStageConfig, prepared: Path, work: Path, out: Path) -> list[Mapping[str, Any]]:
    work = Path(work) / config_hash(cfg)
    cases = [(p, m, s) for p in cfg.problems for m in cfg.modes for s in cfg.seeds_for(p)]
    summary = []
    for i, (problem, mode, seed) in enumerate(cases, 1):
        done = case_dir(work / "done", problem, mode, seed)
        if (done / "solution.json").exists():
            log.info("[%d/%d] %s %s seed %d: finished in an earlier run", i, len(cases), problem, mode, seed)
        else:
            log.info("[%d/%d] %s %s seed %d", i, len(cases), problem, mode, seed)
            case_work = case_dir(work / "progress", problem, mode, seed)
            solution = run_case(problem, mode, case_config(cfg, problem, mode, seed), prepared,
                                workdir=case_work, verbose=cfg.verbose)
            solution.save(done)
            shutil.rmtree(case_work, ignore_errors=True)
        info = read_json(done / "solution.json")["info"]
        summary.append({"problem": problem, "mode": mode, "seed": seed, **info})
    publish_runs(work, [case_dir(Path(), *case) for case in cases], out,
                 {"cases": summary, "config": config_lib.to_dict(cfg)})
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    args = stage_parser(__doc__, inputs=("data",), outputs=("out",), work=True).parse_args(argv)
    cfg = config_lib.load_section(args.params, "train", TrainStageConfig)
    summary = train_all(cfg, Path(args.data), Path(args.work), Path(args.out))
    total = sum(c["wall_time_s"] for c in summary)
    log.info("trained %d cases in %.0f s of training time", len(summary), total)
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main))
