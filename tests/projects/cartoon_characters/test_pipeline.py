"""`dvc repro` of the whole cartoon_characters pipeline on tiny params, in a temporary copy of the repo:
data → train → calibrate → evaluate → report, then the README block, `dvc metrics show` and an up-to-date status."""

import json

import pytest

#: params for a pipeline that runs in well under a minute: a few 32-px frames, a tiny network, one variant
#: screened, then its final training
TINY = {
    "data": {"size": 32, "counts": {"train": 40, "val": 20, "test": 20, "shifted": 10},
             "compositor": {"rarest_frequency": 0.2}},
    "train": {"epochs": 1, "steps_per_epoch": 2, "final": {"epochs": 1, "steps_per_epoch": 3}, "batch_size": 16,
              "verbose": 0, "jit_compile": False,
              "vary": {"head": [], "loss": [], "imbalance": []},
              "model": {"widths": [4, 8], "convs_per_stage": 1, "attention_dim": 8}},
    "evaluate": {"bootstrap": 20, "pr_points": 5, "baseline": {"C": [1.0], "colour_bins": 4, "max_iter": 100,
                                                               "workers": 1}},
    "report": {"grid_frames": 4, "cam_examples": 0},
}


@pytest.mark.slow
def test_dvc_repro_on_tiny_params(repo_copy):
    repo_copy.set_params("cartoon_characters", TINY)
    metrics = repo_copy.check_pipeline("cartoon_characters", "test_map", targets=("cartoon_characters_data",),
                                       report_bytes=50_000)
    model = repo_copy.root / "data" / "cartoon_characters" / "model"
    table = json.loads((model / "variants.json").read_text())
    assert [v["name"] for v in table["variants"]] == ["attention-asl-none"] and table["chosen"] == "attention-asl-none"
    assert (model / "model.keras").exists() and metrics["headline"]["model"]
    # the chosen variant trained again for the final budget is the model
    assert table["final"]["steps"] == 3 and table["variants"][0]["steps"] == 2
    assert metrics["final"]["steps"] == 3 and "then trained 3 steps" in metrics["headline"]["model"]
    assert set(json.loads((model / "history.json").read_text())) == {"attention-asl-none", "final"}
