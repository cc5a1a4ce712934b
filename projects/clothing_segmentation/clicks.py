"""Clicks, their encoding, the standard click simulator and the NoC protocol shared by every method.

The protocol (Xu et al. 2016, as implemented by RITM and f-BRS): the first click goes to the interior point of the
object farthest from its boundary; every next click goes to the point farthest from the boundary of the largest
error region of the current prediction (the false-negative or false-positive region whose interior point lies
deepest, measured by the distance transform with the image border counted as boundary); it is positive when that
region is a false negative (missed garment) and negative when it is a false positive. A method gets at most
``max_clicks`` (20) clicks. NoC@t is the number of clicks the method needs to reach IoU ≥ t (``max_clicks`` when it
never does); NoF@t counts the instances that never reach it.

Every method implements :class:`ClickSegmenter` and is driven by :func:`run_protocol`, so baselines and the model
see exactly the same clicks for the same errors.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, NamedTuple, Protocol, runtime_checkable

import numpy as np

from shared.io import DataError

#: IoU thresholds of NoC/NoF
THRESHOLDS = (0.85, 0.90)


class Click(NamedTuple):
    """A click at pixel row ``y``, column ``x`` of the image it was given for; positive: on the garment."""

    y: int
    x: int
    positive: bool


def check_click(click: Click, shape: tuple[int, int]) -> None:
    """Raises:
        DataError: the click lies outside an image of ``shape`` (H, W), naming both.
    """
    h, w = int(shape[0]), int(shape[1])
    if not (0 <= int(click.y) < h and 0 <= int(click.x) < w):
        raise DataError(f"click at (x={click.x}, y={click.y}) lies outside the image of {w}x{h} pixels "
                        f"(x must be in 0-{w - 1}, y in 0-{h - 1})")


def encode_clicks(clicks: Sequence[Click], shape: tuple[int, int], radius: float) -> np.ndarray:
    """Disk maps of the clicks: float32 (H, W, 2), channel 0 the positive clicks, channel 1 the negative ones.

    Each click is a disk of ``radius`` pixels (a single pixel when ``radius`` < 1) with value 1.

    Raises:
        DataError: a click lies outside the image.
    """
    h, w = int(shape[0]), int(shape[1])
    maps = np.zeros((h, w, 2), dtype=np.float32)
    if not clicks:
        return maps
    r = max(float(radius), 0.0)
    for click in clicks:
        check_click(click, (h, w))
        c = 0 if click.positive else 1
        y0, y1 = max(0, int(np.floor(click.y - r))), min(h, int(np.ceil(click.y + r)) + 1)
        x0, x1 = max(0, int(np.floor(click.x - r))), min(w, int(np.ceil(click.x + r)) + 1)
        yy, xx = np.mgrid[y0:y1, x0:x1]
        disk = (yy - click.y) ** 2 + (xx - click.x) ** 2 <= r * r
        maps[y0:y1, x0:x1, c][disk] = 1.0
    return maps


def _depth(mask: np.ndarray) -> np.ndarray:
    """Distance of each pixel of ``mask`` to the nearest pixel outside it, the image border counting as outside."""
    import cv2

    padded = np.pad(mask.astype(np.uint8), 1, mode="constant")
    return cv2.distanceTransform(padded, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)[1:-1, 1:-1]


def _check_masks(gt: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    gt, pred = np.asarray(gt).astype(bool), np.asarray(pred).astype(bool)
    if gt.ndim != 2 or gt.shape != pred.shape:
        raise DataError(f"ground truth {gt.shape} and prediction {pred.shape} must be 2-D masks of the same size")
    return gt, pred


def next_click(gt: np.ndarray, pred: np.ndarray) -> Click | None:
    """The next simulated click for ground truth ``gt`` and the current prediction ``pred`` (bool H×W).

    The point farthest from the boundary of the largest error region (largest by the depth of its interior, as in
    RITM); positive when that region is a false negative. Ties go to the false negative, then to the first pixel in
    row-major order. ``None`` when the prediction has no error.

    Raises:
        DataError: the masks are not 2-D or differ in size.
    """
    gt, pred = _check_masks(gt, pred)
    fn, fp = gt & ~pred, ~gt & pred
    if not fn.any() and not fp.any():
        return None
    fn_depth, fp_depth = _depth(fn), _depth(fp)
    positive = fn_depth.max() >= fp_depth.max()
    depth = fn_depth if positive else fp_depth
    y, x = np.unravel_index(int(np.argmax(depth)), depth.shape)
    return Click(int(y), int(x), bool(positive))


def iou(gt: np.ndarray, pred: np.ndarray) -> float:
    """Intersection over union of two masks (1.0 when both are empty)."""
    gt, pred = _check_masks(gt, pred)
    union = np.count_nonzero(gt | pred)
    return 1.0 if union == 0 else float(np.count_nonzero(gt & pred)) / union


@runtime_checkable
class ClickSegmenter(Protocol):
    """An interactive segmenter: ``reset`` with an image, then ``predict`` after every click."""

    name: str

    def reset(self, image: np.ndarray) -> None:
        """Start on a new image (H, W, 3) uint8."""

    def predict(self, clicks: Sequence[Click], prev_mask: np.ndarray | None) -> np.ndarray:
        """The probability (H, W) float32 that each pixel belongs to the clicked object, given all clicks so far
        and the previous prediction (``None`` before the first click)."""


def noc(ious: Sequence[float], threshold: float, max_clicks: int) -> int:
    """Number of clicks to reach IoU ≥ ``threshold``: the 1-based index of the first such IoU, else ``max_clicks``."""
    for k, value in enumerate(ious[:max_clicks], start=1):
        if value >= threshold:
            return k
    return int(max_clicks)


def run_protocol(segmenter: ClickSegmenter, image: np.ndarray, gt: np.ndarray, max_clicks: int = 20,
                 threshold: float = 0.5, stop_iou: float = 1.0, min_clicks: int = 1) -> dict[str, Any]:
    """Drive ``segmenter`` with the simulated clicks on one instance, up to ``max_clicks`` clicks.

    The run stops early once the IoU reaches ``stop_iou`` after at least ``min_clicks`` clicks (and after a
    prediction without error); the last IoU is then carried forward to ``max_clicks`` (NoC and NoF at thresholds up
    to ``stop_iou`` are unchanged by stopping).

    Returns:
        ``ious`` (IoU after each click, length ``max_clicks``), ``seconds`` (wall time of each ``predict``),
        ``clicks`` (the clicks given), ``noc85``, ``noc90``, ``failed90`` (IoU 0.90 never reached) and
        ``seconds_per_click`` (mean).

    Raises:
        DataError: the image and mask differ in size, the mask is empty, or the segmenter returns a mask of the wrong
            size.
    """
    image = np.asarray(image)
    gt = np.asarray(gt).astype(bool)
    if image.ndim != 3 or image.shape[:2] != gt.shape:
        raise DataError(f"image {image.shape} and mask {gt.shape} differ in size")
    if not gt.any():
        raise DataError("the ground-truth mask is empty: there is nothing to click on")
    segmenter.reset(image)
    clicks: list[Click] = []
    ious: list[float] = []
    seconds: list[float] = []
    pred = np.zeros(gt.shape, dtype=bool)
    prob: np.ndarray | None = None
    while len(ious) < max_clicks:
        if ious and ious[-1] >= stop_iou and len(ious) >= min_clicks:
            ious += [ious[-1]] * (max_clicks - len(ious))
            break
        click = next_click(gt, pred)
        if click is None:
            ious += [1.0] * (max_clicks - len(ious))
            break
        clicks.append(click)
        start = time.perf_counter()
        prob = np.asarray(segmenter.predict(tuple(clicks), prob), dtype=np.float32)
        seconds.append(time.perf_counter() - start)
        if prob.shape != gt.shape:
            raise DataError(f"{segmenter.name} returned a mask of shape {prob.shape} for an image of {gt.shape}")
        pred = prob > threshold
        ious.append(iou(gt, pred))
    return {"ious": ious, "seconds": seconds, "clicks": clicks,
            "noc85": noc(ious, 0.85, max_clicks), "noc90": noc(ious, 0.90, max_clicks),
            "failed90": bool(max(ious) < 0.90),
            "seconds_per_click": float(np.mean(seconds)) if seconds else 0.0}


def summarize_runs(runs: Sequence[dict[str, Any]], max_clicks: int) -> dict[str, Any]:
    """NoC@85/90, NoF@90, mIoU after 1/3/5 clicks, the mIoU-vs-clicks curve and seconds per click of many runs."""
    if not runs:
        return {"instances": 0}
    ious = np.array([r["ious"] for r in runs], dtype=float)
    curve = ious.mean(axis=0)
    clicks = [s for r in runs for s in r["seconds"]]
    return {"instances": len(runs),
            "noc85": float(np.mean([r["noc85"] for r in runs])),
            "noc90": float(np.mean([r["noc90"] for r in runs])),
            "nof90": int(sum(r["failed90"] for r in runs)),
            **{f"miou_{k}": float(curve[k - 1]) for k in (1, 3, 5) if k <= max_clicks},
            "seconds_per_click": float(np.mean(clicks)) if clicks else 0.0,
            "curve": [float(v) for v in curve]}
