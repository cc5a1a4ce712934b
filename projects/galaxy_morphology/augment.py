"""Physically motivated augmentation (albumentations) and the ``tf.data`` input pipelines.

Augmentation acts on the linear, background-subtracted images in noise units, before the
stretch, so that each transform mimics something the sky or the telescope does:

* a rotation by any angle and flips (a galaxy has no preferred orientation on the sky);
* a small shift and zoom (imperfect centring, another distance);
* a Gaussian blur (worse seeing) and added Gaussian noise (a shorter exposure, a brighter sky).

The ranges are generic and fixed in ``params.yaml``; they are never tuned on the shifted test set.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from projects.galaxy_morphology.preprocess import network_input, stretch_image


@dataclass(frozen=True)
class AugmentConfig:
    rotate: bool = True
    flip: bool = True
    #: maximum shift as a fraction of the image size
    shift: float = 0.05
    zoom: tuple[float, float] = (0.85, 1.15)
    #: Gaussian blur sigma in pixels, applied with probability ``blur_p``
    blur_sigma: tuple[float, float] = (0.2, 1.2)
    blur_p: float = 0.5
    #: std of the added noise in units of the image's own background noise, with probability ``noise_p``
    noise: tuple[float, float] = (0.0, 1.0)
    noise_p: float = 0.5

    def __post_init__(self) -> None:
        if not 0 <= self.shift < 0.5 or not 0 < self.zoom[0] <= self.zoom[1]:
            raise ValueError("0 ≤ shift < 0.5 and 0 < zoom[0] ≤ zoom[1] are required")
        if not (0 <= self.blur_p <= 1 and 0 <= self.noise_p <= 1) or min(*self.blur_sigma, *self.noise) < 0:
            raise ValueError("probabilities must lie in [0, 1] and ranges be non-negative")


class Augmenter:
    """Callable ``(image, rng) → image`` built from an :class:`AugmentConfig`."""

    def __init__(self, cfg: AugmentConfig, seed: int = 0):
        import albumentations as A
        import cv2

        self.cfg = cfg
        transforms = [A.Affine(rotate=(-180, 180) if cfg.rotate else 0, scale=tuple(cfg.zoom),
                               translate_percent=(-cfg.shift, cfg.shift), border_mode=cv2.BORDER_REFLECT_101,
                               p=1.0)]
        if cfg.flip:
            transforms += [A.HorizontalFlip(p=0.5), A.VerticalFlip(p=0.5)]
        if cfg.blur_p > 0:
            transforms.append(A.GaussianBlur(sigma_limit=tuple(cfg.blur_sigma), blur_limit=0, p=cfg.blur_p))
        self.transform = A.Compose(transforms, seed=seed)
        self.rng = np.random.default_rng(seed)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        # albumentations clips float images to [0, 1]: map to it and back (every transform is linear)
        low, high = float(image.min()), float(image.max())
        span = high - low if high > low else 1.0
        out = self.transform(image=((image - low) / span).astype(np.float32))["image"] * span + low
        if self.cfg.noise_p > 0 and self.rng.random() < self.cfg.noise_p:
            out = out + self.rng.normal(0, self.rng.uniform(*self.cfg.noise), out.shape)
        return out.astype(np.float32)


def train_dataset(x: np.ndarray, y: np.ndarray, n_classes: int, *, batch_size: int, augment: AugmentConfig | None,
                  stretch: str, softening: float, seed: int = 0):
    """Shuffled, augmented, stretched batches of ``(image, one-hot label)``; repeats forever."""
    import tensorflow as tf

    from shared.data import make_dataset, numpy_map

    augmenter = Augmenter(augment, seed) if augment is not None else None

    def transform(image, onehot):
        if augmenter is not None:
            image = augmenter(image)
        return stretch_image(image, stretch, softening), onehot

    onehot = np.eye(n_classes, dtype=np.float32)[np.asarray(y, dtype=int)]
    return make_dataset(x.astype(np.float32), onehot, batch_size=batch_size, shuffle=True, seed=seed,
                        augment=numpy_map(transform, [tf.float32, tf.float32]), repeat=True, drop_remainder=True)


def eval_arrays(x: np.ndarray, stretch: str, softening: float) -> np.ndarray:
    """Stretched network inputs of a whole split (no augmentation)."""
    return network_input(x, stretch, softening)
