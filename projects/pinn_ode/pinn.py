"""Physics-informed solves of ODE problems: forward, inverse and parametric.

    from projects.pinn_ode import pinn
    from projects.pinn_ode.problems import get_problem

    solution = pinn.solve(get_problem("damped_oscillator"))            # forward
    solution(t)                     # → (len(t), 2) array
    solution.residual(t)            # → y' − f(t, y, p) of the network
    solution.history["loss"]        # Adam epochs, then L-BFGS iterations

    pinn.solve(problem, observations=obs, unknown={"xi": 0.25})       # inverse
    pinn.solve(problem, parametric={"xi": (0.1, 0.4)})(t, xi=0.2)      # parametric

Training is two phases:

* Adam through ``shared.training.fit`` on a :class:`PINNTrainer` (a ``keras.Model`` whose
  ``train_step`` evaluates the ODE residual with forward-mode autodiff), so it resumes
  after a kill (``BackupAndRestore``) and shows Keras progress bars;
* L-BFGS (SciPy) on the flattened weights, on the final collocation points.

Collocation points are scrambled-Sobol samples. Optionally they are re-drawn after every
epoch with residual-based adaptive distribution (RAD, Wu et al. 2023), and the residual
is weighted causally (Wang, Sankaran & Perdikaris 2022) so that late times only count once
early times are resolved.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from projects.pinn_ode.model import NetworkConfig, build_model
from projects.pinn_ode.problems import Observations, ODEProblem, ProblemError
from projects.pinn_ode.rhs import evaluate_tf
from shared.io import atomic_path, read_json, write_json
from shared.training import fit, set_seed

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    """Settings of the Adam and L-BFGS phases, the collocation points and the loss terms.

    Raises:
        ValueError: ``adam_steps`` or ``lbfgs_steps`` is negative or both are 0; ``adam_steps`` (when > 0) is not
            a multiple of ``steps_per_epoch``; ``n_collocation`` < 8; ``causal_eps`` < 0 or ``causal_bins`` < 1.
    """

    adam_steps: int = 3000
    learning_rate: float = 3e-3
    #: the learning rate is multiplied by ``decay_rate`` every ``decay_steps`` Adam steps
    decay_steps: int = 1000
    decay_rate: float = 0.5
    #: Adam steps per epoch: the granularity of progress, resampling and resume
    steps_per_epoch: int = 500
    lbfgs_steps: int = 3000
    lbfgs_memory: int = 50
    n_collocation: int = 512
    #: residual-based adaptive resampling after every epoch (RAD)
    resample: bool = False
    resample_candidates: int = 8192
    resample_k: float = 1.0
    resample_c: float = 1.0
    #: causal weighting: ε (0 disables) and the number of time bins
    causal_eps: float = 0.0
    causal_bins: int = 32
    #: weight of the data term (inverse) and of the initial-condition term (soft IC only)
    data_weight: float = 1.0
    ic_weight: float = 1.0
    seed: int = 0
    #: compile the Adam step with XLA (off by default)
    jit_compile: bool = False

    def __post_init__(self) -> None:
        if self.adam_steps < 0 or self.lbfgs_steps < 0 or self.adam_steps + self.lbfgs_steps == 0:
            raise ValueError("need adam_steps + lbfgs_steps > 0 (both ≥ 0)")
        if self.adam_steps and self.adam_steps % self.steps_per_epoch:
            raise ValueError(f"adam_steps ({self.adam_steps}) must be a multiple of steps_per_epoch "
                             f"({self.steps_per_epoch})")
        if self.n_collocation < 8:
            raise ValueError("n_collocation must be at least 8")
        if self.causal_eps < 0 or self.causal_bins < 1:
            raise ValueError("causal_eps must be ≥ 0 and causal_bins ≥ 1")


@dataclass(frozen=True)
class PINNConfig:
    network: NetworkConfig = field(default_factory=NetworkConfig)
    training: TrainConfig = field(default_factory=TrainConfig)


# --------------------------------------------------------------------------- the trainer
class PINNTrainer(keras.Model):
    """Wraps the network with the physics loss; ``fit`` trains it (data is ignored).

    State that must survive a resume lives in Keras variables: the collocation points and
    the unknown parameters (log-transformed when they must stay positive).

    Raises:
        ProblemError: an initial guess in ``unknown`` is ≤ 0 for a parameter in ``problem.positive``.
    """

    def __init__(self, net: keras.Model, problem: ODEProblem, cfg: TrainConfig, *,
                 observations: Observations | None = None, unknown: Mapping[str, float] | None = None,
                 parametric: Mapping[str, tuple[float, float]] | None = None, hard_ic: bool = True):
        dtype = net.inputs[0].dtype
        super().__init__(dtype=dtype)
        self.net, self.problem, self.cfg, self.hard_ic = net, problem, cfg, hard_ic
        self.parametric = dict(parametric or {})
        self.unknown_names = list(unknown or {})
        self.positive = {n: n in problem.positive for n in self.unknown_names}
        self.sampler_dim = 1 + len(self.parametric)
        self.t0, self.t1 = problem.t_span
        self.y0 = tf.constant([problem.y0], dtype)
        self.points = self.add_weight(name="collocation", shape=(cfg.n_collocation, self.sampler_dim),
                                      trainable=False, initializer="zeros", dtype=dtype)
        self.points.assign(self.sample(cfg.n_collocation, seed=cfg.seed))
        self.raw = {}
        for name, init in (unknown or {}).items():
            if self.positive[name] and init <= 0:
                raise ProblemError(f"initial guess for positive parameter {name!r} must be > 0, got {init}")
            raw0 = float(np.log(init)) if self.positive[name] else float(init)
            self.raw[name] = self.add_weight(name=f"param_{name}", shape=(), dtype=dtype,
                                             initializer=keras.initializers.Constant(raw0))
        self.obs = None
        if observations is not None:
            x_obs = np.zeros((observations.t.size, self.sampler_dim))
            x_obs[:, 0] = observations.t
            scale = float(np.mean(observations.y**2)) or 1.0
            self.obs = (tf.constant(x_obs, dtype), tf.constant(observations.y, dtype),
                        list(observations.components), scale)
        self(tf.zeros((1, self.sampler_dim), dtype))  # build, so that BackupAndRestore can restore into it

    # -- collocation -------------------------------------------------------------------
    def sample(self, n: int, seed: int) -> np.ndarray:
        """``n`` scrambled-Sobol points over ``t_span`` × the parametric ranges."""
        from scipy.stats import qmc

        u = qmc.Sobol(d=self.sampler_dim, scramble=True, seed=seed).random(n)
        low = np.array([self.t0, *(lo for lo, _ in self.parametric.values())])
        high = np.array([self.t1, *(hi for _, hi in self.parametric.values())])
        return low + u * (high - low)

    # -- physics -----------------------------------------------------------------------
    def physics_params(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
        p: dict[str, Any] = {k: tf.constant(v, self.compute_dtype) for k, v in self.problem.params.items()}
        for name, raw in self.raw.items():
            p[name] = tf.exp(raw) if self.positive[name] else tf.identity(raw)
        for j, name in enumerate(self.parametric):
            p[name] = x[:, 1 + j:2 + j]
        return p

    def current_params(self) -> dict[str, float]:
        return {name: float(tf.exp(raw) if self.positive[name] else raw) for name, raw in self.raw.items()}

    def residual(self, x: tf.Tensor, training: bool = False) -> tf.Tensor:
        """``y'(t) − f(t, y, p)`` at the points ``x``: shape ``(N, dim)``."""
        tangent = tf.concat([tf.ones_like(x[:, :1]), tf.zeros_like(x[:, 1:])], axis=1)
        with tf.autodiff.ForwardAccumulator(x, tangent) as acc:
            y = self.net(x, training=training)
        dydt = acc.jvp(y)
        t = x[:, :1]
        ys = [y[:, i:i + 1] for i in range(self.problem.dim)]
        f = tf.concat(evaluate_tf(self.problem.rhs, t, ys, self.physics_params(x)), axis=1)
        return dydt - f

    def losses(self, training: bool = True, causal: bool = True) -> dict[str, tf.Tensor]:
        x = tf.convert_to_tensor(self.points)
        # The residual in scaled time τ = (t − t0)/(t1 − t0): dy/dτ − (t1 − t0)·f. Without this factor a
        # slow problem on a long interval (SIR over 60 days) makes the trivial solution y ≡ y0 look converged.
        r = (self.t1 - self.t0) * self.residual(x, training=training)
        r2 = tf.reduce_sum(tf.square(r), axis=1)
        residual = tf.reduce_mean(r2)
        out = {"residual": residual}
        if causal and self.cfg.causal_eps > 0:
            bins = self.cfg.causal_bins
            idx = tf.cast(tf.clip_by_value((x[:, 0] - self.t0) / (self.t1 - self.t0) * bins, 0, bins - 1), tf.int32)
            per_bin = tf.math.unsorted_segment_mean(r2, idx, bins)
            weights = tf.stop_gradient(tf.exp(-self.cfg.causal_eps * tf.math.cumsum(per_bin, exclusive=True)))
            physics = tf.reduce_mean(weights * per_bin)
            out["causal_min_weight"] = tf.reduce_min(weights)
        else:
            physics = residual
        # `loss` is what the optimizer descends; `objective` is the same sum without causal weights, the
        # quantity L-BFGS minimises, so that the two phases can be compared on one curve.
        total, objective = physics, residual
        if self.obs is not None:
            x_obs, y_obs, comps, scale = self.obs
            pred = tf.gather(self.net(x_obs, training=training), comps, axis=1)
            data = tf.reduce_mean(tf.square(pred - y_obs)) / scale
            total = total + self.cfg.data_weight * data
            objective = objective + self.cfg.data_weight * data
            out["data"] = data
        if not self.hard_ic:
            x0 = tf.concat([tf.fill([1, 1], tf.cast(self.t0, x.dtype)), tf.zeros([1, self.sampler_dim - 1], x.dtype)],
                           axis=1)
            if self.parametric:  # the initial condition must hold for every parameter value
                x0 = tf.concat([tf.fill([x.shape[0], 1], tf.cast(self.t0, x.dtype)), x[:, 1:]], axis=1)
            ic = tf.reduce_mean(tf.square(self.net(x0, training=training) - self.y0))
            total = total + self.cfg.ic_weight * ic
            objective = objective + self.cfg.ic_weight * ic
            out["ic"] = ic
        out["loss"] = total
        out["objective"] = objective
        return out

    # -- keras hooks -------------------------------------------------------------------
    def call(self, x, training=False):
        return self.net(x, training=training)

    def train_step(self, data):
        with tf.GradientTape() as tape:
            terms = self.losses()
            # every replica evaluates the whole (full-batch) loss and the optimizer sums the replicas' gradients:
            # divided by the replicas, the sum is the single-device gradient (exactly the loss with one replica)
            scaled = terms["loss"] / tf.distribute.get_strategy().num_replicas_in_sync
        grads = tape.gradient(scaled, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        for name, raw in self.raw.items():
            terms[name] = tf.exp(raw) if self.positive[name] else tf.identity(raw)
        return terms


class AdaptiveResampling(keras.callbacks.Callback):
    """RAD: after each epoch draw the collocation points with density ∝ |r|^k / mean(|r|^k) + c."""

    def __init__(self, trainer: PINNTrainer):
        super().__init__()
        self.trainer = trainer
        self._residual = tf.function(lambda x: tf.sqrt(tf.reduce_sum(tf.square(trainer.residual(x)), axis=1)))

    def on_epoch_end(self, epoch, logs=None):
        cfg = self.trainer.cfg
        seed = cfg.seed * 100_003 + epoch + 1  # stateless: a resumed run draws the same points
        candidates = self.trainer.sample(cfg.resample_candidates, seed=seed)
        r = self._residual(tf.constant(candidates, self.trainer.compute_dtype)).numpy().astype(float)
        density = r**cfg.resample_k
        density = density / max(density.mean(), 1e-300) + cfg.resample_c
        rng = np.random.default_rng(seed)
        idx = rng.choice(candidates.shape[0], size=cfg.n_collocation, replace=False, p=density / density.sum())
        self.trainer.points.assign(candidates[idx])


# --------------------------------------------------------------------------- L-BFGS
def lbfgs(trainer: PINNTrainer, steps: int, memory: int = 50, progress: bool = False,
          on_iteration: Callable[[PINNTrainer, int], None] | None = None) -> dict[str, list[float]]:
    """Minimise the trainer's loss over its trainable variables with SciPy's L-BFGS-B.

    ``on_iteration(trainer, k)``, if given, is called after iteration ``k`` (1-based) with the
    iterate in the trainer's variables (the benchmark measures the error along the way with it).

    Returns the per-iteration history (loss, residual, data and identified parameters).
    """
    from scipy.optimize import minimize
    from tqdm.auto import tqdm

    variables = trainer.trainable_variables
    shapes = [tuple(v.shape) for v in variables]
    sizes = [int(np.prod(s)) for s in shapes]
    dtype = trainer.compute_dtype

    @tf.function
    def value_and_grad(flat):
        for var, part, shape in zip(variables, tf.split(flat, sizes), shapes):
            var.assign(tf.reshape(part, shape))
        with tf.GradientTape() as tape:
            # Causal weights depend on the losses themselves (through stop_gradient), which makes the
            # objective inconsistent with its gradient and breaks the line search: L-BFGS sees plain losses.
            terms = trainer.losses(causal=False)
        grads = tape.gradient(terms["loss"], variables)
        return terms, tf.concat([tf.reshape(g, [-1]) for g in grads], axis=0)

    history: dict[str, list[float]] = {}
    last: dict[str, float] = {}

    def fun(theta):
        terms, grad = value_and_grad(tf.constant(theta, dtype))
        last.clear()
        last.update({k: float(v) for k, v in terms.items()})
        return last["loss"], grad.numpy().astype(np.float64)

    # disable=None: a bar on a terminal, nothing in a pipeline's log file
    bar = tqdm(total=steps, desc="L-BFGS", disable=None if progress else True, leave=False)

    def record(theta):
        for k, v in {**last, **trainer.current_params()}.items():
            history.setdefault(k, []).append(v)
        if on_iteration is not None:
            for var, part in zip(variables, np.split(theta.astype(np.float32 if dtype == "float32" else theta.dtype),
                                                     np.cumsum(sizes)[:-1])):
                var.assign(part.reshape(var.shape))
            on_iteration(trainer, len(history["loss"]))
        bar.update(1)
        bar.set_postfix(loss=f"{last.get('loss', float('nan')):.3g}", refresh=False)

    theta = np.concatenate([v.numpy().ravel() for v in variables]).astype(np.float64)
    nfev, restarts = 0, 0
    # In float32 the line search often gives up long before the budget is spent; a restart with
    # fresh curvature memory usually goes on. Stop when a restart no longer lowers the loss.
    while len(history.get("loss", [])) < steps and restarts < 20:
        before = fun(theta)[0]
        result = minimize(fun, theta, jac=True, method="L-BFGS-B", callback=record,
                          options={"maxiter": steps - len(history.get("loss", [])), "maxcor": memory,
                                   "maxfun": int(steps * 1.25) + 20, "ftol": 0.0, "gtol": 0.0})
        nfev += result.nfev
        theta = result.x
        log.debug("L-BFGS: %d iterations, %s", result.nit, result.message)
        if result.nit == 0 or result.fun >= before * (1 - 1e-4):
            break
        restarts += 1
    bar.close()
    fun(theta)  # leave the final iterate in the variables
    history["nfev"] = [float(nfev)]
    return history


# --------------------------------------------------------------------------- the solution
class Solution:
    """A trained PINN: call it like a function of time (and of the parametric inputs)."""

    def __init__(self, net: keras.Model, problem: ODEProblem, *, params: Mapping[str, float],
                 parametric: Mapping[str, tuple[float, float]] | None = None,
                 history: Mapping[str, list[float]] | None = None, info: Mapping[str, Any] | None = None):
        self.net, self.problem = net, problem
        self.params = dict(params)  # identified (inverse) and known parameters
        self.parametric = dict(parametric or {})
        self.history = dict(history or {})
        self.info = dict(info or {})
        self._trainer: PINNTrainer | None = None

    def _inputs(self, t: Any, param_values: Mapping[str, float]) -> np.ndarray:
        t = np.asarray(t, dtype=float).reshape(-1)
        missing = set(self.parametric) - set(param_values)
        extra = set(param_values) - set(self.parametric)
        if missing or extra:
            raise ProblemError(f"this solution takes parametric inputs {sorted(self.parametric)}; got "
                               f"{sorted(param_values)}")
        cols = [t] + [np.full_like(t, float(param_values[k])) for k in self.parametric]
        return np.stack(cols, axis=1)

    def __call__(self, t: Any, **param_values: float) -> np.ndarray:
        """The network's solution at times ``t``.

        Args:
            t: times in the problem's unit, a scalar or array of any shape (flattened to ``(N,)``);
                outside ``t_span`` the network extrapolates (no guarantee).
            **param_values: one value per parametric input (parametric solves only), e.g. ``xi=0.2``.

        Returns:
            ``(N, dim)`` float64 array, column ``j`` the component ``problem.components[j]``.

        Raises:
            ProblemError: a parametric input is missing or one is given that the solution does not take.
        """
        x = self._inputs(t, param_values)
        return np.asarray(self.net(tf.constant(x, self.net.inputs[0].dtype), training=False), dtype=float)

    def residual(self, t: Any, **param_values: float) -> np.ndarray:
        """``y' − f(t, y, p)`` of the network at ``t`` (``(len(t), dim)``).

        Args:
            t: times in the problem's unit, a scalar or array of any shape (flattened to ``(N,)``).
            **param_values: one value per parametric input (parametric solves only).

        Returns:
            ``(N, dim)`` float64 array, in the problem's units per unit time.

        Raises:
            ProblemError: a parametric input is missing or one is given that the solution does not take.
        """
        if self._trainer is None:
            problem = self.problem.with_params(**{k: v for k, v in self.params.items() if k in self.problem.params})
            self._trainer = PINNTrainer(self.net, problem, TrainConfig(n_collocation=8, adam_steps=0, lbfgs_steps=1),
                                        parametric=self.parametric)
        x = self._inputs(t, param_values)
        return np.asarray(self._trainer.residual(tf.constant(x, self.net.inputs[0].dtype)), dtype=float)

    @property
    def wall_time(self) -> float:
        return float(self.info.get("wall_time_s", float("nan")))

    @property
    def iterations(self) -> int:
        return int(self.info.get("adam_steps", 0) + self.info.get("lbfgs_iterations", 0))

    def save(self, directory: str | os.PathLike) -> Path:
        """``model.keras`` (the network) plus ``solution.json`` (parameters, history, info)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        with atomic_path(directory / "model.keras") as tmp:
            self.net.save(tmp)
        write_json(directory / "solution.json", {
            "problem": self.problem.name, "params": self.params,
            "parametric": {k: list(v) for k, v in self.parametric.items()},
            "history": self.history, "info": self.info})
        return directory

    @classmethod
    def load(cls, directory: str | os.PathLike, problem: ODEProblem) -> Solution:
        """The solution that :meth:`save` wrote to ``directory``, for ``problem``.

        Raises:
            DataError: ``solution.json`` is missing, empty or not valid JSON.
            ProblemError: the saved solution is of another problem than ``problem.name``.
            KeyError: ``solution.json`` lacks ``problem``, ``params``, ``parametric``, ``history`` or ``info``.
        """
        directory = Path(directory)
        meta = read_json(directory / "solution.json")
        if meta["problem"] != problem.name:
            raise ProblemError(f"{directory} holds a solution of {meta['problem']!r}, not {problem.name!r}")
        net = keras.saving.load_model(directory / "model.keras")
        return cls(net, problem, params=meta["params"],
                   parametric={k: tuple(v) for k, v in meta["parametric"].items()},
                   history=meta["history"], info=meta["info"])


# --------------------------------------------------------------------------- solve
def _check_request(problem: ODEProblem, observations: Observations | None, unknown: Mapping[str, float] | None,
                   parametric: Mapping[str, tuple[float, float]] | None) -> None:
    if not isinstance(problem, ODEProblem):
        raise ProblemError(f"solve() needs an ODEProblem, got {type(problem).__name__}")
    for name in list(unknown or {}) + list(parametric or {}):
        if name not in problem.params:
            raise ProblemError(f"{name!r} is not a parameter of {problem.name} (parameters: {sorted(problem.params)})")
    if unknown and observations is None:
        raise ProblemError("an inverse solve (unknown=...) needs observations")
    if set(unknown or {}) & set(parametric or {}):
        raise ProblemError("a parameter cannot be both unknown and a parametric input")
    if observations is not None:
        observations.check_against(problem)
    for name, rng in (parametric or {}).items():
        if len(rng) != 2 or not rng[0] < rng[1]:
            raise ProblemError(f"parametric range of {name!r} must be (low, high) with low < high, got {rng}")


def solve(problem: ODEProblem, config: PINNConfig | None = None, *, observations: Observations | None = None,
          unknown: Mapping[str, float] | None = None, parametric: Mapping[str, tuple[float, float]] | None = None,
          workdir: str | os.PathLike | None = None, verbose: int | str = 0,
          callbacks: Sequence[keras.callbacks.Callback] = (),
          on_lbfgs_iteration: Callable[[PINNTrainer, int], None] | None = None, strategy=None) -> Solution:
    """Train a PINN for ``problem``: forward, inverse or parametric.

    * forward: only ``problem``;
    * inverse: ``observations`` plus ``unknown={name: initial guess}``;
    * parametric: ``parametric={name: (low, high)}`` makes those parameters network inputs.

    Args:
        problem: the initial-value problem; ``problem.rhs`` may be written as for ``solve_ivp``
            (see :mod:`projects.pinn_ode.rhs`). Time is in the problem's own unit, ``t_span`` its interval.
        config: network and training settings (default :class:`PINNConfig`).
        observations: noisy samples of some components (inverse solves), times inside ``t_span``.
        unknown: parameters to identify, name → initial guess (must be > 0 for ``problem.positive`` ones).
        parametric: parameters that become network inputs, name → ``(low, high)``.
        workdir: folder of the resumable state (a killed run resumes from its last epoch); default: a
            temporary folder, so no resume.
        verbose: Keras verbosity of the Adam phase (0 silent, 1 progress bar, 2 one line per epoch).
        callbacks: extra Keras callbacks of the Adam phase.
        on_lbfgs_iteration: ``f(trainer, k)`` called after L-BFGS iteration ``k`` with that iterate loaded.
        strategy: the ``tf.distribute`` strategy the trainer is built in (``shared.distributed.make_strategy``;
            default: the current one). One device or ``MirroredStrategy``: the loss is full-batch, so every replica
            evaluates all of it (no speed-up, the same gradient); L-BFGS runs in SciPy on one process.

    Returns:
        A :class:`Solution`: call it with times ``(N,)`` to get ``(N, dim)``; ``params`` holds the
        identified and known parameters, ``history`` the per-epoch (Adam) and per-iteration (L-BFGS)
        losses, ``info`` the wall time in seconds (TensorFlow import excluded) and iteration counts.

    Raises:
        ProblemError: the request is ill-posed (an unknown or parametric name that is not a parameter,
            an inverse solve without observations, observations outside ``t_span``, a range with
            low ≥ high, a non-positive guess for a positive parameter).
        ValueError: ``config`` is inconsistent (raised when it is built).
    """
    config = config or PINNConfig()
    _check_request(problem, observations, unknown, parametric)
    cfg = config.training
    parametric = {k: (float(lo), float(hi)) for k, (lo, hi) in (parametric or {}).items()}
    set_seed(cfg.seed)
    start = time.perf_counter()
    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope():
        net = build_model(config.network, t_span=problem.t_span, y0=problem.y0,
                          param_ranges=list(parametric.values()))
        trainer = PINNTrainer(net, problem, cfg, observations=observations, unknown=unknown, parametric=parametric,
                              hard_ic=config.network.hard_ic)
        schedule = keras.optimizers.schedules.ExponentialDecay(cfg.learning_rate, cfg.decay_steps, cfg.decay_rate)
        trainer.compile(optimizer=keras.optimizers.Adam(schedule), steps_per_execution=min(50, cfg.steps_per_epoch),
                        jit_compile=cfg.jit_compile)
        trainer.optimizer.build(trainer.trainable_variables)  # in the scope: fit would build it outside
    own_tmp = tempfile.TemporaryDirectory(prefix="pinn-") if workdir is None else None
    workdir = Path(own_tmp.name if own_tmp else workdir)
    history: dict[str, list[float]] = {}
    try:
        done = workdir / "adam.weights.h5"
        if cfg.adam_steps:
            if done.exists():
                log.info("Adam phase already finished in %s; loading it", workdir)
                trainer.load_weights(done)
                history = read_json(workdir / "adam_history.json")
            else:
                cbs = [*callbacks, *([AdaptiveResampling(trainer)] if cfg.resample else [])]
                dummy = tf.data.Dataset.from_tensors(tf.zeros((1,))).repeat()
                history = fit(trainer, dummy, epochs=cfg.adam_steps // cfg.steps_per_epoch,
                              steps_per_epoch=cfg.steps_per_epoch, workdir=workdir / "adam", monitor="loss",
                              restore_best=False, verbose=verbose, callbacks=cbs, strategy=strategy)
                history = {k: v for k, v in history.items() if k != "epoch"}
                write_json(workdir / "adam_history.json", history)
                with atomic_path(done) as tmp:
                    trainer.save_weights(tmp)
        adam_time = time.perf_counter() - start
        lb: dict[str, list[float]] = {}
        if cfg.lbfgs_steps:
            lb = lbfgs(trainer, cfg.lbfgs_steps, cfg.lbfgs_memory, progress=bool(verbose),
                       on_iteration=on_lbfgs_iteration)
    finally:
        if own_tmp is not None:
            own_tmp.cleanup()
    wall = time.perf_counter() - start
    nfev = int(lb.pop("nfev", [0])[0])
    info = {"wall_time_s": wall, "adam_time_s": adam_time, "adam_steps": cfg.adam_steps,
            "lbfgs_iterations": len(lb.get("loss", [])), "lbfgs_evaluations": nfev,
            "final_loss": float(trainer.losses(training=False)["loss"])}
    params = {**problem.params, **trainer.current_params()}
    for name in parametric:
        params.pop(name, None)
    full_history = {"adam": history, "lbfgs": lb}
    log.info("%s solved in %.1f s (%d Adam steps, %d L-BFGS iterations), loss %.3g", problem.name, wall,
             cfg.adam_steps, info["lbfgs_iterations"], info["final_loss"])
    return Solution(net, problem, params=params, parametric=parametric, history=full_history, info=info)


def with_training(config: PINNConfig, **changes: Any) -> PINNConfig:
    return dataclasses.replace(config, training=dataclasses.replace(config.training, **changes))


def with_network(config: PINNConfig, **changes: Any) -> PINNConfig:
    return dataclasses.replace(config, network=dataclasses.replace(config.network, **changes))

