"""Generator quality: a kernel two-sample distance between generated and real images, in a fixed feature space.

FID needs an ImageNet Inception network (a download, and features made for 299-pixel photos); here the features
are fixed, hand-made descriptors that need no training and favour neither generator (skimage):

- a joint RGB colour histogram (4×4×4 bins, fractions),
- a HOG descriptor of the grey image (Dalal & Triggs 2005; 9 orientations, S/4-pixel cells, 2×2 blocks),
- an 8×8 RGB thumbnail (layout and colour at low resolution).

Each block is standardised with the *reference* set's mean and spread and weighted by 1/sqrt(its width), so each
block counts about equally. On these features:

- ``mmd``: the unbiased estimate of the squared maximum mean discrepancy with a Gaussian (RBF) kernel
  (Gretton et al. 2012, JMLR 13, "A Kernel Two-Sample Test"), bandwidth = the median pairwise distance within the
  reference set (the median heuristic, fixed by the reference so that samplers are compared on one kernel);
- ``kid``: the Kernel Inception Distance form (Bińkowski et al. 2018, "Demystifying MMD GANs"): unbiased MMD² with
  the cubic polynomial kernel ``(x·y / d + 1)³``, averaged over random subsets.

Lower is better for both; 0 means the two sets are indistinguishable in this feature space, and a negative value
(possible for the unbiased estimate) is sampling noise around 0.

The baseline sampler (:func:`pca_gaussian_sampler`) fits a PCA to the training images and draws Gaussian
coefficients with the fitted variances (a linear-Gaussian generative model, the classical baseline of a VAE).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["features", "mmd_rbf", "kid", "score", "pca_gaussian_sampler", "choose_pca_components",
           "reconstruction_error"]

log = logging.getLogger(__name__)


def _check_images(images: np.ndarray, name: str) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8 or len(images) < 2:
        raise ValueError(f"{name} must be uint8 (n ≥ 2, S, S, 3), got {images.dtype} {images.shape}")
    return images


def _blocks(images: np.ndarray) -> list[np.ndarray]:
    from skimage.feature import hog
    from skimage.transform import resize

    n, size = images.shape[:2]
    q = (images // 64).astype(np.int64)                                          # 4 levels per channel
    codes = (q[..., 0] * 16 + q[..., 1] * 4 + q[..., 2]).reshape(n, -1)
    hist = np.stack([np.bincount(c, minlength=64) for c in codes]).astype(np.float64) / codes.shape[1]
    grey = images.astype(np.float64) @ np.array([0.299, 0.587, 0.114]) / 255.0
    cell = max(size // 4, 2)
    hogs = np.stack([hog(g, orientations=9, pixels_per_cell=(cell, cell), cells_per_block=(2, 2),
                         feature_vector=True) for g in grey])
    thumbs = resize(images.astype(np.float64) / 255.0, (n, 8, 8, 3), anti_aliasing=True).reshape(n, -1)
    return [hist, hogs, thumbs]


def _standardise(blocks: list[np.ndarray], ref_blocks: list[np.ndarray]) -> np.ndarray:
    out = []
    for block, base in zip(blocks, ref_blocks, strict=True):
        mu, sd = base.mean(axis=0), base.std(axis=0)
        scale = np.sqrt(np.mean(sd ** 2)) + 1e-12                                   # one scale per block
        out.append((block - mu) / scale / np.sqrt(block.shape[1]))
    return np.concatenate(out, axis=1)


def features(images: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray:
    """Feature vectors ``(n, d)`` of uint8 images, standardised per block on ``reference`` (default: themselves).

    Raises:
        ValueError: images are not uint8 (n ≥ 2, S, S, 3).
    """
    blocks = _blocks(_check_images(images, "images"))
    ref_blocks = _blocks(_check_images(reference, "reference")) if reference is not None else blocks
    return _standardise(blocks, ref_blocks)


def _sq_dists(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = (a ** 2).sum(1)[:, None] + (b ** 2).sum(1)[None, :] - 2 * a @ b.T
    return np.maximum(d, 0.0)


def _unbiased_mmd2(kxx: np.ndarray, kyy: np.ndarray, kxy: np.ndarray) -> float:
    m, n = len(kxx), len(kyy)
    sxx = (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
    syy = (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
    return float(sxx + syy - 2 * kxy.mean())


def mmd_rbf(x: np.ndarray, y: np.ndarray, bandwidth: float | None = None) -> tuple[float, float]:
    """Unbiased MMD² between feature sets ``x (m, d)`` and ``y (n, d)`` with ``exp(-|a-b|² / (2 σ²))``.

    ``bandwidth`` σ: default the median pairwise distance within ``y`` (the reference). Returns ``(mmd2, σ)``.

    Raises:
        ValueError: fewer than 2 rows in either set.
    """
    if len(x) < 2 or len(y) < 2:
        raise ValueError("MMD needs at least 2 samples in each set")
    dyy = _sq_dists(y, y)
    if bandwidth is None:
        off = dyy[np.triu_indices(len(y), 1)]
        bandwidth = float(np.sqrt(np.median(off))) if off.size else 1.0
        bandwidth = bandwidth or 1.0
    g = 1.0 / (2 * bandwidth ** 2)
    return _unbiased_mmd2(np.exp(-g * _sq_dists(x, x)), np.exp(-g * dyy), np.exp(-g * _sq_dists(x, y))), bandwidth


def kid(x: np.ndarray, y: np.ndarray, subsets: int = 10, subset_size: int = 200, seed: int = 0) -> float:
    """KID: unbiased MMD² with the kernel ``(a·b / d + 1)³``, mean over ``subsets`` random subsets.

    Raises:
        ValueError: fewer than 2 rows in either set.
    """
    if len(x) < 2 or len(y) < 2:
        raise ValueError("KID needs at least 2 samples in each set")
    rng = np.random.default_rng(seed)
    d = x.shape[1]
    m = min(subset_size, len(x), len(y))
    vals = []
    for _ in range(subsets):
        a = x[rng.choice(len(x), m, replace=False)]
        b = y[rng.choice(len(y), m, replace=False)]
        vals.append(_unbiased_mmd2((a @ a.T / d + 1) ** 3, (b @ b.T / d + 1) ** 3, (a @ b.T / d + 1) ** 3))
    return float(np.mean(vals))


def score(samples: np.ndarray, reference: np.ndarray, seed: int = 0) -> dict:
    """Distance of generated ``samples`` to ``reference`` images (both uint8 (n, S, S, 3), same S).

    Returns:
        ``{"mmd": RBF MMD², "kid": KID, "bandwidth": σ, "n_samples", "n_reference", "features": description}``.

    Raises:
        ValueError: malformed arrays or different image sizes.
    """
    samples, reference = _check_images(samples, "samples"), _check_images(reference, "reference")
    if samples.shape[1:] != reference.shape[1:]:
        raise ValueError(f"samples {samples.shape[1:]} and reference {reference.shape[1:]} differ in size")
    ref_blocks = _blocks(reference)
    fx, fy = _standardise(_blocks(samples), ref_blocks), _standardise(ref_blocks, ref_blocks)
    mmd2, sigma = mmd_rbf(fx, fy)
    return {"mmd": mmd2, "kid": kid(fx, fy, seed=seed), "bandwidth": sigma, "n_samples": len(samples),
            "n_reference": len(reference), "features": "RGB histogram 4³ + HOG + 8×8 thumbnail (skimage)"}


def pca_gaussian_sampler(images: np.ndarray, n_components: int, seed: int = 0) -> Callable[[int], np.ndarray]:
    """The baseline generator: PCA of the flattened images, Gaussian coefficients with the fitted variances.

    Returns:
        ``sample(n) -> uint8 (n, S, S, 3)`` (independent draws; reproducible by ``seed``).

    Raises:
        ValueError: malformed images or ``n_components`` < 1.
    """
    from sklearn.decomposition import PCA

    images = _check_images(images, "images")
    if n_components < 1:
        raise ValueError("n_components must be ≥ 1")
    shape = images.shape[1:]
    x = images.reshape(len(images), -1).astype(np.float32) / 255.0
    k = int(min(n_components, len(images) - 1, x.shape[1]))
    pca = PCA(n_components=k, random_state=seed).fit(x)
    rng = np.random.default_rng(seed)

    def sample(n: int) -> np.ndarray:
        z = rng.normal(size=(int(n), k)) * np.sqrt(pca.explained_variance_)
        out = pca.inverse_transform(z).reshape((int(n), *shape))
        return np.clip(np.rint(out * 255.0), 0, 255).astype(np.uint8)

    sample.n_components = k
    return sample


def choose_pca_components(train: np.ndarray, val: np.ndarray, candidates: Sequence[int] = (4, 8, 16, 32, 64),
                          n_samples: int = 500, seed: int = 0) -> tuple[int, dict[int, float]]:
    """Pick the PCA-Gaussian baseline's number of components by RBF MMD² to the ``val`` images (lower wins).

    Returns:
        ``(best k, {k: mmd})``.

    Raises:
        ValueError: no candidate, or malformed images.
    """
    if not candidates:
        raise ValueError("give at least one candidate number of components")
    table = {}
    for k in candidates:
        table[int(k)] = score(pca_gaussian_sampler(train, k, seed)(n_samples), val, seed)["mmd"]
    best = min(table, key=table.get)
    log.info("PCA-Gaussian baseline: %d components (val MMD² %s)", best,
             ", ".join(f"{k}: {v:.4g}" for k, v in table.items()))
    return best, table


def reconstruction_error(generator, images: np.ndarray) -> dict:
    """VAE reconstruction error on uint8 ``images``: per-pixel MSE (in [0, 1] units) and PSNR (dB) of the mean MSE.

    Raises:
        ValueError: the generator has no encoder (DCGAN), or malformed images.
    """
    images = _check_images(images, "images")
    rec = generator.reconstruct(images).astype(np.float64) / 255.0
    mse = float(np.mean((rec - images.astype(np.float64) / 255.0) ** 2))
    return {"mse": mse, "psnr_db": float(10 * np.log10(1.0 / max(mse, 1e-12))), "images": len(images)}
