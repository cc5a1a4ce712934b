"""The stage main()s on tiny params, chained as DVC chains them; resume; CLI; bad input."""

import json
import subprocess
import sys

import pytest

from projects.airfoil_flow import data, evaluate, train, validate
from shared.config import ConfigError
from shared.io import DataError


@pytest.mark.slow
def test_stages_end_to_end(tiny, tmp_path):
    prepared, model, results = tmp_path / "prepared", tmp_path / "model", tmp_path / "results"
    assert data.main(["--params", str(tiny), "--out", str(prepared)]) == 0
    assert sorted(p.name for p in prepared.iterdir()) == ["fields.nc", "splits.json"]
    assert validate.main(["--params", str(tiny), "--out", str(results)]) == 0
    checks = json.loads((results / "validation.json").read_text())["solver_checks"]
    assert checks["naca0012_alpha0_abs_cl"]["met"] and checks["naca2412_alpha5_vs_xfoil_pct"]["met"]
    assert train.main(["--params", str(tiny), "--data", str(prepared), "--work", str(tmp_path / "work"),
                       "--out", str(model)]) == 0
    summary = json.loads((model / "summary.json").read_text())
    assert {(m["experiment"], m["design"]) for m in summary["models"]} == {
        ("random", "geometry"), ("random", "plain"), ("alpha_extrapolation", "geometry"), ("random", "mlp"),
        ("alpha_extrapolation", "mlp")}
    assert evaluate.main(["--params", str(tiny), "--data", str(prepared), "--model", str(model),
                          "--validation", str(results / "validation.json"), "--out", str(results)]) == 0
    metrics = json.loads((results / "metrics.json").read_text())
    suffix = "worst_of_random_and_uiuc_families"
    assert {f"rmse_u_{suffix}", f"cl_abs_circulation_{suffix}", "alpha_extrapolation_error_ratio",
            "speedup_end_to_end_batched", "solver_naca0012_alpha0_abs_cl"} <= set(metrics["targets"])
    assert {"random · geometry", "random · pod", "uiuc_families · plain"} <= set(metrics["fields"])
    head = metrics["headline"]
    assert head["model"] == "geometry U-Net" and head["baseline"] in ("pod", "mlp (Kulfan, α)", "thin-airfoil theory")
    assert head["significance"]["test"] == "paired bootstrap" and len(head["also"]) == 4
    assert "floor (true field)" in "".join(metrics["lift"]) and "speed" in metrics
    for name in ("cl_scatter.csv", "history.csv", "polar_surrogate.csv", "surface_cp.csv", "polars.csv"):
        assert (results / "plots" / name).stat().st_size > 0
    assert (results / "examples.nc").stat().st_size > 0
    # the CLI's surrogate on the trained model
    from shared.cli import main as cli

    out = tmp_path / "pred"
    assert cli(["airfoil_flow", "predict", "--naca", "2412", "--alpha", "4", "--params", str(tiny), "--model",
                str(model), "--out", str(out), "--compare"]) == 0
    assert (out / "field.nc").exists() and (out / "field.png").exists()


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
