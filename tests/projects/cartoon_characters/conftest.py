"""Fixtures of the cartoon_characters tests: a tiny synthetic stand-in of the prepared data (as the data stage
writes it)."""

from __future__ import annotations

import json

import numpy as np
import pytest

CHARACTERS = ("red", "green", "blue", "rare")
COLOURS = np.array([[220, 30, 30], [30, 200, 30], [30, 30, 220], [240, 220, 20]], np.uint8)


def write_prepared(folder, counts=None, size=16, seed=0):
    """``<split>.npz`` (images uint8 (n, S, S, 3), labels uint8 (n, C), names) and meta.json: each character a
    coloured square at a random place on a grey background; the last character rare (about 10 % of frames)."""
    counts = counts or {"train": 48, "val": 24, "test": 24, "shifted": 16}
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for split, n in counts.items():
        labels = (rng.random((n, len(CHARACTERS))) < [0.5, 0.4, 0.3, 0.1]).astype(np.uint8)
        labels[: len(CHARACTERS), :] = np.eye(len(CHARACTERS), dtype=np.uint8)  # every label in every split
        images = np.full((n, size, size, 3), 128, np.uint8)
        for i, j in zip(*np.nonzero(labels)):
            y, x = rng.integers(0, size - 4, 2)
            images[i, y:y + 4, x:x + 4] = COLOURS[j]
        names = np.array([f"{split}_{i:04d}" for i in range(n)])
        np.savez_compressed(folder / f"{split}.npz", images=images, labels=labels, names=names)
    meta = {"characters": list(CHARACTERS), "source": "synthetic test stand-in", "size": size, "counts": counts,
            "frequencies": {}, "split_rule": "random"}
    (folder / "meta.json").write_text(json.dumps(meta))
    return folder


@pytest.fixture
def prepared_dir(tmp_path):
    return write_prepared(tmp_path / "prepared")



def write_model_folder(folder, head="attention", size=16, seed=0):
    """A model folder as the train stage writes it, with an untrained tiny network (random weights): model.keras,
    variants/<name>.keras, variants.json, train.json, predictions/val.npz."""
    import keras

    from projects.cartoon_characters.model import ModelConfig, build_model

    keras.utils.set_random_seed(seed)
    cfg = ModelConfig(head=head, widths=(4, 8), convs_per_stage=1, attention_dim=8, n_classes=len(CHARACTERS),
                      size=size)
    net = build_model(cfg)
    name = f"{head}-asl-none"
    (folder / "variants").mkdir(parents=True, exist_ok=True)
    (folder / "predictions").mkdir(exist_ok=True)
    net.save(folder / "model.keras")
    net.save(folder / "variants" / f"{name}.keras")
    row = {"name": name, "head": head, "loss": "asl", "imbalance": "none", "config": {}, "val_map": 0.5, "steps": 0,
           "seconds": 0.0, "params": int(net.count_params()), "chosen": True, "model": f"variants/{name}.keras"}
    (folder / "variants.json").write_text(json.dumps({"chosen": name, "variants": [row]}))
    (folder / "train.json").write_text(json.dumps({"characters": list(CHARACTERS), "size": size, "chosen": name}))
    frames = np.random.default_rng(seed).integers(0, 256, (8, size, size, 3), dtype=np.uint8)
    labels = np.eye(len(CHARACTERS), dtype=np.uint8)[np.arange(8) % len(CHARACTERS)]
    np.savez(folder / "predictions" / "val.npz", logits=net.predict(frames, verbose=0), labels=labels,
             names=np.array([f"v{i}" for i in range(8)]))
    return folder


@pytest.fixture
def model_dir(tmp_path):
    return write_model_folder(tmp_path / "model")
