"""Stage ``baseline``: non-parametric morphology features → logistic regression and random forest.

The classical way to classify galaxies without a network (Conselice 2003; Lotz et al. 2004).
Each galaxy is segmented on a smoothed detection image (the sum of the bands in noise units,
thresholded at ``detect_sigma``; the segment under the centre, so that field objects not joined to
it are left out), then measured with
scikit-image region properties and NumPy:

* **CAS**: concentration ``C = 5 log10(r80 / r20)``, asymmetry under a 180° rotation about the
  centroid (minus the noise's own asymmetry), smoothness (clumpiness) against a smoothed copy;
* **Gini** and **M20** (the second moment of the brightest 20% of the light);
* shape: axis ratio, ellipticity, eccentricity, solidity, extent, r50, area;
* colours g−r and r−z of the whole galaxy, inside and outside r50, and the signal-to-noise;
* multiplicity: the number of bright local maxima and the flux ratio of the second one (mergers).

Both classifiers are fitted on the train split; the segmentation threshold of each is chosen
among ``detect_sigma`` by its accuracy on the validation split (never on a test split). Their
class probabilities for every split are written to ``<out>/predictions.npz``, the features (at
the random forest's threshold) to ``<out>/features.npz``.

    python -m projects.galaxy_morphology.baseline --params projects/galaxy_morphology/params.yaml \
        --data data/galaxy_morphology/prepared --out data/galaxy_morphology/baseline
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from projects.galaxy_morphology.data import load_split, read_manifest
from shared.config import load_section
from shared.io import atomic_dir, save_npz, write_json
from shared.stage import run, stage_parser

log = logging.getLogger(__name__)

FEATURES: tuple[str, ...] = (
    "concentration", "asymmetry", "smoothness", "gini", "m20", "axis_ratio", "ellipticity", "eccentricity",
    "solidity", "extent", "r50", "log_area", "colour_1", "colour_2", "colour_1_inner", "colour_1_outer",
    "colour_2_inner", "colour_2_outer", "log_snr", "n_peaks", "second_peak_ratio")
#: expected mean |a − b| of two independent unit Gaussians: the asymmetry of pure noise per pixel
NOISE_ABS_DIFF = 2 / np.sqrt(np.pi)


@dataclass(frozen=True)
class BaselineConfig:
    random_forest_trees: int = 300
    #: candidate segmentation thresholds (noise units); each classifier keeps the best on the val split
    detect_sigma: tuple[float, ...] = (2.0, 5.0, 10.0)
    seed: int = 0
    workers: int = 2

    def __post_init__(self) -> None:
        if not self.detect_sigma or min(self.detect_sigma) <= 0:
            raise ValueError("detect_sigma needs at least one positive threshold")


def _radii(image: np.ndarray, mask: np.ndarray, cy: float, cx: float, fractions: Sequence[float]) -> list[float]:
    yy, xx = np.indices(image.shape)
    r = np.hypot(yy - cy, xx - cx)[mask]
    flux = np.clip(image[mask], 0, None)
    order = np.argsort(r)
    cumulative = np.cumsum(flux[order])
    total = cumulative[-1] if cumulative.size and cumulative[-1] > 0 else 1.0
    return [float(np.interp(f * total, cumulative, r[order])) for f in fractions]


def gini(values: np.ndarray) -> float:
    """Gini coefficient of the pixel fluxes (0: uniform light, 1: all light in one pixel)."""
    v = np.sort(np.abs(values))
    n = v.size
    if n < 2 or v.sum() == 0:
        return 0.0
    return float(np.sum((2 * np.arange(1, n + 1) - n - 1) * v) / (v.mean() * n * (n - 1)))


def m20(image: np.ndarray, mask: np.ndarray, cy: float, cx: float) -> float:
    """log10 of the second moment of the brightest 20% of the flux over the total second moment."""
    yy, xx = np.indices(image.shape)
    flux = np.clip(image[mask], 0, None)
    moment = flux * ((yy[mask] - cy) ** 2 + (xx[mask] - cx) ** 2)
    total = moment.sum()
    if total <= 0 or flux.sum() <= 0:
        return 0.0
    order = np.argsort(flux)[::-1]
    cumulative = np.cumsum(flux[order])
    bright = order[: int(np.searchsorted(cumulative, 0.2 * cumulative[-1])) + 1]
    return float(np.log10(max(moment[bright].sum(), 1e-12) / total))


def asymmetry(image: np.ndarray, mask: np.ndarray, cy: float, cx: float) -> float:
    """Σ|I − I₁₈₀| / Σ|I| over the segment, rotated about the centroid, minus the noise's share."""
    from scipy.ndimage import shift

    h, w = image.shape
    centred = shift(image, ((h - 1) / 2 - cy, (w - 1) / 2 - cx), order=1, mode="nearest")
    centred_mask = shift(mask.astype(float), ((h - 1) / 2 - cy, (w - 1) / 2 - cx), order=0) > 0.5
    rotated = centred[::-1, ::-1]
    union = centred_mask | centred_mask[::-1, ::-1]
    denom = np.abs(centred[union]).sum()
    if denom <= 0:
        return 0.0
    return float((np.abs(centred - rotated)[union].sum() - NOISE_ABS_DIFF * union.sum()) / denom)


def smoothness(image: np.ndarray, mask: np.ndarray, r50: float) -> float:
    """Clumpiness: the light above a copy smoothed on a quarter of the half-light radius."""
    from scipy.ndimage import gaussian_filter

    smooth = gaussian_filter(image, max(0.25 * r50, 0.5))
    residual = np.clip(image - smooth, 0, None)[mask]
    total = np.clip(image[mask], 0, None).sum()
    return float(residual.sum() / total) if total > 0 else 0.0


def solidity(mask: np.ndarray) -> float:
    """Area over convex-hull area of a segment (Qhull on the corners of its boundary pixels).

    skimage's ``regionprops(...).solidity`` rasterises the hull and costs ~15 ms per image.
    """
    from scipy.ndimage import binary_erosion
    from scipy.spatial import ConvexHull, QhullError

    edge = np.argwhere(mask & ~binary_erosion(mask))
    corners = (edge[:, None, :] + np.array([[-0.5, -0.5], [-0.5, 0.5], [0.5, -0.5], [0.5, 0.5]])).reshape(-1, 2)
    try:
        return float(mask.sum() / ConvexHull(corners).volume)
    except (QhullError, ValueError):
        return 1.0


def _colour(a: float, b: float) -> float:
    return float(-2.5 * np.log10(max(a, 1e-3) / max(b, 1e-3)))


def morphology_features(image: np.ndarray, noise: np.ndarray | None = None, detect_sigma: float = 2.0) -> np.ndarray:
    """The :data:`FEATURES` of one (H, W, C) noise-normalised image (``noise``: per-band noise, for colours)."""
    from scipy.ndimage import gaussian_filter
    from skimage.feature import peak_local_max
    from skimage.measure import label, regionprops

    image = np.asarray(image, dtype=np.float64)
    bands = image.shape[-1]
    detect = gaussian_filter(image.sum(axis=-1) / np.sqrt(bands), 1.0)
    noise_level = 1.0 / (2 * np.sqrt(np.pi))  # std of unit white noise after a 1-pixel Gaussian filter
    segments = label(detect > detect_sigma * noise_level)
    h, w = detect.shape
    centre = segments[h // 2, w // 2]
    if centre == 0:  # nothing detected under the centre: the brightest segment near it
        near = segments[h // 4: 3 * h // 4, w // 4: 3 * w // 4]
        ids, counts = np.unique(near[near > 0], return_counts=True)
        centre = ids[np.argmax(counts)] if ids.size else 0
    if centre == 0:
        return np.zeros(len(FEATURES))
    mask = segments == centre
    total_image = image.sum(axis=-1)
    prop = regionprops(mask.astype(int), intensity_image=np.clip(total_image, 0, None))[0]
    cy, cx = prop.centroid_weighted if np.isfinite(prop.centroid_weighted).all() else prop.centroid
    r20, r50, r80 = _radii(total_image, mask, cy, cx, (0.2, 0.5, 0.8))
    major, minor = prop.axis_major_length, prop.axis_minor_length
    q = minor / major if major > 0 else 1.0
    scale = np.ones(bands) if noise is None else np.asarray(noise, dtype=float)
    flux = np.array([image[..., b][mask].sum() * scale[b] for b in range(bands)])
    yy, xx = np.indices(mask.shape)
    inner = mask & (np.hypot(yy - cy, xx - cx) <= r50)
    outer = mask & ~inner
    f_in = np.array([image[..., b][inner].sum() * scale[b] for b in range(bands)])
    f_out = np.array([image[..., b][outer].sum() * scale[b] for b in range(bands)])
    mid = min(1, bands - 1)
    last = bands - 1
    peaks = peak_local_max(detect, min_distance=3, threshold_abs=10 * detect_sigma * noise_level, labels=mask)
    heights = np.sort(detect[tuple(peaks.T)])[::-1] if len(peaks) else np.array([0.0])
    return np.array([
        5 * np.log10(max(r80, 1e-3) / max(r20, 1e-3)), asymmetry(total_image, mask, cy, cx),
        smoothness(total_image, mask, r50), gini(total_image[mask]), m20(total_image, mask, cy, cx), q, 1 - q,
        prop.eccentricity, solidity(mask), prop.extent, r50, np.log10(prop.area),
        _colour(flux[0], flux[mid]), _colour(flux[mid], flux[last]), _colour(f_in[0], f_in[mid]),
        _colour(f_out[0], f_out[mid]), _colour(f_in[mid], f_in[last]), _colour(f_out[mid], f_out[last]),
        np.log10(max(total_image[mask].sum() / np.sqrt(mask.sum() * bands), 1e-3)), float(len(peaks)),
        float(heights[1] / heights[0]) if len(heights) > 1 and heights[0] > 0 else 0.0,
    ], dtype=np.float64)


def _features_one(args: tuple[np.ndarray, np.ndarray, float]) -> np.ndarray:
    return morphology_features(*args)


def feature_matrix(x: np.ndarray, noise: np.ndarray, detect_sigma: float, workers: int = 1) -> np.ndarray:
    tasks = [(im, nz, detect_sigma) for im, nz in zip(x, noise)]
    if workers > 1 and len(tasks) > 200:
        import multiprocessing as mp

        with mp.get_context("spawn").Pool(workers) as pool:
            rows = pool.map(_features_one, tasks, chunksize=128)
    else:
        rows = [_features_one(t) for t in tasks]
    return np.nan_to_num(np.stack(rows), nan=0.0, posinf=0.0, neginf=0.0)


def classifiers(cfg: BaselineConfig) -> dict:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return {"logistic_regression": make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000, C=1.0)),
            "random_forest": RandomForestClassifier(n_estimators=cfg.random_forest_trees, min_samples_leaf=2,
                                                    n_jobs=cfg.workers, random_state=cfg.seed)}


def run_baseline(cfg: BaselineConfig, prepared: Path, out: Path) -> dict:
    manifest = read_manifest(prepared)
    n_classes = len(manifest["classes"])
    splits = [s for s in ("train", "val", "test", "shifted") if s in manifest["counts"]]
    data = {split: load_split(prepared, split, with_noise=True) for split in splits}
    labels = {split: data[split][1] for split in splits}
    feats: dict[float, dict[str, np.ndarray]] = {}
    timing: dict[str, float] = {}
    for sigma in cfg.detect_sigma:
        start = time.perf_counter()
        feats[sigma] = {s: feature_matrix(data[s][0], data[s][3], sigma, cfg.workers) for s in splits}
        timing[f"features_{sigma:g}sigma_s"] = time.perf_counter() - start
        log.info("features at %g sigma for %s in %.1f s", sigma, splits, timing[f"features_{sigma:g}sigma_s"])
    predictions: dict[str, np.ndarray] = {}
    summary: dict[str, dict] = {}
    for name in classifiers(cfg):
        best = None
        for sigma in cfg.detect_sigma:  # the threshold is chosen on the validation split, never on test
            clf = classifiers(cfg)[name]
            start = time.perf_counter()
            clf.fit(feats[sigma]["train"], labels["train"])
            val = float(np.mean(clf.predict(feats[sigma]["val"]) == labels["val"]))
            log.info("%s at %g sigma: val accuracy %.4f", name, sigma, val)
            if best is None or val > best[0]:
                best = (val, sigma, clf, time.perf_counter() - start)
        _, sigma, clf, fit_time = best
        timing[f"fit_{name}_s"] = fit_time
        for split in splits:
            proba = np.zeros((len(labels[split]), n_classes))
            proba[:, clf.classes_] = clf.predict_proba(feats[sigma][split])
            predictions[f"{name}__{split}"] = proba
        summary[name] = {"detect_sigma": sigma, **{s: float(np.mean(predictions[f"{name}__{s}"].argmax(1)
                                                                        == labels[s])) for s in splits}}
        log.info("%s (%g sigma) accuracy: %s", name, sigma, {k: round(v, 4) for k, v in summary[name].items()})
    chosen = summary["random_forest"]["detect_sigma"]
    with atomic_dir(out) as tmp:
        save_npz(tmp / "predictions.npz", **predictions)
        save_npz(tmp / "features.npz", names=np.array(FEATURES), **{f"x__{s}": feats[chosen][s] for s in splits},
                 **{f"y__{s}": labels[s] for s in splits})
        write_json(tmp / "baseline.json", {"accuracy": summary, "timing": timing, "features": list(FEATURES)})
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    args = stage_parser(__doc__, inputs=("data",), outputs=("out",)).parse_args(argv)
    cfg = load_section(args.params, "baseline", BaselineConfig)
    run_baseline(cfg, Path(args.data), Path(args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main))
