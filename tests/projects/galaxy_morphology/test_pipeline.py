"""`dvc repro` of the whole galaxy_morphology pipeline on tiny params, in a temporary copy of the repo, once for the
module; then what each stage wrote, the CLI on the trained model, and a resumed training on the prepared data."""

import gzip
import json

import keras
import numpy as np
import pytest

from projects.galaxy_morphology import cli, train
from shared.io import DataError, write_image


@pytest.fixture(scope="module")
def pipeline(module_repo_copy, tiny_changes):
    """simulate → data → train → baseline → evaluate → report through DVC on tiny params; the paths they wrote."""
    module_repo_copy.set_params("galaxy_morphology", tiny_changes)
    metrics = module_repo_copy.check_pipeline("galaxy_morphology", "test_accuracy", report_bytes=50_000)
    root = module_repo_copy.root
    return {"metrics": metrics, "params": root / "projects" / "galaxy_morphology" / "params.yaml",
            "raw": root / "data" / "galaxy_morphology" / "raw" / "simulated",
            "prepared": root / "data" / "galaxy_morphology" / "prepared",
            "model": root / "data" / "galaxy_morphology" / "model",
            "results": root / "projects" / "galaxy_morphology" / "results"}


@pytest.mark.slow
def test_dvc_repro_on_tiny_params(pipeline):
    raw = pipeline["raw"]
    assert len(list((raw / "train").glob("*.fits"))) == 48 and (raw / "labels.csv").exists()
    manifest = json.loads((pipeline["prepared"] / "manifest.json").read_text())
    assert {k: sum(v.values()) for k, v in manifest["counts"].items()} == {"train": 48, "val": 16, "test": 16,
                                                                          "shifted": 16, "curve_seeing_1": 8}
    assert manifest["conditions"]["curve_seeing_1"]["psf_fwhm"] > 2.0
    assert manifest["chirality_pairs"] == [["spiral", "barred_spiral"]]
    assert sorted(p.name for p in pipeline["model"].iterdir()) == ["calibration.json", "history.json",
                                                                    "model.keras", "train.json"]
    metrics = pipeline["metrics"]
    assert set(metrics["targets"]) == {"test_accuracy", "test_macro_f1", "test_ece_scaled",
                                       "margin_over_best_baseline_points", "shifted_accuracy",
                                       "chirality_pair_min_f1", "throughput_images_per_s"}
    assert set(metrics["test"]) == {"cnn", "cnn_tta8", "cnn_mc_dropout", "cnn_on_baseline_images",
                                    "logistic_regression", "random_forest"}
    assert metrics["test"]["random_forest"]["images"] == 8 and metrics["test"]["cnn"]["images"] == 16
    head = metrics["headline"]
    assert head["baseline"].startswith("statmorph") and head["significance"]["test"] == "McNemar (exact)"
    assert [b["data"].split(", ")[1] for b in head["also"]][0].startswith("shifted")
    assert {"spiral|barred_spiral"} <= set(metrics["chirality"]["test"])
    curve = {(r["split"], r["model"]) for r in metrics["robustness_curve"]}
    assert ("curve_seeing_1", "cnn") in curve and ("test", "random_forest") in curve
    for name in ("confusion.csv", "reliability.csv", "history.csv", "robustness.csv"):
        assert (pipeline["results"] / "plots" / name).stat().st_size > 0
    assert (pipeline["results"] / "predictions.csv").read_text().count("\n") == 33
    train_info = json.loads((pipeline["model"] / "train.json").read_text())
    assert train_info["chirality_pairs"] == [["spiral", "barred_spiral"]]


@pytest.mark.slow
def test_cli_classifies_fits_and_jpeg_with_gradcam(pipeline, tmp_path, capsys, monkeypatch):
    fits_files = sorted((pipeline["raw"] / "test").glob("*.fits"))[:2]
    rgb = (np.random.default_rng(0).random((40, 40, 3)) * 255).astype(np.uint8)
    write_image(tmp_path / "x.png", rgb)
    parser = cli.argparse.ArgumentParser()
    cli.register(parser)
    args = parser.parse_args(["classify", *map(str, fits_files), str(tmp_path / "x.png"), "--model",
                              str(pipeline["model"]), "--mc-samples", "3", "--gradcam", str(tmp_path / "cams")])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert fits_files[0].name in out and "x.png" in out and "entropy" in out
    assert "1 input(s) are photographs" in out  # the simulated model says what it was trained on
    assert len(list((tmp_path / "cams").glob("*.png"))) == 3
    # two inputs of one name from two folders: told apart in the table and in the Grad-CAM files
    for sub in ("d1", "d2"):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "g.fits").write_bytes(fits_files[0].read_bytes())
    args = parser.parse_args(["classify", str(tmp_path / "d1" / "g.fits"), str(tmp_path / "d2" / "g.fits"),
                              "--model", str(pipeline["model"]), "--mc-samples", "2", "--gradcam",
                              str(tmp_path / "cams2")])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "d1/g.fits" in out and "d2/g.fits" in out and "photographs" not in out
    assert len(list((tmp_path / "cams2").glob("*.png"))) == 2
    # names that flatten to one file name (d1/g.fits and d1_g.fits) still get a file each
    (tmp_path / "d1_g.fits").write_bytes(fits_files[0].read_bytes())
    monkeypatch.chdir(tmp_path)
    args = parser.parse_args(["classify", "d1/g.fits", "d2/g.fits", "d1_g.fits", "--model", str(pipeline["model"]),
                              "--mc-samples", "2", "--gradcam", "cams3"])
    assert args.func(args) == 0
    capsys.readouterr()
    assert sorted(p.name for p in (tmp_path / "cams3").glob("*.png")) == [
        "d1_g_2_gradcam.png", "d1_g_gradcam.png", "d2_g_gradcam.png"]
    # a blank image (one value everywhere) is refused, not given a confident class; MC samples must be ≥ 1
    from astropy.io import fits

    fits.PrimaryHDU(np.full((3, 32, 32), 5.0, np.float32)).writeto(tmp_path / "blank.fits")
    args = parser.parse_args(["classify", str(tmp_path / "blank.fits"), "--model", str(pipeline["model"])])
    with pytest.raises(DataError, match="blank"):
        args.func(args)
    with pytest.raises(SystemExit):
        parser.parse_args(["classify", str(tmp_path / "blank.fits"), "--mc-samples", "0"])
    # a folder of compressed FITS (.fz, .fits.gz) beside a plain one: all three classified
    folder = tmp_path / "fz"
    folder.mkdir()
    cube = fits.getdata(fits_files[0]).astype(np.float32)
    fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(cube)]).writeto(folder / "a.fits.fz")
    (folder / "b.fits.gz").write_bytes(gzip.compress(fits_files[1].read_bytes()))
    (folder / "c.fits").write_bytes(fits_files[1].read_bytes())
    (folder / "notes.txt").write_text("not an image")
    args = parser.parse_args(["classify", str(folder), "--model", str(pipeline["model"]), "--mc-samples", "2"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in ("a.fits.fz", "b.fits.gz", "c.fits")) and "notes" not in out
    # NaN pixels at a mosaic edge: an error that names --nan-policy mask, then classified with it
    cube[:, :, -4:] = np.nan
    fits.PrimaryHDU(cube).writeto(tmp_path / "edge.fits")
    args = parser.parse_args(["classify", str(tmp_path / "edge.fits"), "--model", str(pipeline["model"])])
    with pytest.raises(DataError, match="--nan-policy mask"):
        args.func(args)
    args = parser.parse_args(["classify", str(tmp_path / "edge.fits"), "--model", str(pipeline["model"]),
                              "--nan-policy", "mask", "--mc-samples", "2"])
    assert args.func(args) == 0 and "edge.fits" in capsys.readouterr().out
    args = parser.parse_args(["simulate", "--class", "spiral", "--out", str(tmp_path / "s.fits"), "--params",
                              str(pipeline["params"])])
    assert args.func(args) == 0 and (tmp_path / "s.fits").exists()
    from shared.config import ConfigError

    args = parser.parse_args(["simulate", "--class", "spiral", "--out", str(tmp_path / "s.png"), "--params",
                              str(pipeline["params"])])
    with pytest.raises(ConfigError, match="name it .fits"):
        args.func(args)
    for bad in (["simulate", "--class", "spiral", "--out", "s.fits", "--seed", "-1"],
                ["classify", "x.fits", "--crop-fraction", "5"]):
        with pytest.raises(SystemExit):
            parser.parse_args(bad)
    # per-band folders: no object with every band names the pattern
    (tmp_path / "bands" / "g").mkdir(parents=True)
    (tmp_path / "bands" / "g" / "o1.fits").write_bytes(fits_files[0].read_bytes())
    args = parser.parse_args(["classify", str(tmp_path / "bands"), "--bands", "g", "r", "z", "--model",
                              str(pipeline["model"])])
    with pytest.raises(DataError, match="--pattern"):
        args.func(args)


@pytest.mark.slow
def test_training_resumes_after_an_interruption(pipeline, tmp_path, caplog):
    class Kill(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:  # after the backup of epoch 0
                raise KeyboardInterrupt

    cfg = train.TrainConfig(epochs=3, batch_size=16, verbose=0, model=train.ModelConfig(widths=(8,)))
    work = tmp_path / "work"
    with pytest.raises(KeyboardInterrupt):
        train.train(cfg, pipeline["prepared"], work, tmp_path / "model", callbacks=[Kill()])
    assert any(p.name == "backup" for p in work.rglob("backup"))
    assert not (tmp_path / "model").exists()  # nothing half-written
    caplog.set_level("INFO")
    train.train(cfg, pipeline["prepared"], work, tmp_path / "model")
    assert "resuming the interrupted run" in caplog.text
    history = json.loads((tmp_path / "model" / "history.json").read_text())
    assert history["epoch"] == [0, 1, 2]
    assert not any(work.iterdir())  # work state removed once the model is saved
