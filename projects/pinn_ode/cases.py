"""The cases of the pipeline: which problem, mode and seed is solved with which settings.

A library module shared by the ``train``, ``evaluate`` and ``benchmark`` stages and the CLI
(stages never import each other). A case is one :func:`projects.pinn_ode.pinn.solve` of a
built-in problem in one mode (``forward``, ``inverse`` or ``parametric``) with one seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from projects.pinn_ode.model import NetworkConfig
from projects.pinn_ode.pinn import PINNConfig, Solution, TrainConfig, solve
from projects.pinn_ode.problems import BUILTIN, Observations, get_problem, load_prepared
from shared import config as config_lib
from shared.config import ConfigError
from shared.distributed import STRATEGIES

Mode = Literal["forward", "inverse", "parametric"]
MODES: tuple[str, ...] = ("forward", "inverse", "parametric")


@dataclass(frozen=True)
class TrainStageConfig:
    """The ``train`` section: the cases to solve and their network and training settings.

    Raises:
        ProblemError: a name in ``problems`` is not a built-in problem.
        ValueError: ``headline`` is not in ``problems``; ``seeds`` is empty; an ``overrides`` key is neither a
            problem, a mode nor a ``problem/mode`` pair.
        ConfigError: an ``overrides`` entry changes an unknown or invalid :class:`TrainConfig` field.
    """

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
    #: tf.distribute strategy (shared.distributed): auto | default | mirrored. ``multi_worker`` is refused: the
    #: physics loss is full-batch over the collocation points and L-BFGS runs in SciPy on one process
    strategy: str = "auto"

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy {self.strategy!r}: use one of {', '.join(STRATEGIES)}")
        if self.strategy == "multi_worker":
            raise ConfigError("strategy 'multi_worker' is not supported by pinn_ode: the physics loss is full-batch "
                              "over the collocation points (nothing to split across workers) and L-BFGS runs in SciPy "
                              "on one process; use auto, default or mirrored")
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
             verbose: int | str = 0, strategy=None) -> Solution:
    """Solve one problem in one mode with the prepared references and observations, in ``strategy``
    (``shared.distributed.make_strategy``; ``None``: the current one).

    Raises:
        ValueError: ``mode`` is not ``forward``, ``inverse`` or ``parametric``.
        DataError: the prepared files of ``name`` are missing or broken (see :func:`load_prepared`).
        ProblemError: ``name`` is not a built-in problem, or the solve is ill-posed (see :func:`solve`).
    """
    meta, arrays = load_prepared(prepared, name)
    problem = get_problem(name)
    param = meta["inverse_parameter"]
    if mode == "forward":
        return solve(problem, pcfg, workdir=workdir, verbose=verbose, strategy=strategy)
    if mode == "inverse":
        obs = Observations(t=arrays["obs_t"], y=arrays["obs_y"], components=tuple(arrays["obs_components"]))
        return solve(problem, pcfg, observations=obs, unknown={param: meta["inverse_initial_guess"]},
                     workdir=workdir, verbose=verbose, strategy=strategy)
    if mode == "parametric":
        return solve(problem, pcfg, parametric={param: tuple(meta["parametric_range"])}, workdir=workdir,
                     verbose=verbose, strategy=strategy)
    raise ValueError(f"unknown mode {mode!r}; modes: {', '.join(MODES)}")


def case_dir(root: Path, problem: str, mode: str, seed: int) -> Path:
    return Path(root) / problem / mode / f"seed{seed}"
