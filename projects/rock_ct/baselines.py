"""Classical segmentations of rock CT, the baselines the 3D U-Net must beat (scikit-image, scikit-learn).

* ``multi_otsu``: three-class multi-Otsu thresholds (``skimage.filters.threshold_multiotsu``) on the grey values,
  classes ordered by attenuation (darkest: vesicle, then glass, brightest: crystal);
* ``median_otsu``: the same after a 3×3×3 median filter (``scipy.ndimage.median_filter``);
* ``watershed``: marker-controlled watershed (``skimage.segmentation.watershed``) on the Sobel gradient of the
  median-filtered volume, markers where the median-filtered grey value lies clearly inside one Otsu class (more than
  ``marker_margin`` × the glass class width from a threshold);
* ``rf_sparse`` / ``rf_dense``: a random forest (``sklearn.ensemble.RandomForestClassifier``) on
  ``skimage.feature.multiscale_basic_features`` (intensity, edges, Hessian texture at several scales) of the
  percentile-normalised volume, trained on an ilastik-style scribble set (``sparse_voxels`` voxels, a third per
  phase, inside each phase at least one voxel from its boundary, as a user marks them) or on dense labels (a random
  ``dense_voxels`` subsample of every labelled training voxel).

Every baseline has ``fit(images, labels)`` (a no-op for the unsupervised ones) and ``predict(image) -> labels``:
image (Z, Y, X) any numeric dtype, labels uint8 (Z, Y, X), 0 vesicle, 1 glass, 2 crystal. They work in memory
(volumes of a few hundred voxels a side); the tiled U-Net is the method for volumes larger than RAM.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from shared.io import DataError

log = logging.getLogger(__name__)

NAMES = ("multi_otsu", "median_otsu", "watershed", "rf_sparse", "rf_dense")


@dataclass(frozen=True)
class BaselineConfig:
    #: phases from dark to bright (attenuation order); names of physics.CLASSES
    order: tuple[str, ...] = ("vesicle", "glass", "crystal")
    median_size: int = 3
    marker_margin: float = 0.25
    #: multiscale_basic_features scales (voxels)
    sigma_min: float = 0.5
    sigma_max: float = 4.0
    num_sigma: int = 4
    sparse_voxels: int = 1000
    dense_voxels: int = 200_000
    trees: int = 60
    max_depth: int = 16
    seed: int = 0
    workers: int = 2

    def __post_init__(self) -> None:
        from projects.rock_ct.physics import CLASSES

        if sorted(self.order) != sorted(CLASSES):
            raise ValueError(f"order must name each of {CLASSES} once, got {self.order}")
        if self.sparse_voxels < 3 or self.dense_voxels < 3 or self.trees < 1:
            raise ValueError("sparse_voxels and dense_voxels must be ≥ 3 and trees ≥ 1")


def _check_image(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 3:
        raise DataError(f"a baseline needs a (Z, Y, X) volume, got shape {image.shape}")
    if image.dtype.kind == "f" and not np.all(np.isfinite(image)):
        raise DataError("the volume contains NaN or infinite values")
    return image


def _class_lut(order: Sequence[str]) -> np.ndarray:
    """Otsu class index (dark → bright) → label."""
    from projects.rock_ct.physics import CLASSES

    return np.array([CLASSES.index(name) for name in order], dtype=np.uint8)


def _thresholds(image: np.ndarray, sample: int = 2_000_000) -> np.ndarray:
    from skimage.filters import threshold_multiotsu

    flat = image.ravel()
    if flat.size > sample:  # thresholds from a regular subsample (large volumes)
        flat = flat[:: int(np.ceil(flat.size / sample))]
    try:
        # float input: 256 histogram bins (an integer image would get one bin per grey level: 65,536² work)
        return threshold_multiotsu(flat.astype(np.float32), classes=3, nbins=256)
    except ValueError as exc:  # a constant volume
        raise DataError(f"multi-Otsu needs at least three grey levels: {exc}") from None


def normalise(image: np.ndarray, percentiles: tuple[float, float] = (1.0, 99.0)) -> np.ndarray:
    """Grey values → float32, the given percentiles mapped to 0 and 1 (per volume)."""
    lo, hi = np.percentile(image, percentiles)
    scale = float(hi - lo) if hi > lo else 1.0
    return ((image.astype(np.float32) - np.float32(lo)) / np.float32(scale)).astype(np.float32)


class MultiOtsu:
    """Multi-Otsu thresholds on the raw grey values."""

    name = "multi_otsu"
    median = 0

    def __init__(self, cfg: BaselineConfig = BaselineConfig()):
        self.cfg = cfg
        self.lut = _class_lut(cfg.order)

    def fit(self, images=(), labels=()) -> MultiOtsu:
        return self

    def _filtered(self, image: np.ndarray) -> np.ndarray:
        if not self.median:
            return image
        from scipy import ndimage

        return ndimage.median_filter(image, size=self.median)

    def predict(self, image: np.ndarray) -> np.ndarray:
        image = self._filtered(_check_image(image))
        return self.lut[np.digitize(image, _thresholds(image))]


class MedianOtsu(MultiOtsu):
    """Median filter, then multi-Otsu."""

    name = "median_otsu"

    def __init__(self, cfg: BaselineConfig = BaselineConfig()):
        super().__init__(cfg)
        self.median = cfg.median_size


class MarkerWatershed(MultiOtsu):
    """Watershed of the gradient from markers deep inside each Otsu class."""

    name = "watershed"

    def __init__(self, cfg: BaselineConfig = BaselineConfig()):
        super().__init__(cfg)
        self.median = cfg.median_size

    def predict(self, image: np.ndarray) -> np.ndarray:
        from skimage.filters import sobel
        from skimage.segmentation import watershed

        smooth = self._filtered(_check_image(image)).astype(np.float32)
        t1, t2 = _thresholds(smooth)
        margin = self.cfg.marker_margin * float(t2 - t1)
        markers = np.zeros(smooth.shape, dtype=np.int32)
        markers[smooth < t1 - margin] = 1
        markers[(smooth > t1 + margin) & (smooth < t2 - margin)] = 2
        markers[smooth > t2 + margin] = 3
        if not np.all([np.any(markers == k) for k in (1, 2, 3)]):
            log.warning("watershed: a class has no marker (margin %.3g too wide); falling back to thresholds", margin)
            return self.lut[np.digitize(smooth, (t1, t2))]
        gradient = sobel(smooth)
        regions = watershed(gradient, markers)
        return self.lut[regions - 1]


def features(image: np.ndarray, cfg: BaselineConfig) -> np.ndarray:
    """``multiscale_basic_features`` of the percentile-normalised volume: float32 (Z, Y, X, F)."""
    from skimage.feature import multiscale_basic_features

    return multiscale_basic_features(normalise(_check_image(image)), intensity=True, edges=True, texture=True,
                                     sigma_min=cfg.sigma_min, sigma_max=cfg.sigma_max, num_sigma=cfg.num_sigma,
                                     workers=cfg.workers).astype(np.float32)


def scribbles(labels: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """Flat indices of an ilastik-style scribble set: ``count`` voxels, a third per phase, each inside its phase
    (all 6 face neighbours have the same label), as a user marks the clear interior of each phase.

    Raises:
        DataError: a phase has no interior voxel.
    """
    from scipy import ndimage

    from projects.rock_ct.physics import CLASSES

    chosen = []
    per = [count // len(CLASSES) + (1 if k < count % len(CLASSES) else 0) for k in range(len(CLASSES))]
    for k, n in enumerate(per):
        interior = ndimage.binary_erosion(labels == k, border_value=1)
        idx = np.flatnonzero(interior)
        if idx.size == 0:
            raise DataError(f"no interior voxel of phase {CLASSES[k]} to scribble on")
        chosen.append(rng.choice(idx, size=min(n, idx.size), replace=False))
    return np.concatenate(chosen)


class RandomForest:
    """Random forest on multiscale features, trained on scribbles (``sparse=True``) or dense labels."""

    def __init__(self, cfg: BaselineConfig = BaselineConfig(), sparse: bool = True):
        self.cfg, self.sparse = cfg, sparse
        self.name = "rf_sparse" if sparse else "rf_dense"
        self.model = None
        self.train_voxels = 0

    def fit(self, images: Sequence[np.ndarray], labels: Sequence[np.ndarray],
            feats: Sequence[np.ndarray] | None = None) -> RandomForest:
        """Train on volumes ``images`` with labels ``labels`` (lists of (Z, Y, X) arrays).

        ``feats``: the :func:`features` of each image, when the caller has them already (both forests share them).

        Raises:
            DataError: no volume, or an image and its labels of different shapes.
        """
        from sklearn.ensemble import RandomForestClassifier

        if not len(images) or len(images) != len(labels):
            raise DataError(f"fit needs as many label volumes as images, got {len(images)} and {len(labels)}")
        rng = np.random.default_rng(self.cfg.seed)
        total = self.cfg.sparse_voxels if self.sparse else self.cfg.dense_voxels
        xs, ys = [], []
        for i, (image, lab) in enumerate(zip(images, labels)):
            lab = np.asarray(lab)
            if lab.shape != np.shape(image):
                raise DataError(f"training volume {i}: labels {lab.shape} and image {np.shape(image)} differ")
            n = total // len(images) + (1 if i < total % len(images) else 0)
            if self.sparse:
                idx = scribbles(lab, n, rng)
            else:
                idx = rng.choice(lab.size, size=min(n, lab.size), replace=False)
            f = features(image, self.cfg) if feats is None else feats[i]
            xs.append(f.reshape(-1, f.shape[-1])[idx])
            ys.append(lab.ravel()[idx])
        x, y = np.concatenate(xs), np.concatenate(ys)
        self.train_voxels = int(len(y))
        self.model = RandomForestClassifier(n_estimators=self.cfg.trees, max_depth=self.cfg.max_depth,
                                            n_jobs=self.cfg.workers, random_state=self.cfg.seed)
        self.model.fit(x, y)
        log.info("%s: trained on %d labelled voxels, %d features", self.name, len(y), x.shape[1])
        return self

    def predict(self, image: np.ndarray, batch: int = 1 << 18, feats: np.ndarray | None = None) -> np.ndarray:
        """Labels of ``image``; ``feats``: its :func:`features` if already computed."""
        if self.model is None:
            raise RuntimeError(f"{self.name}: call fit() before predict()")
        feats = features(image, self.cfg) if feats is None else feats
        flat = feats.reshape(-1, feats.shape[-1])
        out = np.empty(len(flat), dtype=np.uint8)
        for i in range(0, len(flat), batch):
            out[i:i + batch] = self.model.predict(flat[i:i + batch])
        return out.reshape(feats.shape[:-1])


def make_baselines(cfg: BaselineConfig = BaselineConfig(), names: Sequence[str] = NAMES) -> dict:
    """Name → unfitted baseline, for ``names`` (a subset of :data:`NAMES`).

    Raises:
        DataError: an unknown name.
    """
    makers = {"multi_otsu": lambda: MultiOtsu(cfg), "median_otsu": lambda: MedianOtsu(cfg),
              "watershed": lambda: MarkerWatershed(cfg), "rf_sparse": lambda: RandomForest(cfg, sparse=True),
              "rf_dense": lambda: RandomForest(cfg, sparse=False)}
    unknown = [n for n in names if n not in makers]
    if unknown:
        raise DataError(f"unknown baseline(s) {unknown}; known: {list(makers)}")
    return {n: makers[n]() for n in names}
