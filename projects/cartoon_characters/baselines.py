"""The classical baseline: one-vs-rest logistic regression on HOG + colour-histogram features.

Features of a frame (uint8 RGB, S × S):

* HOG of the grey frame (Dalal & Triggs 2005; ``skimage.feature.hog``): ``orientations`` bins, cells of
  ``pixels_per_cell``², blocks of ``cells_per_block``² cells, L2-Hys normalisation: the shapes and outlines;
* the joint RGB histogram of the whole frame with ``colour_bins`` levels per channel (``colour_bins³`` bins,
  normalised to sum 1): the characters' flat colours, whatever their place.

Features are standardised (mean and std of the train frames); one logistic regression per character
(``sklearn.multiclass.OneVsRestClassifier``, L2, lbfgs) for each ``C`` of the grid; the ``C`` with the best
validation mAP is kept. Its decision values are logits, so it gets the same per-label temperature scaling and
F1 thresholds on validation as the CNN (``projects.cartoon_characters.calibration``): a like-for-like comparison.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BaselineConfig:
    C: tuple[float, ...] = (0.1, 1.0, 10.0, 100.0)
    orientations: int = 9
    pixels_per_cell: int = 8
    cells_per_block: int = 2
    colour_bins: int = 8
    max_iter: int = 300
    #: parallel one-vs-rest fits (joblib processes; 1: none, for tiny data)
    workers: int = 2

    def __post_init__(self) -> None:
        if not self.C or min(self.C) <= 0:
            raise ValueError(f"C must be a non-empty list of positive values, got {self.C}")
        if self.workers < 1:
            raise ValueError(f"workers must be ≥ 1, got {self.workers}")
        if self.colour_bins < 1 or self.orientations < 1 or self.pixels_per_cell < 2 or self.cells_per_block < 1:
            raise ValueError("colour_bins, orientations, cells_per_block must be ≥ 1 and pixels_per_cell ≥ 2")


def features(images: np.ndarray, cfg: BaselineConfig) -> np.ndarray:
    """HOG + joint colour histogram of each frame: float32 (n, d).

    Raises:
        ValueError: the frames are not uint8 (n, S, S, 3), or too small for one HOG block.
    """
    from skimage.color import rgb2gray
    from skimage.feature import hog

    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 (n, S, S, 3), got {images.dtype} {images.shape}")
    if min(images.shape[1:3]) < cfg.pixels_per_cell * cfg.cells_per_block:
        raise ValueError(f"frames of {images.shape[1]} px are smaller than one HOG block "
                         f"({cfg.pixels_per_cell} × {cfg.cells_per_block} px)")
    bins = cfg.colour_bins
    quant = (images.astype(np.int32) * bins) // 256                                # (n, S, S, 3) in [0, bins)
    codes = (quant[..., 0] * bins + quant[..., 1]) * bins + quant[..., 2]
    n, pixels = len(images), images.shape[1] * images.shape[2]
    hist = np.zeros((n, bins ** 3), dtype=np.float32)
    rows = np.repeat(np.arange(n), pixels)
    np.add.at(hist, (rows, codes.reshape(-1)), 1.0 / pixels)
    hogs = [hog(rgb2gray(img), orientations=cfg.orientations, pixels_per_cell=(cfg.pixels_per_cell,) * 2,
                cells_per_block=(cfg.cells_per_block,) * 2, block_norm="L2-Hys", feature_vector=True)
            for img in images]
    return np.hstack([np.asarray(hogs, dtype=np.float32), hist])


@dataclass
class HogBaseline:
    """A fitted baseline: standardisation and the one-vs-rest model of the chosen C."""

    cfg: BaselineConfig
    mean: np.ndarray
    std: np.ndarray
    model: Any
    C: float
    val_map_by_C: dict[float, float]
    seconds: float

    def logits(self, images: np.ndarray, feats: np.ndarray | None = None) -> np.ndarray:
        """Decision values (n, C) of frames (or of precomputed ``feats``)."""
        x = features(images, self.cfg) if feats is None else feats
        return np.asarray(self.model.decision_function((x - self.mean) / self.std), dtype=np.float64).reshape(
            len(x), -1)


def fit_baseline(train_images: np.ndarray, train_labels: np.ndarray, val_images: np.ndarray, val_labels: np.ndarray,
                 cfg: BaselineConfig, names: Sequence[str] | None = None, n_jobs: int | None = None,
                 train_feats: np.ndarray | None = None, val_feats: np.ndarray | None = None) -> HogBaseline:
    """Fit the baseline for every C of ``cfg.C`` on train; keep the C of the best validation mAP.

    A label without a positive (or negative) train frame gets scikit-learn's constant model, with a warning.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    from projects.cartoon_characters.metrics import mean_average_precision

    start = time.perf_counter()
    y = np.asarray(train_labels).astype(int)
    constant = np.flatnonzero((y.sum(axis=0) == 0) | (y.sum(axis=0) == len(y)))
    if constant.size:
        which = [names[j] if names else str(j) for j in constant]
        log.warning("baseline: %s have no positive (or no negative) train frame; their model is a constant",
                    ", ".join(which))
    x_train = features(train_images, cfg) if train_feats is None else train_feats
    x_val = features(val_images, cfg) if val_feats is None else val_feats
    mean, std = x_train.mean(axis=0), x_train.std(axis=0) + 1e-6
    xt, xv = (x_train - mean) / std, (x_val - mean) / std
    best, scores, models = None, {}, {}
    for c in cfg.C:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Label not .* is present in all training examples")
            model = OneVsRestClassifier(LogisticRegression(C=c, max_iter=cfg.max_iter),
                                        n_jobs=n_jobs or cfg.workers).fit(xt, y)
        val = mean_average_precision(val_labels, model.decision_function(xv).reshape(len(xv), -1), names)["map"]
        scores[float(c)], models[float(c)] = float(val), model
        log.info("baseline C=%g: val mAP %.4f", c, val)
        if best is None or val > scores[best]:
            best = float(c)
    seconds = time.perf_counter() - start
    log.info("baseline: C=%g chosen on val mAP (%.4f), %.1f s", best, scores[best], seconds)
    return HogBaseline(cfg, mean, std, models[best], best, scores, seconds)
