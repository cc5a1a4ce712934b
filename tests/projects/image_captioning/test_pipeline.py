"""`dvc repro` of the whole image_captioning pipeline on tiny params, in a temporary copy of the repo, and what the
train stage wrote (both decoders, one epoch each): the captioners reload with their vocabulary and caption."""

import json

import numpy as np
import pytest

from projects.image_captioning.decoding import load_captioner

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
    prepared = repo_copy.root / "data" / "image_captioning" / "prepared"
    model = repo_copy.root / "data" / "image_captioning" / "model"
    assert json.loads((model / "summary.json").read_text())["vocabulary_size"] > 4
    train_words = {w for e in json.loads((prepared / "train.json").read_text()) for c in e["captions"]
                   for w in c.split()}
    images = np.load(prepared / "images.npy")[:3]
    for decoder in ("transformer", "lstm"):
        folder = model / decoder
        assert (folder / "captioner.json").is_file()
        info = json.loads((folder / "train.json").read_text())
        assert info["epochs_run"] == 1 and np.isfinite(info["best_val_loss"])
        history = json.loads((folder / "history.json").read_text())
        assert history["epoch"] == [0] and "val_loss" in history
        captioner = load_captioner(folder)
        assert captioner.info["resize"] == "letterbox" and captioner.image_size == 32
        captions = captioner.caption(images, beam=2)
        assert len(captions) == 3 and all(isinstance(c, str) for c in captions)
        # the vocabulary comes from the training captions only
        assert set(captioner.vocabulary[4:]) <= train_words
    work = repo_copy.root / "data" / "image_captioning" / "work"
    assert not work.exists() or not any(p.is_file() for p in work.rglob("*"))
