"""Multi-label metrics: mAP, F1 (micro, macro), Hamming loss, subset accuracy, ECE and reliability diagrams.

Conventions (arrays of n frames × C labels):

* ``labels``: 0/1 (n, C); ``scores``/``probabilities``: float (n, C), higher = more likely present.
* **AP** of a label is scikit-learn's ``average_precision_score``: Σₖ (Rₖ − Rₖ₋₁) Pₖ over the distinct score
  thresholds, highest first (no interpolation; tied scores form one threshold). **mAP** is the macro mean over labels.
* A label without a positive frame in the evaluated split has no AP, recall or F1. It is **excluded** from every
  macro mean (mAP, macro-F1) with a logged warning and listed under ``excluded``; no NaN ever enters a mean. Micro
  F1, Hamming loss, subset accuracy and the ECE use every label (they stay defined).
* **ECE** treats every (frame, label) probability as a binary forecast of "present": equal-width bins on [0, 1]
  (bin b holds p in [b/B, (b+1)/B), the last bin includes 1), ECE = Σ_b (n_b / N) · |mean label_b − mean p_b|
  (Naeini et al. 2015; Guo et al. 2017). Pooled: over all n·C pairs; per label: over its n frames.

Sources: Everingham et al., "The PASCAL VOC challenge" (2010) for AP as a ranking metric; scikit-learn's
``average_precision_score`` for the exact definition used here.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


def _check(labels: Any, scores: Any) -> tuple[np.ndarray, np.ndarray]:
    labels, scores = np.asarray(labels), np.asarray(scores, dtype=np.float64)
    if labels.ndim == 1:
        labels = labels[:, None]
    if scores.ndim == 1:
        scores = scores[:, None]
    if labels.shape != scores.shape:
        raise ValueError(f"labels {labels.shape} and scores {scores.shape} differ in shape")
    if not np.all((labels == 0) | (labels == 1)):
        raise ValueError("labels must be 0 or 1")
    if not np.all(np.isfinite(scores)):
        raise ValueError("scores contain NaN or infinite values")
    return labels.astype(np.int64), scores


def average_precision(labels: Any, scores: Any) -> float:
    """AP of one label (scikit-learn's definition); NaN when it has no positive.

    Args:
        labels: 0/1 (n,).
        scores: float (n,).

    Raises:
        ValueError: shapes differ, labels are not 0/1, or scores are not finite.
    """
    y, s = _check(labels, scores)
    y, s = y[:, 0], s[:, 0]
    positives = int(y.sum())
    if positives == 0:
        return float("nan")
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(s)), y.size - 1]
    tps = np.cumsum(y)[last_of_tie]
    predicted = last_of_tie + 1
    precision = tps / predicted
    recall = tps / positives
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def per_label_ap(labels: Any, scores: Any) -> np.ndarray:
    """AP of every label (C,); NaN where a label has no positive.

    Raises:
        ValueError: shapes differ, labels are not 0/1, or scores are not finite.
    """
    y, s = _check(labels, scores)
    return np.array([average_precision(y[:, j], s[:, j]) for j in range(y.shape[1])])


def _names(names: Sequence[str] | None, count: int) -> list[str]:
    return list(names) if names is not None else [str(j) for j in range(count)]


def _excluded(labels: np.ndarray, names: list[str], what: str) -> list[str]:
    empty = [names[j] for j in np.flatnonzero(labels.sum(axis=0) == 0)]
    if empty:
        log.warning("%s: no positive frame of %s in this split; left out of the macro means", what, ", ".join(empty))
    return empty


def mean_average_precision(labels: Any, scores: Any, names: Sequence[str] | None = None) -> dict[str, Any]:
    """mAP (macro mean of AP over the labels with a positive frame) and the AP of each label.

    Returns:
        ``{"map": float, "per_label": {name: AP or None}, "excluded": [names without positives]}``; ``map`` is NaN
        only when no label has a positive.

    Raises:
        ValueError: shapes differ, labels are not 0/1, or scores are not finite.
    """
    y, s = _check(labels, scores)
    names = _names(names, y.shape[1])
    ap = per_label_ap(y, s)
    excluded = _excluded(y, names, "mAP")
    valid = ~np.isnan(ap)
    return {"map": float(ap[valid].mean()) if valid.any() else float("nan"),
            "per_label": {n: (float(a) if np.isfinite(a) else None) for n, a in zip(names, ap)},
            "excluded": excluded}


def binarize(probabilities: Any, thresholds: float | Any = 0.5) -> np.ndarray:
    """0/1 predictions: probability ≥ threshold (a scalar or one per label)."""
    p = np.asarray(probabilities, dtype=np.float64)
    return (p >= np.broadcast_to(np.asarray(thresholds, dtype=np.float64), p.shape[-1:])).astype(np.int64)


def f1_scores(labels: Any, predictions: Any, names: Sequence[str] | None = None) -> dict[str, Any]:
    """Micro F1 (pooled counts), macro F1 (mean over labels with a positive) and per-label F1, precision, recall.

    Returns:
        ``{"micro_f1", "macro_f1", "per_label": {name: {"f1", "precision", "recall"}}, "excluded"}``; a label without
        positives has ``None`` values (and F1 0 only counts where it has positives).

    Raises:
        ValueError: shapes differ, labels are not 0/1, or scores are not finite.
    """
    y, p = _check(labels, predictions)
    names = _names(names, y.shape[1])
    tp = ((y == 1) & (p == 1)).sum(axis=0)
    fp = ((y == 0) & (p == 1)).sum(axis=0)
    fn = ((y == 1) & (p == 0)).sum(axis=0)
    denom = 2 * tp + fp + fn
    micro = float(2 * tp.sum() / denom.sum()) if denom.sum() else 0.0
    has_pos = y.sum(axis=0) > 0
    f1 = np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)
    per_label = {}
    for j, name in enumerate(names):
        if not has_pos[j]:
            per_label[name] = {"f1": None, "precision": None, "recall": None}
            continue
        precision = float(tp[j] / (tp[j] + fp[j])) if tp[j] + fp[j] else 0.0
        per_label[name] = {"f1": float(f1[j]), "precision": precision, "recall": float(tp[j] / (tp[j] + fn[j]))}
    excluded = _excluded(y, names, "macro-F1")
    return {"micro_f1": micro, "macro_f1": float(f1[has_pos].mean()) if has_pos.any() else float("nan"),
            "per_label": per_label, "excluded": excluded}


def hamming_loss(labels: Any, predictions: Any) -> float:
    """Share of (frame, label) pairs predicted wrongly.

    Raises:
        ValueError: shapes differ, labels are not 0/1, or scores are not finite.
    """
    y, p = _check(labels, predictions)
    return float(np.mean(y != p))


def subset_accuracy(labels: Any, predictions: Any) -> float:
    """Share of frames whose whole label set is predicted exactly (exact match).

    Raises:
        ValueError: shapes differ, labels are not 0/1, or scores are not finite.
    """
    y, p = _check(labels, predictions)
    return float(np.mean(np.all(y == p, axis=1)))


def reliability(labels: Any, probabilities: Any, bins: int = 15) -> dict[str, np.ndarray]:
    """Reliability-diagram data of binary forecasts (all entries pooled).

    Returns:
        per equal-width bin: ``low``, ``high``, ``count``, ``confidence`` (mean probability) and ``frequency``
        (share of positives); empty bins have count 0 and NaN confidence and frequency.

    Raises:
        ValueError: ``bins`` < 1, or probabilities outside [0, 1].
    """
    if bins < 1:
        raise ValueError(f"bins must be ≥ 1, got {bins}")
    y, p = _check(labels, probabilities)
    y, p = y.ravel(), p.ravel()
    if p.size and (p.min() < 0 or p.max() > 1):
        raise ValueError("probabilities must lie in [0, 1]")
    which = np.clip(np.floor(p * bins).astype(np.int64), 0, bins - 1)
    count = np.bincount(which, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        confidence = np.bincount(which, weights=p, minlength=bins) / count
        frequency = np.bincount(which, weights=y.astype(float), minlength=bins) / count
    edges = np.linspace(0.0, 1.0, bins + 1)
    return {"low": edges[:-1], "high": edges[1:], "count": count, "confidence": confidence, "frequency": frequency}


def expected_calibration_error(labels: Any, probabilities: Any, bins: int = 15) -> float:
    """ECE of binary forecasts, all entries pooled (see the module docstring); 0 for no entries.

    Raises:
        ValueError: shapes differ, labels are not 0/1, probabilities lie outside [0, 1] or ``bins`` < 1.
    """
    rel = reliability(labels, probabilities, bins)
    total = rel["count"].sum()
    if total == 0:
        return 0.0
    filled = rel["count"] > 0
    gaps = np.abs(rel["frequency"][filled] - rel["confidence"][filled])
    return float(np.sum(rel["count"][filled] * gaps) / total)


def calibration_errors(labels: Any, probabilities: Any, bins: int = 15,
                       names: Sequence[str] | None = None) -> dict[str, Any]:
    """Pooled ECE, ECE per label and their macro mean (every label: ECE is defined without positives).

    Raises:
        ValueError: shapes differ, labels are not 0/1, or scores are not finite.
    """
    y, p = _check(labels, probabilities)
    names = _names(names, y.shape[1])
    per = {n: expected_calibration_error(y[:, j], p[:, j], bins) for j, n in enumerate(names)}
    return {"ece_pooled": expected_calibration_error(y, p, bins), "ece_macro": float(np.mean(list(per.values()))),
            "per_label": per}


def summary(labels: Any, probabilities: Any, thresholds: float | Any = 0.5, names: Sequence[str] | None = None,
            bins: int = 15, scores: Any = None) -> dict[str, Any]:
    """Every metric of one method on one split at the given thresholds.

    ``scores`` (e.g. the logits) rank the frames for AP and mAP instead of the probabilities: a monotone map does
    not change AP, but σ of a large logit rounds to exactly 0 or 1 in floating point, which would tie frames that
    the logits still order.

    Returns:
        ``map``, ``micro_f1``, ``macro_f1``, ``hamming_loss``, ``subset_accuracy``, ``ece_pooled``, ``ece_macro``
        and ``per_label`` (name → ``ap``, ``f1``, ``precision``, ``recall``, ``ece``, ``positives``), ``excluded``.

    Raises:
        ValueError: shapes differ, labels are not 0/1, or scores are not finite.
    """
    y, p = _check(labels, probabilities)
    names = _names(names, y.shape[1])
    pred = binarize(p, thresholds)
    m = mean_average_precision(y, p if scores is None else scores, names)
    f = f1_scores(y, pred, names)
    e = calibration_errors(y, p, bins, names)
    per_label = {n: {"ap": m["per_label"][n], **f["per_label"][n], "ece": e["per_label"][n],
                     "positives": int(y[:, j].sum())} for j, n in enumerate(names)}
    return {"map": m["map"], "micro_f1": f["micro_f1"], "macro_f1": f["macro_f1"],
            "hamming_loss": hamming_loss(y, pred), "subset_accuracy": subset_accuracy(y, pred),
            "ece_pooled": e["ece_pooled"], "ece_macro": e["ece_macro"], "per_label": per_label,
            "excluded": m["excluded"]}


class _WeightedAP:
    """AP of every label under frame weights (bootstrap multiplicities), the sort done once.

    With weights w (counts of each frame in a resample) AP is computed on the sorted order of the full sample:
    at each tie group's last row, precision = Σ w·y / Σ w over the rows so far, recall = Σ w·y / Σ w·y (all); the
    same sum as :func:`average_precision` on the resampled frames.
    """

    def __init__(self, labels: np.ndarray, scores: np.ndarray):
        order = np.argsort(-scores, axis=0, kind="mergesort")
        self.order = order
        self.y = np.take_along_axis(labels, order, axis=0).astype(np.float64)
        sorted_scores = np.take_along_axis(scores, order, axis=0)
        self.tie_end = np.ones_like(self.y, dtype=bool)
        self.tie_end[:-1] = sorted_scores[:-1] != sorted_scores[1:]

    def __call__(self, weights: np.ndarray) -> np.ndarray:
        w = weights[self.order]
        tp = np.cumsum(w * self.y, axis=0)
        predicted = np.cumsum(w, axis=0)
        positives = tp[-1]
        at_end = np.where(self.tie_end, tp, 0.0)
        previous = np.vstack([np.zeros((1, tp.shape[1])), np.maximum.accumulate(at_end, axis=0)[:-1]])
        with np.errstate(invalid="ignore", divide="ignore"):
            precision = np.where(predicted > 0, tp / np.maximum(predicted, 1e-300), 0.0)
            terms = np.where(self.tie_end, (tp - previous) * precision, 0.0)
            return np.where(positives > 0, terms.sum(axis=0) / positives, np.nan)


def bootstrap_map_difference(labels: Any, scores_a: Any, scores_b: Any, n_boot: int = 1000, seed: int = 0,
                             level: float = 0.95) -> dict[str, float]:
    """Paired bootstrap over frames of mAP(a) − mAP(b): the observed difference and a percentile interval.

    Each resample draws n frames with replacement; labels without a positive in a resample are left out of both
    means. Returns ``difference``, ``low``, ``high``, ``level``, ``resamples``, ``p_value`` (two-sided: twice the
    smaller share of resampled differences on either side of 0, at most 1).

    Raises:
        ValueError: shapes differ, labels are not 0/1, or scores are not finite.
    """
    y, a = _check(labels, scores_a)
    _, b = _check(labels, scores_b)
    rng = np.random.default_rng(seed)
    ap_a, ap_b = _WeightedAP(y, a), _WeightedAP(y, b)

    def diff(weights: np.ndarray) -> float:
        pa, pb = ap_a(weights), ap_b(weights)
        keep = np.isfinite(pa)
        return float(pa[keep].mean() - pb[keep].mean()) if keep.any() else float("nan")

    n = len(y)
    observed = diff(np.ones(n))
    draws = np.array([diff(np.bincount(rng.integers(0, n, n), minlength=n).astype(np.float64))
                      for _ in range(n_boot)])
    draws = draws[np.isfinite(draws)]
    alpha = (1 - level) / 2
    p_value = min(1.0, 2 * min(np.mean(draws <= 0), np.mean(draws >= 0))) if draws.size else float("nan")
    return {"difference": observed, "low": float(np.quantile(draws, alpha)),
            "high": float(np.quantile(draws, 1 - alpha)), "level": level, "resamples": int(draws.size),
            "p_value": float(p_value)}
