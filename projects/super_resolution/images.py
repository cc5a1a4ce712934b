"""Image files in and out for super-resolution: 8 and 16 bit, grey, grey+alpha, RGB and RGBA.

Reading and writing go through ``shared.io.read_image`` / ``write_image``, which open every
Pillow and tifffile mode (CMYK and YCbCr JPEG, palette with or without transparency, 1-bit,
LA, I;16, 16-bit colour, planar, tiled and big-endian TIFF), apply the EXIF orientation, take
the first frame of an animation with a warning, and keep alpha and 16-bit depth on writing.
This module adds what super-resolution needs on top: a 2-D array for one channel, only 8- and
16-bit pixels, a useful size, and formats that can hold what is written (no alpha or 16 bits
in JPEG).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from shared.io import DataError
from shared.io import read_image as _read_image
from shared.io import write_image as _write_image

SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp", ".gif")
SUPPORTED_DTYPES = (np.uint8, np.uint16)


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as super-resolution takes it.

    Args:
        path: an image file of any mode ``shared.io.read_image`` opens.

    Returns:
        ``(H, W)`` for grey, ``(H, W, C)`` otherwise (C = 2 grey+alpha, 3 RGB, 4 RGBA), uint8 or
        uint16 as stored (16-bit files keep their 16 bits), EXIF orientation applied.

    Raises:
        DataError: naming the file, for a missing, empty, corrupt or truncated file, an
            unsupported mode (float or 32-bit pixels, more than 4 channels), or an image smaller
            than 2×2 pixels.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"file not found: {path}")
    image = np.asarray(_read_image(path))
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.dtype == np.bool_:
        image = image.astype(np.uint8) * 255
    if image.dtype not in SUPPORTED_DTYPES:
        raise DataError(f"{path}: unsupported mode, {image.dtype} pixels; super-resolution reads 8- and 16-bit "
                        "images (uint8, uint16)")
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[-1] not in (2, 3, 4)):
        raise DataError(f"{path}: unsupported layout {image.shape} (grey, grey+alpha, RGB or RGBA)")
    if min(image.shape[:2]) < 2:
        raise DataError(f"{path}: image of {image.shape[1]}×{image.shape[0]} pixels is too small")
    return image


def write_image(path: str | os.PathLike, image: np.ndarray) -> Path:
    """Write an image atomically, in the format of the file's suffix, keeping alpha and bit depth.

    Args:
        path: the output file; its suffix picks the format (PNG and TIFF hold 16 bits and alpha).
        image: ``(H, W)`` or ``(H, W, C)`` (C = 2, 3 or 4), uint8 or uint16.

    Returns:
        ``path``.

    Raises:
        DataError: an unknown suffix, or a format that cannot hold the image (JPEG: 8-bit, no
            alpha; BMP, GIF: 8-bit).
    """
    path = Path(path)
    image = np.asarray(image)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise DataError(f"{path}: unsupported output format {suffix!r}; use one of {', '.join(SUFFIXES)}")
    if suffix in (".jpg", ".jpeg", ".bmp", ".gif", ".webp") and image.dtype != np.uint8:
        kind = "JPEG" if suffix in (".jpg", ".jpeg") else suffix[1:].upper()
        raise DataError(f"{path}: {kind} holds 8-bit images only; write a {image.dtype} image "
                        "as PNG or TIFF")
    if suffix in (".jpg", ".jpeg") and image.ndim == 3 and image.shape[-1] in (2, 4):
        raise DataError(f"{path}: JPEG has no alpha channel; write PNG or TIFF to keep the transparency")
    return _write_image(path, image)


def list_images(folder: str | os.PathLike) -> list[Path]:
    """The image files of a folder, recursively, sorted by path.

    Raises:
        DataError: the folder does not exist or holds no file with a suffix of :data:`SUFFIXES`.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"image folder not found: {folder}")
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
    if not files:
        raise DataError(f"{folder} holds no images ({', '.join(SUFFIXES)})")
    return files
