"""Classical interactive segmenters driven by the same clicks as the model: OpenCV GrabCut and random walker.

Both implement :class:`projects.clothing_segmentation.clicks.ClickSegmenter`.

* :class:`GrabCutSegmenter`: ``cv2.grabCut`` in mask mode (``GC_INIT_WITH_MASK``). The previous prediction is
  probable foreground (before any prediction: a disk of ``init_fraction`` of the image side around each positive
  click), the rest probable background, and sure background beyond ``margin_fraction`` of the image side from the
  prior and the positive clicks (so that the colour models stay local). Every click is painted as a disk of sure
  foreground (positive) or sure background (negative).
  Of the result, only the regions that hold a positive click are kept.
* :class:`RandomWalkerSegmenter`: ``skimage.segmentation.random_walker`` (mode ``bf``: a direct sparse solve) on the
  RGB image, the click disks as seeds; with no negative click yet, the image border seeds the background. The
  probability of the foreground label is returned (thresholded at 0.5 by the protocol).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from projects.clothing_segmentation.clicks import Click, check_click, encode_clicks
from shared.io import DataError

log = logging.getLogger(__name__)


def _check_image(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[-1] != 3 or image.dtype != np.uint8:
        raise DataError(f"expected an RGB image (H, W, 3) uint8, got {image.dtype} {image.shape}")
    return np.ascontiguousarray(image)


def content_box(image: np.ndarray) -> tuple[int, int, int, int]:
    """``(y0, y1, x0, x1)`` of ``image`` without its all-black border rows and columns (letterbox padding)."""
    filled = np.asarray(image).reshape(image.shape[0], image.shape[1], -1).any(axis=-1)
    rows, cols = np.flatnonzero(filled.any(axis=1)), np.flatnonzero(filled.any(axis=0))
    if rows.size == 0 or cols.size == 0:
        return 0, image.shape[0], 0, image.shape[1]
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def _keep_clicked(mask: np.ndarray, clicks: Sequence[Click]) -> np.ndarray:
    """The connected regions of ``mask`` that hold a positive click."""
    import cv2

    n, comp = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    keep = {int(comp[c.y, c.x]) for c in clicks if c.positive and comp[c.y, c.x] > 0}
    return np.isin(comp, list(keep)) if keep else mask.astype(bool)


class GrabCutSegmenter:
    """OpenCV GrabCut with the clicks as sure foreground/background."""

    name = "grabcut"

    def __init__(self, iterations: int = 3, click_radius: float = 3.0, init_fraction: float = 0.08,
                 margin_fraction: float = 0.25, use_previous: bool = True):
        self.use_previous = bool(use_previous)
        self.margin_fraction = float(margin_fraction)
        self.iterations = int(iterations)
        self.click_radius = float(click_radius)
        self.init_fraction = float(init_fraction)
        self.image: np.ndarray | None = None

    def reset(self, image: np.ndarray) -> None:
        self.image = _check_image(image)

    def predict(self, clicks: Sequence[Click], prev_mask: np.ndarray | None) -> np.ndarray:
        """Raises:
            DataError: ``reset`` was not called, or a click lies outside the image.
        """
        import cv2

        if self.image is None:
            raise DataError("GrabCutSegmenter.predict before reset(image)")
        h, w = self.image.shape[:2]
        for c in clicks:
            check_click(c, (h, w))
        if not any(c.positive for c in clicks):
            return np.zeros((h, w), dtype=np.float32)
        prev = None if prev_mask is None else np.asarray(prev_mask) > 0.5
        disks = encode_clicks(clicks, (h, w), self.click_radius)
        mask = np.full((h, w), cv2.GC_PR_BGD, dtype=np.uint8)
        if self.use_previous and prev is not None and prev.any():
            mask[prev] = cv2.GC_PR_FGD
        else:
            init = encode_clicks([c for c in clicks if c.positive], (h, w), self.init_fraction * min(h, w))
            mask[init[..., 0] > 0] = cv2.GC_PR_FGD
        if self.margin_fraction > 0:  # sure background beyond a margin around the prior and the positive clicks
            near = ((mask == cv2.GC_PR_FGD) | (disks[..., 0] > 0)).astype(np.uint8)
            margin = max(1, int(round(self.margin_fraction * min(h, w))))
            kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * margin + 1, 2 * margin + 1))
            mask[cv2.dilate(near, kernel) == 0] = cv2.GC_BGD
        mask[disks[..., 0] > 0] = cv2.GC_FGD
        mask[disks[..., 1] > 0] = cv2.GC_BGD
        bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
        try:
            cv2.grabCut(cv2.cvtColor(self.image, cv2.COLOR_RGB2BGR), mask, None, bgd, fgd, self.iterations,
                        cv2.GC_INIT_WITH_MASK)
        except cv2.error as exc:  # degenerate GMMs (too few pixels of one kind): keep the prior
            log.debug("grabCut failed (%s); keeping the prior", exc)
        fg = (mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)
        return _keep_clicked(fg, clicks).astype(np.float32)


class RandomWalkerSegmenter:
    """scikit-image random walker (mode ``bf``) seeded by the click disks."""

    name = "random_walker"

    def __init__(self, beta: float = 130.0, click_radius: float = 3.0, border_seeds: bool = True):
        self.beta = float(beta)
        self.click_radius = float(click_radius)
        self.border_seeds = bool(border_seeds)
        self.data: np.ndarray | None = None

    def reset(self, image: np.ndarray) -> None:
        image = _check_image(image)
        self.shape = image.shape[:2]
        self.box = content_box(image)
        y0, y1, x0, x1 = self.box
        self.data = image[y0:y1, x0:x1].astype(np.float64) / 255.0

    def predict(self, clicks: Sequence[Click], prev_mask: np.ndarray | None) -> np.ndarray:
        """Raises:
            DataError: ``reset`` was not called, or a click lies outside the image.
        """
        from skimage.segmentation import random_walker

        if self.data is None:
            raise DataError("RandomWalkerSegmenter.predict before reset(image)")
        for c in clicks:
            check_click(c, self.shape)
        out = np.zeros(self.shape, dtype=np.float32)
        if not any(c.positive for c in clicks):
            return out
        y0, y1, x0, x1 = self.box
        disks = encode_clicks(clicks, self.shape, self.click_radius)[y0:y1, x0:x1]
        seeds = np.zeros(self.data.shape[:2], dtype=np.int32)
        if self.border_seeds:
            seeds[0, :] = seeds[-1, :] = seeds[:, 0] = seeds[:, -1] = 2
        seeds[disks[..., 1] > 0] = 2
        seeds[disks[..., 0] > 0] = 1
        prob = random_walker(self.data, seeds, beta=self.beta, mode="bf", channel_axis=-1, return_full_prob=True)
        out[y0:y1, x0:x1] = prob[0]
        return out
