"""Imbalance handling for multi-label frames: none, class weights, oversampling, undersampling.

* ``class_weights``: a positive weight per label in the loss, ``w_c = min(cap, (n_neg,c / n_pos,c) ^ power)``
  (``power`` 1 is the ``pos_weight`` of PyTorch's ``BCEWithLogitsLoss``: positives and negatives of each label
  weigh the same in total). The frames are drawn uniformly.
* ``oversample``: repeat-factor sampling (Gupta et al. 2019, LVIS): label c with frame frequency f_c has the repeat
  factor ``r_c = max(1, sqrt(t / f_c))``; a frame is repeated ``r_i = max_{c in frame} r_c`` times (the integer
  part always, the fractional part with that probability), so frames with a rare label appear more often.
* ``undersample``: the mirror image: a frame is kept with probability ``k_i = min(1, max_{c in frame} sqrt(t / f_c))``,
  so frames whose labels are all frequent are thinned and a frame with any rare label is always kept.

In both resampling methods a frame without labels counts as showing a pseudo-label "none" with its own
frequency, and ``t`` is the frequency threshold (``threshold``). Resampling is done once on the frame indices,
seeded, before training; training then draws its batches uniformly from the resampled indices.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

METHODS = ("none", "class_weights", "oversample", "undersample")


@dataclass(frozen=True)
class ImbalanceConfig:
    #: resampling: label frequency below which a label counts as rare (repeat / keep factor sqrt(t / f))
    threshold: float = 0.2
    #: class weights: exponent on n_neg / n_pos and its upper bound
    power: float = 1.0
    cap: float = 50.0

    def __post_init__(self) -> None:
        if not 0 < self.threshold <= 1:
            raise ValueError(f"threshold must be in (0, 1], got {self.threshold}")
        if self.power < 0 or self.cap < 1:
            raise ValueError("power ≥ 0 and cap ≥ 1 are required")


def label_frequencies(labels: np.ndarray) -> np.ndarray:
    """Fraction of frames showing each label (C,), plus, last, the fraction of frames with no label."""
    labels = np.asarray(labels) > 0
    return np.concatenate([labels.mean(axis=0), [(~labels.any(axis=1)).mean()]]) if len(labels) else np.zeros(
        labels.shape[1] + 1)


def positive_weights(labels: np.ndarray, cfg: ImbalanceConfig) -> np.ndarray:
    """The positive weight of each label, ``min(cap, (n_neg / n_pos) ^ power)`` (C,) float32.

    A label without positives gets ``cap`` (it has nothing to weigh; the bound keeps the loss finite).
    """
    labels = np.asarray(labels) > 0
    pos = labels.sum(axis=0).astype(np.float64)
    neg = len(labels) - pos
    ratio = np.where(pos > 0, neg / np.maximum(pos, 1), np.inf)
    return np.minimum(cfg.cap, np.power(np.maximum(ratio, 1e-12), cfg.power)).astype(np.float32)


def _frame_factor(labels: np.ndarray, threshold: float) -> np.ndarray:
    """``max_{c in frame} sqrt(t / f_c)`` per frame, the pseudo-label "none" for frames without labels."""
    labels = np.asarray(labels) > 0
    freq = label_frequencies(labels)
    factor = np.sqrt(threshold / np.maximum(freq, 1e-12))
    shown = np.concatenate([labels, ~labels.any(axis=1, keepdims=True)], axis=1)
    return np.where(shown, factor[None, :], 0.0).max(axis=1)


def resample(labels: np.ndarray, method: Literal["none", "class_weights", "oversample", "undersample"],
             cfg: ImbalanceConfig, seed: int) -> np.ndarray:
    """The frame indices to train on under ``method`` (sorted; repeated for oversampling).

    ``none`` and ``class_weights`` return every index once.

    Raises:
        ValueError: ``method`` is unknown, or undersampling would keep no frame.
    """
    n = len(labels)
    if method in ("none", "class_weights"):
        return np.arange(n)
    rng = np.random.default_rng(seed)
    factor = _frame_factor(labels, cfg.threshold)
    if method == "oversample":
        repeats = np.maximum(factor, 1.0)
        whole = np.floor(repeats).astype(int)
        counts = whole + (rng.random(n) < repeats - whole)
        return np.repeat(np.arange(n), counts)
    if method == "undersample":
        keep = rng.random(n) < np.minimum(factor, 1.0)
        if not keep.any():
            raise ValueError("undersampling kept no frame; raise imbalance.threshold")
        return np.flatnonzero(keep)
    raise ValueError(f"unknown imbalance method {method!r}; methods: {', '.join(METHODS)}")
