"""Right-hand sides written the solve_ivp way: solved (checked against solve_ivp) or refused in one line."""

import math

import numpy as np
import pytest

from projects.pinn_ode.problems import ODEProblem, ProblemError, reference_solution
from projects.pinn_ode.rhs import MAX_PATHS, evaluate_numpy


def _zeros_like_fill(t, y, p):
    dydt = np.zeros_like(y)
    dydt[0] = y[1]
    dydt[1] = -p["w"] ** 2 * y[0]
    return dydt


def _if_statements(t, y, p):
    if t < 1.0:
        u = 2.0
    elif t < 3.0:
        u = -1.0
    else:
        u = 0.0
    if y[0] > 0.5:
        return [u - y[0]]
    return [u]


#: name → (rhs, t_span, y0, params), each in a form that solve_ivp users write
ACCEPTED = {
    "numpy_functions": (lambda t, y, p: [np.sin(t) - p["k"] * np.exp(-t) * y[0]], (0, 5), [0.0], {"k": 1.0}),
    "if_expression": (lambda t, y, p: [(1.0 if t < 2.0 else 0.0) - y[0]], (0, 5), [0.0], {}),
    "if_statements": (_if_statements, (0, 5), [1.0], {}),
    "return_np_array": (lambda t, y, p: np.array([y[1], -p["w"] ** 2 * y[0]]), (0, 5), [1.0, 0.0], {"w": 2.0}),
    "vectorised_system": (lambda t, y, p: -p["k"] * y, (0, 5), [1.0, 2.0, 3.0], {"k": 0.5}),
    "matrix_product": (lambda t, y, p: np.array([[0.0, 1.0], [-1.0, -0.2]]) @ y, (0, 5), [1.0, 0.0], {}),
    "zeros_like_filled": (_zeros_like_fill, (0, 5), [1.0, 0.0], {"w": 1.5}),
    "builtin_max_and_abs": (lambda t, y, p: [max(0.0, 1 - t) - abs(y[0]) * y[0]], (0, 5), [1.0], {}),
    "np_where_and_clip": (lambda t, y, p: [np.where(t < 1, 1.0, -1.0) * np.clip(y[0], 0.0, 2.0)], (0, 3), [0.5], {}),
    "unpacking": (lambda t, y, p: (lambda x, v: [v, -x - 0.1 * v])(*y), (0, 5), [1.0, 0.0], {}),
}


@pytest.mark.parametrize("name", list(ACCEPTED))
def test_batch_evaluation_equals_pointwise(name):
    rhs, t_span, y0, params = ACCEPTED[name]
    problem = ODEProblem(rhs, t_span, y0, params)  # the construction check passes
    t = np.linspace(*t_span, 41)
    y = reference_solution(problem, t)
    batch = evaluate_numpy(rhs, t, y, problem.params)
    pointwise = np.array([np.asarray(rhs(ti, yi.copy(), problem.params), float).ravel() for ti, yi in zip(t, y)])
    np.testing.assert_allclose(batch, pointwise, rtol=1e-12, atol=1e-12)


def _fill_float_array(t, y, p):
    out = np.zeros(2)
    out[0] = y[1]
    out[1] = -y[0]
    return out


def _counter():
    calls = [0]

    def rhs(t, y, p):
        calls[0] += 1
        return [-y[0] * (calls[0] % 3), -y[1]]

    return rhs


def _many_branches(t, y, p):
    total = 0.0
    for k in range(8):
        if t < k / 2:
            total = total + 1.0
        else:
            total = total - 1.0
    return [total - y[0]]


@pytest.mark.parametrize("rhs, y0, fragment", [
    (lambda t, y, p: [math.sin(t) - y[0]], [0.0], "use np.sin instead of math.sin"),
    (lambda t, y, p: np.array([y[1], -y[0]], dtype=float), [1.0, 0.0], "single Python number"),
    (_fill_float_array, [1.0, 0.0], "np.zeros_like"),
    (_counter(), [1.0, 0.0], "batch of points than point by point"),
    (_many_branches, [0.0], f"more than {MAX_PATHS} paths"),
    (lambda t, y, p: [np.fft.fft(y)[0].real], [1.0], "not supported"),
])
def test_refused_in_one_line_saying_what_to_write(rhs, y0, fragment):
    with pytest.raises(ProblemError, match=fragment) as err:
        ODEProblem(rhs, (0, 5), y0)
    assert "\n" not in str(err.value)


def _batched(tf, evaluate_tf, rhs, problem):
    @tf.function
    def batched(t, y):
        cols = evaluate_tf(rhs, t, [y[:, i:i + 1] for i in range(problem.dim)],
                           {k: tf.constant(v, tf.float32) for k, v in problem.params.items()})
        return tf.concat(cols, axis=1)

    return batched


def test_tensorflow_batch_matches_numpy_and_has_gradients():
    tf = pytest.importorskip("tensorflow")
    from projects.pinn_ode.rhs import evaluate_tf

    for name, (rhs, t_span, y0, params) in ACCEPTED.items():
        problem = ODEProblem(rhs, t_span, y0, params)
        t = np.linspace(*t_span, 23)
        y = reference_solution(problem, t)
        expected = evaluate_numpy(rhs, t, y, problem.params)

        f = _batched(tf, evaluate_tf, rhs, problem)

        yy = tf.constant(y, tf.float32)
        with tf.GradientTape() as tape:
            tape.watch(yy)
            out = f(tf.constant(t[:, None], tf.float32), yy)
            total = tf.reduce_sum(out)
        np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-5, err_msg=name)
        assert np.all(np.isfinite(tape.gradient(total, yy).numpy())), name


@pytest.mark.slow
def test_pinn_solves_a_solve_ivp_style_system():
    """Piecewise forcing with a Python if, np.sin and np.array: the PINN against solve_ivp."""
    pytest.importorskip("tensorflow")
    from projects.pinn_ode import pinn
    from projects.pinn_ode.model import NetworkConfig
    from shared.metrics import rel_l2

    def rhs(t, y, p):
        force = 1.0 if t < 2.0 else 0.0
        return np.array([y[1], force + 0.1 * np.sin(t) - p["k"] * y[0] - 0.5 * y[1]])

    problem = ODEProblem(rhs, (0, 4), [0.0, 0.0], {"k": 1.0})
    cfg = pinn.PINNConfig(network=NetworkConfig(width=16, depth=2, fourier_features=4),
                          training=pinn.TrainConfig(adam_steps=200, steps_per_epoch=50, lbfgs_steps=300,
                                                    n_collocation=64, learning_rate=1e-2))
    solution = pinn.solve(problem, cfg)
    t = np.linspace(0, 4, 101)
    assert rel_l2(solution(t), reference_solution(problem, t)) < 3e-2
    vector = ODEProblem(lambda t, y, p: -p["k"] * y, (0, 4), [1.0, 0.5], {"k": 1.0})
    solution = pinn.solve(vector, cfg)
    assert rel_l2(solution(t), reference_solution(vector, t)) < 1e-2
