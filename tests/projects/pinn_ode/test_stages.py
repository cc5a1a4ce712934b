"""The stage main()s on tiny params, chained as DVC would chain them."""

import json
import shutil
import subprocess
import sys

import pytest

from projects.pinn_ode import benchmark, data, evaluate, train
from shared.config import ConfigError
from shared.io import DataError
from shared.metrics import validate_headline

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


@pytest.fixture
def params(tiny_params, tmp_path):
    return tiny_params("pinn_ode", {**TINY, "report": {"results": str(tmp_path / "results")}})


def test_stages_end_to_end(params, tmp_path):
    prepared, model, results = tmp_path / "prepared", tmp_path / "model", tmp_path / "results"
    assert data.main(["--params", str(params), "--out", str(prepared)]) == 0
    assert sorted(p.name for p in prepared.iterdir()) == ["damped_oscillator.npz", "exponential_decay.npz",
                                                          "manifest.json"]
    assert train.main(["--params", str(params), "--data", str(prepared), "--work", str(tmp_path / "work"),
                       "--out", str(model)]) == 0
    summary = json.loads((model / "summary.json").read_text())
    # 2 problems × 3 modes, the headline problem with both seeds
    assert len(summary["cases"]) == 9
    assert evaluate.main(["--params", str(params), "--data", str(prepared), "--model", str(model),
                          "--out", str(results)]) == 0
    metrics = json.loads((results / "metrics.json").read_text())
    assert set(metrics["targets"]) >= {"forward_rel_l2", "inverse_error_pct", "parametric_max_pct"}
    assert metrics["forward"]["damped_oscillator"]["seeds"] == 2
    assert "least_squares_error_pct" in metrics["inverse"]["damped_oscillator"]
    assert "solve_ivp_rel_l2" in metrics["forward"]["damped_oscillator"]
    validate_headline(metrics["headline"])
    assert metrics["headline"]["baseline"] == "least squares through solve_ivp"
    # the target's value is the worst problem (here: whichever of the two is worse)
    worst = max(metrics["forward"].values(), key=lambda e: e["rel_l2"])["rel_l2"]
    assert metrics["targets"]["forward_rel_l2"]["value"] == worst
    assert benchmark.main(["--params", str(params), "--data", str(prepared), "--out", str(results)]) == 0
    ablation = json.loads((results / "benchmark.json").read_text())["ablation"]
    assert set(ablation) == {"configured", "no_fourier_features"}
    compared = json.loads((results / "benchmark.json").read_text())["comparison"]
    assert {"pinn_ode, plain", "pinn_ode, techniques", "solve_ivp (RK45, default tolerances)"} <= set(compared)
    assert all("time_to_target_s" in row for row in compared.values())
    for name in ("loss.csv", "solutions.csv", "inverse_trajectory.csv", "parametric_error.csv", "ablation.csv",
                 "comparison.csv"):
        assert (results / "plots" / name).stat().st_size > 0


def test_train_resumes_finished_cases(params, tmp_path, caplog):
    prepared = tmp_path / "prepared"
    data.main(["--params", str(params), "--out", str(prepared)])
    cfg = train.TrainStageConfig(problems=("exponential_decay", "damped_oscillator"), modes=("forward",),
                                 seeds=(0,), training=train.TrainConfig(adam_steps=20, steps_per_epoch=20,
                                                                        lbfgs_steps=0, n_collocation=16), verbose=0)
    work = tmp_path / "work"
    train.train_all(cfg, prepared, work, tmp_path / "out1")
    # Simulate a kill after the first case: keep its finished copy, drop the final output.
    done = work / train.config_hash(cfg) / "done"
    shutil.copytree(tmp_path / "out1" / "exponential_decay", done / "exponential_decay")
    caplog.set_level("INFO")
    train.train_all(cfg, prepared, work, tmp_path / "out2")
    assert "finished in an earlier run" in caplog.text
    assert not (work / train.config_hash(cfg)).exists()  # cleaned once everything is saved


def test_unknown_param_key_names_key_and_file(tiny_params):
    path = tiny_params("pinn_ode", {"train": {"training": {"adam_stpes": 10}}})
    with pytest.raises(ConfigError) as err:
        train.main(["--params", str(path), "--data", "x", "--work", "w", "--out", "o"])
    assert "'adam_stpes'" in str(err.value) and str(path) in str(err.value)


def test_bad_override_key(tiny_params):
    path = tiny_params("pinn_ode", {"train": {"overrides": {"pendulum": {"causal_eps": 1.0}}}})
    with pytest.raises(ConfigError, match="'pendulum' is neither a problem"):
        train.main(["--params", str(path), "--data", "x", "--work", "w", "--out", "o"])
    path = tiny_params("pinn_ode", {"train": {"overrides": {"sir/backward": {"causal_eps": 1.0}}}})
    with pytest.raises(ConfigError, match="'sir/backward'"):
        train.main(["--params", str(path), "--data", "x", "--work", "w", "--out", "o"])


def test_override_order():
    cfg = train.TrainStageConfig(overrides={"inverse": {"causal_eps": 1.0, "lbfgs_steps": 7},
                                            "sir": {"causal_eps": 2.0},
                                            "sir/inverse": {"causal_eps": 3.0}})
    assert train.case_config(cfg, "sir", "inverse", 4).training.causal_eps == 3.0
    assert train.case_config(cfg, "sir", "inverse", 4).training.lbfgs_steps == 7
    assert train.case_config(cfg, "sir", "forward", 4).training.causal_eps == 2.0
    assert train.case_config(cfg, "van_der_pol", "inverse", 4).training.causal_eps == 1.0
    assert train.case_config(cfg, "van_der_pol", "inverse", 4).training.seed == 4


def test_unknown_problem_in_params(tiny_params):
    path = tiny_params("pinn_ode", {"data": {"problems": ["pendulum"]}})
    with pytest.raises(ConfigError, match="unknown problem 'pendulum'"):
        data.main(["--params", str(path), "--out", "x"])


def test_corrupt_prepared_data_is_reported(params, tmp_path):
    prepared = tmp_path / "prepared"
    data.main(["--params", str(params), "--out", str(prepared)])
    path = prepared / "damped_oscillator.npz"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(DataError, match="corrupt or truncated"):
        data.load_prepared(prepared, "damped_oscillator")
    with pytest.raises(DataError, match="no prepared data for 'sir'"):
        data.load_prepared(prepared, "sir")


def test_nan_in_prepared_observations_is_reported(params, tmp_path):
    import numpy as np

    from shared.io import load_npz, save_npz

    prepared = tmp_path / "prepared"
    data.main(["--params", str(params), "--out", str(prepared)])
    arrays = load_npz(prepared / "exponential_decay.npz")
    arrays["obs_y"][3] = np.nan
    save_npz(prepared / "exponential_decay.npz", **arrays)
    with pytest.raises(DataError, match="'obs_y' contains NaN"):
        data.load_prepared(prepared, "exponential_decay")


def test_stage_exits_cleanly_on_bad_input(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "projects.pinn_ode.evaluate", "--params",
                           "projects/pinn_ode/params.yaml", "--data", str(tmp_path), "--model", str(tmp_path),
                           "--out", str(tmp_path / "r")], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "run the train stage first" in proc.stderr and "Traceback" not in proc.stderr
