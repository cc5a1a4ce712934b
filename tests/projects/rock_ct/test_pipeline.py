"""`dvc repro` of the whole rock_ct pipeline on tiny params, in a temporary copy of the repo, and what each stage
wrote (they run once, through DVC, as a user runs them)."""

import json

import numpy as np
import pytest

from projects.rock_ct.tiled import load_segmenter

#: params for a pipeline that runs in a few minutes: tiny phantoms, a tiny network, a tiny benchmark cube
TINY = {
    "data": {"splits": {"train": {"count": 1, "size": 32}, "val": {"count": 1, "size": 32},
                            "test": {"count": 1, "size": 32}, "shifted": {"count": 1, "size": 32}}},
    "train": {"epochs": 1, "steps_per_epoch": 2, "batch_size": 2, "patch": 16, "val_patches": 2, "verbose": 0,
              "model": {"widths": [4, 8], "convs_per_level": 1}},
    "evaluate": {"tile": 16, "halo": 4},
    "benchmark": {"size": 32, "tile": 16, "halo": 8, "chunk": 16},
}


@pytest.mark.slow
def test_dvc_repro_on_tiny_params(repo_copy):
    repo_copy.set_params("rock_ct", TINY)
    metrics = repo_copy.check_pipeline("rock_ct", "test_mean_dice", targets=("rock_ct_data",), report_bytes=50_000)
    model = repo_copy.root / "data" / "rock_ct" / "model"
    assert sorted(p.name for p in model.iterdir()) == ["history.json", "model.keras", "train.json"]
    info = json.loads((model / "train.json").read_text())
    assert info["classes"] == ["vesicle", "glass", "crystal"] and info["divisor"] == 2
    assert info["voxel_size_um"] == 5.0 and info["normalisation"]["percentiles"] == [1.0, 99.0]
    assert info["step_time_s"] > 0 and set(info["val"]) >= {"loss", "dice"}
    assert json.loads((model / "history.json").read_text())["epoch"] == [0]
    segmenter = load_segmenter(model)
    labels = segmenter.segment(np.random.default_rng(0).integers(0, 60000, (12, 10, 8)).astype(np.uint16),
                               tile=8, halo=4, progress=False)
    assert labels.shape == (12, 10, 8) and labels.max() <= 2
    bench = json.loads((repo_copy.root / "projects" / "rock_ct" / "results" / "benchmark.json").read_text())
    assert bench["voxels"] == 32 ** 3 and bench["mvox_per_s"] > 0 and bench["seconds"] > 0
    assert 0 < bench["peak_rss_gb"] < 8 and abs(sum(bench["label_fractions"]) - 1) < 1e-6
    assert not (repo_copy.root / "data" / "rock_ct" / "work" / "benchmark").exists()  # scratch volumes removed
    assert metrics["headline"]["model"]
