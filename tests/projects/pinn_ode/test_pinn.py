"""The PINN itself, on tiny networks and budgets (seconds each)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from projects.pinn_ode import pinn
from projects.pinn_ode.model import NetworkConfig, build_model
from projects.pinn_ode.problems import Observations, ODEProblem, ProblemError, get_problem, reference_solution
from shared.metrics import rel_l2


def tiny(**training) -> pinn.PINNConfig:
    base = dict(adam_steps=200, steps_per_epoch=50, lbfgs_steps=100, n_collocation=64, learning_rate=1e-2)
    return pinn.PINNConfig(network=NetworkConfig(width=16, depth=2, fourier_features=4),
                           training=pinn.TrainConfig(**{**base, **training}))


def test_model_factory_hard_ic_and_serialisation(tmp_path):
    net = build_model(NetworkConfig(width=8, depth=1, fourier_features=3), t_span=(0, 2), y0=(1.0, -1.0),
                      param_ranges=[(0.1, 0.4)])
    x = np.array([[0.0, 0.2], [1.0, 0.3]], "float32")
    y = net(x).numpy()
    np.testing.assert_allclose(y[0], [1.0, -1.0], atol=1e-6)  # the initial condition holds exactly
    net.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(again(x).numpy(), y, rtol=1e-6)


def test_one_training_step_lowers_the_loss():
    problem = get_problem("exponential_decay")
    cfg = tiny()
    net = build_model(cfg.network, t_span=problem.t_span, y0=problem.y0)
    trainer = pinn.PINNTrainer(net, problem, cfg.training)
    trainer.compile(optimizer=keras.optimizers.Adam(1e-2))
    before = float(trainer.losses()["loss"])
    logs = trainer.train_step(None)
    assert np.isfinite(float(logs["loss"]))
    for _ in range(5):
        trainer.train_step(None)
    assert float(trainer.losses()["loss"]) < before


def test_residual_of_exact_derivative_is_zero():
    problem = get_problem("exponential_decay")
    net = build_model(NetworkConfig(width=4, depth=1, fourier_features=0, hard_ic=False),
                      t_span=problem.t_span, y0=problem.y0)
    trainer = pinn.PINNTrainer(net, problem, tiny().training)
    x = tf.constant([[0.5], [2.0]])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = net(x)
    dydt = tape.gradient(y, x)
    expected = dydt - (-problem.params["k"] * y)
    np.testing.assert_allclose(trainer.residual(x).numpy(), expected.numpy(), rtol=1e-5, atol=1e-6)


def test_forward_solve_of_exponential_decay():
    problem = get_problem("exponential_decay")
    solution = pinn.solve(problem, tiny())
    t = np.linspace(*problem.t_span, 101)
    assert rel_l2(solution(t), reference_solution(problem, t)) < 2e-2
    assert solution.residual(t).shape == (101, 1)
    assert solution.iterations > 200 and solution.wall_time > 0
    assert len(solution.history["adam"]["loss"]) == 4  # one entry per epoch


def test_custom_problem_in_a_few_lines():
    problem = ODEProblem(rhs=lambda t, y, p: [p["a"] * keras.ops.cos(t)], t_span=(0, 3), y0=[0.0], params={"a": 2.0})
    solution = pinn.solve(problem, tiny())
    t = np.linspace(0, 3, 50)
    assert rel_l2(solution(t)[:, 0], 2 * np.sin(t)) < 5e-2


def test_inverse_solve_recovers_a_parameter():
    problem = get_problem("exponential_decay", k=1.0)
    t = np.linspace(0.2, 5, 20)
    obs = Observations(t=t, y=np.exp(-t))
    solution = pinn.solve(problem, tiny(), observations=obs, unknown={"k": 1.6})
    assert abs(solution.params["k"] - 1.0) < 0.05
    assert "k" in solution.history["adam"] and "k" in solution.history["lbfgs"]


def test_parametric_solve_takes_the_parameter_as_input():
    problem = get_problem("exponential_decay")
    solution = pinn.solve(problem, tiny(adam_steps=400, lbfgs_steps=600), parametric={"k": (0.5, 2.0)})
    t = np.linspace(*problem.t_span, 51)
    for k in (0.6, 1.9):
        assert rel_l2(solution(t, k=k)[:, 0], np.exp(-k * t)) < 5e-2
    with pytest.raises(ProblemError, match="parametric inputs"):
        solution(t)


def test_save_and_load(tmp_path):
    problem = get_problem("exponential_decay")
    solution = pinn.solve(problem, tiny(adam_steps=50, lbfgs_steps=0))
    solution.save(tmp_path / "s")
    again = pinn.Solution.load(tmp_path / "s", problem)
    t = np.linspace(0, 5, 7)
    np.testing.assert_allclose(again(t), solution(t), rtol=1e-6)
    assert again.info["adam_steps"] == 50
    with pytest.raises(ProblemError, match="holds a solution of"):
        pinn.Solution.load(tmp_path / "s", get_problem("sir"))


class Kill(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 1:
            raise KeyboardInterrupt("simulated kill")


def test_resume_after_kill_gives_the_same_weights(tmp_path):
    """BackupAndRestore: a run killed after epoch 1 and restarted ends where an uninterrupted run ends."""
    problem = get_problem("damped_oscillator")
    cfg = tiny(adam_steps=150, lbfgs_steps=20, resample=True, resample_candidates=256, causal_eps=1.0)
    reference = pinn.solve(problem, cfg, workdir=tmp_path / "ref")
    with pytest.raises(KeyboardInterrupt):
        pinn.solve(problem, cfg, workdir=tmp_path / "run", callbacks=[Kill()])
    assert any((tmp_path / "run" / "adam" / "backup").iterdir())
    resumed = pinn.solve(problem, cfg, workdir=tmp_path / "run")
    for a, b in zip(reference.net.get_weights(), resumed.net.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert resumed.history["adam"]["loss"] == reference.history["adam"]["loss"]


@pytest.mark.parametrize("kwargs, fragment", [
    ({"unknown": {"xi": 0.2}}, "needs observations"),
    ({"parametric": {"zeta": (0.1, 0.4)}}, "not a parameter"),
    ({"parametric": {"xi": (0.4, 0.1)}}, "low < high"),
    ({"observations": Observations(t=np.array([1.0, 30.0]), y=np.zeros(2)), "unknown": {"xi": 0.2}}, "t_span"),
    ({"observations": Observations(t=np.array([1.0]), y=np.zeros(1)), "unknown": {"xi": -1.0}}, "must be > 0"),
])
def test_bad_requests(kwargs, fragment):
    with pytest.raises(ProblemError, match=fragment):
        pinn.solve(get_problem("damped_oscillator"), tiny(adam_steps=50, lbfgs_steps=0), **kwargs)


def test_bad_training_config():
    with pytest.raises(ValueError, match="multiple of steps_per_epoch"):
        pinn.TrainConfig(adam_steps=120, steps_per_epoch=50)
    with pytest.raises(ValueError, match="float32 or float64"):
        NetworkConfig(dtype="float16")
