"""Tiny params shared by the pinn_ode stage and pipeline tests."""

TINY = {
    "data": {"problems": ["exponential_decay", "damped_oscillator"], "grid_points": 101, "parametric_values": 3},
    "train": {"problems": ["exponential_decay", "damped_oscillator"], "seeds": [0, 1], "verbose": 0,
              "network": {"width": 8, "depth": 1, "fourier_features": 2},
              "training": {"adam_steps": 40, "steps_per_epoch": 20, "lbfgs_steps": 5, "n_collocation": 32},
              "overrides": {"__replace__": True, "parametric": {"lbfgs_steps": 3}}},
    "benchmark": {"deepxde": False, "variants": {"__replace__": True, "configured": {},
                                                  "no_fourier_features": {"network": {"fourier_features": 0}}},
                  "comparison": {"adam_steps": 40, "lbfgs_steps": 5, "check_every": 20}},
}
