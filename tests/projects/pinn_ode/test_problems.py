import numpy as np
import pytest

from projects.pinn_ode.problems import (
    BUILTIN,
    Observations,
    ODEProblem,
    ProblemError,
    get_problem,
    least_squares_fit,
    make_observations,
    reference_solution,
)


def test_reference_matches_closed_form():
    problem = get_problem("exponential_decay", k=0.7)
    t = np.linspace(0, 5, 50)
    np.testing.assert_allclose(reference_solution(problem, t)[:, 0], np.exp(-0.7 * t), rtol=1e-9)
    osc = get_problem("damped_oscillator")
    xi = osc.params["xi"]
    wd = np.sqrt(1 - xi**2)
    exact = np.exp(-xi * t) * (np.cos(wd * t) + xi / wd * np.sin(wd * t))
    np.testing.assert_allclose(reference_solution(osc, t)[:, 0], exact, atol=1e-9)


def test_reference_keeps_the_order_of_unsorted_times():
    problem = get_problem("exponential_decay")
    t = np.array([3.0, 0.5, 3.0, 1.0])
    np.testing.assert_allclose(reference_solution(problem, t)[:, 0], np.exp(-t), rtol=1e-9)


def test_every_builtin_problem_is_well_posed():
    for name in BUILTIN:
        problem = get_problem(name)
        y = reference_solution(problem, np.linspace(*problem.t_span, 11))
        assert y.shape == (11, problem.dim) and np.all(np.isfinite(y))


@pytest.mark.parametrize("kwargs, fragment", [
    ({"y0": [1.0, 0.0, 3.0]}, "y0 has 3"),
    ({"rhs": "not a function"}, "callable"),
    ({"t_span": (20, 0)}, "must increase"),
    ({"t_span": (0, float("inf"))}, "finite"),
    ({"y0": [np.nan, 0.0]}, "finite numbers"),
    ({"params": {"xi": float("nan"), "omega": 1.0}}, "not finite"),
])
def test_bad_problem_definitions(kwargs, fragment):
    base = dict(rhs=lambda t, y, p: [y[1], -2 * p["xi"] * y[1] - y[0]], t_span=(0, 20), y0=[1.0, 0.0],
                params={"xi": 0.1, "omega": 1.0})
    with pytest.raises(ProblemError, match=fragment):
        ODEProblem(**{**base, **kwargs})


def test_unknown_problem_and_parameter():
    with pytest.raises(ProblemError, match="unknown problem 'pendulum'.*damped_oscillator"):
        get_problem("pendulum")
    with pytest.raises(ProblemError, match="unknown parameter"):
        get_problem("sir", rho=1.0)


def test_observations_validation():
    problem = get_problem("damped_oscillator")
    with pytest.raises(ProblemError, match="NaN"):
        Observations(t=np.array([0.0, 1.0]), y=np.array([1.0, np.nan]))
    with pytest.raises(ProblemError, match="shape"):
        Observations(t=np.array([0.0, 1.0]), y=np.zeros((3, 1)))
    with pytest.raises(ProblemError, match="leave t_span"):
        Observations(t=np.array([0.0, 25.0]), y=np.zeros(2)).check_against(problem)
    with pytest.raises(ProblemError, match="components"):
        Observations(t=np.array([0.0, 1.0]), y=np.zeros((2, 1)), components=(5,)).check_against(problem)


def test_least_squares_noise_floor_is_close():
    problem = get_problem("damped_oscillator")
    obs = make_observations(problem, 50, 0.01, seed=0)
    assert obs.t.shape == (50,) and obs.y.shape == (50, 1)
    fit = least_squares_fit(problem, obs, ["xi"], {"xi": 0.25})
    assert abs(fit["xi"] / 0.1 - 1) < 0.02
