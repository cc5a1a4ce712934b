"""`dvc repro` of the whole super_resolution pipeline on tiny params, in a temporary copy of the repo."""

import json

import pytest


@pytest.mark.slow
def test_dvc_repro_on_tiny_params(repo_copy):
    repo_copy.set_params("super_resolution", {
        "data": {"skimage": {"__replace__": True, "train": ["text", "coins"], "val": ["page"], "test": ["camera"]}},
        "train": {"models": {"__replace__": True, "fast": {"arch": "edsr", "blocks": 1, "channels": 4}},
                  "runs": {"__replace__": True, "fast_x2": {"model": "fast", "scale": 2, "steps": 2},
                           "fast_x4": {"model": "fast", "scale": 4, "steps": 2, "init_from": "fast_x2"}},
                  "lr_patch": 8, "batch_size": 2, "steps_per_epoch": 2, "val_crop": 32, "verbose": 0},
        "evaluate": {"timing_size": 16, "timing_repeats": 1, "crops": 1, "crop_size": 16},
    })
    repo_copy.dvc("repro", "super_resolution_data", "projects/super_resolution/dvc.yaml")
    results = repo_copy.root / "projects" / "super_resolution" / "results"
    metrics = json.loads((results / "metrics.json").read_text())
    assert "gain_x2_db" in metrics["targets"] and "fast_x4" in metrics["x4"]
    assert (results / "report.html").stat().st_size > 50_000
    readme = (repo_copy.root / "projects" / "super_resolution" / "README.md").read_text()
    assert "gain_x2_db" in readme
    status = repo_copy.dvc("status", "projects/super_resolution/dvc.yaml")
    assert "up to date" in status.stdout, status.stdout
    shown = repo_copy.dvc("metrics", "show")
    assert "gain_x2_db" in shown.stdout, shown.stdout
