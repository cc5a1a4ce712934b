"""`dvc repro` of the whole image_captioning pipeline on tiny params, in a temporary copy of the repo."""

import pytest

#: params for a pipeline that runs in about a minute: 40 scenes of 32 px, tiny networks, one epoch, no METEOR
TINY = {
    "data": {"size": 32, "scenes": {"count": 40}},
    "train": {"epochs": 1, "batch_size": 8, "min_count": 1, "verbose": 0,
              "model": {"encoder": {"widths": [8, 16], "dim": 16, "blocks_per_stage": 0},
                        "transformer": {"dim": 16, "heads": 2, "layers": 1, "ff_dim": 32},
                        "lstm": {"embed_dim": 16, "units": 16, "attention_dim": 8}}},
    "evaluate": {"nn_k": [1, 3], "bootstrap_samples": 100, "meteor": False},
    "report": {"examples": 2},
}


@pytest.mark.slow
def test_dvc_repro_on_tiny_params(repo_copy):
    repo_copy.set_params("image_captioning", TINY)
    metrics = repo_copy.check_pipeline("image_captioning", "cider_d_margin_over_nn", report_bytes=50_000)
    assert {"transformer_greedy", "transformer_beam3", "lstm_greedy", "lstm_beam3", "nearest_neighbour",
            "frequent"} <= set(metrics["test"])
    assert (repo_copy.root / "data" / "image_captioning" / "model" / "lstm" / "captioner.json").is_file()
