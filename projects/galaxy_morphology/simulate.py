"""Stage ``simulate``: multi-band galaxy images rendered with GalSim, written as FITS cubes.

Eight classes modelled on Galaxy10 DECaLS (:data:`CLASSES`). Every galaxy is a sum of
components with their own colours in the g, r and z bands:

* **bulge**: a Sérsic profile (red);
* **disk**: an exponential disk of finite thickness (bluer), inclined by a random angle;
* **bar**: an elongated Sérsic n = 0.5 profile (barred spirals);
* **arms and knots**: 2 or 3 logarithmic spiral arms (pitch angle, width, winding phase) with
  star-forming knots along them (blue). GalSim has no spiral profile, so the face-on pattern
  is rendered with NumPy on the pixel grid and enters GalSim as an
  ``InterpolatedImage`` that is inclined and rotated like the disk;
* **mergers**: two galaxies at a projected separation, with tidal tails of knots;
* **field objects**: unrelated stars and small background galaxies elsewhere in the stamp
  (``field_objects`` per stamp on average), and a galaxy-to-galaxy colour scatter, as in real
  cutouts.

The sum is convolved with a Moffat PSF per band (seeing worse in g than in z), drawn at a
DECaLS-like pixel scale (0.262″) and given CCD noise (Poisson noise of the sky and of the
galaxy, Gaussian read noise, gain 1) plus a residual sky pedestal that preprocessing must remove.

Acquisition conditions (seeing, sky level, size and flux scale, which stands for redshift)
are per split in ``params.yaml``; the ``shifted`` split has worse seeing, a brighter sky and
smaller, fainter galaxies, and is never used for training or model selection.

Each object becomes ``<split>/<id>.fits``: a (3, H, W) cube with WCS-free header keys
(``BANDS``, ``PIXSCALE``, ``PSFFWHM`` per band, ``SKYLEVEL``, ``CLASS``, ``CLASSNAM``, ``SEED``
and the drawn parameters), stored as 16-bit integers with ``BSCALE``/``BZERO`` like CCD data;
``labels.csv`` lists ``filename,class,split`` and the acquisition parameters.

    python -m projects.galaxy_morphology.simulate --params projects/galaxy_morphology/params.yaml \
        --out data/galaxy_morphology/raw/simulated
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from shared.config import load_section
from shared.io import atomic_dir, atomic_path, write_csv
from shared.stage import run, stage_parser

log = logging.getLogger(__name__)

#: class names, in label order (modelled on Galaxy10 DECaLS; its two edge-on and two
#: unbarred-spiral classes are merged, "disturbed" and "merging" too)
CLASSES: tuple[str, ...] = ("smooth_round", "smooth_inbetween", "smooth_cigar", "edge_on_disk",
                            "disk_no_spiral", "spiral", "barred_spiral", "merger")
BANDS: tuple[str, ...] = ("g", "r", "z")
#: flux fraction per band (g, r, z) of each stellar population, before a ±10% jitter
COLOURS = {"bulge": (0.45, 1.0, 1.5), "disk": (0.75, 1.0, 1.2), "young": (1.25, 1.0, 0.7)}
#: galaxy-to-galaxy scatter of the overall colour, in magnitudes per band (real ellipticals can be
#: bluish and spirals reddish: colour is informative, not decisive)
COLOUR_SCATTER_MAG = 0.12
#: seeing relative to r: worse in g, better in z
PSF_BAND_FACTOR = (1.1, 1.0, 0.92)


@dataclass(frozen=True)
class Conditions:
    """Acquisition conditions of one split; ranges are [low, high], drawn uniformly per object.

    Raises:
        ValueError: a range of ``psf_fwhm``, ``size_scale``, ``flux`` or ``sky_level`` is not 0 < low ≤ high;
            ``count`` < 0, ``read_noise`` < 0, ``moffat_beta`` ≤ 1 or ``field_objects`` < 0.
    """

    count: int = 1000
    #: r-band PSF FWHM in arcsec (Moffat)
    psf_fwhm: tuple[float, float] = (1.0, 1.6)
    moffat_beta: float = 3.5
    #: sky level in ADU per pixel (gain 1), drawn log-uniformly: the sky's Poisson noise sets the noise floor
    sky_level: tuple[float, float] = (400.0, 400.0)
    read_noise: float = 5.0
    #: multiplies every radius (stands for distance / redshift)
    size_scale: tuple[float, float] = (0.8, 1.2)
    #: total r-band flux in ADU, drawn log-uniformly
    flux: tuple[float, float] = (4e4, 4e5)
    #: mean number of unrelated field objects (stars, small background galaxies) per stamp
    field_objects: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("psf_fwhm", "size_scale", "flux", "sky_level"):
            low, high = getattr(self, name)
            if not 0 < low <= high:
                raise ValueError(f"{name} must be a range 0 < low ≤ high, got {[low, high]}")
        if self.count < 0 or self.read_noise < 0 or self.moffat_beta <= 1:
            raise ValueError("count ≥ 0, read_noise ≥ 0 and moffat_beta > 1 are required")
        if self.field_objects < 0:
            raise ValueError("field_objects (a mean count) must be ≥ 0")


@dataclass(frozen=True)
class SimulateConfig:
    """The ``simulate`` section: stamp size, pixel scale, class weights and the conditions of each split.

    Raises:
        ValueError: ``class_weights`` does not have one non-negative weight per class or sums to ≤ 0; ``stamp`` < 16
            or ``pixel_scale`` ≤ 0; two splits share a seed.
    """

    stamp: int = 64
    pixel_scale: float = 0.262
    #: class frequencies (relative weights, in the order of ``classes``); imbalance is allowed
    class_weights: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0)
    splits: dict[str, Conditions] = field(default_factory=lambda: {
        "train": Conditions(count=2000, seed=1), "val": Conditions(count=300, seed=2),
        "test": Conditions(count=500, seed=3)})
    workers: int = 2

    def __post_init__(self) -> None:
        if len(self.class_weights) != len(CLASSES) or min(self.class_weights) < 0 or sum(self.class_weights) <= 0:
            raise ValueError(f"class_weights needs {len(CLASSES)} non-negative weights ({', '.join(CLASSES)})")
        if self.stamp < 16 or self.pixel_scale <= 0:
            raise ValueError("stamp ≥ 16 pixels and pixel_scale > 0 are required")
        seeds = [c.seed for c in self.splits.values()]
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"every split needs its own seed, got {dict((k, c.seed) for k, c in self.splits.items())}")


# --------------------------------------------------------------------------- components
def _colour(rng: np.random.Generator, kind: str) -> np.ndarray:
    return np.asarray(COLOURS[kind]) * rng.uniform(0.9, 1.1, size=3)


def _blobs(shape: int, scale: float, xs: np.ndarray, ys: np.ndarray, sigmas: np.ndarray,
           weights: np.ndarray) -> np.ndarray:
    """Sum of circular Gaussians (positions and widths in arcsec) on a ``shape``² grid."""
    coords = (np.arange(shape) - (shape - 1) / 2) * scale
    image = np.zeros((shape, shape))
    for x, y, s, w in zip(xs, ys, sigmas, weights):
        gx = np.exp(-0.5 * ((coords - x) / s) ** 2)
        gy = np.exp(-0.5 * ((coords - y) / s) ** 2)
        image += w * np.outer(gy, gx) / (2 * np.pi * s * s)
    return image


def spiral_pattern(rng: np.random.Generator, *, disk_scale: float, arms: int, pitch_deg: float,
                   inner: float, shape: int, scale: float, knots: int, knot_fraction: float,
                   phase0: float | None = None) -> np.ndarray:
    """Face-on image (unit flux) of logarithmic spiral arms with knots along them.

    The arm ridge is ``θ = ln(r / r_in) / tan(pitch) + φ0 + 2πk/m``; the arm light follows the
    exponential disk and rises from zero inside ``inner`` (the bulge or bar end). ``phase0``
    (radians, random by default) sets where the arms start, e.g. at the ends of a bar.
    """
    coords = (np.arange(shape) - (shape - 1) / 2) * scale
    xx, yy = np.meshgrid(coords, coords)
    r = np.hypot(xx, yy) + 1e-6
    theta = np.arctan2(yy, xx)
    tan_pitch = math.tan(math.radians(pitch_deg))
    phase0 = rng.uniform(0, 2 * np.pi) if phase0 is None else phase0
    sharpness = rng.uniform(3.0, 6.0)
    wave = 0.5 + 0.5 * np.cos(arms * (theta - np.log(r / inner) / tan_pitch - phase0))
    envelope = np.exp(-r / disk_scale) * (1 - np.exp(-((r / inner) ** 3)))
    pattern = envelope * wave**sharpness
    pattern /= pattern.sum()
    if knots:
        radii = inner * np.exp(rng.uniform(0, 1, knots) * math.log(max(3.0 * disk_scale / inner, 1.5)))
        which = rng.integers(0, arms, knots)
        angle = np.log(radii / inner) / tan_pitch + phase0 + 2 * np.pi * which / arms + rng.normal(0, 0.08, knots)
        blobs = _blobs(shape, scale, radii * np.cos(angle), radii * np.sin(angle),
                       rng.uniform(0.15, 0.35, knots), rng.uniform(0.5, 1.5, knots))
        pattern = (1 - knot_fraction) * pattern + knot_fraction * blobs / blobs.sum()
    return pattern


def tidal_tails(rng: np.random.Generator, *, length: float, shape: int, scale: float,
                origin: tuple[float, float]) -> np.ndarray:
    """Two curved tails of diffuse light and knots from ``origin`` (unit flux)."""
    xs, ys, sig, w = [], [], [], []
    for sign in (1, -1):
        t = np.linspace(0.2, 1.0, 40)
        start = rng.uniform(0, 2 * np.pi)
        curl = rng.uniform(1.0, 2.5) * sign
        rad = length * t
        ang = start + curl * t
        xs.append(origin[0] + rad * np.cos(ang))
        ys.append(origin[1] + rad * np.sin(ang))
        sig.append(np.full(t.size, 0.5) + 0.6 * t)
        w.append(np.exp(-2 * t) * rng.uniform(0.5, 1.5, t.size))
    image = _blobs(shape, scale, np.concatenate(xs), np.concatenate(ys), np.concatenate(sig), np.concatenate(w))
    return image / image.sum()


# --------------------------------------------------------------------------- galaxies
def _components(rng: np.random.Generator, cls: str, size: float, shape: int, scale: float,
                centre: tuple[float, float] = (0.0, 0.0)) -> tuple[list, dict[str, Any]]:
    """GalSim components ``(profile, colour)`` of one galaxy of class ``cls`` (unit total r flux)."""
    import galsim

    gsp = galsim.GSParams(folding_threshold=2e-2, maxk_threshold=5e-3)  # errors far below the noise
    pa = rng.uniform(0, np.pi) * galsim.radians
    parts: list[tuple[Any, np.ndarray, float]] = []  # (profile with unit flux, colour, r-flux fraction)
    info: dict[str, Any] = {}

    def smooth(n_range, q_range, hlr_range):
        # n on a 0.1 grid: GalSim caches the Hankel transform of each Sérsic index (a new n costs ~10 ms)
        n, q, hlr = round(rng.uniform(*n_range), 1), rng.uniform(*q_range), rng.uniform(*hlr_range) * size
        info.update(sersic_n=n, axis_ratio=q, hlr=hlr)
        prof = galsim.Sersic(n=n, half_light_radius=hlr, trunc=6 * hlr, gsparams=gsp).shear(q=q, beta=pa)
        parts.append((prof, _colour(rng, "bulge"), 1.0))

    def disk_galaxy(*, q_range, arms: int = 0, bar: bool = False, bulge_range=(0.05, 0.3), thickness=(0.1, 0.2)):
        q = rng.uniform(*q_range)
        hlr = rng.uniform(2.5, 4.5) * size
        bulge_frac = rng.uniform(*bulge_range)
        info.update(axis_ratio=q, hlr=hlr, bulge_fraction=bulge_frac, arms=arms, bar=bar)
        bulge_hlr = rng.uniform(0.35, 0.6) * size
        parts.append((galsim.DeVaucouleurs(half_light_radius=bulge_hlr, trunc=8 * bulge_hlr, gsparams=gsp)
                      .shear(q=max(q, 0.6), beta=pa), _colour(rng, "bulge"), bulge_frac))
        rest = 1 - bulge_frac
        disk_scale = hlr / 1.678
        inner = rng.uniform(0.5, 0.8) * hlr
        bar_pa = None
        if bar:
            bar_frac = rng.uniform(0.12, 0.25)
            inner = rng.uniform(0.6, 0.9) * hlr
            bar_pa = rng.uniform(0, np.pi)
            info.update(bar_fraction=bar_frac, bar_length=inner)
            bar_prof = (galsim.Sersic(n=0.5, half_light_radius=0.55 * inner, gsparams=gsp)
                        .shear(q=rng.uniform(0.2, 0.3), beta=bar_pa * galsim.radians))
            parts.append((bar_prof.shear(q=q, beta=pa), _colour(rng, "bulge"), rest * bar_frac))
            rest *= 1 - bar_frac
        if arms:
            arm_frac = rng.uniform(0.45, 0.7)
            pitch = rng.uniform(12, 28)
            info.update(arm_fraction=arm_frac, pitch_deg=pitch)
            pattern = spiral_pattern(rng, disk_scale=disk_scale, arms=arms, pitch_deg=pitch, inner=inner,
                                     shape=shape, scale=scale, knots=int(rng.integers(8, 25)),
                                     knot_fraction=rng.uniform(0.15, 0.35), phase0=bar_pa)
            arm_prof = galsim.InterpolatedImage(galsim.Image(pattern, scale=scale), flux=1.0, gsparams=gsp)
            parts.append((arm_prof.shear(q=q, beta=pa), _colour(rng, "young"), rest * arm_frac))
            rest *= 1 - arm_frac
        # a disk of finite thickness seen at inclination arccos(q) (GalSim's analytic InclinedExponential)
        disk = galsim.InclinedExponential(math.acos(q) * galsim.radians, scale_radius=disk_scale,
                                          scale_h_over_r=rng.uniform(*thickness), gsparams=gsp).rotate(pa)
        parts.append((disk, _colour(rng, "disk"), rest))

    if cls == "smooth_round":
        smooth((2.5, 5.0), (0.8, 1.0), (1.0, 2.8))
    elif cls == "smooth_inbetween":
        smooth((2.5, 5.0), (0.5, 0.68), (1.0, 2.8))
    elif cls == "smooth_cigar":
        smooth((1.5, 4.0), (0.2, 0.38), (1.5, 3.2))
    elif cls == "edge_on_disk":
        disk_galaxy(q_range=(0.0, 0.1), bulge_range=(0.0, 0.35), thickness=(0.04, 0.09))
    elif cls == "disk_no_spiral":
        disk_galaxy(q_range=(0.55, 1.0), bulge_range=(0.15, 0.45))
    elif cls == "spiral":
        disk_galaxy(q_range=(0.55, 1.0), arms=int(rng.integers(2, 4)))
    elif cls == "barred_spiral":
        disk_galaxy(q_range=(0.6, 1.0), arms=2, bar=True)
    else:
        raise ValueError(f"unknown class {cls!r}; classes: {', '.join(CLASSES)}")
    info["position_angle_deg"] = math.degrees(pa.rad)
    if centre != (0.0, 0.0):
        parts = [(p.shift(*centre), c, f) for p, c, f in parts]
    return parts, info


def galaxy_components(rng: np.random.Generator, cls: str, size: float, shape: int, scale: float):
    """Components of a galaxy of any class, mergers included; returns ``(parts, info)``."""
    if cls != "merger":
        return _components(rng, cls, size, shape, scale)
    import galsim

    kinds = ("smooth_round", "smooth_inbetween", "disk_no_spiral", "spiral")
    separation = rng.uniform(2.0, 4.5) * size
    angle = rng.uniform(0, 2 * np.pi)
    ratio = rng.uniform(0.3, 1.0)  # flux of the companion over the primary
    offset = (separation * math.cos(angle) / (1 + ratio), separation * math.sin(angle) / (1 + ratio))
    primary, info = _components(rng, str(rng.choice(kinds)), size, shape, scale,
                                centre=(-offset[0] * ratio, -offset[1] * ratio))
    companion, _ = _components(rng, str(rng.choice(kinds)), size * rng.uniform(0.6, 1.0), shape, scale,
                               centre=offset)
    tail_frac = rng.uniform(0.12, 0.25)
    tails = tidal_tails(rng, length=rng.uniform(3.0, 6.0) * size, shape=shape, scale=scale,
                        origin=(0.0, 0.0))
    # a tidal shear distorts both bodies
    distort = galsim.Shear(g=rng.uniform(0.05, 0.2), beta=rng.uniform(0, np.pi) * galsim.radians)
    body = 1 - tail_frac
    parts = ([(p.shear(distort), c, f * body / (1 + ratio)) for p, c, f in primary]
             + [(p.shear(distort), c, f * body * ratio / (1 + ratio)) for p, c, f in companion])
    tail_prof = galsim.InterpolatedImage(galsim.Image(tails, scale=scale), flux=1.0)
    parts.append((tail_prof, _colour(rng, "young"), tail_frac))
    info = {"separation": separation, "flux_ratio": ratio, "tail_fraction": tail_frac,
            "hlr": info.get("hlr", 0.0), "axis_ratio": info.get("axis_ratio", 1.0)}
    return parts, info


def field_objects(rng: np.random.Generator, cond: Conditions, flux: float, stamp: int, pixel_scale: float) -> list:
    """Unrelated stars and small background galaxies away from the centre, as ``(profile, colour, flux)``."""
    import galsim

    objects = []
    for _ in range(rng.poisson(cond.field_objects)):
        radius = rng.uniform(14, stamp / 2 - 2) * pixel_scale
        angle = rng.uniform(0, 2 * np.pi)
        if rng.random() < 0.5:  # a star: a point source, colours from blue to red
            profile = galsim.DeltaFunction()
            colour = np.array([1.0, 1.0, 1.0]) * 10 ** (-0.4 * np.array([rng.uniform(0.2, 1.4), 0.0,
                                                                          -rng.uniform(0.0, 0.8)]))
            f = flux * math.exp(rng.uniform(math.log(0.02), math.log(0.6)))
        else:  # a small, faint background galaxy
            profile = galsim.Exponential(half_light_radius=rng.uniform(0.3, 0.8)).shear(
                q=rng.uniform(0.4, 1.0), beta=rng.uniform(0, np.pi) * galsim.radians)
            colour = _colour(rng, "disk")
            f = flux * math.exp(rng.uniform(math.log(0.02), math.log(0.15)))
        objects.append((profile.shift(radius * math.cos(angle), radius * math.sin(angle)), colour, f))
    return objects


def render(cls: str, seed: int, cond: Conditions, stamp: int = 64,
           pixel_scale: float = 0.262) -> tuple[np.ndarray, dict[str, Any]]:
    """One galaxy of class ``cls`` as a noisy (3, stamp, stamp) float32 cube in ADU, and its parameters."""
    import galsim

    rng = np.random.default_rng(seed)
    size = rng.uniform(*cond.size_scale)
    flux = math.exp(rng.uniform(math.log(cond.flux[0]), math.log(cond.flux[1])))
    fwhm = rng.uniform(*cond.psf_fwhm)
    parts, info = galaxy_components(rng, cls, size, stamp, pixel_scale)
    tint = 10 ** (-0.4 * rng.normal(0, COLOUR_SCATTER_MAG, len(BANDS)))
    tint /= tint[1]
    shift = rng.normal(0, 0.5, 2) * pixel_scale  # imperfect centring (sub-arcsec)
    field = field_objects(rng, cond, flux, stamp, pixel_scale)
    cube = np.empty((len(BANDS), stamp, stamp), dtype=np.float32)
    low, high = cond.sky_level
    sky = low if low == high else math.exp(rng.uniform(math.log(low), math.log(high)))
    fwhms = []
    for b in range(len(BANDS)):
        psf = galsim.Moffat(beta=cond.moffat_beta, fwhm=fwhm * PSF_BAND_FACTOR[b])
        fwhms.append(fwhm * PSF_BAND_FACTOR[b])
        gal = galsim.Add([prof * (flux * frac * colour[b] * tint[b]) for prof, colour, frac in parts])
        image = galsim.Convolve(gal, psf).shift(*shift).drawImage(nx=stamp, ny=stamp, scale=pixel_scale).array
        if field:
            others = galsim.Add([prof * (f * colour[b]) for prof, colour, f in field])
            image += galsim.Convolve(others, psf).drawImage(nx=stamp, ny=stamp, scale=pixel_scale).array
        # CCD noise with gain 1 (GalSim's CCDNoise model, drawn with NumPy, which is ~50x faster here):
        # Poisson noise of the galaxy and the sky, Gaussian read noise, then the sky subtracted
        image = (rng.poisson(np.clip(image + sky, 0, None)) - sky
                 + rng.normal(0, cond.read_noise, image.shape))
        # imperfect sky subtraction upstream: a residual pedestal and a faint gradient
        yy, xx = np.mgrid[:stamp, :stamp] / stamp - 0.5
        pedestal = rng.normal(0, 0.05) * math.sqrt(sky) * 3
        gradient = rng.normal(0, 0.03, 2) * math.sqrt(sky)
        cube[b] = image + pedestal + gradient[0] * xx + gradient[1] * yy
    info.update(psf_fwhm=fwhm, psf_fwhm_bands=fwhms, size_scale=size, flux=flux, sky_level=sky,
                field_objects=len(field))
    return cube, info


# --------------------------------------------------------------------------- FITS I/O
def write_cube(path: str | Path, cube: np.ndarray, header: dict[str, Any]) -> Path:
    """Write a (bands, H, W) cube as 16-bit integers with BSCALE/BZERO (like CCD data), atomically."""
    from astropy.io import fits

    hdu = fits.PrimaryHDU(np.array(cube, dtype=np.float32))  # a copy: scale() works in place
    hdu.scale("int16", option="minmax")
    for key, value in header.items():
        hdu.header[key] = value
    with atomic_path(path, suffix=".fits") as tmp:
        hdu.writeto(tmp, overwrite=True)
    return Path(path)


def fits_header(cls: str, seed: int, split: str, info: dict[str, Any], pixel_scale: float) -> dict[str, Any]:
    header: dict[str, Any] = {
        "BANDS": ",".join(BANDS), "PIXSCALE": (pixel_scale, "arcsec / pixel"),
        "PSFFWHM": (round(info["psf_fwhm"], 4), "r-band Moffat FWHM, arcsec"),
        "SKYLEVEL": (round(info["sky_level"], 2), "ADU / pixel, subtracted"), "GAIN": 1.0,
        "CLASS": CLASSES.index(cls), "CLASSNAM": cls, "SEED": seed, "SPLIT": split,
        "SIZESCL": round(info["size_scale"], 4), "FLUX": round(info["flux"], 1),
    }
    for b, band in enumerate(BANDS):
        header[f"BAND{b + 1}"] = band
        header[f"PSFFWHM{b + 1}"] = round(info["psf_fwhm_bands"][b], 4)
    for key, name in (("hlr", "HLR"), ("axis_ratio", "AXRATIO"), ("sersic_n", "SERSICN"), ("arms", "ARMS"),
                      ("pitch_deg", "PITCH"), ("separation", "SEPARAT"), ("field_objects", "NFIELD")):
        if key in info:
            header[name] = round(float(info[key]), 4)
    return header


def _render_one(task: tuple) -> dict[str, Any]:
    cls, seed, split, cond, stamp, scale, out = task
    cube, info = render(cls, seed, cond, stamp, scale)
    name = f"{split}/{split}_{seed:010d}.fits"
    write_cube(Path(out) / name, cube, fits_header(cls, seed, split, info, scale))
    return {"filename": name, "class": cls, "split": split, "seed": seed, "psf_fwhm": info["psf_fwhm"],
            "sky_level": info["sky_level"], "size_scale": info["size_scale"], "flux": info["flux"]}


def tasks_for(cfg: SimulateConfig, out: Path) -> list[tuple]:
    """One task per object: classes drawn with ``class_weights``, a seed per object."""
    weights = np.asarray(cfg.class_weights) / np.sum(cfg.class_weights)
    tasks = []
    for split, cond in cfg.splits.items():
        rng = np.random.default_rng(cond.seed)
        labels = rng.choice(len(CLASSES), size=cond.count, p=weights)
        seeds = rng.integers(0, 2**31 - 1, size=cond.count)
        tasks += [(CLASSES[k], int(s), split, cond, cfg.stamp, cfg.pixel_scale, str(out))
                  for k, s in zip(labels, seeds)]
    return tasks


def simulate(cfg: SimulateConfig, out: Path) -> list[dict[str, Any]]:
    """Render every split into ``out`` (FITS cubes and ``labels.csv``); returns the label rows."""
    from tqdm.auto import tqdm

    tasks = tasks_for(cfg, out)
    for split in cfg.splits:
        (Path(out) / split).mkdir(parents=True, exist_ok=True)
    if cfg.workers > 1:
        import multiprocessing as mp

        with mp.get_context("spawn").Pool(cfg.workers) as pool:
            rows = list(tqdm(pool.imap(_render_one, tasks, chunksize=32), total=len(tasks), desc="simulate",
                             mininterval=5))
    else:
        rows = [_render_one(t) for t in tqdm(tasks, desc="simulate", mininterval=5)]
    write_csv(Path(out) / "labels.csv", rows)
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    args = stage_parser(__doc__, outputs=("out",)).parse_args(argv)
    cfg = load_section(args.params, "simulate", SimulateConfig)
    with atomic_dir(args.out) as tmp:
        rows = simulate(cfg, tmp)
    counts = {s: sum(r["split"] == s for r in rows) for s in cfg.splits}
    log.info("wrote %d FITS cubes to %s: %s", len(rows), args.out, counts)
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main))
