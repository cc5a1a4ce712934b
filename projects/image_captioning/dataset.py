"""Reading the prepared data of image_captioning (the output of the data stage), for training, evaluation and the
report.

Layout of ``data/image_captioning/prepared/`` (written by :mod:`projects.image_captioning.data`): ``images.npy``
uint8 (N, S, S, 3); ``{train,val,test}.json``, lists of ``{"index", "image", "captions"}`` (captions normalised by
:func:`projects.image_captioning.text.normalize`); ``meta.json``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from shared.io import DataError, read_json

SPLITS = ("train", "val", "test")


def load_prepared(folder: str | Path) -> tuple[np.ndarray, dict[str, list[dict]], dict]:
    """Read the data stage's output: ``(images uint8 (N, S, S, 3), {split: entries}, meta)``.

    Raises:
        DataError: a file is missing or corrupt, or an entry's index lies outside ``images.npy``.
    """
    folder = Path(folder)
    path = folder / "images.npy"
    if not path.is_file():
        raise DataError(f"{path} is missing: run the data stage (dvc repro image_captioning_data)")
    try:
        images = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise DataError(f"{path} is not a readable .npy array (corrupt or truncated?): {exc}") from exc
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise DataError(f"{path} must be uint8 (N, S, S, 3), got {images.dtype} {images.shape}")
    splits = {k: read_json(folder / f"{k}.json") for k in SPLITS}
    for k, entries in splits.items():
        bad = [e.get("index") for e in entries if not 0 <= int(e.get("index", -1)) < len(images)]
        if bad:
            raise DataError(f"{folder / f'{k}.json'}: index {bad[0]} outside images.npy ({len(images)} rows)")
    return images, splits, read_json(folder / "meta.json")
