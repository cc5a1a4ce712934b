"""Stage pieces on tiny params: resume, overrides, bad input (the whole chain runs in test_pipeline.py)."""

import shutil
import subprocess
import sys

import pytest

from projects.pinn_ode import data, train
from shared.config import ConfigError
from shared.io import DataError

from .conftest import TINY


@pytest.fixture
def params(tiny_params, tmp_path):
    return tiny_params("pinn_ode", {**TINY, "report": {"results": str(tmp_path / "results")}})


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


@pytest.mark.slow
def test_train_under_the_mirrored_strategy_writes_the_cases(params, tmp_path):
    """``strategy: mirrored`` (one CPU replica here): the Adam phase runs in the strategy, L-BFGS after it."""
    import json

    prepared = tmp_path / "prepared"
    data.main(["--params", str(params), "--out", str(prepared)])
    cfg = train.TrainStageConfig(problems=("damped_oscillator",), modes=("inverse",), seeds=(0,), verbose=0,
                                 training=train.TrainConfig(adam_steps=20, steps_per_epoch=10, lbfgs_steps=3,
                                                            n_collocation=16), strategy="mirrored")
    summary = train.train_all(cfg, prepared, tmp_path / "work", tmp_path / "out")
    assert [(c["problem"], c["mode"]) for c in summary] == [("damped_oscillator", "inverse")]
    case = tmp_path / "out" / "damped_oscillator" / "inverse" / "seed0"
    solution = json.loads((case / "solution.json").read_text())
    assert (case / "model.keras").stat().st_size > 0 and solution["info"]["lbfgs_iterations"] >= 1
    assert len(solution["history"]["adam"]["loss"]) == 2


@pytest.mark.parametrize("strategy", ["auto", "default", "mirrored"])
def test_strategies_accepted(strategy):
    assert train.TrainStageConfig(strategy=strategy).strategy == strategy


@pytest.mark.parametrize("strategy, fragment", [("tpu", "strategy 'tpu': use one of"),
                                                ("multi_worker", "not supported by pinn_ode: the physics loss is "
                                                                 "full-batch")])
def test_unknown_or_multi_worker_strategy_is_one_line(tiny_params, strategy, fragment):
    path = tiny_params("pinn_ode", {"train": {"strategy": strategy}})
    with pytest.raises(ConfigError, match=fragment) as err:
        train.main(["--params", str(path), "--data", "x", "--work", "w", "--out", "o"])
    assert "\n" not in str(err.value)


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
