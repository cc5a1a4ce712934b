"""Tiny params shared by the airfoil_flow stage and pipeline tests."""

import pytest

TINY = {
    "data": {"n_samples": 40, "n_panels": 60, "grid": {"nx": 32, "ny": 32}, "workers": 1,
             "uiuc": {"source": "karman_trefftz", "n_shapes": 9, "alphas_per_shape": 1}, "kulfan_weights": 3},
    "validate": {"polar_airfoils": ["0012"], "polar_alphas": [-4.0, 4.0, 4.0], "floor_grids": [32],
                 "floor_cases": [["0012", 4.0], ["2412", 5.0]]},
    "train": {"models": {"__replace__": True, "random": ["geometry", "plain", "pod_residual"],
                         "alpha_extrapolation": ["geometry", "pod_residual"]},
              "unet": {"filters": 4, "levels": 3}, "fit": {"epochs": 2, "batch_size": 8},
              "mlp": {"width": 8, "depth": 1}, "mlp_fit": {"epochs": 2, "steps_per_epoch": 5},
              "pod": {"modes": 4, "folds": 3}, "verbose": 0},
    "evaluate": {"pod_modes": 4, "polar_airfoils": ["2412"], "polar_alphas": [-4.0, 4.0, 4.0],
                 "speed": {"batch": 6, "solver_cases": 2, "repeats": 1, "predict_batch_size": 4}},
}


@pytest.fixture(scope="session")
def prepared(tmp_path_factory):
    """A small prepared folder (16 NACA cases, 6 Kármán–Trefftz sections, 16² grid), read-only for the tests."""
    from projects.airfoil_flow import data
    from projects.airfoil_flow.panel import Grid

    cfg = data.DataConfig(n_samples=16, n_panels=40, grid=Grid(16, 16), workers=1,
                          uiuc=data.UIUCConfig(source="karman_trefftz", n_shapes=6, alphas_per_shape=1),
                          kulfan_weights=3)
    out = tmp_path_factory.mktemp("prepared")
    data.generate(cfg, out)
    return out


@pytest.fixture
def tiny(tiny_params, tmp_path):
    return tiny_params("airfoil_flow", {**TINY, "report": {"results": str(tmp_path / "results")}})


@pytest.fixture
def tiny_overrides():
    return TINY
