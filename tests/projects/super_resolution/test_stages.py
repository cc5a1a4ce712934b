"""Stage pieces on tiny params: resume, the CLI's errors (the whole chain runs in test_pipeline.py)."""

import subprocess
import sys

import keras
import numpy as np
import pytest

from projects.super_resolution import cli, data, dataset, evaluate, train
from projects.super_resolution.images import read_image, write_image
from shared.config import ConfigError
from shared.io import DataError

from .conftest import TINY


@pytest.fixture
def params(tiny_params, tmp_path):
    return tiny_params("super_resolution", {**TINY, "report": {"results": str(tmp_path / "results")}})


@pytest.fixture
def prepared(params, tmp_path):
    out = tmp_path / "prepared"
    assert data.main(["--params", str(params), "--out", str(out)]) == 0
    return out


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


@pytest.mark.parametrize("strategy", ["auto", "default", "mirrored", "multi_worker"])
def test_config_accepts_the_four_strategies(strategy):
    assert train.TrainStageConfig(strategy=strategy).strategy == strategy


@pytest.mark.parametrize("key, value", [("strategy", "tpu"), ("precision", "float8")])
def test_config_refuses_an_unknown_strategy_or_precision(tiny_params, key, value):
    path = tiny_params("super_resolution", {"train": {key: value}})
    with pytest.raises(ConfigError, match=f"{key} '{value}': use one of") as err:
        train.main(["--params", str(path), "--data", "x", "--work", "w", "--out", "o"])
    assert "\n" not in str(err.value)


@pytest.mark.slow
def test_training_under_a_mirrored_strategy_writes_the_model(params, prepared, tmp_path):
    """strategy mirrored (one CPU replica here): the runs train and the stage publishes them as usual."""
    from shared.config import load_section

    cfg = load_section(params, "train", train.TrainStageConfig)
    cfg = train.config_lib.replace(cfg, strategy="mirrored", runs={
        "fast_x2": {"model": "fast", "scale": 2, "steps": 2},
        "fast_x4": {"model": "fast", "scale": 4, "steps": 2, "init_from": "fast_x2"}})
    summary = train.train_all(cfg, prepared, tmp_path / "work", tmp_path / "model")
    assert [s["run"] for s in summary] == ["fast_x2", "fast_x4"]
    assert summary[0]["global_batch_size"] == summary[0]["batch_size"] == 2
    for run in ("fast_x2", "fast_x4"):
        assert (tmp_path / "model" / run / "model.keras").exists()
    assert not (tmp_path / "work").exists() or not any((tmp_path / "work").iterdir())


@pytest.mark.slow
def test_two_workers_train_and_the_chief_writes_the_model(tiny_params, prepared, tmp_path, loopback_cluster):
    """strategy multi_worker: two worker processes on loopback ports (TF_CONFIG) train two runs (the second
    starts from the first); the chief publishes the model, the other worker leaves nothing behind."""
    import json

    params = tiny_params("super_resolution", {**TINY, "train": {**TINY["train"], "strategy": "multi_worker", "runs": {
        "__replace__": True, "fast_x2": {"model": "fast", "scale": 2, "steps": 4},
        "fast_x4": {"model": "fast", "scale": 4, "steps": 2, "init_from": "fast_x2"}}}})
    loopback_cluster().run(["-m", "projects.super_resolution.train", "--params", str(params), "--data", str(prepared),
                            "--work", str(tmp_path / "work"), "--out", str(tmp_path / "model")])
    summary = json.loads((tmp_path / "model" / "summary.json").read_text())
    assert [r["run"] for r in summary["runs"]] == ["fast_x2", "fast_x4"]
    assert summary["runs"][0]["global_batch_size"] == 2 * summary["runs"][0]["batch_size"]
    assert summary["runs"][0]["epochs"] == 2
    history = json.loads((tmp_path / "model" / "fast_x2" / "run.json").read_text())["history"]
    assert len(history["val_psnr_metric"]) == 2 and all(20 < v < 60 for v in history["val_psnr_metric"])
    assert (tmp_path / "model" / "fast_x4" / "model.keras").exists()
    assert not (tmp_path / "work").exists() or not any((tmp_path / "work").iterdir())


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
    # the output must not overwrite an input: one file, or a folder written onto itself
    before = (folder / "rgb.png").read_bytes()
    for src, dst in ((folder / "rgb.png", folder / "rgb.png"), (folder, folder)):
        args = parser.parse_args(["upscale", str(src), str(dst), "--method", "bicubic"])
        with pytest.raises(DataError, match="would overwrite"):
            args.func(args)
    assert (folder / "rgb.png").read_bytes() == before
    for bad in (["--tile", "0"], ["--overlap", "-1"], ["--tile", "x"]):
        with pytest.raises(SystemExit):
            parser.parse_args(["upscale", str(folder / "rgb.png"), str(tmp_path / "o.png"), *bad])


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


def test_low_contrast_crops_keep_the_mean_and_shrink_the_spread():
    """low_contrast_p = 1 scales every crop's contrast about its mean by a factor in low_contrast; p = 0 leaves
    the example stream exactly as before."""
    from projects.super_resolution.patches import PatchSampler

    image = np.random.default_rng(0).integers(0, 256, (96, 96)).astype(np.uint8)
    plain = next(iter(PatchSampler([image], 2, 8, seed=3).dataset(16, 0, 16)))[1].numpy()
    same = next(iter(PatchSampler([image], 2, 8, seed=3, low_contrast_p=0.0).dataset(16, 0, 16)))[1].numpy()
    np.testing.assert_array_equal(plain, same)
    low = next(iter(PatchSampler([image], 2, 8, seed=3, low_contrast_p=1.0, low_contrast=(0.1, 0.2))
                    .dataset(16, 0, 16)))[1].numpy()
    ratio = low.std(axis=(1, 2, 3)) / plain.std(axis=(1, 2, 3))
    assert np.all((ratio > 0.099) & (ratio < 0.201))
    np.testing.assert_allclose(low.mean(axis=(1, 2, 3)), plain.mean(axis=(1, 2, 3)), atol=1e-5)
    for bad in ({"low_contrast_p": 1.5}, {"low_contrast": (0.0, 0.5)}, {"low_contrast": (0.6, 0.5)}):
        with pytest.raises(ValueError, match="low_contrast"):
            PatchSampler([image], 2, 8, **bad)
