"""Non-parametric morphology of one galaxy: photutils segmentation, statmorph measurements.

The baseline classifier's features come from the field's standard implementations:

* **segmentation**: ``photutils.segmentation.detect_sources`` on the detection image (the sum of
  the bands in noise units, smoothed by a 1-pixel Gaussian) at ``detect_sigma`` times its noise;
  the segment under the centre is the galaxy, every other segment (field stars, background
  galaxies) is masked;
* **morphology**: ``statmorph.SourceMorphology`` (Rodriguez-Gomez et al. 2019) on the unsmoothed
  detection image with that segment: concentration, asymmetry and smoothness (CAS; Conselice
  2003), Gini and M20 (Lotz et al. 2004), the ellipticity and elongation about the asymmetry
  centre, r20/r50/r80, the Petrosian radius, S/N per pixel and the Gini-M20 bulge and merger
  statistics.

statmorph evaluates every statistic it knows (Sérsic fits, MID, shape asymmetry) and costs
about 1 s per 64×64 stamp; :class:`CoreMorphology` asks it only for the quantities above and
stops the Nelder-Mead search of the asymmetry centre at 0.05 pixel instead of 1e-6 (statmorph's
own function and algorithm otherwise, ~0.2 s per stamp).

Beside them, two kinds of feature that statmorph does not give: the colours (g−r and r−z of the
whole segment, inside and outside r50) and the multiplicity (bright local maxima and the flux
ratio of the second one: mergers).
"""

from __future__ import annotations

import warnings

import numpy as np

#: statmorph quantities used as features (names of ``SourceMorphology`` attributes)
STATMORPH: tuple[str, ...] = ("concentration", "asymmetry", "smoothness", "gini", "m20", "ellipticity_asymmetry",
                              "elongation_asymmetry", "r20", "r50", "r80", "rpetro_circ", "sn_per_pixel",
                              "gini_m20_bulge", "gini_m20_merger")
OTHER: tuple[str, ...] = ("log_area", "colour_1", "colour_2", "colour_1_inner", "colour_1_outer", "colour_2_inner",
                          "colour_2_outer", "n_peaks", "second_peak_ratio", "statmorph_flag")
FEATURES: tuple[str, ...] = STATMORPH + OTHER
#: std of unit white noise after a Gaussian filter of sigma 1 pixel
SMOOTHED_NOISE = 1.0 / (2 * np.sqrt(np.pi))


def _core_class():
    import scipy.optimize as opt
    import statmorph
    from astropy.utils import lazyproperty

    class CoreMorphology(statmorph.SourceMorphology):
        """statmorph restricted to :data:`STATMORPH` (no Sérsic, MID or shape-asymmetry fits)."""

        def _calculate_morphology(self):
            for name in STATMORPH:
                _ = self[name]

        def _check_segmaps(self):  # compares the Gini and MID segmaps; MID is not computed here
            pass

        @lazyproperty
        def _asymmetry_center(self):
            centroid = np.array([self._xc_stamp, self._yc_stamp])
            centre = opt.fmin(self._asymmetry_function, centroid, args=(self._cutout_stamp_maskzeroed, "cas"),
                              xtol=0.05, ftol=1e-3, disp=False)
            if np.linalg.norm(centre - centroid) > self._petro_fraction_cas * self._rpetro_circ_centroid:
                self.flag = max(self.flag, 1)
                centre = centroid
            return centre

    return CoreMorphology


_CORE = None


def segment(detect: np.ndarray, detect_sigma: float) -> tuple[np.ndarray, int]:
    """photutils segmentation of a noise-normalised detection image (H, W): ``(segment map, centre label)``.

    The centre label is the segment under the central pixel, else the largest one in the central
    half of the stamp, else 0 (nothing detected).
    """
    from photutils.segmentation import detect_sources
    from scipy.ndimage import gaussian_filter

    smooth = gaussian_filter(detect, 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # photutils warns when nothing is detected: handled below
        seg = detect_sources(smooth, detect_sigma * SMOOTHED_NOISE, n_pixels=5)
    if seg is None:
        return np.zeros(detect.shape, dtype=int), 0
    segmap = np.asarray(seg.data)
    h, w = segmap.shape
    label = int(segmap[h // 2, w // 2])
    if label == 0:
        near = segmap[h // 4: 3 * h // 4, w // 4: 3 * w // 4]
        ids, counts = np.unique(near[near > 0], return_counts=True)
        label = int(ids[np.argmax(counts)]) if ids.size else 0
    return segmap, label


def _colour(a: float, b: float) -> float:
    return float(-2.5 * np.log10(max(a, 1e-3) / max(b, 1e-3)))


def morphology_features(image: np.ndarray, noise: np.ndarray | None = None, detect_sigma: float = 2.0) -> np.ndarray:
    """The :data:`FEATURES` of one galaxy.

    Args:
        image: (H, W, C) background-subtracted image in units of each band's noise (the data stage's output).
        noise: (C,) per-band noise in the input's units (to turn the bands back into fluxes for colours);
            ``None``: all 1.
        detect_sigma: segmentation threshold in units of the smoothed detection image's noise.

    Returns:
        (len(FEATURES),) float64; all zeros (and ``statmorph_flag`` 4) when nothing is detected.
    """
    from scipy.ndimage import gaussian_filter
    from skimage.feature import peak_local_max

    global _CORE
    if _CORE is None:
        _CORE = _core_class()
    image = np.asarray(image, dtype=np.float64)
    bands = image.shape[-1]
    detect = image.sum(axis=-1) / np.sqrt(bands)
    segmap, label = segment(detect, detect_sigma)
    out = np.zeros(len(FEATURES))
    out[FEATURES.index("statmorph_flag")] = 4
    if label == 0:
        return out
    mask = segmap == label
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            morph = _CORE(detect, segmap, label, mask=(segmap > 0) & ~mask, weightmap=np.ones_like(detect))
            values = [float(morph[name]) for name in STATMORPH]
            flag = float(morph.flag)
        except Exception:  # statmorph gives up on degenerate segments (e.g. a nonpositive flux sum)
            values, flag = [-99.0] * len(STATMORPH), 4.0
    out[: len(STATMORPH)] = [v if np.isfinite(v) and v != -99.0 else 0.0 for v in values]
    scale = np.ones(bands) if noise is None else np.asarray(noise, dtype=float)
    yy, xx = np.indices(mask.shape)
    weight = np.clip(detect, 0, None) * mask
    total = weight.sum()
    cy, cx = ((yy * weight).sum() / total, (xx * weight).sum() / total) if total > 0 else np.array(mask.shape) / 2
    r50 = out[STATMORPH.index("r50")] or np.sqrt(mask.sum() / np.pi) / 2
    inner = mask & (np.hypot(yy - cy, xx - cx) <= r50)
    outer = mask & ~inner
    flux = [np.array([image[..., b][m].sum() * scale[b] for b in range(bands)]) for m in (mask, inner, outer)]
    mid, last = min(1, bands - 1), bands - 1
    smooth_detect = gaussian_filter(detect, 1.0)  # peaks of the unsmoothed image would count noise
    peaks = peak_local_max(smooth_detect, min_distance=3, threshold_abs=10 * detect_sigma * SMOOTHED_NOISE,
                           labels=mask.astype(int))
    heights = np.sort(smooth_detect[tuple(peaks.T)])[::-1] if len(peaks) else np.array([0.0])
    out[len(STATMORPH):] = [
        np.log10(mask.sum()),
        _colour(flux[0][0], flux[0][mid]), _colour(flux[0][mid], flux[0][last]),
        _colour(flux[1][0], flux[1][mid]), _colour(flux[2][0], flux[2][mid]),
        _colour(flux[1][mid], flux[1][last]), _colour(flux[2][mid], flux[2][last]),
        float(len(peaks)), float(heights[1] / heights[0]) if len(heights) > 1 and heights[0] > 0 else 0.0,
        flag]
    return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0)


def _features_one(args: tuple[np.ndarray, np.ndarray, float]) -> np.ndarray:
    return morphology_features(*args)


def feature_matrix(x: np.ndarray, noise: np.ndarray, detect_sigma: float, workers: int = 1) -> np.ndarray:
    """:func:`morphology_features` of a batch: x (N, H, W, C), noise (N, C) → (N, len(FEATURES))."""
    tasks = [(im, nz, detect_sigma) for im, nz in zip(x, noise)]
    if not tasks:
        return np.zeros((0, len(FEATURES)))
    if workers > 1 and len(tasks) > 50:
        import multiprocessing as mp

        with mp.get_context("spawn").Pool(workers) as pool:
            rows = pool.map(_features_one, tasks, chunksize=16)
    else:
        rows = [_features_one(t) for t in tasks]
    return np.stack(rows)
