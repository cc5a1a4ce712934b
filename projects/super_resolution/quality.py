"""The field's evaluation protocol: Y channel (ITU-R BT.601), mod-crop, border shave, PSNR, SSIM.

Conventions (those of the SRCNN/EDSR/RCAN evaluation scripts):

* the HR image is mod-cropped to a multiple of the scale before it is downscaled;
* PSNR and SSIM are computed on the luma ``Y = 16 + (65.481 R + 128.553 G + 24.966 B)``
  (R, G, B in [0, 1], Y in [16, 235] on the 8-bit scale) of RGB images, and on the image
  itself for grey images, with ``scale`` pixels shaved from every border; as MATLAB's
  ``rgb2ycbcr`` of an integer image, Y is rounded to the image's integer levels (this is what
  reproduces the published bicubic numbers to 0.01 dB; float Y is 0.01-0.03 dB higher);
* both images are on the 8-bit scale (``data_range = 255``); 16-bit images are mapped there;
* SSIM is Wang et al.'s (Gaussian window σ = 1.5, K1 = 0.01, K2 = 0.03), the MATLAB ``ssim``;
* RGB PSNR (all channels, same shave) is a separate number, never mixed with Y.
"""

from __future__ import annotations

import numpy as np

#: BT.601 luma of R, G, B in [0, 1], on the 8-bit scale (offset 16)
Y_WEIGHTS = np.array([65.481, 128.553, 24.966])
#: BT.601 YCbCr ↔ RGB on the 8-bit scale (rows Y, Cb, Cr; inputs in [0, 1])
YCBCR = np.array([[65.481, 128.553, 24.966], [-37.797, -74.203, 112.0], [112.0, -93.786, -18.214]])
YCBCR_OFFSET = np.array([16.0, 128.0, 128.0])

#: published bicubic PSNR-Y of the benchmarks (the protocol self-check)
PUBLISHED_BICUBIC = {"Set5": {2: 33.66, 3: 30.39, 4: 28.42}, "Set14": {2: 30.24, 3: 27.55, 4: 26.00},
                     "BSD100": {2: 29.56, 3: 27.21, 4: 25.96}, "Urban100": {2: 26.88, 3: 24.46, 4: 23.14}}


def to_unit(image: np.ndarray) -> np.ndarray:
    """Integer image → float64 in [0, 1] (by its dtype's range); floats pass unchanged."""
    image = np.asarray(image)
    if image.dtype.kind in "ui":
        return image.astype(np.float64) / np.iinfo(image.dtype).max
    return image.astype(np.float64, copy=False)


def from_unit(image: np.ndarray, dtype: np.dtype | type) -> np.ndarray:
    """Float in [0, 1] → ``dtype`` (rounded and clipped for integers)."""
    dtype = np.dtype(dtype)
    if dtype.kind in "ui":
        top = np.iinfo(dtype).max
        return np.clip(np.round(np.asarray(image, np.float64) * top), 0, top).astype(dtype)
    return np.asarray(image, dtype=dtype)


def rgb_to_ycbcr(rgb: np.ndarray) -> np.ndarray:
    """RGB in [0, 1] → YCbCr on the 8-bit scale (Y in [16, 235], Cb/Cr in [16, 240])."""
    return np.asarray(rgb, np.float64) @ YCBCR.T + YCBCR_OFFSET


def ycbcr_to_rgb(ycbcr: np.ndarray) -> np.ndarray:
    """The inverse of :func:`rgb_to_ycbcr` (RGB in [0, 1], not clipped)."""
    return (np.asarray(ycbcr, np.float64) - YCBCR_OFFSET) @ np.linalg.inv(YCBCR).T


def luma(image: np.ndarray) -> np.ndarray:
    """The evaluation channel on the 8-bit scale: BT.601 Y of RGB(A), the image itself if grey.

    For an integer image, Y is rounded to that image's levels (MATLAB's ``rgb2ycbcr``).
    """
    image = np.asarray(image)
    unit = to_unit(image)
    if unit.ndim == 3 and unit.shape[-1] == 1:
        unit = unit[..., 0]
    if unit.ndim == 2:
        return unit * 255.0
    y = unit[..., :3] @ Y_WEIGHTS + 16.0
    if image.dtype.kind in "ui":
        levels = np.iinfo(image.dtype).max / 255.0
        y = np.round(y * levels) / levels
    return y


def modcrop(image: np.ndarray, scale: int) -> np.ndarray:
    """Crop the bottom/right so that height and width are multiples of ``scale``."""
    h, w = image.shape[:2]
    return image[: h - h % scale, : w - w % scale]


def shave(image: np.ndarray, border: int) -> np.ndarray:
    return image[border:-border, border:-border] if border > 0 else image


def psnr(a: np.ndarray, b: np.ndarray, data_range: float = 255.0) -> float:
    """Peak signal-to-noise ratio in dB (``inf`` for identical images).

    ``a`` and ``b`` are arrays of the same shape (any), in the units of ``data_range`` (255 for 8-bit pixels).

    Raises:
        ValueError: ``a`` and ``b`` have different shapes.
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        raise ValueError(f"psnr: shapes differ, {a.shape} vs {b.shape}")
    mse = float(np.mean((a - b) ** 2))
    return float("inf") if mse == 0 else float(10.0 * np.log10(data_range**2 / mse))


def ssim(a: np.ndarray, b: np.ndarray, data_range: float = 255.0) -> float:
    """Wang et al.'s SSIM of two grey images (Gaussian window σ = 1.5), via scikit-image."""
    from skimage.metrics import structural_similarity

    return float(structural_similarity(np.asarray(a, np.float64), np.asarray(b, np.float64), data_range=data_range,
                                       gaussian_weights=True, sigma=1.5, use_sample_covariance=False))


def score(sr: np.ndarray, hr: np.ndarray, scale: int) -> dict[str, float]:
    """The field's scores of one output against its HR reference.

    Args:
        sr, hr: the output and the reference, same shape, ``(H, W)`` or ``(H, W, C)``, uint8 or
            uint16 (or float in [0, 255]); mod-cropped to ``scale`` beforehand.
        scale: the upscaling factor; that many pixels are shaved from every border.

    Returns:
        ``{"psnr_y": dB, "ssim_y": in [-1, 1]}`` on BT.601 luma (8-bit range), plus ``"psnr_rgb"`` (dB)
        for colour images.

    Raises:
        ValueError: the shapes differ.
    """
    if sr.shape != hr.shape:
        raise ValueError(f"score: output {sr.shape} and reference {hr.shape} differ in shape")
    y_sr, y_hr = shave(luma(sr), scale), shave(luma(hr), scale)
    row = {"psnr_y": psnr(y_sr, y_hr), "ssim_y": ssim(y_sr, y_hr)}
    if hr.ndim == 3 and hr.shape[-1] >= 3:
        row["psnr_rgb"] = psnr(shave(to_unit(sr)[..., :3], scale) * 255, shave(to_unit(hr)[..., :3], scale) * 255)
    return row
