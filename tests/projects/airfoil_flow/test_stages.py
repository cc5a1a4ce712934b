"""Stage pieces on tiny params: resume, CLI, bad input (the whole chain runs in test_pipeline.py)."""

import json
import subprocess
import sys

import pytest

from projects.airfoil_flow import data, train
from shared.config import ConfigError
from shared.io import DataError


@pytest.mark.slow
def test_training_resumes_after_an_interruption(tiny, tmp_path, caplog, monkeypatch):
    import keras

    import shared.training as training
    from shared.config import load_section

    prepared = tmp_path / "prepared"
    data.main(["--params", str(tiny), "--out", str(prepared)])
    cfg = load_section(tiny, "train", train.TrainStageConfig)
    cfg = train.config_lib.replace(cfg, models={"random": ["geometry"]}, fit={"epochs": 3})

    class Kill(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise KeyboardInterrupt

    real_fit = training.fit
    monkeypatch.setattr(training, "fit", lambda *a, **kw: real_fit(*a, **{**kw, "callbacks": [Kill()]}))
    with pytest.raises(KeyboardInterrupt):
        train.train_all(cfg, prepared, tmp_path / "work", tmp_path / "model")
    assert list((tmp_path / "work").glob("*/progress/random_geometry/backup")), "no backup to resume from"
    monkeypatch.setattr(training, "fit", real_fit)
    caplog.set_level("INFO")
    train.train_all(cfg, prepared, tmp_path / "work", tmp_path / "model")
    assert "resuming the interrupted run" in caplog.text
    info = json.loads((tmp_path / "model" / "random" / "geometry" / "info.json").read_text())
    assert info["history"]["epoch"] == [0, 1, 2]  # the history spans the interruption
    assert not (tmp_path / "work").exists() or not any((tmp_path / "work").iterdir())


def test_unknown_param_key_names_key_and_file(tiny_params):
    path = tiny_params("airfoil_flow", {"train": {"fit": {"epochz": 3}}})
    with pytest.raises(ConfigError) as err:
        train.main(["--params", str(path), "--data", "x", "--work", "w", "--out", "o"])
    assert "'epochz'" in str(err.value) and str(path) in str(err.value)
    path = tiny_params("airfoil_flow", {"train": {"models": {"random": ["transformer"]}}})
    with pytest.raises(ConfigError, match="unknown design"):
        train.main(["--params", str(path), "--data", "x", "--work", "w", "--out", "o"])


def test_evaluate_without_models_is_reported(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "projects.airfoil_flow.evaluate", "--params",
                           "projects/airfoil_flow/params.yaml", "--data", str(tmp_path), "--model", str(tmp_path),
                           "--out", str(tmp_path / "r")], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "run the train stage first" in proc.stderr and "Traceback" not in proc.stderr


def test_train_on_missing_data_is_reported(tiny, tmp_path):
    with pytest.raises(DataError, match="file not found"):
        train.main(["--params", str(tiny), "--data", str(tmp_path), "--work", str(tmp_path / "w"),
                    "--out", str(tmp_path / "o")])


def test_cli_solve_and_bad_input(tmp_path, capsys):
    from shared.cli import main as cli

    assert cli(["airfoil_flow", "solve", "--naca", "2412", "--alpha", "5", "--polar", "0", "4", "2"]) == 0
    out = capsys.readouterr().out
    assert "C_L = 0.86" in out
    bad = tmp_path / "bad.dat"
    bad.write_text("BAD\n1 0\n0.5 x\n0 0\n0.5 -0.1\n1 0\n")
    assert cli(["airfoil_flow", "solve", "--dat", str(bad)]) == 2
    assert "non-numeric" in capsys.readouterr().err
    assert cli(["airfoil_flow", "solve", "--naca", "0012", "--alpha", "40"]) == 2


def test_profiles_name_existing_params_and_the_files_they_need(tmp_path):
    from shared.config import read_yaml
    from shared.paths import repo_root
    from shared.profiles import read_profiles

    profiles = read_profiles("airfoil_flow")
    assert {"uiuc", "airfrans", "full"} <= set(profiles)
    params = read_yaml(repo_root() / "projects" / "airfoil_flow" / "params.yaml")
    for profile in profiles.values():
        for key in profile.params:
            node = params
            for part in key.split("."):
                assert isinstance(node, dict) and part in node, f"{profile.name}: {key} not in params.yaml"
                node = node[part]
    assert not profiles["uiuc"].requires and not profiles["full"].requires
    missing = profiles["airfrans"].missing(tmp_path)
    assert missing and "Dataset.zip" in missing[0].describe()
