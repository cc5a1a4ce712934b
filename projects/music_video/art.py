"""The generator's embedded, offline image set: procedural abstract art, photo patches, digits.

:func:`make_images` draws ``n`` square RGB images from one or more *sources*:

- ``abstract``: procedurally generated art, vectorised over the batch: a linear colour gradient in a random
  direction, multi-octave value noise ("fractal noise", e.g. Perlin 1985 / Ebert et al., *Texturing and Modeling*),
  a few soft shapes (discs, rings, bars) and, on most images, k-fold kaleidoscopic mirror symmetry about the
  centre (k ∈ {3..8});
- ``photos``: random patches (random position, scale 1/4 to 1 of the shorter side, random flips) of the
  photographs bundled with scikit-image (``skimage.data``: astronaut, chelsea, coffee, rocket, Hubble deep field,
  retina, IHC, motorcycle, plus the grey textures brick, grass and gravel, tinted);
- ``digits``: scikit-learn's bundled 8×8 handwritten digits (UCI optdigits), upscaled bicubically, white on black:
  the course's MNIST-GAN flavour at a tiny size.

Images are split between the sources in equal shares (the first sources get the remainder) and shuffled, all
deterministically by ``seed``. Nothing is downloaded: only files shipped inside the installed packages are read.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence

import numpy as np

__all__ = ["SOURCES", "make_images", "abstract_images", "photo_patches", "digit_images"]

log = logging.getLogger(__name__)

#: the sources :func:`make_images` knows
SOURCES = ("abstract", "photos", "digits")

#: skimage.data loaders of bundled photographs (colour first, then grey textures that get tinted)
_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field", "retina", "immunohistochemistry",
           "motorcycle_left")
_TEXTURES = ("brick", "grass", "gravel")


def make_images(n: int, size: int, seed: int, sources: Sequence[str] = ("abstract", "photos")) -> np.ndarray:
    """Draw ``n`` images of ``size``×``size`` RGB from the given sources, deterministic by ``seed``.

    Args:
        n: number of images (≥ 0).
        size: side in pixels (≥ 8).
        seed: random seed; the same arguments always give the same array.
        sources: any non-empty subset of :data:`SOURCES`.

    Returns:
        uint8 array ``(n, size, size, 3)``.

    Raises:
        ValueError: ``n < 0``, ``size < 8``, no source, or an unknown source name.
    """
    n, size = int(n), int(size)
    if n < 0:
        raise ValueError(f"art.make_images: n must be ≥ 0, got {n}")
    if size < 8:
        raise ValueError(f"art.make_images: size must be ≥ 8 pixels, got {size}")
    sources = tuple(sources) if not isinstance(sources, str) else (sources,)
    if not sources:
        raise ValueError("art.make_images: give at least one source")
    unknown = [s for s in sources if s not in SOURCES]
    if unknown:
        raise ValueError(f"art.make_images: unknown source(s) {unknown}; known: {list(SOURCES)}")
    rng = np.random.default_rng(seed)
    counts = [n // len(sources) + (1 if i < n % len(sources) else 0) for i in range(len(sources))]
    makers = {"abstract": abstract_images, "photos": photo_patches, "digits": digit_images}
    parts = [makers[s](c, size, rng) for s, c in zip(sources, counts, strict=True) if c > 0]
    if not parts:
        return np.zeros((0, size, size, 3), np.uint8)
    images = np.concatenate(parts)
    return images[rng.permutation(len(images))]


# --------------------------------------------------------------------------- abstract art
def _upsample(grid: np.ndarray, size: int) -> np.ndarray:
    """Bilinear upsampling of ``(n, g, g, c)`` grids to ``(n, size, size, c)`` (corner-aligned)."""
    g = grid.shape[1]
    pos = np.linspace(0.0, g - 1.0, size)
    i0 = np.clip(np.floor(pos).astype(int), 0, g - 2)
    t = (pos - i0)[None, :, None, None]
    rows = grid[:, i0] * (1 - t) + grid[:, i0 + 1] * t                       # (n, size, g, c)
    t2 = (pos - i0)[None, None, :, None]
    return rows[:, :, i0] * (1 - t2) + rows[:, :, i0 + 1] * t2


def _fractal_noise(n: int, size: int, rng: np.random.Generator, octaves: int = 4, channels: int = 3) -> np.ndarray:
    """Sum of value-noise octaves (lattice 2, 4, 8, ... cells, amplitude halving), scaled to [0, 1]."""
    out = np.zeros((n, size, size, channels), np.float32)
    amp, total = 1.0, 0.0
    for o in range(octaves):
        g = min(2 ** (o + 1) + 1, size)
        out += amp * _upsample(rng.random((n, g, g, channels), np.float32), size)
        total += amp
        amp *= 0.5
    out /= total
    lo = out.min(axis=(1, 2, 3), keepdims=True)
    hi = out.max(axis=(1, 2, 3), keepdims=True)
    return (out - lo) / np.maximum(hi - lo, 1e-9)


def _hsv_colours(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Random saturated colours, ``shape + (3,)`` in [0, 1] (HSV with s, v in [0.5, 1])."""
    from skimage.color import hsv2rgb

    hsv = np.stack([rng.random(shape), rng.uniform(0.5, 1.0, shape), rng.uniform(0.5, 1.0, shape)], axis=-1)
    return hsv2rgb(hsv.reshape(-1, 1, 3)).reshape(shape + (3,)).astype(np.float32)


def _kaleidoscope(images: np.ndarray, folds: np.ndarray) -> np.ndarray:
    """Fold each image into ``folds[i]``-fold mirror symmetry about its centre (nearest-pixel lookup)."""
    n, size = images.shape[:2]
    c = (size - 1) / 2.0
    yy, xx = np.mgrid[0:size, 0:size] - c
    r = np.hypot(xx, yy)
    theta = np.arctan2(yy, xx)
    out = images.copy()
    for k in np.unique(folds):
        if k < 2:
            continue
        wedge = np.pi / k                                                  # mirror half-wedge: 2k-fold dihedral
        a = np.mod(theta, 2 * wedge)
        a = np.where(a > wedge, 2 * wedge - a, a)
        xs = np.clip(np.rint(c + r * np.cos(a)), 0, size - 1).astype(int)
        ys = np.clip(np.rint(c + r * np.sin(a)), 0, size - 1).astype(int)
        idx = np.flatnonzero(folds == k)
        out[idx] = images[idx][:, ys, xs]
    return out


def abstract_images(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` procedural abstract images, uint8 ``(n, size, size, 3)``: gradient + fractal noise + shapes + symmetry.

    Raises:
        nothing for valid ``n ≥ 0`` and ``size ≥ 8`` (checked by :func:`make_images`).
    """
    if n == 0:
        return np.zeros((0, size, size, 3), np.uint8)
    yy, xx = (np.mgrid[0:size, 0:size] / max(size - 1, 1)).astype(np.float32)
    # gradient between two colours along a random direction
    ang = rng.uniform(0, 2 * np.pi, (n, 1, 1)).astype(np.float32)
    t = (np.cos(ang) * (xx - 0.5) + np.sin(ang) * (yy - 0.5)) / np.sqrt(0.5) + 0.5
    t = np.clip(t, 0, 1)[..., None]
    c0, c1 = _hsv_colours(rng, (n,)), _hsv_colours(rng, (n,))
    img = c0[:, None, None] * (1 - t) + c1[:, None, None] * t
    # fractal noise, mixed in with a random weight (per image)
    w = rng.uniform(0.15, 0.6, (n, 1, 1, 1)).astype(np.float32)
    img = img * (1 - w) + _fractal_noise(n, size, rng) * w
    # soft shapes: discs, rings, bars
    for _ in range(4):
        cx, cy = rng.random((n, 1, 1), np.float32), rng.random((n, 1, 1), np.float32)
        rad = rng.uniform(0.05, 0.3, (n, 1, 1)).astype(np.float32)
        kind = rng.integers(0, 3, (n, 1, 1))
        d = np.hypot(xx - cx, yy - cy)
        disc = d < rad
        ring = np.abs(d - rad) < rad * 0.25
        bar = (np.abs((xx - cx) * np.cos(ang) - (yy - cy) * np.sin(ang)) < rad * 0.3)
        mask = np.where(kind == 0, disc, np.where(kind == 1, ring, bar))
        # about half the shapes show (alpha 0 for the others)
        alpha = (rng.uniform(0.4, 0.9, (n, 1, 1)) * rng.integers(0, 2, (n, 1, 1))).astype(np.float32)
        col = _hsv_colours(rng, (n,))[:, None, None]
        a = (mask * alpha)[..., None]
        img = img * (1 - a) + col * a
    folds = np.where(rng.random(n) < 0.7, rng.integers(3, 9, n), 0)
    img = _kaleidoscope(img, folds)
    return np.clip(np.rint(img * 255), 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------- photographs
@functools.cache
def _photo_bank(size: int) -> tuple[np.ndarray, ...]:
    """The bundled skimage photographs as float32 in [0, 1] (grey textures kept 2-D), shorter side shrunk
    (by an integer box filter) to about ``4 * size`` once (so every patch resize is cheap); missing ones are
    skipped with a log line."""
    from skimage import data
    from skimage.transform import downscale_local_mean

    bank = []
    for name in _PHOTOS + _TEXTURES:
        try:
            im = np.asarray(getattr(data, name)())
        except Exception as exc:  # noqa: BLE001 - a missing optional file only shrinks the bank
            log.info("skimage.data.%s unavailable (%s): skipped", name, exc)
            continue
        if im.ndim == 3 and im.shape[2] == 4:
            im = im[..., :3]
        im = im.astype(np.float32) / 255.0
        factor = int(min(im.shape[:2]) // (4 * size))
        if factor >= 2:                                                      # box-filter shrink, cheap
            im = downscale_local_mean(im, (factor, factor) + (1,) * (im.ndim - 2))
        bank.append(np.ascontiguousarray(im, dtype=np.float32))
    if not bank:
        raise RuntimeError("no scikit-image sample photograph could be read")
    return tuple(bank)


def photo_patches(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` random square patches of scikit-image's bundled photographs, resized to ``size``, uint8 RGB.

    Grey textures are tinted with a random colour. Patch side is 1/4 to 1 of the photo's shorter side
    (the photos are first shrunk to a shorter side of about ``4 * size``).

    Raises:
        RuntimeError: none of the bundled photographs could be read (broken scikit-image install).
    """
    from skimage.transform import resize

    out = np.zeros((n, size, size, 3), np.uint8)
    if n == 0:
        return out
    bank = _photo_bank(size)
    for i in range(n):
        im = bank[rng.integers(len(bank))]
        h, w = im.shape[:2]
        side = int(rng.uniform(0.25, 1.0) * min(h, w))
        side = max(side, min(size, h, w))
        y0, x0 = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
        patch = resize(im[y0:y0 + side, x0:x0 + side], (size, size), order=1, anti_aliasing=side > 2 * size,
                       preserve_range=True)
        if patch.ndim == 2:
            patch = patch[..., None] * (0.35 + 0.65 * _hsv_colours(rng, ())[None, None, :])
        if rng.random() < 0.5:
            patch = patch[:, ::-1]
        out[i] = np.clip(np.rint(patch * 255), 0, 255).astype(np.uint8)
    return out


# --------------------------------------------------------------------------- digits
@functools.cache
def _digits() -> np.ndarray:
    from sklearn.datasets import load_digits

    return load_digits().images.astype(np.float64) / 16.0          # (1797, 8, 8) in [0, 1]


def digit_images(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` of scikit-learn's 8×8 handwritten digits (drawn with replacement), upscaled bicubically, grey as RGB.

    Raises:
        nothing for valid ``n ≥ 0`` and ``size ≥ 8``.
    """
    from skimage.transform import resize

    out = np.zeros((n, size, size, 3), np.uint8)
    if n == 0:
        return out
    bank = _digits()
    picks = bank[rng.integers(0, len(bank), n)]
    big = resize(picks, (n, size, size), order=3, anti_aliasing=False, preserve_range=True)
    out[:] = np.clip(np.rint(big * 255), 0, 255).astype(np.uint8)[..., None]
    return out
