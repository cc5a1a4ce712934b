"""Physically motivated augmentation (albumentations) and the ``tf.data`` input pipelines.

Augmentation acts on the linear, background-subtracted images in noise units, before the
stretch, so that each transform mimics something the sky or the telescope does:

* a rotation by any angle and a mirror flip (a galaxy has no preferred orientation on the sky);
  rotations keep a spiral's handedness, a mirror flip reverses it: for classes declared as
  chirality pairs (clockwise ↔ anticlockwise), a flipped image gets the paired label
  (:func:`mirror_permutation`);
* a small shift and zoom (imperfect centring, another distance);
* a Gaussian blur (worse seeing) and added Gaussian noise (a shorter exposure, a brighter sky).

The ranges are generic and fixed in ``params.yaml``; they are never tuned on the shifted test set.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from projects.galaxy_morphology.preprocess import network_input, stretch_image


@dataclass(frozen=True)
class AugmentConfig:
    """Training augmentation: dihedral rotations and flips, shift, zoom, blur and added noise.

    Raises:
        ValueError: ``shift`` outside [0, 0.5) or not 0 < ``zoom[0]`` ≤ ``zoom[1]``; ``blur_p`` or ``noise_p``
            outside [0, 1], or a negative bound of ``blur_sigma`` or ``noise``.
    """

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


def mirror_permutation(classes: Sequence[str], pairs: Sequence[Sequence[str]]) -> np.ndarray:
    """(K,) class index → the class a mirror image of it belongs to (identity outside ``pairs``).

    Raises:
        ValueError: a pair is not two distinct known classes, or a class is in two pairs.
    """
    perm = np.arange(len(classes))
    index = {name: i for i, name in enumerate(classes)}
    for pair in pairs:
        if len(pair) != 2 or pair[0] == pair[1] or any(c not in index for c in pair):
            raise ValueError(f"a chirality pair must name two distinct classes of {list(classes)}, got {pair}")
        a, b = index[pair[0]], index[pair[1]]
        if perm[a] != a or perm[b] != b:
            raise ValueError(f"class {pair} appears in two chirality pairs")
        perm[a], perm[b] = b, a
    return perm


class Augmenter:
    """Callable ``image → (image, mirrored)`` built from an :class:`AugmentConfig`.

    ``image`` is (H, W, C) float in noise units; ``mirrored`` says whether the output is a mirror
    image of the input (then a chirality-paired label must be swapped).
    """

    def __init__(self, cfg: AugmentConfig, seed: int = 0):
        import albumentations as A
        import cv2

        self.cfg = cfg
        transforms = [A.Affine(rotate=(-180, 180) if cfg.rotate else 0, scale=tuple(cfg.zoom),
                               translate_percent=(-cfg.shift, cfg.shift), border_mode=cv2.BORDER_REFLECT_101,
                               p=1.0)]
        if cfg.blur_p > 0:
            transforms.append(A.GaussianBlur(sigma_limit=tuple(cfg.blur_sigma), blur_limit=0, p=cfg.blur_p))
        self.transform = A.Compose(transforms, seed=seed)
        self.rng = np.random.default_rng(seed)

    def __call__(self, image: np.ndarray) -> tuple[np.ndarray, bool]:
        # albumentations clips float images to [0, 1]: map to it and back (every transform is linear)
        low, high = float(image.min()), float(image.max())
        span = high - low if high > low else 1.0
        out = self.transform(image=((image - low) / span).astype(np.float32))["image"] * span + low
        # one mirror flip with p = 1/2 (a flip about the other axis is this one and a rotation by 180°)
        mirrored = bool(self.cfg.flip and self.rng.random() < 0.5)
        if mirrored:
            out = out[:, ::-1]
        if self.cfg.noise_p > 0 and self.rng.random() < self.cfg.noise_p:
            out = out + self.rng.normal(0, self.rng.uniform(*self.cfg.noise), out.shape)
        return np.ascontiguousarray(out, dtype=np.float32), mirrored


def train_dataset(x: np.ndarray, y: np.ndarray, n_classes: int, *, batch_size: int, augment: AugmentConfig | None,
                  stretch: str, softening: float, seed: int = 0, mirror: np.ndarray | None = None):
    """Shuffled, augmented, stretched batches of ``(image (B, H, W, C), one-hot label (B, K))``; repeats forever.

    ``mirror``: the :func:`mirror_permutation` of the classes; a mirrored image's one-hot label is
    permuted with it (identity if ``None``).
    """
    import tensorflow as tf

    from shared.data import make_dataset, numpy_map

    augmenter = Augmenter(augment, seed) if augment is not None else None
    perm = np.arange(n_classes) if mirror is None else np.asarray(mirror)
    inverse = np.argsort(perm)

    def transform(image, onehot):
        if augmenter is not None:
            image, mirrored = augmenter(image)
            if mirrored:
                onehot = onehot[inverse]  # new[perm[k]] = old[k]
        return stretch_image(image, stretch, softening), onehot

    onehot = np.eye(n_classes, dtype=np.float32)[np.asarray(y, dtype=int)]
    return make_dataset(x.astype(np.float32), onehot, batch_size=batch_size, shuffle=True, seed=seed,
                        augment=numpy_map(transform, [tf.float32, tf.float32]), repeat=True, drop_remainder=True)


def eval_arrays(x: np.ndarray, stretch: str, softening: float) -> np.ndarray:
    """Stretched network inputs of a whole split (no augmentation)."""
    return network_input(x, stretch, softening)
