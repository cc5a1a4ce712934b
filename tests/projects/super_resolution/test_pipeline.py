"""`dvc repro` of the whole super_resolution pipeline on tiny params, in a temporary copy of the repo."""

import pytest


@pytest.mark.slow
def test_dvc_repro_on_tiny_params(repo_copy):
    repo_copy.set_params("super_resolution", {
        "data": {"photos": {"__replace__": True, "train": ["text", "coins"], "val": ["page"], "test": ["camera"]}},
        "train": {"models": {"__replace__": True, "fast": {"arch": "edsr", "blocks": 1, "channels": 4}},
                  "runs": {"__replace__": True, "fast_x2": {"model": "fast", "scale": 2, "steps": 2},
                           "fast_x4": {"model": "fast", "scale": 4, "steps": 2, "init_from": "fast_x2"}},
                  "lr_patch": 8, "batch_size": 2, "steps_per_epoch": 2, "val_crop": 32, "verbose": 0},
        "evaluate": {"timing_size": 16, "timing_repeats": 1, "crops": 1, "crop_size": 16},
    })
    metrics = repo_copy.check_pipeline("super_resolution", "gain_x2_db", targets=("super_resolution_data",),
                                       report_bytes=50_000)
    assert "fast_x4" in metrics["x4"]
