"""Tiny fixtures of clothing_segmentation, written by the tests (never the real CCP sample, never the network)."""

from __future__ import annotations

import numpy as np
import pytest

TINY_CLASSES = ["background", "skin_hair", "top", "outerwear", "dress", "skirt", "trousers", "shorts", "shoes",
                "bag", "hat", "accessory"]


def synthetic_split(n_images: int, size: int, seed: int) -> dict[str, np.ndarray]:
    """Images with one or two coloured ellipses/rectangles ("garments") on a noisy background, in the prepared
    layout of the CS interface: images (N, S, S, 3) uint8, masks (M, S, S), image_index (M,), labels (M,)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    images, masks, index, labels = [], [], [], []
    for i in range(n_images):
        image = rng.integers(60, 120, (size, size, 3)).astype(np.uint8)
        for k in range(1 + i % 2):
            cy, cx = rng.uniform(0.3, 0.7, 2) * size
            ry, rx = rng.uniform(0.12, 0.28, 2) * size
            if (i + k) % 2:
                mask = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
            else:
                mask = (abs(yy - cy) <= ry) & (abs(xx - cx) <= rx)
            for prev in masks[len(masks) - k:]:  # the later garment occludes the earlier
                prev &= ~mask
            image[mask] = rng.integers(150, 255, 3)
            masks.append(mask)
            index.append(i)
            labels.append(2 + (i + k) % 4)
        images.append(image)
    return {"images": np.stack(images), "masks": np.stack(masks).astype(np.uint8),
            "image_index": np.array(index, np.int32), "labels": np.array(labels, np.int32)}


def write_prepared(folder, size: int = 32, counts=(16, 6, 6)) -> None:
    """A prepared folder (train/val/test.npz + meta.json) of synthetic instances."""
    from shared.io import save_npz, write_json

    for seed, (split, n) in enumerate(zip(("train", "val", "test"), counts)):
        save_npz(folder / f"{split}.npz", **synthetic_split(n, size, seed))
    write_json(folder / "meta.json", {"classes": TINY_CLASSES, "source": "synthetic (tests)", "size": size})


@pytest.fixture(scope="session")
def make_split():
    """:func:`synthetic_split` for tests that write broken variants of it."""
    return synthetic_split


@pytest.fixture(scope="session")
def tiny_prepared(tmp_path_factory):
    """A prepared folder of 32-pixel synthetic instances, once per session."""
    folder = tmp_path_factory.mktemp("cs_prepared")
    write_prepared(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_train_config():
    """A TrainConfig that trains in seconds on :func:`tiny_prepared`."""
    from projects.clothing_segmentation.model import ModelConfig
    from projects.clothing_segmentation.train import TrainConfig

    return TrainConfig(model=ModelConfig(widths=(8, 12), blocks_per_stage=1, expansion=2, decoder_width=8,
                                         class_hidden=8),
                       epochs=2, steps_per_epoch=2, batch_size=4, max_extra_clicks=2, click_radius=2.0,
                       val_instances=6, verbose=0)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory, tiny_prepared, tiny_train_config):
    """A model folder trained for a few steps on :func:`tiny_prepared` (its predictions are poor, its files real)."""
    from projects.clothing_segmentation.train import train

    root = tmp_path_factory.mktemp("cs_model")
    train(tiny_train_config, tiny_prepared, root / "work", root / "model")
    return root / "model"
