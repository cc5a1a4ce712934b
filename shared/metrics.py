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
    """Relative L2 error ‖pred − ref‖ / ‖ref‖ over all entries."""
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
