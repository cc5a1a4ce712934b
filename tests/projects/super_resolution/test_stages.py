"""The stage main()s on tiny params, chained as DVC chains them; resume; the CLI."""

import json
import subprocess
import sys

import keras
import numpy as np
import pytest

from projects.super_resolution import cli, data, dataset, evaluate, train
from projects.super_resolution.images import read_image, write_image
from shared.config import ConfigError
from shared.io import DataError
from shared.report import main as report_main

TINY = {
    "data": {"photos": {"train": ["text", "coins"], "val": ["microaneurysms"], "test": ["page", "camera"]}},
    "train": {"models": {"__replace__": True, "fast": {"arch": "edsr", "blocks": 1, "channels": 4},
                         "espcn": {"arch": "espcn", "channels": 4}},
              "runs": {"__replace__": True, "fast_x2": {"model": "fast", "scale": 2, "steps": 4},
                       "fast_x4": {"model": "fast", "scale": 4, "steps": 2, "init_from": "fast_x2"},
                       "espcn_x2": {"model": "espcn", "scale": 2, "steps": 2}},
              "lr_patch": 8, "batch_size": 2, "steps_per_epoch": 2, "val_crop": 32, "verbose": 0},
    "evaluate": {"timing_size": 16, "timing_repeats": 1, "crops": 1, "crop_size": 16},
}


@pytest.fixture
def params(tiny_params, tmp_path):
    return tiny_params("super_resolution", {**TINY, "report": {"results": str(tmp_path / "results")}})


@pytest.fixture
def prepared(params, tmp_path):
    out = tmp_path / "prepared"
    assert data.main(["--params", str(params), "--out", str(out)]) == 0
    return out


@pytest.mark.slow
def test_stages_end_to_end(params, prepared, tmp_path):
    model, results = tmp_path / "model", tmp_path / "results"
    assert train.main(["--params", str(params), "--data", str(prepared), "--work", str(tmp_path / "work"),
                       "--out", str(model)]) == 0
    summary = json.loads((model / "summary.json").read_text())
    assert [r["run"] for r in summary["runs"]] == ["fast_x2", "fast_x4", "espcn_x2"]
    assert not (tmp_path / "work" / train.config_hash(train.TrainStageConfig())).exists()
    crops = tmp_path / "crops.npz"
    assert evaluate.main(["--params", str(params), "--data", str(prepared), "--model", str(model),
                          "--out", str(results), "--crops", str(crops)]) == 0
    metrics = json.loads((results / "metrics.json").read_text())
    assert {"gain_x2_db", "lanczos_win_rate_x4", "ssim_below_bicubic_x2", "fast_ms_per_mp_x2",
            "fast_parameters", "train_minutes"} <= set(metrics["targets"])
    assert set(metrics["x2"]) == {"nearest", "bilinear", "bicubic", "lanczos3", "fast_x2", "espcn_x2"}
    from shared.metrics import validate_headline

    head = validate_headline(metrics["headline"])
    assert head["model"].startswith("fast_x2") and head["baseline"] == metrics["baseline_choice"]["x2"]["chosen"]
    assert head["significance"]["test"] == "paired bootstrap" and head["significance"]["images"] == 2
    assert [h["metric"] for h in head["also"]][:1] == ["PSNR-Y at ×4 (dB)"]
    assert metrics["targets"]["gain_x2_db"]["target"] == 1.5 and metrics["targets"]["gain_x4_db"]["target"] == 1.0
    assert metrics["x2"]["bicubic"]["gain_db_median"] == 0 and metrics["x2"]["bicubic"]["images"] == 2
    assert metrics["cost"]["fast_x2"]["ms_per_mp"] > 0
    per_image = (results / "per_image.csv").read_text().splitlines()
    assert len(per_image) == 1 + 2 * (6 + 5)       # 2 images × (x2: 4 baselines + 2 runs, x4: 4 + 1)
    for name in ("frontier.csv", "history.csv", "gain.csv"):
        assert (results / "plots" / name).stat().st_size > 0
    with np.load(crops) as arrays:
        assert "x2__page__fast_x2" in arrays.files and "x4__page__lr" in arrays.files
    assert report_main(["--notebook", "projects/super_resolution/notebook.py", "--params", str(params),
                        "--out", str(results / "report.html"), "-p", f"crops={crops}"]) == 0
    assert (results / "report.html").stat().st_size > 50_000
    # the CLI on the trained models: a file, a folder, tiles, errors
    src = tmp_path / "in"
    write_image(src / "a.png", read_image(prepared / "test" / "page.png"))
    rgba = np.dstack([np.zeros((20, 24, 3), np.uint16), np.full((20, 24), 65535, np.uint16)])
    write_image(src / "b.png", rgba)
    parser = _parser()
    args = parser.parse_args(["upscale", str(src / "b.png"), str(tmp_path / "b2.png"), "--models", str(model)])
    assert args.func(args) == 0
    out = read_image(tmp_path / "b2.png")
    assert out.shape == (40, 48, 4) and out.dtype == np.uint16
    args = parser.parse_args(["upscale", str(src), str(tmp_path / "out"), "--scale", "4", "--tile", "16",
                              "--models", str(model)])
    assert args.func(args) == 0
    assert read_image(tmp_path / "out" / "a.png").shape == (191 * 4, 384 * 4)
    args = parser.parse_args(["upscale", str(src / "a.png"), str(tmp_path / "c.png"), "--scale", "3",
                              "--models", str(model)])
    with pytest.raises(DataError, match="no trained fast model for ×3.*×2, ×4"):
        args.func(args)
    args = parser.parse_args(["models", "--models", str(model)])
    assert args.func(args) == 0


def _parser():
    import argparse

    parser = argparse.ArgumentParser()
    cli.register(parser)
    return parser


class Kill(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 1:
            raise KeyboardInterrupt("simulated kill")


@pytest.mark.slow
def test_training_resumes_after_a_kill(params, prepared, tmp_path):
    """A run killed after epoch 2 of 3 and restarted ends with the weights of an uninterrupted run."""
    from shared.config import load_section

    cfg = load_section(params, "train", train.TrainStageConfig)
    cfg = train.config_lib.replace(cfg, runs={"fast_x2": {"model": "fast", "scale": 2, "steps": 6}})
    images = {"train": dataset.load_split(prepared, "train"), "val": dataset.load_split(prepared, "val")}
    reference, _ = train.train_run(cfg, "fast_x2", images, tmp_path / "ref")
    with pytest.raises(KeyboardInterrupt):
        train.train_run(cfg, "fast_x2", images, tmp_path / "run", callbacks=[Kill()])
    assert train.completed_epochs(tmp_path / "run") == 1
    resumed, info = train.train_run(cfg, "fast_x2", images, tmp_path / "run")
    assert info["epochs"] == 3
    for a, b in zip(reference.get_weights(), resumed.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_unknown_param_key_names_key_and_file(tiny_params):
    path = tiny_params("super_resolution", {"train": {"lr_pach": 8}})
    with pytest.raises(ConfigError) as err:
        train.main(["--params", str(path), "--data", "x", "--work", "w", "--out", "o"])
    assert "'lr_pach'" in str(err.value) and str(path) in str(err.value)


@pytest.mark.parametrize("runs, fragment", [
    ({"a": {"model": "huge", "scale": 2, "steps": 100}}, "unknown model 'huge'"),
    ({"a": {"model": "fast", "scale": 5, "steps": 100}}, "scale must be 2, 3 or 4"),
    ({"a": {"model": "fast", "scale": 2, "steps": 150}}, "multiple of steps_per_epoch"),
    ({"a": {"model": "fast", "scale": 4, "steps": 100, "init_from": "b"}}, "must be an earlier run"),
])
def test_bad_runs(tiny_params, runs, fragment):
    path = tiny_params("super_resolution", {"train": {"runs": {"__replace__": True, **runs}}})
    with pytest.raises(ConfigError, match=fragment):
        train.main(["--params", str(path), "--data", "x", "--work", "w", "--out", "o"])


def test_init_from_a_network_that_shares_no_layer(tmp_path):
    from projects.super_resolution.model import ModelConfig, build_model

    build_model(ModelConfig(arch="espcn", channels=4)).save(tmp_path / "espcn.keras")
    cfg = train.TrainStageConfig(models={"fast": ModelConfig(blocks=1, channels=4), "espcn": ModelConfig("espcn")},
                                 runs={"espcn_x2": train.RunConfig("espcn", 2, 100),
                                       "fast_x2": train.RunConfig("fast", 2, 100, init_from="espcn_x2")})
    with pytest.raises(ConfigError, match="shares no layer"):
        train.train_run(cfg, "fast_x2", {}, tmp_path / "work", init=tmp_path / "espcn.keras")


def test_bad_degradation_and_baselines():
    with pytest.raises(ValueError, match="jpeg_quality"):
        train.Degradation(jpeg_quality=(0, 200))
    with pytest.raises(ValueError, match="unknown baseline"):
        evaluate.EvaluateConfig(baselines=("bicubic", "magic"))


def test_realistic_degradation_changes_the_input():
    from projects.super_resolution.patches import Degradation, degrade

    hr = np.tile(np.linspace(0, 255, 64).astype(np.uint8), (48, 1))
    clean = degrade(hr, 2)
    real = degrade(hr, 2, Degradation(kind="realistic", noise_std=(0.02, 0.02)), seed=3)
    assert clean.shape == real.shape == (24, 32) and real.dtype == np.uint8
    assert np.abs(real.astype(int) - clean.astype(int)).mean() > 1
    np.testing.assert_array_equal(real, degrade(hr, 2, Degradation(kind="realistic", noise_std=(0.02, 0.02)), seed=3))


def test_training_batches_are_patches_of_the_right_size(prepared):
    from projects.super_resolution.patches import Degradation, PatchSampler

    images = list(dataset.load_split(prepared, "train").values())
    for kind in ("bicubic", "realistic"):
        sampler = PatchSampler(images, 3, 8, seed=1, degradation=Degradation(kind=kind))
        lr, hr = next(iter(sampler.dataset(4, 0, 8)))
        assert lr.shape == (4, 8, 8, 1) and hr.shape == (4, 24, 24, 1)
        assert float(np.min(lr)) >= 0 and float(np.max(lr)) <= 1
    again = next(iter(PatchSampler(images, 3, 8, seed=1).dataset(4, 4, 8)))[1]
    full = list(PatchSampler(images, 3, 8, seed=1).dataset(4, 0, 8))
    np.testing.assert_array_equal(again, full[1][1])   # example i is the same wherever the stream starts
    with pytest.raises(DataError, match="lower train.lr_patch"):
        PatchSampler(images, 4, 200)


def test_stage_exits_cleanly_on_bad_input(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "projects.super_resolution.evaluate", "--params",
                           "projects/super_resolution/params.yaml", "--data", str(tmp_path), "--model", str(tmp_path),
                           "--out", str(tmp_path / "r")], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "run the train stage first" in proc.stderr and "Traceback" not in proc.stderr


def test_cli_errors_are_one_line(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    for argv, fragment in [
        (["upscale", str(bad), str(tmp_path / "o.png"), "--method", "bicubic"], "corrupt or truncated"),
        (["upscale", str(tmp_path / "none.png"), str(tmp_path / "o.png")], "input not found"),
        (["upscale", str(tmp_path), str(tmp_path / "o.png")], "must be a folder"),
        (["upscale", str(bad), str(tmp_path / "o.png"), "--models", str(tmp_path)], "holds no trained models"),
    ]:
        proc = subprocess.run([sys.executable, "-m", "shared.cli", "super_resolution", *argv], capture_output=True,
                              text=True)
        assert proc.returncode == 2, proc.stderr
        assert fragment in proc.stderr and "Traceback" not in proc.stderr


def test_cli_classical_upscale_and_protocol(tmp_path, capsys):
    from skimage import data as skdata

    folder = tmp_path / "Set5"
    write_image(folder / "cam.png", skdata.camera()[200:296, 120:216])
    write_image(folder / "rgb.png", skdata.astronaut()[:64, :64])
    parser = _parser()
    args = parser.parse_args(["upscale", str(folder / "rgb.png"), str(tmp_path / "up.png"), "--method", "lanczos3",
                              "--scale", "3"])
    assert args.func(args) == 0
    assert read_image(tmp_path / "up.png").shape == (192, 192, 3)
    args = parser.parse_args(["protocol", "--folder", str(folder), "--scales", "2"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "Set5: 2 images" in out and "×2:" in out and "published 33.66" in out


def test_texture_aware_crops_skip_flat_regions():
    """With 4 candidates and a std floor, most crops land on the textured quarter of the image."""
    from projects.super_resolution.patches import PatchSampler

    image = np.full((120, 120), 100, np.uint8)
    image[:, 90:] = np.random.default_rng(0).integers(0, 256, (120, 30))
    textured = lambda s: float(np.mean(np.std(next(iter(s.dataset(64, 0, 64)))[1].numpy(), axis=(1, 2, 3)) > 0.05))
    uniform = textured(PatchSampler([image], 2, 8, seed=0))
    aware = textured(PatchSampler([image], 2, 8, seed=0, candidates=4, min_std=0.05))
    assert uniform < 0.4 and aware > 0.6
    with pytest.raises(ValueError, match="candidates"):
        PatchSampler([image], 2, 8, candidates=0)
