"""Stage pieces on tiny params: resume, CLI, bad input (the whole chain runs in test_pipeline.py)."""

import json
import subprocess
import sys

import numpy as np
import pytest

from projects.airfoil_flow import data, train
from shared.config import ConfigError
from shared.io import DataError


def _weights(model_dir):
    import keras

    import projects.airfoil_flow.model  # noqa: F401 - registers the custom layers

    return keras.saving.load_model(model_dir / "model.keras", compile=False).get_weights()


@pytest.mark.slow
def test_training_resumes_after_an_interruption_to_the_weights_of_an_uninterrupted_run(tiny, tmp_path, caplog,
                                                                                       monkeypatch):
    """Killed after epoch 2 of 3, rerun: the weights of an uninterrupted run on the same seed (exactly)."""
    import keras

    import shared.training as training
    from shared.config import load_section

    prepared = tmp_path / "prepared"
    data.main(["--params", str(tiny), "--out", str(prepared)])
    cfg = load_section(tiny, "train", train.TrainStageConfig)
    cfg = train.config_lib.replace(cfg, models={"random": ["geometry"]}, fit={"epochs": 3})
    train.train_all(cfg, prepared, tmp_path / "ref_work", tmp_path / "ref")

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
    names = sorted(p.name for p in (tmp_path / "ref").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "model").iterdir())
    for design in ("geometry", "mlp"):
        for a, b in zip(_weights(tmp_path / "ref" / "random" / design),
                        _weights(tmp_path / "model" / "random" / design), strict=True):
            np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6, err_msg=design)


@pytest.mark.slow
def test_training_under_the_mirrored_strategy_writes_the_models(tiny, tmp_path):
    """``strategy: mirrored`` (one CPU replica here) trains the U-Net and the MLP and publishes the same outputs."""
    from shared.config import load_section

    prepared = tmp_path / "prepared"
    data.main(["--params", str(tiny), "--out", str(prepared)])
    cfg = train.config_lib.replace(load_section(tiny, "train", train.TrainStageConfig), strategy="mirrored",
                                   models={"random": ["geometry"]}, fit={"epochs": 1})
    summary = train.train_all(cfg, prepared, tmp_path / "work", tmp_path / "model")
    assert [(s["experiment"], s["design"]) for s in summary] == [("random", "geometry"), ("random", "mlp")]
    for design in ("geometry", "mlp"):
        assert (tmp_path / "model" / "random" / design / "model.keras").stat().st_size > 0
        assert np.all([np.all(np.isfinite(w)) for w in _weights(tmp_path / "model" / "random" / design)])
    assert (tmp_path / "model" / "summary.json").exists() and not any((tmp_path / "work").iterdir())


@pytest.mark.slow
def test_two_workers_on_loopback_train_and_the_chief_writes_the_models(tiny_params, tmp_path, loopback_cluster):
    """``strategy: multi_worker``: two processes of the train stage (TF_CONFIG on loopback ports) train one U-Net
    and the MLP together; the chief publishes the models, the other worker leaves nothing behind."""
    from .conftest import TINY

    params = tiny_params("airfoil_flow", {**TINY, "train": {**TINY["train"], "strategy": "multi_worker",
                                                             "models": {"__replace__": True, "random": ["geometry"]},
                                                             "fit": {"epochs": 1, "batch_size": 4}}})
    prepared = tmp_path / "prepared"
    data.main(["--params", str(params), "--out", str(prepared)])
    loopback_cluster().run(["-m", "projects.airfoil_flow.train", "--params", str(params), "--data", str(prepared),
                            "--work", str(tmp_path / "work"), "--out", str(tmp_path / "model")], timeout=240)
    summary = json.loads((tmp_path / "model" / "summary.json").read_text())
    assert {(m["experiment"], m["design"]) for m in summary["models"]} == {("random", "geometry"), ("random", "mlp")}
    for design in ("geometry", "mlp"):
        assert np.all([np.all(np.isfinite(w)) for w in _weights(tmp_path / "model" / "random" / design)])
    assert not (tmp_path / "work").exists() or not any((tmp_path / "work").iterdir())


@pytest.mark.parametrize("key, value", [("strategy", "auto"), ("strategy", "default"), ("strategy", "mirrored"),
                                        ("strategy", "multi_worker"), ("precision", "mixed_float16")])
def test_strategy_and_precision_are_accepted(key, value):
    assert getattr(train.TrainStageConfig(**{key: value}), key) == value


@pytest.mark.parametrize("key, value", [("strategy", "tpu"), ("precision", "float64")])
def test_unknown_strategy_or_precision_is_one_line(tiny_params, key, value):
    path = tiny_params("airfoil_flow", {"train": {key: value}})
    with pytest.raises(ConfigError, match=f"{key} '{value}': use one of") as err:
        train.main(["--params", str(path), "--data", "x", "--work", "w", "--out", "o"])
    assert "\n" not in str(err.value)


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
    assert cli(["airfoil_flow", "solve", "--naca", "0012", "--polar", "0", "0", "1"]) == 0
    assert "C_L = 0.0000" in capsys.readouterr().out  # a symmetric section at 0°: no "-0.0000"
    bad = tmp_path / "bad.dat"
    bad.write_text("BAD\n1 0\n0.5 x\n0 0\n0.5 -0.1\n1 0\n")
    assert cli(["airfoil_flow", "solve", "--dat", str(bad)]) == 2
    assert "non-numeric" in capsys.readouterr().err
    assert cli(["airfoil_flow", "solve", "--naca", "0012", "--alpha", "40"]) == 2
    capsys.readouterr()
    # a polar that runs backwards, has no step or a NaN; zero panels: one line each, not a traceback or 160 panels
    for polar in (["5", "0", "1"], ["0", "5", "0"], ["0", "30", "nan"], ["0", "40", "1"], ["0", "5", "1e-9"]):
        assert cli(["airfoil_flow", "solve", "--naca", "0012", "--polar", *polar]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1, err
    for panels in ("0", "1000000"):
        assert cli(["airfoil_flow", "solve", "--naca", "0012", "--panels", panels]) == 2
        assert "panels" in capsys.readouterr().err


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


def test_predict_notes_inputs_outside_the_training_data():
    from projects.airfoil_flow.cli import _outside_training
    from projects.airfoil_flow.dataset import DataConfig
    from projects.airfoil_flow.geometry import naca

    cfg = DataConfig()
    assert _outside_training(naca("2412"), 5.0, cfg) == []
    notes = _outside_training(naca("0040"), 20.0, cfg)
    assert len(notes) == 2 and "α = 20°" in notes[0] and "40.0% thick" in notes[1]
