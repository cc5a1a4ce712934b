"""The prepared splits of the ``data`` stage, as every later stage and the report read them.

``<prepared>/<split>.npz`` holds ``x`` (N, S, S, C) float16 images (linear, background-subtracted,
in units of each band's noise), ``y`` (N,) class indices, ``ids`` (N,) and ``noise`` (N, C), the
per-band background noise in the input's units; ``manifest.json`` the classes, bands,
preprocessing, chirality pairs, per-split counts and (for simulated sources) per-split conditions.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from shared.io import DataError, load_npz, read_json


def load_split(prepared: str | Path, split: str, *, with_noise: bool = False) -> tuple[np.ndarray, ...]:
    """``(x, y, ids)`` (and ``noise`` if asked) of one prepared split, validated.

    Returns:
        x (N, S, S, C) float32 in noise units, y (N,) int64, ids (N,) str and, with ``with_noise``,
        noise (N, C) float32.

    Raises:
        DataError: no such split, a missing or corrupt file, wrong shapes, non-finite pixels, labels
            outside the manifest's classes, or a ``noise`` array that is not (N, C), finite and positive.
    """
    prepared = Path(prepared)
    manifest = read_manifest(prepared)
    if split not in manifest["counts"]:
        raise DataError(f"{prepared} has no {split!r} split; it has {sorted(manifest['counts'])}")
    arrays = load_npz(prepared / f"{split}.npz", required=("x", "y", "ids", "noise"))
    x, y = arrays["x"].astype(np.float32), arrays["y"].astype(np.int64)
    if x.ndim != 4 or x.shape[-1] != len(manifest["bands"]) or x.shape[0] != y.shape[0]:
        raise DataError(f"{prepared / (split + '.npz')}: x has shape {x.shape}, expected (N, S, S, "
                        f"{len(manifest['bands'])}) with one label per image")
    if not np.all(np.isfinite(x)):
        raise DataError(f"{prepared / (split + '.npz')}: x contains NaN or infinite values")
    if y.size and (y.min() < 0 or y.max() >= len(manifest["classes"])):
        raise DataError(f"{prepared / (split + '.npz')}: labels outside 0..{len(manifest['classes']) - 1}")
    noise = arrays["noise"].astype(np.float32)
    if noise.shape != (x.shape[0], x.shape[-1]) or not np.all(np.isfinite(noise)) or np.any(noise <= 0):
        raise DataError(f"{prepared / (split + '.npz')}: noise has shape {noise.shape} or non-positive/non-finite "
                        f"values; expected ({x.shape[0]}, {x.shape[-1]}) positive noise sigmas")
    return (x, y, arrays["ids"], noise) if with_noise else (x, y, arrays["ids"])


def read_manifest(prepared: str | Path) -> dict:
    """``manifest.json`` of a prepared folder.

    Raises:
        DataError: the file is missing, empty or not valid JSON, or lacks ``classes``, ``bands``, ``preprocess`` or
            ``counts``.
    """
    manifest = read_json(Path(prepared) / "manifest.json")
    for key in ("classes", "bands", "preprocess", "counts"):
        if key not in manifest:
            raise DataError(f"{prepared}/manifest.json lacks {key!r}; rerun the data stage")
    return manifest
