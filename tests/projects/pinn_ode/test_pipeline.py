"""`dvc repro` of the whole pinn_ode pipeline on tiny params, in a temporary copy of the repo, and what each stage
wrote (the stages run once, through DVC, as a user runs them)."""

import json

import pytest

from .conftest import TINY


@pytest.mark.slow
def test_dvc_repro_on_tiny_params(repo_copy):
    repo_copy.set_params("pinn_ode", TINY)
    metrics = repo_copy.check_pipeline("pinn_ode", "forward_rel_l2")
    prepared, model = repo_copy.root / "data" / "pinn_ode" / "prepared", repo_copy.root / "data" / "pinn_ode" / "model"
    results = repo_copy.root / "projects" / "pinn_ode" / "results"
    assert sorted(p.name for p in prepared.iterdir()) == ["damped_oscillator.npz", "exponential_decay.npz",
                                                          "manifest.json"]
    # 2 problems × 3 modes, the headline problem with both seeds
    assert len(json.loads((model / "summary.json").read_text())["cases"]) == 9
    assert set(metrics["targets"]) >= {"forward_rel_l2", "inverse_error_pct", "parametric_max_pct"}
    assert metrics["forward"]["damped_oscillator"]["seeds"] == 2
    assert "least_squares_error_pct" in metrics["inverse"]["damped_oscillator"]
    assert "solve_ivp_rel_l2" in metrics["forward"]["damped_oscillator"]
    assert metrics["headline"]["baseline"] == "least squares through solve_ivp"
    # the target's value is the worst problem (here: whichever of the two is worse)
    worst = max(metrics["forward"].values(), key=lambda e: e["rel_l2"])["rel_l2"]
    assert metrics["targets"]["forward_rel_l2"]["value"] == worst
    bench = json.loads((results / "benchmark.json").read_text())
    assert set(bench["ablation"]) == {"configured", "no_fourier_features"}
    assert {"pinn_ode, plain", "pinn_ode, techniques", "solve_ivp (RK45, default tolerances)"} <= set(
        bench["comparison"])
    assert all("time_to_target_s" in row for row in bench["comparison"].values())
    for name in ("loss.csv", "solutions.csv", "inverse_trajectory.csv", "parametric_error.csv", "ablation.csv",
                 "comparison.csv"):
        assert (results / "plots" / name).stat().st_size > 0
