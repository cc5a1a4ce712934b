"""Image files in and out, 8 and 16 bit, grey, grey+alpha, RGB and RGBA.

``shared.io.read_image`` goes through Pillow, which silently reduces 16-bit colour PNGs to
8 bits and cannot write them; 16-bit PNGs therefore go through OpenCV here (installed with
albumentations). Everything else is ``shared.io``'s validating reader and atomic writer.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from shared.io import DataError, atomic_path
from shared.io import read_image as _read_image
from shared.io import write_image as _write_image

SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
SUPPORTED_DTYPES = (np.uint8, np.uint16)


def _png_bit_depth(path: Path) -> int | None:
    with open(path, "rb") as fh:
        head = fh.read(25)
    if len(head) < 25 or head[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    return head[24]


def _cv2():
    import cv2

    return cv2


def _swap_rb(image: np.ndarray) -> np.ndarray:
    """RGB(A) ↔ BGR(A); grey is unchanged."""
    if image.ndim == 3 and image.shape[-1] in (3, 4):
        return np.concatenate([image[..., 2::-1], image[..., 3:]], axis=-1)
    return image


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an 8- or 16-bit image as ``(H, W)`` or ``(H, W, C)`` (C = 2 grey+alpha, 3 RGB, 4 RGBA).

    Raises :class:`DataError` naming the file for a missing, empty, corrupt or truncated
    file, and for an unsupported mode (float or 32-bit pixels, more than 4 channels, stacks).
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"file not found: {path}")
    if path.suffix.lower() == ".png" and path.stat().st_size > 0 and _png_bit_depth(path) == 16:
        cv2 = _cv2()
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if image is None:
            raise DataError(f"{path} is not a readable image (corrupt or truncated?)")
        image = _swap_rb(image)
    else:
        image = _read_image(path)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.dtype not in SUPPORTED_DTYPES:
        raise DataError(f"{path}: unsupported mode, {image.dtype} pixels; super-resolution reads 8- and 16-bit "
                        "images (uint8, uint16)")
    if min(image.shape[:2]) < 2:
        raise DataError(f"{path}: image of {image.shape[1]}×{image.shape[0]} pixels is too small")
    return image


def write_image(path: str | os.PathLike, image: np.ndarray) -> Path:
    """Write an image atomically; 16-bit colour PNGs go through OpenCV, JPEG must be 8-bit."""
    path = Path(path)
    image = np.asarray(image)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise DataError(f"{path}: unsupported output format {suffix!r}; use one of {', '.join(SUFFIXES)}")
    if suffix in (".jpg", ".jpeg") and image.dtype != np.uint8:
        raise DataError(f"{path}: JPEG holds 8-bit images only; write a {image.dtype} image as PNG or TIFF")
    if suffix in (".jpg", ".jpeg") and image.ndim == 3 and image.shape[-1] in (2, 4):
        raise DataError(f"{path}: JPEG has no alpha channel; write PNG or TIFF")
    if suffix == ".png" and image.dtype == np.uint16 and image.ndim == 3:
        cv2 = _cv2()
        ok, data = cv2.imencode(".png", _swap_rb(image))
        if not ok:  # pragma: no cover - OpenCV reports no reason
            raise DataError(f"could not encode {path}")
        with atomic_path(path) as tmp:
            tmp.write_bytes(data.tobytes())
        return path
    return _write_image(path, image)


def list_images(folder: str | os.PathLike) -> list[Path]:
    """The image files of a folder (recursively, sorted); a clear error if there are none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"image folder not found: {folder}")
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
    if not files:
        raise DataError(f"{folder} holds no images ({', '.join(SUFFIXES)})")
    return files
