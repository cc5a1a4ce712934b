"""Metrics used by more than one project, and the writer of ``metrics.json``."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from shared.io import write_json


def rel_l2(pred: Any, ref: Any) -> float:
    """Relative L2 error ‖pred − ref‖ / ‖ref‖ over all entries.

    Both are read as float arrays of the same shape (any); where ‖ref‖ = 0 the absolute error ‖pred − ref‖
    is returned.

    Raises:
        ValueError: ``pred`` and ``ref`` have different shapes.
    """
    pred, ref = np.asarray(pred, dtype=float), np.asarray(ref, dtype=float)
    if pred.shape != ref.shape:
        raise ValueError(f"rel_l2: shapes differ, {pred.shape} vs {ref.shape}")
    denom = np.linalg.norm(ref)
    return float(np.linalg.norm(pred - ref) / denom) if denom > 0 else float(np.linalg.norm(pred - ref))


def summarize(values: Sequence[float]) -> dict[str, float]:
    """Median, mean, min and max of repeated measurements (e.g. over seeds)."""
    arr = np.asarray(values, dtype=float)
    return {"median": float(np.median(arr)), "mean": float(np.mean(arr)),
            "min": float(np.min(arr)), "max": float(np.max(arr)), "n": int(arr.size)}


def _round(obj: Any, digits: int) -> Any:
    if isinstance(obj, bool) or obj is None:
        return obj
    if isinstance(obj, (float, np.floating)):
        value = float(obj)
        if not math.isfinite(value) or value == 0.0:
            return value
        return float(f"{value:.{digits}g}")
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, Mapping):
        return {str(k): _round(v, digits) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_round(v, digits) for v in obj]
    return obj


def write_metrics(path: str | os.PathLike, metrics: Mapping[str, Any], digits: int = 5) -> Path:
    """Write ``metrics.json`` atomically, rounded to ``digits`` significant digits.

    Layout convention (rendered by :mod:`shared.readme`): top-level keys are tables,
    ``{table: {row: {column: value}}}``; a table may also be a flat ``{name: value}``.
    """
    return write_json(path, _round(dict(metrics), digits))


def timeit(fn, *args: Any, repeats: int = 5, warmup: int = 1, **kwargs: Any) -> dict[str, float]:
    """Wall time of ``fn(*args, **kwargs)``: median, min and max over ``repeats`` runs after ``warmup``.

    For speed targets measured in an evaluate or benchmark stage (never in a unit test).
    """
    import time

    for _ in range(warmup):
        fn(*args, **kwargs)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(*args, **kwargs)
        times.append(time.perf_counter() - start)
    return {"median_s": float(np.median(times)), "min_s": float(np.min(times)), "max_s": float(np.max(times)),
            "repeats": repeats}


# --------------------------------------------------------------------------------------------------------------------
# The headline contract: every project's metrics.json has a ``headline`` block, model against strongest baseline.

#: p-value under which a paired test counts as significant in the verdict
ALPHA = 0.05


class HeadlineError(ValueError):
    """A ``headline`` block of ``metrics.json`` breaks the contract of :func:`headline`."""


def headline(*, metric: str, data: str, model: str, model_value: float, baseline: str, baseline_value: float,
             higher_is_better: bool, baseline_rule: str, unit: str = "",
             significance: Mapping[str, Any] | None = None,
             also: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """The ``headline`` block of a project's ``metrics.json``: the model against its strongest baseline.

    Args:
        metric: what is compared, in the field's terms, e.g. ``"MAE at h=1 (°C)"`` or ``"PSNR-Y at ×4 (dB)"``.
        data: the data it is measured on, e.g. ``"GISTEMP v4 annual, rolling origins 1990-2023"``.
        model, model_value: the model's name and its value of ``metric``.
        baseline, baseline_value: the strongest simple or classical baseline and its value, on the same data.
        higher_is_better: direction of ``metric`` (accuracy, PSNR: True; errors: False).
        baseline_rule: how the baseline was chosen, never on test (``"best validation MAE of 6 baselines"``).
        unit: unit of ``metric`` (also allowed inside ``metric``).
        significance: the field's paired test of model against baseline on the same cases, as a mapping with
            ``test`` (its name) and ``p_value``, or ``test`` with a confidence interval ``low``/``high`` of
            the difference model − baseline; ``None`` where there is none (the verdict then says so).
        also: further headline blocks made by this function (other data, e.g. real photos, or the worst case of
            a target), shown in the project's README beside the main one.

    Returns:
        A mapping with the arguments plus ``ratio`` (model_value / baseline_value), ``difference``
        (model_value − baseline_value), ``wins`` (the model is better in the metric's direction) and
        ``verdict`` (``"wins"``, ``"loses"`` or ``"ties"``, with ``", not significant (p=…)"`` where a test
        found no significant difference).

    Raises:
        HeadlineError: a name is empty, a value is not a finite number, or ``significance`` lacks ``test``.
    """
    for name, value in (("metric", metric), ("data", data), ("model", model), ("baseline", baseline),
                        ("baseline_rule", baseline_rule)):
        if not isinstance(value, str) or not value.strip():
            raise HeadlineError(f"headline: {name} must be a non-empty string, got {value!r}")
    values = {}
    for name, value in (("model_value", model_value), ("baseline_value", baseline_value)):
        try:
            values[name] = float(value)
        except (TypeError, ValueError):
            raise HeadlineError(f"headline: {name} must be a number, got {value!r}") from None
        if not math.isfinite(values[name]):
            raise HeadlineError(f"headline: {name} is not finite ({value!r})")
    m, b = values["model_value"], values["baseline_value"]
    wins = m > b if higher_is_better else m < b
    verdict = "wins" if wins else ("ties" if m == b else "loses")
    sig = None
    if significance is not None:
        sig = dict(significance)
        if not sig.get("test"):
            raise HeadlineError("headline: significance needs 'test' (the name of the test)")
        p = sig.get("p_value")
        low, high = sig.get("low"), sig.get("high")
        significant = None
        if p is not None and math.isfinite(float(p)):
            significant = float(p) < ALPHA
            detail = f"p={float(p):.2g}"
        elif low is not None and high is not None:
            significant = not (float(low) <= 0.0 <= float(high))
            detail = f"95% CI [{float(low):.3g}, {float(high):.3g}]"
        if significant is False:
            verdict += f", not significant ({detail})"
        sig["significant"] = significant
    else:
        verdict += " (no significance test)"
    return {
        "metric": metric, "unit": unit, "data": data,
        "model": model, "model_value": m,
        "baseline": baseline, "baseline_value": b, "baseline_rule": baseline_rule,
        "higher_is_better": bool(higher_is_better),
        "ratio": m / b if b != 0 else None,
        "difference": m - b,
        "wins": bool(wins), "verdict": verdict,
        "significance": sig,
        "also": [validate_headline(h) for h in also],
    }


def validate_headline(block: Any) -> dict[str, Any]:
    """Check that ``block`` is a headline made by :func:`headline` (for tests and the README tables).

    Raises:
        HeadlineError: a key is missing, the baseline is empty, or ``wins``/``ratio`` disagree with the values.
    """
    if not isinstance(block, Mapping):
        raise HeadlineError(f"headline must be a mapping, got {type(block).__name__}")
    required = ("metric", "data", "model", "model_value", "baseline", "baseline_value", "baseline_rule",
                "higher_is_better", "ratio", "wins", "verdict")
    missing = [k for k in required if k not in block]
    if missing:
        raise HeadlineError(f"headline lacks {', '.join(missing)}")
    if not block["baseline"] or block["baseline_value"] is None:
        raise HeadlineError("headline has no baseline")
    m, b = float(block["model_value"]), float(block["baseline_value"])
    if bool(block["wins"]) != (m > b if block["higher_is_better"] else m < b):
        raise HeadlineError(f"headline 'wins' = {block['wins']} contradicts model {m} vs baseline {b}")
    if b != 0 and block["ratio"] is not None and not math.isclose(float(block["ratio"]), m / b, rel_tol=1e-3):
        raise HeadlineError(f"headline ratio {block['ratio']} is not model/baseline = {m / b:.5g}")
    for other in block.get("also") or ():
        validate_headline(other)
    return dict(block)
