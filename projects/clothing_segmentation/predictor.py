"""The trained segmenter as a :class:`~projects.clothing_segmentation.clicks.ClickSegmenter`, with zoom-in.

:class:`ModelSegmenter` takes an image of any size. The network sees a square *view* of it resized to its
training size S:

* for the first ``zoom_after`` clicks, the whole image (letterboxed: the square of its longer side, centred,
  zero padding, as the data stage letterboxes);
* afterwards (**zoom-in**, RITM): the square around the current mask and every click, its longer side expanded by
  ``zoom_expand`` (at least ``min_zoom`` of the image's longer side); the prediction inside the view is pasted
  back into the previous full-image probability, which is kept outside it. Thin parts (straps, sleeves, shoes)
  get many more network pixels this way.

The clicks are encoded in the view's pixels (disks of the trained radius) and the previous probability is cropped
and resized the same way, so the network sees what it was trained on. After each :meth:`ModelSegmenter.predict`,
:attr:`ModelSegmenter.class_probabilities` holds the class head's softmax for the selected garment.

    seg = load_segmenter("data/clothing_segmentation/model")
    seg.reset(image)
    prob = seg.predict([Click(120, 80, True)], None)
    name, p = seg.predicted_class()
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from projects.clothing_segmentation.clicks import Click, check_click, encode_clicks
from projects.clothing_segmentation.loaders import to_rgb8
from shared.io import DataError, read_json


def _resize(array: np.ndarray, size: tuple[int, int], interpolation: str = "linear") -> np.ndarray:
    """cv2.resize to (height, width) of a (H, W) or (H, W, C) array."""
    import cv2

    flag = {"linear": cv2.INTER_LINEAR, "area": cv2.INTER_AREA}[interpolation]
    out = cv2.resize(array, (int(size[1]), int(size[0])), interpolation=flag)
    return out.reshape(*size, *array.shape[2:]) if array.ndim == 3 else out


def square_view(shape: tuple[int, int]) -> tuple[float, float, float]:
    """``(y0, x0, side)`` of the centred square of the image's longer side (the letterbox)."""
    h, w = shape
    side = float(max(h, w))
    return (h - side) / 2, (w - side) / 2, side


def zoom_view(shape: tuple[int, int], prob: np.ndarray | None, clicks: Sequence[Click], expand: float,
              min_fraction: float) -> tuple[float, float, float]:
    """``(y0, x0, side)`` of the square around the mask (prob > 0.5) and the clicks, expanded by ``expand``."""
    ys = [c.y for c in clicks]
    xs = [c.x for c in clicks]
    if prob is not None:
        rows = np.flatnonzero((prob > 0.5).any(axis=1))
        cols = np.flatnonzero((prob > 0.5).any(axis=0))
        if rows.size:
            ys += [int(rows[0]), int(rows[-1])]
            xs += [int(cols[0]), int(cols[-1])]
    y0, y1, x0, x1 = min(ys), max(ys) + 1, min(xs), max(xs) + 1
    side = max(y1 - y0, x1 - x0) * expand
    side = min(max(side, min_fraction * max(shape)), float(max(shape)))
    return (y0 + y1) / 2 - side / 2, (x0 + x1) / 2 - side / 2, side


def crop_view(array: np.ndarray, view: tuple[float, float, float], size: int) -> np.ndarray:
    """The square ``view`` of ``array`` (H, W[, C]) resized to ``size`` × ``size``; outside the image is zero."""
    y0, x0, side = view
    iy0, ix0, iside = int(round(y0)), int(round(x0)), max(int(round(side)), 1)
    h, w = array.shape[:2]
    canvas = np.zeros((iside, iside, *array.shape[2:]), dtype=array.dtype)
    sy0, sx0 = max(iy0, 0), max(ix0, 0)
    sy1, sx1 = min(iy0 + iside, h), min(ix0 + iside, w)
    if sy1 > sy0 and sx1 > sx0:
        canvas[sy0 - iy0:sy1 - iy0, sx0 - ix0:sx1 - ix0] = array[sy0:sy1, sx0:sx1]
    return _resize(canvas, (size, size), "area" if iside > size else "linear")


def paste_view(full: np.ndarray, view_prob: np.ndarray, view: tuple[float, float, float]) -> np.ndarray:
    """Resize ``view_prob`` (S, S) back to the view and write it into a copy of ``full`` (H, W) where it overlaps."""
    y0, x0, side = view
    iy0, ix0, iside = int(round(y0)), int(round(x0)), max(int(round(side)), 1)
    back = _resize(view_prob.astype(np.float32), (iside, iside))
    out = full.copy()
    h, w = full.shape
    sy0, sx0 = max(iy0, 0), max(ix0, 0)
    sy1, sx1 = min(iy0 + iside, h), min(ix0 + iside, w)
    if sy1 > sy0 and sx1 > sx0:
        out[sy0:sy1, sx0:sx1] = back[sy0 - iy0:sy1 - iy0, sx0 - ix0:sx1 - ix0]
    return out


class ModelSegmenter:
    """The trained network behind the :class:`~projects.clothing_segmentation.clicks.ClickSegmenter` protocol."""

    def __init__(self, net, *, size: int, radius: float, classes: Sequence[str], zoom_in: bool = True,
                 zoom_after: int = 1, zoom_expand: float = 1.4, min_zoom: float = 0.2, name: str = "model"):
        import tensorflow as tf

        self.net, self.size, self.radius, self.classes = net, int(size), float(radius), list(classes)
        self.zoom_in, self.zoom_after, self.zoom_expand, self.min_zoom = zoom_in, int(zoom_after), zoom_expand, min_zoom
        self.name = name
        self._run = tf.function(lambda inputs: net(inputs, training=False), reduce_retracing=True)
        self.image: np.ndarray | None = None
        self.class_probabilities: np.ndarray | None = None
        self.last_view: tuple[float, float, float] | None = None

    def reset(self, image: np.ndarray) -> None:
        """Start on a new image (H, W, 3) uint8.

        Raises:
            DataError: the image is not (H, W, 3).
        """
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[-1] != 3 or min(image.shape[:2]) < 1:
            raise DataError(f"the segmenter takes an RGB image (H, W, 3), got shape {image.shape}")
        self.image = np.ascontiguousarray(image.astype(np.uint8))
        self.class_probabilities = None
        self.last_view = None

    def predict(self, clicks: Sequence[Click], prev_mask: np.ndarray | None) -> np.ndarray:
        """The probability (H, W) float32 of the clicked garment, given every click so far and the previous
        probability (``None`` before the first click).

        Raises:
            DataError: no image was set, there is no click, a click lies outside the image, or ``prev_mask`` has
                another size than the image.
        """
        if self.image is None:
            raise DataError("call reset(image) before predict()")
        if not clicks:
            raise DataError("predict() needs at least one click")
        shape = self.image.shape[:2]
        for click in clicks:
            check_click(click, shape)
        prev = np.zeros(shape, np.float32) if prev_mask is None else np.asarray(prev_mask, np.float32)
        if prev.shape != shape:
            raise DataError(f"previous mask {prev.shape} and image {shape} differ in size")
        zoom = self.zoom_in and len(clicks) > self.zoom_after and prev_mask is not None
        view = zoom_view(shape, prev, clicks, self.zoom_expand, self.min_zoom) if zoom else square_view(shape)
        view = y0, x0, side = (int(round(view[0])), int(round(view[1])), max(int(round(view[2])), 1))
        scale = self.size / side
        local = [Click(int(round((c.y - y0) * scale - 0.5 + 0.5 * scale)),
                       int(round((c.x - x0) * scale - 0.5 + 0.5 * scale)), c.positive) for c in clicks]
        local = [c for c in local if 0 <= c.y < self.size and 0 <= c.x < self.size]
        inputs = {"image": crop_view(self.image, view, self.size)[None].astype(np.float32),
                  "clicks": encode_clicks(local, (self.size, self.size), self.radius)[None],
                  "prev_mask": crop_view(prev, view, self.size)[None, ..., None].astype(np.float32)}
        out = self._run(inputs)
        logits = np.asarray(out["mask"])[0, ..., 0]
        view_prob = 1.0 / (1.0 + np.exp(-np.clip(logits, -30, 30)))
        class_logits = np.asarray(out["class"], np.float64)[0]
        e = np.exp(class_logits - class_logits.max())
        self.class_probabilities = e / e.sum()
        self.last_view = view
        base = prev if zoom else np.zeros(shape, np.float32)
        return np.clip(paste_view(base, view_prob, view), 0.0, 1.0).astype(np.float32)

    def predicted_class(self) -> tuple[str, float]:
        """Name and probability of the most likely garment class of the last prediction.

        Raises:
            DataError: nothing has been predicted yet.
        """
        if self.class_probabilities is None:
            raise DataError("no prediction yet: click first")
        k = int(np.argmax(self.class_probabilities))
        return self.classes[k], float(self.class_probabilities[k])

    def segment(self, image: np.ndarray, clicks: Sequence[Click]) -> np.ndarray:
        """Replay ``clicks`` in order on ``image`` as an interactive session does; returns the final probability."""
        self.reset(image)
        prob = None
        for k in range(1, len(clicks) + 1):
            prob = self.predict(clicks[:k], prob)
        if prob is None:
            raise DataError("segment() needs at least one click")
        return prob


def load_segmenter(path: str | os.PathLike, **options) -> ModelSegmenter:
    """The segmenter of a trained model folder (the train stage's output: ``model.keras`` and ``train.json``).

    ``options`` go to :class:`ModelSegmenter` (``zoom_in=False`` switches the zoom-in off).

    Raises:
        DataError: the folder lacks ``model.keras`` or ``train.json``, or they cannot be read.
    """
    from projects.clothing_segmentation.model import load_model

    folder = Path(path)
    if not (folder / "model.keras").is_file():
        raise DataError(f"{folder} holds no model.keras; run the train stage first "
                        "(capstone run clothing_segmentation --stage train)")
    info = read_json(folder / "train.json")
    net = load_model(folder / "model.keras")
    return ModelSegmenter(net, size=int(info["size"]), radius=float(info["click_radius"]), classes=info["classes"],
                          **options)


# --------------------------------------------------------------------------- images in, masks out
#: default limit on the pixels of an input image (decompression bombs stop here, before decoding)
MAX_PIXELS = 40_000_000


def load_rgb(path: str | os.PathLike, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """An image file as RGB uint8 (H, W, 3) (:func:`~projects.clothing_segmentation.loaders.to_rgb8`).

    The pixel count is checked from the header before anything is decoded.

    Raises:
        DataError: the file is missing, empty, not an image, corrupt or truncated, or has more than ``max_pixels``
            pixels.
    """
    from PIL import Image, UnidentifiedImageError

    from shared.io import read_image

    path = Path(path)
    if not path.is_file():
        raise DataError(f"no such image file: {path}")
    try:
        with Image.open(path) as img:
            width, height = img.size
    except Image.DecompressionBombError as exc:
        raise DataError(f"{path.name}: the image is too large ({exc})") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise DataError(f"{path.name} is not an image this tool reads (JPEG, PNG, TIFF, BMP, WebP, ...): {exc}") \
            from exc
    if width * height > max_pixels:
        raise DataError(f"{path.name} has {width}x{height} = {width * height:,} pixels, more than the limit of "
                        f"{max_pixels:,}; downscale it first")
    return to_rgb8(read_image(path), path.name)


def mask_png(prob: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """The binary mask as an 8-bit image: 255 on the garment, 0 elsewhere."""
    return np.where(np.asarray(prob) > threshold, 255, 0).astype(np.uint8)


def coco_annotation(mask: np.ndarray, *, category: str, image_name: str, classes: Sequence[str]) -> dict:
    """A COCO result with the mask as compressed RLE (pycocotools), its area and box.

    Returns:
        ``{"images": [...], "categories": [...], "annotations": [{"segmentation": {"size", "counts"}, ...}]}``,
        a minimal COCO file that pycocotools (``COCO``/``maskUtils.decode``) reads back.
    """
    from pycocotools import mask as mask_utils

    binary = np.asfortranarray((np.asarray(mask) > 0).astype(np.uint8))
    rle = mask_utils.encode(binary)
    area = float(mask_utils.area(rle))
    bbox = [float(v) for v in mask_utils.toBbox(rle)]
    rle["counts"] = rle["counts"].decode("ascii")
    categories = [{"id": k, "name": name} for k, name in enumerate(classes)]
    category_id = list(classes).index(category) if category in classes else -1
    if category_id < 0:
        categories.append({"id": len(classes), "name": category})
        category_id = len(classes)
    h, w = binary.shape
    return {"images": [{"id": 1, "file_name": image_name, "height": int(h), "width": int(w)}],
            "categories": categories,
            "annotations": [{"id": 1, "image_id": 1, "category_id": category_id, "segmentation": rle,
                             "area": area, "bbox": bbox, "iscrowd": 0}]}
