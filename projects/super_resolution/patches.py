"""Training and validation examples: random HR crops, dihedral augmentation, the degradation.

Training examples are a pure function of ``(seed, example index)`` (stateless random ops), so
the stream of batches is reproducible and a resumed run continues exactly where the killed run
stopped (:func:`training_dataset` takes the index to start at). Per example:

1. pick a training image uniformly, then ``candidates`` square crops of ``scale·lr_patch`` HR
   pixels uniformly inside it, and keep the first whose luma standard deviation reaches
   ``min_std`` (the last one if none does): flat crops (sky, background, a black frame), on
   which bicubic is already exact, teach the network little, so fewer steps are spent on them;
2. with probability ``low_contrast_p``, the crop's contrast about its mean is scaled by a factor drawn
   uniformly from ``low_contrast``: the 8-bit rounding of the low-resolution image then leaves
   steps of one grey level on smooth ramps (micrographs, the Moon, fog, skies), and the network
   learns to leave them smooth instead of sharpening them into edges;
3. one of the 8 flips/rotations;
4. the degradation: MATLAB-compatible bicubic downscaling with antialiasing, computed as
   ``W · X · Wᵀ`` with the fixed ``resize.resize_matrix``, then rounded to 8-bit levels like a
   saved low-resolution image; or the ``realistic`` degradation (Gaussian blur, downscaling,
   Gaussian noise, JPEG) through albumentations.

The network sees the luma channel only (see ``model.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from projects.super_resolution.quality import luma, modcrop
from projects.super_resolution.resize import imresize, resize_matrix
from shared.data import make_dataset, numpy_map
from shared.io import DataError


@dataclass(frozen=True)
class Degradation:
    """How a low-resolution input is made from an HR image: MATLAB bicubic, or blur + noise + JPEG.

    Raises:
        ValueError: a range of ``blur_sigma``, ``noise_std`` or ``jpeg_quality`` has low > high or low < 0, or
            ``jpeg_quality`` leaves [1, 100].
    """

    kind: Literal["bicubic", "realistic"] = "bicubic"
    #: realistic: Gaussian blur of the HR crop (σ in HR pixels), noise std (in [0, 1]) and JPEG quality ranges
    blur_sigma: tuple[float, float] = (0.2, 1.5)
    noise_std: tuple[float, float] = (0.0, 0.03)
    jpeg_quality: tuple[int, int] = (50, 95)

    def __post_init__(self) -> None:
        for name in ("blur_sigma", "noise_std", "jpeg_quality"):
            low, high = getattr(self, name)
            if low > high or low < 0:
                raise ValueError(f"degradation.{name} must be [low, high] with 0 ≤ low ≤ high, got {[low, high]}")
        if not 1 <= self.jpeg_quality[0] <= self.jpeg_quality[1] <= 100:
            raise ValueError("degradation.jpeg_quality must lie in [1, 100]")


def luma_unit(image: np.ndarray) -> np.ndarray:
    """The network's input/target channel: luma in [0, 1], float32."""
    return (luma(image) / 255.0).astype(np.float32)


def quantize(x, levels: float = 255.0):
    """Round to the levels of a saved 8-bit image (works on NumPy arrays and tensors)."""
    from keras import ops

    return ops.clip(ops.round(x * levels), 0.0, levels) / levels


def degrade(hr: np.ndarray, scale: int, degradation: Degradation | None = None, seed: int = 0) -> np.ndarray:
    """The low-resolution input of an HR image: MATLAB bicubic (same dtype), or the realistic one (8-bit).

    The realistic degradation blurs the HR image, downscales it, adds Gaussian noise and
    compresses it as JPEG, with parameters drawn (per call, from ``seed``) from the ranges of
    ``degradation`` by albumentations, as in training.
    """
    degradation = degradation or Degradation()
    if degradation.kind == "bicubic":
        return imresize(hr, 1.0 / scale)
    blur_fn, after_fn = _albumentations_realistic(degradation, seed)
    unit = (hr.astype(np.float64) / (np.iinfo(hr.dtype).max if hr.dtype.kind in "ui" else 1.0)).astype(np.float32)
    lr = after_fn(imresize(blur_fn(unit), 1.0 / scale).astype(np.float32))
    return np.round(lr * 255).astype(np.uint8)


def _albumentations_realistic(degradation: Degradation, seed: int):
    """(blur of an HR float image, noise + JPEG of an LR float image), float32 in [0, 1], any channels."""
    import albumentations as A

    blur = A.Compose([A.GaussianBlur(blur_limit=0, sigma_limit=degradation.blur_sigma, p=1.0)], seed=seed)
    after = A.Compose([A.GaussNoise(std_range=degradation.noise_std, mean_range=(0, 0), p=1.0),
                       A.ImageCompression(quality_range=degradation.jpeg_quality, p=1.0)], seed=seed + 1)

    def blur_fn(hr: np.ndarray) -> np.ndarray:
        return blur(image=hr)["image"].astype(np.float32).reshape(hr.shape)

    def after_fn(lr: np.ndarray) -> np.ndarray:
        lr8 = np.round(np.clip(lr, 0, 1) * 255).astype(np.uint8)
        return (after(image=lr8)["image"].astype(np.float32) / 255.0).reshape(lr.shape)

    return blur_fn, after_fn


def check_low_contrast(p: float, factors: Sequence[float]) -> tuple[float, float]:
    """``factors`` as ``(low, high)`` floats.

    Raises:
        ValueError: ``p`` outside [0, 1], or ``factors`` not a range ``0 < low ≤ high ≤ 1``.
    """
    lo, hi = (float(v) for v in factors)
    if not (0.0 <= p <= 1.0 and 0.0 < lo <= hi <= 1.0):
        raise ValueError(f"low_contrast_p must be in [0, 1] and low_contrast a range in (0, 1], got "
                         f"{p}, {list(factors)}")
    return lo, hi


class PatchSampler:
    """Draws ``(lr, hr)`` luma patch pairs from a set of HR images, example by example.

    ``images`` are ``(H, W)`` or ``(H, W, C)`` uint8/uint16 arrays; patches are ``(lr_patch, lr_patch, 1)`` and
    ``(scale·lr_patch, scale·lr_patch, 1)`` float32 luma in [0, 1]. Images smaller than an HR patch are skipped.

    Raises:
        ValueError: ``candidates`` < 1 or ``min_std`` < 0; ``low_contrast_p`` outside [0, 1] or not
            0 < ``low_contrast[0]`` ≤ ``low_contrast[1]`` ≤ 1.
        DataError: no image is at least ``scale × lr_patch`` pixels on its shorter side.
    """

    def __init__(self, images: Sequence[np.ndarray], scale: int, lr_patch: int, seed: int = 0,
                 degradation: Degradation | None = None, candidates: int = 1, min_std: float = 0.0,
                 low_contrast_p: float = 0.0, low_contrast: tuple[float, float] = (0.05, 0.5)):
        self.scale, self.lr_patch, self.seed = int(scale), int(lr_patch), int(seed)
        if candidates < 1 or min_std < 0:
            raise ValueError(f"candidates must be ≥ 1 and min_std ≥ 0, got {candidates}, {min_std}")
        lo, hi = check_low_contrast(low_contrast_p, low_contrast)
        self.candidates, self.min_std = int(candidates), float(min_std)
        self.low_contrast_p, self.low_contrast = float(low_contrast_p), (lo, hi)
        self.hr_patch = self.scale * self.lr_patch
        self.degradation = degradation or Degradation()
        ys = [luma_unit(im) for im in images]
        ys = [y for y in ys if min(y.shape) >= self.hr_patch]
        if not ys:
            raise DataError(f"no training image is at least {self.hr_patch}×{self.hr_patch} pixels "
                            f"(scale {scale} × lr_patch {lr_patch}); lower train.lr_patch")
        self.n_images = len(ys)
        self.shapes = np.array([y.shape for y in ys], dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum([y.size for y in ys])[:-1]]).astype(np.int64)
        self.flat = np.concatenate([y.ravel() for y in ys])
        self.down = resize_matrix(self.hr_patch, self.lr_patch, 1.0 / self.scale).toarray().astype(np.float32)

    def dataset(self, batch_size: int, start: int, stop: int):
        """Batches of examples ``start … stop-1`` (example ``i`` is the same in every run)."""
        import tensorflow as tf

        flat = tf.constant(self.flat)
        shapes, offsets = tf.constant(self.shapes), tf.constant(self.offsets)
        down = tf.constant(self.down)
        p, n, seed = self.hr_patch, self.n_images, self.seed
        grid = tf.range(p, dtype=tf.int64)
        realistic = self.degradation.kind == "realistic"
        if realistic:
            blur_fn, after_fn = _albumentations_realistic(self.degradation, seed)
            blur_map = numpy_map(blur_fn, [tf.float32])
            after_map = numpy_map(after_fn, [tf.float32])

        c, min_std = self.candidates, self.min_std
        q, (c_lo, c_hi) = self.low_contrast_p, self.low_contrast

        def example(i):
            key = tf.stack([tf.cast(seed, tf.int64), i])
            u = tf.random.stateless_uniform([2 + 2 * c], seed=key, dtype=tf.float32)
            k = tf.minimum(tf.cast(u[0] * n, tf.int64), n - 1)
            h, w = shapes[k][0], shapes[k][1]
            y0 = tf.cast(u[2:2 + c] * tf.cast(h - p + 1, tf.float32), tf.int64)          # (c,)
            x0 = tf.cast(u[2 + c:] * tf.cast(w - p + 1, tf.float32), tf.int64)
            idx = offsets[k] + (y0[:, None, None] + grid[None, :, None]) * w + (x0[:, None, None] + grid[None, None, :])
            crops = tf.gather(flat, idx)                                                  # (c, p, p)
            ok = tf.math.reduce_std(crops, axis=(1, 2)) >= min_std
            first = tf.where(tf.reduce_any(ok), tf.argmax(tf.cast(ok, tf.int32)), tf.cast(c - 1, tf.int64))
            hr = crops[first]
            if q > 0:   # draws of their own, so that q = 0 leaves every other draw (and old runs) unchanged
                v = tf.random.stateless_uniform([2], seed=key + tf.constant([7919, 0], tf.int64))
                factor = tf.where(v[0] < q, c_lo + (c_hi - c_lo) * v[1], 1.0)
                mean = tf.reduce_mean(hr)
                hr = mean + (hr - mean) * factor
            d = tf.cast(u[1] * 8, tf.int32)
            hr = tf.image.rot90(hr[..., None], k=d % 4)
            hr = tf.cond(d >= 4, lambda: tf.image.flip_left_right(hr), lambda: hr)
            src = blur_map(hr) if realistic else hr
            lr = tf.einsum("ij,jk,lk->il", down, src[..., 0], down)[..., None]
            lr = after_map(lr) if realistic else quantize(lr)
            lr.set_shape((self.lr_patch, self.lr_patch, 1))
            hr.set_shape((p, p, 1))
            return lr, hr

        return make_dataset(np.arange(start, stop, dtype=np.int64), batch_size=batch_size, augment=example,
                            cache=False, drop_remainder=True)


def validation_pairs(images: Sequence[np.ndarray], scale: int, crop: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Full-protocol validation examples: the centre ``crop``² of each image (mod-cropped), LR by ``imresize``."""
    lrs, hrs = [], []
    for image in images:
        h, w = image.shape[:2]
        top, left = max((h - crop) // 2, 0), max((w - crop) // 2, 0)
        hr = modcrop(image[top:top + crop, left:left + crop], scale)
        lrs.append(luma_unit(imresize(hr, 1.0 / scale))[..., None])
        hrs.append(luma_unit(hr)[..., None])
    return lrs, hrs


def validation_dataset(images: Sequence[np.ndarray], scale: int, crop: int, copies: int = 1):
    """One image per batch (sizes differ), repeated ``copies`` times in its batch: one copy per replica of a
    ``tf.distribute`` strategy, so that every replica scores the same image and the mean over replicas is the
    image's score."""
    import tensorflow as tf

    lrs, hrs = validation_pairs(images, scale, crop)
    spec = (tf.TensorSpec((None, None, 1), tf.float32), tf.TensorSpec((None, None, 1), tf.float32))
    ds = tf.data.Dataset.from_generator(lambda: zip(lrs, hrs), output_signature=spec)
    ds = ds.apply(tf.data.experimental.assert_cardinality(len(lrs)))
    ds = ds.batch(1)
    if copies > 1:
        ds = ds.map(lambda lr, hr: (tf.repeat(lr, copies, axis=0), tf.repeat(hr, copies, axis=0)))
    return ds.cache().prefetch(tf.data.AUTOTUNE)
