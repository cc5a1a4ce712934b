"""`dvc repro` of the whole pinn_ode pipeline on tiny params, in a temporary copy of the repo."""

import pytest


@pytest.mark.slow
def test_dvc_repro_on_tiny_params(repo_copy):
    repo_copy.set_params("pinn_ode", {
        "data": {"problems": ["exponential_decay", "damped_oscillator"], "grid_points": 101, "parametric_values": 3},
        "train": {"problems": ["exponential_decay", "damped_oscillator"], "seeds": [0], "verbose": 0,
                  "overrides": {"__replace__": True, "parametric": {"lbfgs_steps": 3}},
                  "network": {"width": 8, "depth": 1, "fourier_features": 2},
                  "training": {"adam_steps": 40, "steps_per_epoch": 20, "lbfgs_steps": 5, "n_collocation": 32}},
        "benchmark": {"deepxde": False, "variants": {"__replace__": True, "configured": {}},
                      "comparison": {"adam_steps": 40, "lbfgs_steps": 5, "check_every": 20}},
    })
    repo_copy.check_pipeline("pinn_ode", "forward_rel_l2")
