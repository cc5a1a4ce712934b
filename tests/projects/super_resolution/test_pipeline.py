"""`dvc repro` of the whole super_resolution pipeline on tiny params, in a temporary copy of the repo, what each
stage wrote (the stages run once, through DVC, as a user runs them), and the CLI on the trained models."""

import argparse
import json

import numpy as np
import pytest

from projects.super_resolution import cli
from projects.super_resolution.images import read_image, write_image
from shared.io import DataError

from .conftest import TINY


@pytest.mark.slow
def test_dvc_repro_on_tiny_params(repo_copy, tmp_path):
    repo_copy.set_params("super_resolution", TINY)
    metrics = repo_copy.check_pipeline("super_resolution", "gain_x2_db", targets=("super_resolution_data",),
                                       report_bytes=50_000)
    prepared = repo_copy.root / "data" / "super_resolution" / "prepared"
    model = repo_copy.root / "data" / "super_resolution" / "model"
    results = repo_copy.root / "projects" / "super_resolution" / "results"
    summary = json.loads((model / "summary.json").read_text())
    assert [r["run"] for r in summary["runs"]] == ["fast_x2", "fast_x4", "espcn_x2"]
    # cross-fitting (params.yaml's data.crossfit): every run trained again on fold 2 (train and test swapped)
    fold2 = json.loads((model / "fold2" / "summary.json").read_text())
    assert summary["crossfit"] and [r["run"] for r in fold2["runs"]] == ["fast_x2", "fast_x4", "espcn_x2"]
    assert (model / "fold2" / "fast_x4" / "model.keras").exists()
    assert not (repo_copy.root / "data" / "super_resolution" / "work" / "train").exists() or not any(
        (repo_copy.root / "data" / "super_resolution" / "work" / "train").iterdir())
    assert {"gain_x2_db", "lanczos_win_rate_x4", "ssim_below_bicubic_x2", "fast_ms_per_mp_x2",
            "fast_parameters", "train_minutes"} <= set(metrics["targets"])
    assert set(metrics["x2"]) == {"nearest", "bilinear", "bicubic", "lanczos3", "fast_x2", "espcn_x2"}
    assert "fast_x4" in metrics["x4"]
    head = metrics["headline"]
    assert head["model"].startswith("fast_x2") and head["baseline"] == metrics["baseline_choice"]["x2"]["chosen"]
    assert head["significance"]["test"] == "paired bootstrap" and head["significance"]["images"] == 4
    assert [h["metric"] for h in head["also"]][:1] == ["PSNR-Y at ×4 (dB)"]
    assert metrics["targets"]["gain_x2_db"]["target"] == 1.5 and metrics["targets"]["gain_x4_db"]["target"] == 1.0
    assert metrics["x2"]["bicubic"]["gain_db_median"] == 0 and metrics["x2"]["bicubic"]["images"] == 4
    assert metrics["cost"]["fast_x2"]["ms_per_mp"] > 0
    per_image = (results / "per_image.csv").read_text().splitlines()
    # 2 test + 2 train images (fold 2) × (x2: 4 baselines + 2 runs, x4: 4 + 1)
    assert len(per_image) == 1 + 4 * (6 + 5)
    assert metrics["folds"] == {"crossfit": True, "fold1_test": 2, "fold2_test": 2}
    assert "2-fold cross-fitting" in head["data"] and "fold2_minutes" in metrics["targets"]["train_minutes"]
    for name in ("frontier.csv", "history.csv", "gain.csv"):
        assert (results / "plots" / name).stat().st_size > 0
    with np.load(repo_copy.root / "data" / "super_resolution" / "evaluation" / "crops.npz") as arrays:
        assert "x2__page__fast_x2" in arrays.files and "x4__page__lr" in arrays.files
    # the CLI on the trained models: a file, a folder, tiles, errors
    parser = argparse.ArgumentParser()
    cli.register(parser)
    src = tmp_path / "in"
    write_image(src / "a.png", read_image(prepared / "test" / "page.png"))
    rgba = np.dstack([np.zeros((20, 24, 3), np.uint16), np.full((20, 24), 65535, np.uint16)])
    write_image(src / "b.png", rgba)
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
