"""Physical metrics of a segmented rock: what volcanologists measure, not only voxel accuracy.

Voxel accuracy hides the errors that matter (Wang et al. 2021, as cited by issue 13: a few per cent of misplaced
boundary voxels shift porosity and bubble sizes), so every comparison reports, besides per-phase Dice and IoU:

* **vesicularity** (vesicle volume fraction) and **crystal fraction**, and their errors in percentage points;
* the **vesicle size distribution**: equivalent diameters ``(6 V / π)^(1/3)`` (µm) of connected vesicles
  (``skimage.measure.label``, face connectivity; :func:`skimage.measure.regionprops_table`), compared with the
  truth by the two-sample Kolmogorov-Smirnov distance (``scipy.stats.ks_2samp``);
* **connectivity**: the Euler number of the vesicle phase (``skimage.measure.euler_number``, 26-connectivity) and
  the connected vesicularity fraction, the share of vesicle volume in vesicles that reach the volume's boundary
  (the porosity a gas pycnometer would see in a sample of this size).

Labels: uint8, 0 vesicle, 1 glass, 2 crystal (:data:`CLASSES`). Functions accept numpy arrays or the lazy
array-likes of :mod:`projects.rock_ct.volumes`; phase counts and confusion matrices are read slab by slab, the
vesicle components need the (Z, Y, X) vesicle mask in memory (1 byte per voxel plus 4 for the component ids).
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np

from shared.io import DataError

log = logging.getLogger(__name__)

CLASSES = ("vesicle", "glass", "crystal")
VESICLE, GLASS, CRYSTAL = 0, 1, 2


def _slabs(shape, slab: int):
    for z0 in range(0, shape[0], slab):
        yield slice(z0, min(z0 + slab, shape[0]))


def _check_labels(labels: Any, name: str = "labels") -> None:
    if len(labels.shape) != 3:
        raise DataError(f"{name} must be a (Z, Y, X) volume, got shape {tuple(labels.shape)}")
    if np.dtype(labels.dtype).kind not in "iu":
        raise DataError(f"{name} must hold integer labels 0..{len(CLASSES) - 1}, got dtype {labels.dtype}")


def confusion(pred: Any, truth: Any, slab: int = 32) -> np.ndarray:
    """The 3 × 3 confusion matrix (rows: truth, columns: prediction), voxel counts, read slab by slab.

    Raises:
        DataError: different shapes, non-integer dtypes or labels outside 0..2.
    """
    _check_labels(pred, "prediction")
    _check_labels(truth, "truth")
    if tuple(pred.shape) != tuple(truth.shape):
        raise DataError(f"prediction has shape {tuple(pred.shape)}, the truth {tuple(truth.shape)}")
    n = len(CLASSES)
    cm = np.zeros(n * n, dtype=np.int64)
    for sl in _slabs(pred.shape, slab):
        p = np.asarray(pred[sl]).astype(np.int64).ravel()
        t = np.asarray(truth[sl]).astype(np.int64).ravel()
        if p.size and (p.max() >= n or p.min() < 0 or t.max() >= n or t.min() < 0):
            raise DataError(f"labels must lie in 0..{n - 1} ({', '.join(CLASSES)}), got values "
                            f"{sorted(set(np.unique(p)) | set(np.unique(t)))}")
        cm += np.bincount(t * n + p, minlength=n * n)
    return cm.reshape(n, n)


def overlap_scores(cm: np.ndarray) -> dict[str, dict[str, float]]:
    """Per-class Dice and IoU from a confusion matrix (a class absent from both counts as 1.0)."""
    out: dict[str, dict[str, float]] = {"dice": {}, "iou": {}}
    for k, name in enumerate(CLASSES):
        tp = float(cm[k, k])
        fp = float(cm[:, k].sum() - tp)
        fn = float(cm[k, :].sum() - tp)
        out["dice"][name] = 1.0 if tp + fp + fn == 0 else 2 * tp / (2 * tp + fp + fn)
        out["iou"][name] = 1.0 if tp + fp + fn == 0 else tp / (tp + fp + fn)
    return out


def phase_fractions(labels: Any, slab: int = 32) -> dict[str, float]:
    """Volume fraction of each phase (``vesicularity``, ``glass_fraction``, ``crystal_fraction``), 0..1.

    Raises:
        DataError: not a 3D integer volume, or values outside 0..2 (a scanner's own label values, unmapped).
    """
    _check_labels(labels)
    counts = np.zeros(len(CLASSES), dtype=np.int64)
    for sl in _slabs(labels.shape, slab):
        block = np.asarray(labels[sl]).ravel()
        if block.size and (int(block.min()) < 0 or int(block.max()) >= len(CLASSES)):
            other = sorted(int(v) for v in np.unique(block) if not 0 <= v < len(CLASSES))
            raise DataError(f"labels must be 0 vesicle, 1 glass, 2 crystal; found value(s) {other[:10]}: map your "
                            f"labels first (capstone rock_ct measure --label-map, e.g. 0:0,1:1,5:2)")
        counts += np.bincount(block, minlength=len(CLASSES))[: len(CLASSES)]
    total = float(np.prod(labels.shape))
    return {"vesicularity": float(counts[VESICLE] / total), "glass_fraction": float(counts[GLASS] / total),
            "crystal_fraction": float(counts[CRYSTAL] / total)}


def vesicle_components(labels: Any) -> tuple[np.ndarray, int]:
    """Connected vesicles (face connectivity): int32 component ids (Z, Y, X) and their count."""
    from skimage.measure import label

    mask = np.asarray(labels[...]) == VESICLE
    ids, n = label(mask, connectivity=1, return_num=True)
    return ids.astype(np.int32, copy=False), int(n)


def vesicle_diameters(labels: Any, voxel_size_um: float | None = 1.0, min_voxels: int = 1,
                      components: tuple[np.ndarray, int] | None = None) -> np.ndarray:
    """Equivalent diameters ``(6 V / π)^(1/3)`` of the connected vesicles, in µm (voxels when no voxel size).

    Args:
        labels: (Z, Y, X) labels.
        voxel_size_um: voxel edge in µm.
        min_voxels: vesicles smaller than this many voxels are left out (below the resolution; applied alike to
            prediction and truth).
        components: the result of :func:`vesicle_components`, to reuse it.

    Returns:
        float64 diameters, sorted ascending.
    """
    from skimage.measure import regionprops_table

    ids, n = components if components is not None else vesicle_components(labels)
    if n == 0:
        return np.zeros(0)
    table = regionprops_table(ids, properties=("area",))
    volumes = np.asarray(table["area"], dtype=np.float64)
    volumes = volumes[volumes >= min_voxels]
    return np.sort((6.0 * volumes / math.pi) ** (1.0 / 3.0) * float(voxel_size_um or 1.0))


def connectivity(labels: Any, components: tuple[np.ndarray, int] | None = None) -> dict[str, float]:
    """Euler number of the vesicle phase (26-connectivity) and the connected vesicularity fraction.

    ``connected_fraction``: vesicle voxels in vesicles touching a face of the volume / all vesicle voxels (NaN when
    there are no vesicles). ``largest_fraction``: the share of the largest vesicle.
    """
    from skimage.measure import euler_number

    ids, n = components if components is not None else vesicle_components(labels)
    mask = ids > 0
    total = int(mask.sum())
    euler = int(euler_number(mask, connectivity=3))
    if n == 0 or total == 0:
        return {"euler_number": euler, "connected_fraction": float("nan"), "largest_fraction": float("nan")}
    faces = np.concatenate([ids[0].ravel(), ids[-1].ravel(), ids[:, 0].ravel(), ids[:, -1].ravel(),
                            ids[:, :, 0].ravel(), ids[:, :, -1].ravel()])
    sizes = np.bincount(ids.ravel(), minlength=n + 1)
    touching = np.unique(faces[faces > 0])
    return {"euler_number": euler, "connected_fraction": float(sizes[touching].sum()) / total,
            "largest_fraction": float(sizes[1:].max()) / total}


def ks_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov statistic (0: same distribution, 1: disjoint); NaN if a sample is empty."""
    from scipy.stats import ks_2samp

    if len(a) == 0 or len(b) == 0:
        return float("nan")
    return float(ks_2samp(a, b).statistic)


def measure(labels: Any, voxel_size_um: float | None = None, min_voxels: int = 8) -> dict[str, Any]:
    """The physical description of one label volume (for ``capstone rock_ct measure`` and reports).

    Returns:
        ``vesicularity``, ``glass_fraction``, ``crystal_fraction`` (0..1), ``vesicle_count`` (vesicles of at least
        ``min_voxels`` voxels), ``diameter_um`` (d10, d50, d90, mean of the equivalent diameters; voxels if no
        voxel size, then ``unit`` says so), ``euler_number``, ``connected_fraction``, ``largest_fraction``.
    """
    out: dict[str, Any] = dict(phase_fractions(labels))
    comps = vesicle_components(labels)
    d = vesicle_diameters(labels, voxel_size_um, min_voxels, components=comps)
    out["vesicle_count"] = int(len(d))
    out["unit"] = "µm" if voxel_size_um else "voxel"
    out["diameter"] = ({"d10": float(np.percentile(d, 10)), "d50": float(np.percentile(d, 50)),
                        "d90": float(np.percentile(d, 90)), "mean": float(d.mean())} if len(d)
                       else {"d10": None, "d50": None, "d90": None, "mean": None})
    out.update(connectivity(labels, components=comps))
    return out


def compare(pred: Any, truth: Any, voxel_size_um: float | None = None, min_voxels: int = 8) -> dict[str, Any]:
    """Every metric of a segmentation against the truth.

    Returns:
        ``dice`` and ``iou`` (per class), ``mean_dice``, ``vesicularity_error_pp`` and
        ``crystal_fraction_error_pp`` (prediction − truth, percentage points), ``ks`` (vesicle equivalent
        diameters), ``euler_number``/``connected_fraction`` of prediction and truth, the predicted and true
        fractions, vesicle counts and the diameters themselves (``diameters``: prediction, truth; µm).

    Raises:
        DataError: shapes differ or labels are outside 0..2.
    """
    cm = confusion(pred, truth)
    scores = overlap_scores(cm)
    fp, ft = phase_fractions(pred), phase_fractions(truth)
    comp_p, comp_t = vesicle_components(pred), vesicle_components(truth)
    dp = vesicle_diameters(pred, voxel_size_um, min_voxels, components=comp_p)
    dt = vesicle_diameters(truth, voxel_size_um, min_voxels, components=comp_t)
    cp, ct = connectivity(pred, components=comp_p), connectivity(truth, components=comp_t)
    return {
        "dice": scores["dice"], "iou": scores["iou"],
        "mean_dice": float(np.mean(list(scores["dice"].values()))),
        "accuracy": float(np.trace(cm) / max(cm.sum(), 1)),
        "vesicularity": fp["vesicularity"], "vesicularity_true": ft["vesicularity"],
        "vesicularity_error_pp": 100.0 * (fp["vesicularity"] - ft["vesicularity"]),
        "crystal_fraction": fp["crystal_fraction"], "crystal_fraction_true": ft["crystal_fraction"],
        "crystal_fraction_error_pp": 100.0 * (fp["crystal_fraction"] - ft["crystal_fraction"]),
        "ks": ks_distance(dp, dt), "vesicle_count": int(len(dp)), "vesicle_count_true": int(len(dt)),
        "euler_number": cp["euler_number"], "euler_number_true": ct["euler_number"],
        "connected_fraction": cp["connected_fraction"], "connected_fraction_true": ct["connected_fraction"],
        "diameters": (dp, dt),
    }
