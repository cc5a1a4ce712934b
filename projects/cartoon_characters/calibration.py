"""Per-label probability calibration and F1-maximising thresholds, fitted on validation logits.

* **Temperature scaling** (Guo et al., "On calibration of modern neural networks", ICML 2017), one temperature per
  label: p = σ(z / T_c), T_c > 0 minimising the binary cross-entropy (NLL) on validation (scipy's bounded scalar
  search on log T). It rescales confidence without changing any label's ranking, so AP is unchanged.
* **Platt scaling** (Platt 1999), per label: p = σ(a_c z + b_c), fitted by logistic regression on the logit
  (scikit-learn, nearly unregularised); with a_c > 0 the ranking is kept too.
* **Thresholds**: per label, the threshold on the calibrated probability that maximises F1 on validation (a grid in
  (0, 1); among tied maxima the middle one). ``thresholds_raw`` are the same on the raw σ(z), for the uncalibrated
  model's "tuned" row.

A label without a positive (or without a negative) frame in validation cannot be fitted: it keeps T = 1 (a = 1,
b = 0) and threshold 0.5, with a logged warning, and is listed under ``unfitted``.

``save``/``load`` write and read ``calibration.json``; :meth:`Calibration.probabilities` is what the CLI and the
evaluate stage call.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from shared.io import DataError, read_json, write_json

log = logging.getLogger(__name__)

METHODS = ("temperature", "platt", "none")


def sigmoid(z: Any) -> np.ndarray:
    """The logistic function, numerically stable for large |z|."""
    z = np.asarray(z, dtype=np.float64)
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1.0 + ez)
    return out


def binary_nll(logits: Any, labels: Any) -> float:
    """Mean binary cross-entropy of σ(logits) (stable: softplus form)."""
    z, y = np.asarray(logits, dtype=np.float64), np.asarray(labels, dtype=np.float64)
    return float(np.mean(np.logaddexp(0.0, z) - y * z))


def fit_temperature(logits: Any, labels: Any, bounds: tuple[float, float] = (0.05, 20.0)) -> float:
    """The T in ``bounds`` minimising the NLL of σ(logits / T) for one label.

    Raises:
        ValueError: the bounds are not 0 < low < high.
    """
    from scipy.optimize import minimize_scalar

    low, high = bounds
    if not 0 < low < high:
        raise ValueError(f"temperature bounds must satisfy 0 < low < high, got {bounds}")
    z, y = np.asarray(logits, dtype=np.float64), np.asarray(labels, dtype=np.float64)
    res = minimize_scalar(lambda log_t: binary_nll(z / np.exp(log_t), y), bounds=(np.log(low), np.log(high)),
                          method="bounded", options={"xatol": 1e-5})
    return float(np.exp(res.x))


def fit_platt(logits: Any, labels: Any) -> tuple[float, float]:
    """(a, b) of σ(a z + b) by logistic regression on the logit of one label (C = 1e6: nearly unregularised)."""
    from sklearn.linear_model import LogisticRegression

    z = np.asarray(logits, dtype=np.float64).reshape(-1, 1)
    model = LogisticRegression(C=1e6, max_iter=1000).fit(z, np.asarray(labels).astype(int))
    return float(model.coef_[0, 0]), float(model.intercept_[0])


def f1_threshold(probabilities: Any, labels: Any, grid: int = 199) -> tuple[float, float]:
    """The threshold t (p ≥ t predicts present) in a grid of ``grid`` values in (0, 1) that maximises F1.

    Returns:
        (threshold, F1 there); among tied maxima the middle threshold.
    """
    p = np.asarray(probabilities, dtype=np.float64)
    y = np.asarray(labels).astype(bool)
    candidates = np.linspace(0.0, 1.0, grid + 2)[1:-1]
    predicted = p[None, :] >= candidates[:, None]                       # (grid, n)
    tp = (predicted & y).sum(axis=1)
    fp = (predicted & ~y).sum(axis=1)
    fn = y.sum() - tp
    f1 = np.where(2 * tp + fp + fn > 0, 2 * tp / np.maximum(2 * tp + fp + fn, 1), 0.0)
    best = np.flatnonzero(f1 == f1.max())
    k = best[len(best) // 2]
    return float(candidates[k]), float(f1[k])


@dataclass
class Calibration:
    """Per-label calibration maps and thresholds (see the module docstring)."""

    characters: list[str]
    method: str = "temperature"
    #: temperature: T per label; platt: a per label (slopes); none: ones
    scale: np.ndarray = field(default_factory=lambda: np.ones(0))
    #: platt: b per label; otherwise zeros
    bias: np.ndarray = field(default_factory=lambda: np.zeros(0))
    #: per label, on the calibrated probability
    thresholds: np.ndarray = field(default_factory=lambda: np.full(0, 0.5))
    #: per label, on the raw probability σ(z)
    thresholds_raw: np.ndarray = field(default_factory=lambda: np.full(0, 0.5))
    unfitted: list[str] = field(default_factory=list)
    #: what the fit achieved on validation (NLL and ECE before/after, F1 at the thresholds)
    validation: dict[str, Any] = field(default_factory=dict)

    def calibrated_logits(self, logits: Any) -> np.ndarray:
        """The logits after the per-label map: z / T (temperature) or a z + b (Platt)."""
        z = np.asarray(logits, dtype=np.float64)
        if z.ndim != 2 or z.shape[1] != len(self.characters):
            raise ValueError(f"logits must have shape (n, {len(self.characters)}), got {z.shape}")
        if self.method == "temperature":
            return z / self.scale
        if self.method == "platt":
            return z * self.scale + self.bias
        return z

    def probabilities(self, logits: Any) -> np.ndarray:
        """Calibrated probabilities (n, C) of logits (n, C)."""
        return sigmoid(self.calibrated_logits(logits))

    def to_json(self) -> dict[str, Any]:
        return {"characters": list(self.characters), "method": self.method, "scale": self.scale.tolist(),
                "bias": self.bias.tolist(), "thresholds": self.thresholds.tolist(),
                "thresholds_raw": self.thresholds_raw.tolist(), "unfitted": list(self.unfitted),
                "validation": self.validation}


def fit(logits: Any, labels: Any, characters: Sequence[str], method: str = "temperature",
        bounds: tuple[float, float] = (0.05, 20.0), grid: int = 199, bins: int = 15) -> Calibration:
    """Fit per-label calibration (``method``) and F1 thresholds on validation logits and labels.

    Raises:
        ValueError: unknown method, or logits and labels of different shapes or not matching ``characters``.
    """
    from projects.cartoon_characters.metrics import expected_calibration_error

    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(labels).astype(np.int64)
    if z.shape != y.shape or z.ndim != 2 or z.shape[1] != len(characters):
        raise ValueError(f"logits {z.shape} and labels {y.shape} must both be (n, {len(characters)})")
    c = len(characters)
    scale, bias = np.ones(c), np.zeros(c)
    unfitted = []
    for j, name in enumerate(characters):
        pos = int(y[:, j].sum())
        if pos == 0 or pos == len(y):
            unfitted.append(name)
            continue
        if method == "temperature":
            scale[j] = fit_temperature(z[:, j], y[:, j], bounds)
            t = scale[j]
            if min(abs(np.log(t / bounds[0])), abs(np.log(bounds[1] / t))) < 1e-3:
                log.warning("calibration: the temperature of %s is at the search bound %.3g (calibrate.bounds "
                            "%s): too few validation frames, or a label the model separates perfectly", name, t,
                            list(bounds))
        elif method == "platt":
            scale[j], bias[j] = fit_platt(z[:, j], y[:, j])
    if unfitted:
        log.warning("calibration: %s have no positive (or no negative) validation frame; kept uncalibrated with "
                    "threshold 0.5", ", ".join(unfitted))
    cal = Calibration(list(characters), method, scale, bias)
    raw = sigmoid(z)
    cooked = cal.probabilities(z)
    thresholds, thresholds_raw, f1_tuned = np.full(c, 0.5), np.full(c, 0.5), {}
    for j, name in enumerate(characters):
        if name in unfitted:
            continue
        thresholds[j], f1_tuned[name] = f1_threshold(cooked[:, j], y[:, j], grid)
        thresholds_raw[j], _ = f1_threshold(raw[:, j], y[:, j], grid)
    cal.thresholds, cal.thresholds_raw, cal.unfitted = thresholds, thresholds_raw, unfitted
    cal.validation = {
        "frames": int(len(y)),
        "nll_before": binary_nll(z, y), "nll_after": binary_nll(cal.calibrated_logits(z), y),
        "ece_pooled_before": expected_calibration_error(y, raw, bins),
        "ece_pooled_after": expected_calibration_error(y, cooked, bins),
        "f1_at_threshold": f1_tuned,
        "fit": {"bounds": list(bounds), "grid": grid, "bins": bins}}
    log.info("calibration (%s) on %d val frames: NLL %.4f → %.4f, pooled ECE %.4f → %.4f", method, len(y),
             cal.validation["nll_before"], cal.validation["nll_after"], cal.validation["ece_pooled_before"],
             cal.validation["ece_pooled_after"])
    return cal


def choose_method(logits: Any, labels: Any, characters: Sequence[str], methods: Sequence[str] = ("temperature",
                  "platt"), bounds: tuple[float, float] = (0.05, 20.0), folds: int = 5,
                  seed: int = 0) -> tuple[str, dict[str, float]]:
    """The calibration method of lowest **held-out** NLL on validation, by ``folds``-fold cross-validation over the
    validation frames (fit on the other folds, score the NLL on each fold in turn, all labels pooled).

    In-sample NLL would always prefer Platt scaling (a z + b contains z / T); held out, its extra parameter must
    earn its place. Returns ``(method, {method: mean held-out NLL})``; the first of equals wins.

    Raises:
        ValueError: fewer frames than folds, or an unknown method.
    """
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(labels).astype(np.int64)
    if len(z) < folds or folds < 2:
        raise ValueError(f"{len(z)} validation frames cannot make {folds} folds")
    order = np.random.default_rng(seed).permutation(len(z))
    parts = np.array_split(order, folds)
    scores: dict[str, float] = {}
    for method in methods:
        if method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
        total, count = 0.0, 0
        for k in range(folds):
            held = parts[k]
            rest = np.concatenate([parts[i] for i in range(folds) if i != k])
            cal = Calibration(list(characters), method, np.ones(z.shape[1]), np.zeros(z.shape[1]))
            for j in range(z.shape[1]):
                pos = int(y[rest, j].sum())
                if 0 < pos < len(rest):
                    if method == "temperature":
                        cal.scale[j] = fit_temperature(z[rest, j], y[rest, j], bounds)
                    elif method == "platt":
                        cal.scale[j], cal.bias[j] = fit_platt(z[rest, j], y[rest, j])
            total += binary_nll(cal.calibrated_logits(z[held]), y[held]) * held.size
            count += held.size
        scores[method] = total / count
    best = min(scores, key=lambda m: scores[m])
    log.info("calibration method by %d-fold held-out NLL on validation: %s (%s)", folds, best,
             ", ".join(f"{m} {v:.5f}" for m, v in scores.items()))
    return best, scores


def save(cal: Calibration, path: str | Path) -> Path:
    """Write ``calibration.json`` atomically."""
    return write_json(path, cal.to_json())


def load(path: str | Path) -> Calibration:
    """Read a ``calibration.json`` written by :func:`save`.

    Raises:
        DataError: the file is missing, not JSON, or lacks a key or has lists of the wrong length.
    """
    data = read_json(path)
    try:
        characters = [str(c) for c in data["characters"]]
        arrays = {k: np.asarray(data[k], dtype=np.float64) for k in ("scale", "bias", "thresholds", "thresholds_raw")}
        method = str(data["method"])
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"{path} is not a calibration file of cartoon_characters: {exc!r}") from exc
    bad = [k for k, a in arrays.items() if a.shape != (len(characters),)]
    if bad or method not in METHODS:
        raise DataError(f"{path}: {', '.join(bad) or 'method'} does not match the {len(characters)} characters "
                        f"(or method {method!r} is unknown)")
    return Calibration(characters, method, arrays["scale"], arrays["bias"], arrays["thresholds"],
                       arrays["thresholds_raw"], list(data.get("unfitted", [])), dict(data.get("validation", {})))
