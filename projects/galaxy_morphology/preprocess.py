"""Image preprocessing with astropy and scikit-image: background, crop and resize, stretch.

The ``data`` stage stores images **linear and background-subtracted, in units of the
background noise** (each band divided by its sigma-clipped standard deviation), so that
augmentation can blur and add noise where it is physical, before any stretch. The network
then sees :func:`network_input`: a per-band ``asinh``, ``zscale`` or ``linear`` stretch and
a per-image brightness normalisation (the 99.5th percentile over all bands becomes 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from shared.io import DataError

Stretch = Literal["asinh", "zscale", "linear"]


@dataclass(frozen=True)
class PreprocessConfig:
    """Background subtraction, noise normalisation, crop, resize and stretch of the raw cutouts.

    Raises:
        ValueError: ``size`` < 8, ``crop_fraction`` outside (0, 1], ``clip_sigma`` ≤ 0 or ``asinh_softening`` ≤ 0.
    """

    #: output size in pixels (square)
    size: int = 64
    #: fraction of the (square) image kept around the centre before resizing
    crop_fraction: float = 1.0
    #: sigma-clipping of the background estimate (astropy.stats.sigma_clipped_stats)
    clip_sigma: float = 3.0
    stretch: Stretch = "asinh"
    #: asinh softening in units of the background noise: linear below, logarithmic above
    asinh_softening: float = 3.0
    #: NaN or infinite pixels: "error" stops with a clear message, "mask" fills them with the background
    nan_policy: Literal["error", "mask"] = "error"

    def __post_init__(self) -> None:
        if self.size < 8 or not 0 < self.crop_fraction <= 1 or self.clip_sigma <= 0 or self.asinh_softening <= 0:
            raise ValueError("size ≥ 8, 0 < crop_fraction ≤ 1, clip_sigma > 0 and asinh_softening > 0 are required")


def to_hwc(image: np.ndarray, bands: int, source: str) -> np.ndarray:
    """(H, W, C) float32 from (C, H, W) FITS cubes or (H, W, C) images; checks the band count.

    An array whose first and last axes both have ``bands`` entries is read as (C, H, W).

    Raises:
        DataError: a 2-D image (one band), an array that is not 3-D, or one with no axis of ``bands`` entries
            first or last (``source`` names the input).
    """
    image = np.asarray(image)
    if image.ndim == 2:
        raise DataError(f"{source} has 1 band, expected {bands}: give {bands} bands (one file per band, a cube "
                        "or a colour image)")
    if image.ndim != 3:
        raise DataError(f"{source} must be a 2-D image per band, got shape {image.shape}")
    if image.shape[-1] == bands and image.shape[0] != bands:
        hwc = image
    elif image.shape[0] == bands:
        hwc = np.moveaxis(image, 0, -1)
    else:
        raise DataError(f"{source} has shape {image.shape}: expected {bands} bands (C×H×W or H×W×C)")
    return hwc.astype(np.float32, copy=False)


def handle_nan(image: np.ndarray, policy: str, source: str, hint: str | None = None) -> np.ndarray:
    """NaN/inf pixels of an (H, W, C) image: ``policy`` "error" raises, "mask" fills each band's with its median.

    Raises:
        DataError: NaN pixels under "error" (``hint`` says how to mask; default: the params key), or a
            band without any finite pixel.
    """
    bad = ~np.isfinite(image)
    if not bad.any():
        return image
    if policy == "error":
        hint = hint or "; set data.preprocess.nan_policy: mask to fill them with the background"
        raise DataError(f"{source} has {int(bad.sum())} NaN or infinite pixel(s){hint}")
    image = image.copy()
    for b in range(image.shape[-1]):
        band = image[..., b]
        good = np.isfinite(band)
        if not good.any():
            raise DataError(f"{source}: band {b} has no finite pixel")
        band[~good] = np.median(band[good])
    return image


def subtract_background(image: np.ndarray, clip_sigma: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
    """Per band: subtract the sigma-clipped median and divide by the clipped std (noise units).

    Returns the normalised (H, W, C) image and the per-band noise std in input units.
    """
    from astropy.stats import sigma_clipped_stats

    out = np.empty_like(image, dtype=np.float32)
    stds = np.empty(image.shape[-1])
    for b in range(image.shape[-1]):
        _, median, std = sigma_clipped_stats(image[..., b], sigma=clip_sigma, maxiters=5)
        if not np.isfinite(std) or std <= 0:
            std = float(np.std(image[..., b])) or 1.0
        out[..., b] = (image[..., b] - median) / std
        stds[b] = std
    return out, stds


def crop_resize(image: np.ndarray, crop_fraction: float, size: int) -> np.ndarray:
    """Centre crop (square) and resize with anti-aliasing to ``size``×``size``."""
    from skimage.transform import resize

    h, w = image.shape[:2]
    side = max(1, int(round(min(h, w) * crop_fraction)))
    top, left = (h - side) // 2, (w - side) // 2
    image = image[top:top + side, left:left + side]
    if side != size:
        image = resize(image, (size, size, image.shape[-1]), order=1, anti_aliasing=side > size,
                       preserve_range=True)
    return image.astype(np.float32, copy=False)


def prepare_image(image: np.ndarray, cfg: PreprocessConfig, bands: int, source: str,
                  nan_hint: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Raw image or cube → (size, size, bands) linear, background-subtracted, noise-normalised image,
    and the per-band background noise in the input's units (to recover fluxes and colours).

    Raises:
        DataError: a wrong band count or shape, or NaN pixels under ``nan_policy: error``.
    """
    hwc = handle_nan(to_hwc(image, bands, source), cfg.nan_policy, source, nan_hint)
    normalised, noise = subtract_background(hwc.astype(np.float64), cfg.clip_sigma)
    return crop_resize(normalised, cfg.crop_fraction, cfg.size), noise


def stretch_image(image: np.ndarray, kind: str = "asinh", softening: float = 3.0) -> np.ndarray:
    """Per-band stretch of a noise-normalised (H, W, C) image, then per-image brightness normalisation.

    ``softening`` is in noise units (asinh only). The result, (H, W, C) float32, is divided by its 99.5th
    percentile when that is positive.

    Raises:
        ValueError: ``kind`` is not ``asinh``, ``zscale`` or ``linear``.
    """
    image = np.asarray(image, dtype=np.float32)
    if kind == "asinh":
        out = np.arcsinh(image / softening)
    elif kind == "zscale":
        from astropy.visualization import ZScaleInterval

        out = np.empty_like(image)
        interval = ZScaleInterval()
        for b in range(image.shape[-1]):
            low, high = interval.get_limits(image[..., b])
            out[..., b] = (image[..., b] - low) / max(high - low, 1e-6)
    elif kind == "linear":
        out = image.copy()
    else:
        raise ValueError(f"unknown stretch {kind!r}; use asinh, zscale or linear")
    scale = np.percentile(out, 99.5)
    return (out / scale if scale > 0 else out).astype(np.float32)


def network_input(images: np.ndarray, kind: str = "asinh", softening: float = 3.0) -> np.ndarray:
    """:func:`stretch_image` over a batch (N, H, W, C)."""
    return np.stack([stretch_image(im, kind, softening) for im in images]) if len(images) else images


def display_rgb(image: np.ndarray, softening: float = 3.0) -> np.ndarray:
    """(H, W, 3) in [0, 1] for plots: asinh stretch, z→red, r→green, g→blue (the usual DECaLS rendering)."""
    out = np.clip(stretch_image(image, "asinh", softening), 0, 1)
    return out[..., ::-1] if out.shape[-1] == 3 else out
