"""Image arrays as models take them: any array :func:`shared.io.read_image` returns → uint8 RGB.

One conversion for every project that feeds photos or frames to an RGB network (image_captioning,
cartoon_characters), so that a 16-bit, grey, palette-derived or transparent image means the same everywhere.
"""

from __future__ import annotations

import numpy as np

from shared.io import DataError

__all__ = ["to_rgb8"]


def to_rgb8(image: np.ndarray, name: str = "image") -> np.ndarray:
    """(H, W) or (H, W, 1|2|3|4) → uint8 RGB (H, W, 3), as the image displays on a white page.

    * integers are scaled by their type's range (uint16: v / 257, so 65535 → 255; 8-bit types as they are);
    * floats are taken as [0, 1] (NaN as 0; values above 1 as [0, 255]) and clipped;
    * grey is repeated over the three channels;
    * alpha (the last channel of 2 or 4) is composited over white: what a viewer shows for a transparent pixel.

    Args:
        image: the pixels, e.g. from :func:`shared.io.read_image`.
        name: how errors name the image (its file, usually).

    Raises:
        DataError: the array is no image (not 2-D or 3-D with 1-4 channels, or empty).
    """
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3 or image.shape[-1] not in (1, 2, 3, 4) or min(image.shape[:2]) < 1:
        raise DataError(f"{name}: not an image (shape {image.shape})")
    if image.dtype.kind in "ui":
        top = 65535.0 if image.dtype.itemsize > 1 else 255.0
        scaled = np.clip(image.astype(np.float64) / top, 0, 1)
    elif image.dtype.kind == "f":
        scaled = np.nan_to_num(image.astype(np.float64), nan=0.0, posinf=1.0, neginf=0.0)
        if scaled.max(initial=0) > 1.0:
            scaled = scaled / 255.0
        scaled = np.clip(scaled, 0, 1)
    elif image.dtype == bool:
        scaled = image.astype(np.float64)
    else:
        raise DataError(f"{name}: unsupported pixel type {image.dtype}")
    alpha = scaled[..., -1:] if image.shape[-1] in (2, 4) else None
    colour = scaled[..., :3] if image.shape[-1] >= 3 else np.repeat(scaled[..., :1], 3, axis=-1)
    if alpha is not None:
        colour = colour * alpha + (1.0 - alpha)
    return np.ascontiguousarray(np.rint(colour * 255.0).astype(np.uint8))
