"""ODE problems: the user-facing description, the built-in catalogue and the reference solver.

An initial-value problem ``y' = f(t, y, p)``, ``y(t0) = y0`` is written in a few lines::

    problem = ODEProblem(
        rhs=lambda t, y, p: [y[1], -2 * p["xi"] * y[1] - y[0]],
        t_span=(0, 20), y0=[1.0, 0.0], params={"xi": 0.1},
    )

``rhs`` receives ``t``, the state ``y`` (indexable by component) and the parameter dict
``p`` and returns one expression per component, written as for ``scipy.integrate.solve_ivp``:
NumPy functions, Python ``if``, ``return np.array([...])``, vectorised ``-k * y``, ``keras.ops``.
The reference solver calls it point by point; the PINN calls it on batches of ``(N, 1)`` columns
through the stand-ins of :mod:`projects.pinn_ode.rhs`, and ``ODEProblem()`` checks that both agree
(or refuses ``rhs`` with a one-line :class:`ProblemError` saying what to write instead).

This module imports no TensorFlow.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from projects.pinn_ode.rhs import RhsError, check_vectorized
from shared.io import DataError, check_array, load_npz, read_json


class ProblemError(DataError):
    """An ODE problem, its observations or its parameter ranges are ill-posed."""


@dataclass(frozen=True)
class ODEProblem:
    """An initial-value problem ``y' = rhs(t, y, p)``, ``y(t_span[0]) = y0``.

    ``t_span`` is in the problem's own time unit; ``y0`` has one entry per component; ``params``
    maps parameter names to floats. Construction validates everything and probes ``rhs``.

    Raises:
        ProblemError: ``rhs`` is not callable, fails at ``(t0, y0)``, returns the wrong number of
            components, or cannot be evaluated on a batch (see :mod:`projects.pinn_ode.rhs`);
            ``t_span`` is not increasing and finite; ``y0`` or a parameter is not finite; the
            component names or ``positive`` do not match.
    """

    rhs: Callable[[Any, Any, Mapping[str, Any]], Sequence[Any]]
    t_span: tuple[float, float]
    y0: tuple[float, ...]
    params: Mapping[str, float] = field(default_factory=dict)
    name: str = "custom"
    components: tuple[str, ...] = ()
    #: parameters that must stay positive when identified (inverse problems)
    positive: tuple[str, ...] = ()
    #: suggested solve_ivp method for the reference ("DOP853" or, for stiff problems, "Radau")
    method: str = "DOP853"

    def __post_init__(self) -> None:
        if not callable(self.rhs):
            raise ProblemError(f"rhs must be callable f(t, y, p), got {type(self.rhs).__name__}")
        try:
            t0, t1 = (float(v) for v in self.t_span)
        except (TypeError, ValueError):
            raise ProblemError(f"t_span must be two numbers (t0, t1), got {self.t_span!r}") from None
        if not (math.isfinite(t0) and math.isfinite(t1)):
            raise ProblemError(f"t_span must be finite, got {self.t_span!r}")
        if t1 <= t0:
            raise ProblemError(f"t_span must increase (t0 < t1), got ({t0}, {t1})")
        y0 = np.atleast_1d(np.asarray(self.y0, dtype=float))
        if y0.ndim != 1 or y0.size == 0 or not np.all(np.isfinite(y0)):
            raise ProblemError(f"y0 must be a non-empty list of finite numbers, got {self.y0!r}")
        params = {str(k): float(v) for k, v in dict(self.params).items()}
        bad = [k for k, v in params.items() if not math.isfinite(v)]
        if bad:
            raise ProblemError(f"parameters {bad} are not finite")
        components = tuple(self.components) or tuple(f"y{i}" for i in range(y0.size))
        if len(components) != y0.size:
            raise ProblemError(f"{len(components)} component names for {y0.size} components")
        unknown_positive = set(self.positive) - set(params)
        if unknown_positive:
            raise ProblemError(f"positive names unknown parameters {sorted(unknown_positive)}")
        object.__setattr__(self, "t_span", (t0, t1))
        object.__setattr__(self, "y0", tuple(float(v) for v in y0))
        object.__setattr__(self, "params", params)
        object.__setattr__(self, "components", components)
        # Probe the right-hand side with NumPy, point by point (as solve_ivp calls it) and on a batch through
        # the stand-ins the PINN uses (projects.pinn_ode.rhs), so that what cannot work fails here, in one line.
        try:
            out = self.rhs(t0, y0.copy(), dict(params))
        except Exception as exc:
            raise ProblemError(f"rhs(t0, y0, params) raised {type(exc).__name__}: {exc}") from exc
        try:
            n_out = np.asarray(out, dtype=float).reshape(-1).size
        except (TypeError, ValueError):
            raise ProblemError("rhs must return numbers, one per component of y0 (a list or np.array)") from None
        if n_out != y0.size:
            raise ProblemError(f"rhs returns {n_out} component(s) but y0 has {y0.size}; y0 has the wrong length "
                               f"or rhs the wrong output")
        try:
            check_vectorized(self.rhs, (t0, t1), y0, params)
        except RhsError as exc:
            raise ProblemError(str(exc)) from None

    @property
    def dim(self) -> int:
        return len(self.y0)

    def with_params(self, **params: float) -> ODEProblem:
        """A copy with some parameter values changed.

        Raises:
            ProblemError: a name is not a parameter of the problem, or a new value is not finite.
        """
        unknown = set(params) - set(self.params)
        if unknown:
            raise ProblemError(f"unknown parameter(s) {sorted(unknown)}; {self.name} has {sorted(self.params)}")
        return dataclasses.replace(self, params={**self.params, **params})

    def with_t_span(self, t_span: tuple[float, float]) -> ODEProblem:
        return dataclasses.replace(self, t_span=tuple(t_span))


@dataclass(frozen=True)
class Observations:
    """Noisy measurements of some components: ``y[:, j]`` observes ``components[j]``.

    ``t`` is ``(M,)`` in the problem's time unit; ``y`` is ``(M, k)`` (or ``(M,)`` for one component), ``k`` =
    ``len(components)``, in the components' units; both become float64.

    Raises:
        ProblemError: ``t`` is not 1-D, ``y`` is not 1-D or 2-D, either is not numeric or holds NaN or infinite
            values, or ``y`` is not ``(len(t), len(components))``.
    """

    t: np.ndarray
    y: np.ndarray
    components: tuple[int, ...] = (0,)

    def __post_init__(self) -> None:
        try:
            t = check_array(self.t, "observation times", ndim=1, dtype="fiu").astype(float)
            y = check_array(self.y, "observed values", ndim=(1, 2), dtype="fiu").astype(float)
        except DataError as exc:
            raise ProblemError(str(exc)) from None
        if y.ndim == 1:
            y = y[:, None]
        if y.shape != (t.size, len(self.components)):
            raise ProblemError(f"observed values have shape {y.shape}, expected ({t.size}, {len(self.components)}) "
                               f"for {len(self.components)} observed component(s)")
        object.__setattr__(self, "t", t)
        object.__setattr__(self, "y", y)
        object.__setattr__(self, "components", tuple(int(c) for c in self.components))

    def check_against(self, problem: ODEProblem) -> None:
        """Check that the observations fit ``problem``.

        Raises:
            ProblemError: an observation time lies outside ``problem.t_span``, or an observed component index is
                negative or ≥ ``problem.dim``.
        """
        t0, t1 = problem.t_span
        if self.t.min() < t0 or self.t.max() > t1:
            raise ProblemError(f"observation times [{self.t.min()}, {self.t.max()}] leave t_span {problem.t_span}")
        if any(c < 0 or c >= problem.dim for c in self.components):
            raise ProblemError(f"observed components {self.components} do not exist in a {problem.dim}-d system")


# --------------------------------------------------------------------------- reference
def reference_solution(problem: ODEProblem, t: np.ndarray, params: Mapping[str, float] | None = None,
                       rtol: float = 1e-10, atol: float = 1e-12) -> np.ndarray:
    """``solve_ivp`` (DOP853 or Radau, rtol 1e-10) on the points ``t``; returns ``(len(t), dim)``.

    ``t`` is 1-D, in the problem's time unit, within ``problem.t_span``, in any order and with repeats;
    ``params`` overrides some of ``problem.params``.

    Raises:
        ProblemError: ``solve_ivp`` reports a failure.
        ValueError: a time lies outside ``problem.t_span`` (raised by ``solve_ivp``).
    """
    from scipy.integrate import solve_ivp

    p = {**problem.params, **(params or {})}
    t = np.asarray(t, dtype=float)
    t_unique, inverse = np.unique(t, return_inverse=True)
    sol = solve_ivp(lambda tt, yy: np.asarray(problem.rhs(tt, yy, p), dtype=float).reshape(-1), problem.t_span,
                    np.asarray(problem.y0), method=problem.method, t_eval=t_unique, rtol=rtol, atol=atol)
    if not sol.success:
        raise ProblemError(f"reference solver failed on {problem.name}: {sol.message}")
    return sol.y.T[inverse.ravel()]


# --------------------------------------------------------------------------- catalogue
def _exponential_decay(t, y, p):
    return [-p["k"] * y[0]]


def _logistic_growth(t, y, p):
    return [p["r"] * y[0] * (1.0 - y[0] / p["K"])]


def _damped_oscillator(t, y, p):
    # x'' + 2 ξ ω x' + ω² x = 0 as a first-order system (x, v)
    return [y[1], -2.0 * p["xi"] * p["omega"] * y[1] - p["omega"] ** 2 * y[0]]


def _lotka_volterra(t, y, p):
    return [p["alpha"] * y[0] - p["beta"] * y[0] * y[1], p["delta"] * y[0] * y[1] - p["gamma"] * y[1]]


def _van_der_pol(t, y, p):
    return [y[1], p["mu"] * (1.0 - y[0] ** 2) * y[1] - y[0]]


def _sir(t, y, p):
    infection = p["beta"] * y[0] * y[1]
    return [-infection, infection - p["gamma"] * y[1], p["gamma"] * y[1]]


#: name → (problem, parameter identified by the inverse solve, range of the parametric solve)
BUILTIN: dict[str, tuple[Callable[[], ODEProblem], str, tuple[float, float]]] = {
    "exponential_decay": (lambda: ODEProblem(_exponential_decay, (0.0, 5.0), (1.0,), {"k": 1.0},
                                             name="exponential_decay", components=("y",), positive=("k",)),
                          "k", (0.5, 2.0)),
    "logistic_growth": (lambda: ODEProblem(_logistic_growth, (0.0, 10.0), (0.1,), {"r": 1.0, "K": 1.0},
                                           name="logistic_growth", components=("N",), positive=("r", "K")),
                        "r", (0.5, 1.5)),
    "damped_oscillator": (lambda: ODEProblem(_damped_oscillator, (0.0, 20.0), (1.0, 0.0),
                                             {"xi": 0.1, "omega": 1.0}, name="damped_oscillator",
                                             components=("x", "v"), positive=("xi", "omega")),
                          "xi", (0.1, 0.4)),
    "lotka_volterra": (lambda: ODEProblem(_lotka_volterra, (0.0, 10.0), (1.0, 0.5),
                                          {"alpha": 1.0, "beta": 1.0, "gamma": 1.0, "delta": 1.0},
                                          name="lotka_volterra", components=("prey", "predator"),
                                          positive=("alpha", "beta", "gamma", "delta")),
                       "beta", (0.75, 1.25)),
    "van_der_pol": (lambda: ODEProblem(_van_der_pol, (0.0, 10.0), (2.0, 0.0), {"mu": 1.0}, name="van_der_pol",
                                       components=("x", "v"), positive=("mu",)),
                    "mu", (0.5, 1.5)),
    "sir": (lambda: ODEProblem(_sir, (0.0, 60.0), (0.99, 0.01, 0.0), {"beta": 0.4, "gamma": 0.1}, name="sir",
                               components=("S", "I", "R"), positive=("beta", "gamma")),
            "beta", (0.3, 0.5)),
}


def get_problem(name: str, **params: float) -> ODEProblem:
    """A built-in problem by name, optionally with changed parameters.

    Raises:
        ProblemError: ``name`` is not in :data:`BUILTIN`, or a keyword is not a parameter of the problem
            (or its value is not finite).
    """
    if name not in BUILTIN:
        raise ProblemError(f"unknown problem {name!r}; built-in problems: {', '.join(BUILTIN)}")
    problem = BUILTIN[name][0]()
    return problem.with_params(**params) if params else problem


def inverse_parameter(name: str) -> str:
    """The parameter that the inverse solve of the built-in problem ``name`` identifies.

    Raises:
        ProblemError: ``name`` is not a built-in problem.
    """
    get_problem(name)
    return BUILTIN[name][1]


def parametric_range(name: str) -> tuple[float, float]:
    """``(low, high)`` of the inverse parameter in the parametric solve of the built-in problem ``name``.

    Raises:
        ProblemError: ``name`` is not a built-in problem.
    """
    get_problem(name)
    return BUILTIN[name][2]


def make_observations(problem: ODEProblem, n: int, noise: float, seed: int,
                      components: Sequence[int] = (0,)) -> Observations:
    """``n`` observations at uniformly random times with Gaussian noise of relative size ``noise``.

    The noise standard deviation is ``noise`` × the RMS of each observed component over the
    interval (so 1% noise means 1% of the signal's typical size).
    """
    rng = np.random.default_rng(seed)
    t0, t1 = problem.t_span
    t = np.sort(rng.uniform(t0, t1, size=n))
    clean = reference_solution(problem, t)[:, list(components)]
    dense = reference_solution(problem, np.linspace(t0, t1, 2001))[:, list(components)]
    scale = np.sqrt(np.mean(dense**2, axis=0))
    y = clean + noise * scale * rng.standard_normal(clean.shape)
    return Observations(t=t, y=y, components=tuple(components))


def least_squares_fit(problem: ODEProblem, obs: Observations, unknown: Sequence[str],
                      initial: Mapping[str, float]) -> dict[str, float]:
    """Fit ``unknown`` parameters of the exact ODE solution to ``obs`` (the noise floor).

    This is what a classical inverse solver does with the same data; a PINN cannot do
    better than the noise allows, so its parameter error is reported beside this one.
    """
    from scipy.optimize import least_squares

    names = list(unknown)

    def residual(theta):
        p = dict(zip(names, np.exp(theta)))
        pred = reference_solution(problem, obs.t, params=p, rtol=1e-9, atol=1e-11)[:, list(obs.components)]
        return (pred - obs.y).ravel()

    theta0 = np.log([initial[n] for n in names])
    fit = least_squares(residual, theta0, method="lm", xtol=1e-12, ftol=1e-12)
    return dict(zip(names, np.exp(fit.x).tolist()))


# --------------------------------------------------------------------------- prepared data
def load_prepared(directory: str | Path, name: str) -> tuple[dict, dict[str, np.ndarray]]:
    """The manifest entry and arrays of one problem, as the ``data`` stage wrote them, validated.

    Args:
        directory: the prepared folder (``manifest.json`` plus ``<name>.npz``).
        name: a built-in problem name.

    Returns:
        ``(meta, arrays)``: ``meta`` is the manifest entry (parameters, ``t_span``, ``y0``, the inverse
        parameter with its true value and initial guess, the parametric range); ``arrays`` holds ``t``
        ``(G,)`` and ``y`` ``(G, dim)`` (the reference on the dense grid, time in the problem's units),
        ``param_values`` ``(P,)`` and ``y_param`` ``(P, G, dim)`` (references across the parametric
        range), ``obs_t`` ``(M,)``, ``obs_y`` ``(M, k)`` and ``obs_components`` ``(k,)`` (the noisy
        observations of the inverse solve).

    Raises:
        DataError: the manifest or the file is missing, corrupt or truncated, lacks an array, the
            manifest has no ``problems`` mapping, the problem was not prepared, or an array holds NaN or
            infinite values or no numbers at all.
    """
    directory = Path(directory)
    manifest = read_json(directory / "manifest.json")
    problems = manifest.get("problems", {}) if isinstance(manifest, dict) else None
    if not isinstance(problems, dict) or not isinstance(problems.get(name, {}), dict):
        raise DataError(f"{directory / 'manifest.json'} is not a prepared-data manifest (a 'problems' mapping of "
                        f"problem name to entry); rerun the data stage")
    if name not in problems:
        raise DataError(f"{directory} has no prepared data for {name!r}; it has {sorted(problems)}")
    arrays = load_npz(directory / f"{name}.npz",
                      required=("t", "y", "param_values", "y_param", "obs_t", "obs_y", "obs_components"))
    for key in ("y", "y_param", "obs_y"):
        if arrays[key].dtype.kind not in "fiu":
            raise DataError(f"{directory / (name + '.npz')}: '{key}' holds {arrays[key].dtype} values, not numbers")
        if not np.all(np.isfinite(arrays[key])):
            raise DataError(f"{directory / (name + '.npz')}: '{key}' contains NaN or infinite values")
    return manifest["problems"][name], arrays


# --------------------------------------------------------------------------- classical baselines
def solve_ivp_timed(problem: ODEProblem, t: np.ndarray, reference: np.ndarray, *, method: str = "RK45",
                    rtol: float = 1e-3, atol: float = 1e-6, params: Mapping[str, float] | None = None,
                    repeats: int = 5) -> dict[str, float]:
    """``solve_ivp`` as a user would call it, timed, and its rel-L2 error against ``reference``.

    Args:
        problem: the problem (its ``rhs`` called point by point, as ``solve_ivp`` does).
        t: times ``(G,)`` in the problem's unit, inside ``t_span``, increasing.
        reference: ``(G, dim)`` accurate solution on ``t``.
        method, rtol, atol: ``solve_ivp`` settings (its defaults: RK45, 1e-3, 1e-6).
        params: parameter changes for this solve.
        repeats: timed runs (after one warm-up); the median is reported.

    Returns:
        ``rel_l2`` (dimensionless), ``time_s`` (median wall seconds of one solve on ``t``) and ``nfev``.

    Raises:
        ProblemError: the solver fails.
    """
    from scipy.integrate import solve_ivp

    from shared.metrics import rel_l2, timeit

    p = {**problem.params, **(params or {})}

    def once():
        sol = solve_ivp(lambda tt, yy: np.asarray(problem.rhs(tt, yy, p), dtype=float).reshape(-1), problem.t_span,
                        np.asarray(problem.y0), method=method, t_eval=t, rtol=rtol, atol=atol)
        if not sol.success:
            raise ProblemError(f"solve_ivp ({method}) failed on {problem.name}: {sol.message}")
        return sol

    sol = once()
    timing = timeit(once, repeats=repeats, warmup=0)
    return {"rel_l2": rel_l2(sol.y.T, reference), "time_s": timing["median_s"], "nfev": float(sol.nfev)}


def least_squares_timed(problem: ODEProblem, obs: Observations, unknown: Sequence[str],
                        initial: Mapping[str, float]) -> tuple[dict[str, float], float]:
    """:func:`least_squares_fit` and its wall time in seconds (one run)."""
    import time

    start = time.perf_counter()
    fit = least_squares_fit(problem, obs, unknown, initial)
    return fit, time.perf_counter() - start
