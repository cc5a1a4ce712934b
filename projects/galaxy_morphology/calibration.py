"""Probability calibration: expected calibration error, reliability curves, temperature scaling."""

from __future__ import annotations

import numpy as np

from projects.galaxy_morphology.model import softmax


def reliability(probs: np.ndarray, labels: np.ndarray, bins: int = 15) -> dict[str, np.ndarray]:
    """Per confidence bin (equal width on [0, 1]): mean confidence, accuracy and count."""
    probs, labels = np.asarray(probs), np.asarray(labels)
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    count = np.bincount(which, minlength=bins)
    conf = np.bincount(which, weights=confidence, minlength=bins) / np.maximum(count, 1)
    acc = np.bincount(which, weights=correct.astype(float), minlength=bins) / np.maximum(count, 1)
    return {"low": edges[:-1], "high": edges[1:], "confidence": conf, "accuracy": acc, "count": count}


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = 15) -> float:
    """ECE: the count-weighted mean |accuracy − confidence| over confidence bins (top-label)."""
    rel = reliability(probs, labels, bins)
    total = rel["count"].sum()
    return float(np.sum(rel["count"] * np.abs(rel["accuracy"] - rel["confidence"])) / max(total, 1))


def nll(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    p = softmax(logits, temperature)
    return float(-np.mean(np.log(np.clip(p[np.arange(len(labels)), labels], 1e-12, 1))))


def fit_temperature(logits: np.ndarray, labels: np.ndarray, bounds: tuple[float, float] = (0.05, 20.0)) -> float:
    """The temperature T > 0 that minimises the NLL of ``softmax(logits / T)`` (Guo et al. 2017)."""
    from scipy.optimize import minimize_scalar

    labels = np.asarray(labels, dtype=int)
    res = minimize_scalar(lambda log_t: nll(logits, labels, float(np.exp(log_t))),
                          bounds=tuple(np.log(bounds)), method="bounded", options={"xatol": 1e-4})
    return float(np.exp(res.x))
