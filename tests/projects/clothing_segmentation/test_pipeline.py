"""`dvc repro` of the whole clothing_segmentation pipeline on tiny params, in a temporary copy of the repo, and what
the stages wrote (they run once, through DVC, as a user runs them)."""

import json

import pytest

#: params for a pipeline that runs in about a minute: a few small generated images, a tiny network
TINY = {
    "generate": {"count": 20, "height": 96, "width": 64, "workers": 1, "clutter": 4},
    "data": {"size": 32},
    "train": {"epochs": 1, "steps_per_epoch": 2, "batch_size": 4, "max_extra_clicks": 1, "val_instances": 8,
              "verbose": 0, "click_radius": 2.0,
              "model": {"widths": [8, 12], "blocks_per_stage": 1, "expansion": 2, "decoder_width": 8,
                        "class_hidden": 8}},
    "evaluate": {"max_clicks": 5, "max_instances": 4, "max_val_instances": 3},
}


@pytest.mark.slow
def test_dvc_repro_on_tiny_params(repo_copy):
    repo_copy.set_params("clothing_segmentation", TINY)
    metrics = repo_copy.check_pipeline("clothing_segmentation", "noc90", report_bytes=50_000)
    assert set(metrics["test"]) == {"model", "grabcut", "random_walker"}
    model = repo_copy.root / "data" / "clothing_segmentation" / "model"
    assert sorted(p.name for p in model.iterdir()) == ["history.json", "model.keras", "train.json"]
    info = json.loads((model / "train.json").read_text())
    assert info["size"] == 32 and info["click_radius"] == 2.0 and len(info["classes"]) == 12
    assert info["model"]["n_classes"] == 12 and set(info["val"]) >= {"iou", "iou_1", "class_accuracy"}
    assert json.loads((model / "history.json").read_text())["epoch"] == [0]
