"""Micro-CT phantoms of vesicular, crystal-bearing volcanic rock: exact labels plus a simulated CT scan.

Geometry (porespy draws the shapes; this module chooses where and how large):

* **crystals** first: randomly oriented prismatic laths (plagioclase-like, length ≫ width > thickness) and equant
  prisms (pyroxene/olivine-like), each size scaled by a lognormal factor, added with
  :func:`porespy.generators.insert_shape` until the crystal volume fraction is reached (touching crystals merge into
  glomerocrysts);
* **vesicles**: a Boolean model of spheres with lognormal radii (:func:`porespy.tools.insert_sphere`), overlapping
  spheres being coalesced vesicles, stretched along z by ``vesicle_elongation`` into ellipsoids, added until the
  sphere fraction reaches ``vesicularity / (1 - crystal_fraction)``; vesicles never cut crystals, so the final
  vesicularity matches the parameter in expectation (crystals and vesicles are placed independently);
* the rest is **glass**.

The geometry is drawn on a grid padded by the largest vesicle radius and cropped, so the boundary has the same density
as the interior. Labels: uint8, 0 vesicle, 1 glass, 2 crystal (:data:`projects.rock_ct.physics.CLASSES`).

CT forward model (:func:`scan`), in linear-attenuation units (arbitrary, glass ≈ 0.5):

1. per-phase attenuation: vesicles ``mu_vesicle``, glass ``mu_glass`` with a smooth compositional texture, each
   crystal ``mu_glass + crystal_contrast × U(1 ± crystal_spread)`` (crystal species differ);
2. partial-volume blur: an isotropic Gaussian PSF of ``blur_sigma`` voxels;
3. beam-hardening cupping: the attenuation falls towards the rotation axis (z) by up to ``cupping`` (relative);
4. ring artefacts: ``ring_count`` concentric rings around the rotation axis, Gaussian in radius, amplitudes
   ``rings × N(0, 1)``, the same in every slice (a detector column defect);
5. noise: Poisson counts of ``photons`` per unit attenuation, plus Gaussian noise of ``noise``;
6. quantisation: the window ``[window_low, window_high]`` mapped to ``2**bits`` grey levels, stored as uint16 over
   the full range (8-bit data keeps its 256 levels: value × 257).

Sources: vesicle size distributions of basaltic scoria are close to lognormal (e.g. Shea et al. 2010, J. Volcanol.
Geotherm. Res. 190, 271-289); plagioclase laths and beam-hardening/ring artefacts of lab micro-CT (Ketcham & Carlson
2001, Computers & Geosciences 27, 381-400). The numbers are generic, not fitted to a scanner.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass, field

import numpy as np

log = logging.getLogger(__name__)

VESICLE, GLASS, CRYSTAL = 0, 1, 2


# --------------------------------------------------------------------------- parameters
@dataclass(frozen=True)
class Geometry:
    """Rock texture. Lengths in voxels, fractions of the whole volume."""

    vesicularity: float = 0.30
    #: lognormal vesicle radii: median (voxels) and shape (sigma of log r); radii clipped to [1.5, 4 × median]
    vesicle_radius: float = 4.0
    vesicle_sigma: float = 0.45
    #: ellipsoid stretch along z (1: spheres)
    vesicle_elongation: float = 1.2
    crystal_fraction: float = 0.15
    #: share of the crystal count that are laths (the rest equant)
    lath_share: float = 0.7
    #: lath length, width, thickness (voxels) before the lognormal scale factor
    lath_size: tuple[float, float, float] = (21.0, 7.0, 4.0)
    equant_size: float = 8.0
    #: sigma of log of the per-crystal size factor
    crystal_sigma: float = 0.25

    def __post_init__(self) -> None:
        if not 0.0 <= self.vesicularity < 0.8 or not 0.0 <= self.crystal_fraction < 0.6:
            raise ValueError(f"vesicularity must lie in [0, 0.8) and crystal_fraction in [0, 0.6), got "
                             f"{self.vesicularity} and {self.crystal_fraction}")
        if self.vesicularity / (1.0 - self.crystal_fraction) >= 0.9:
            raise ValueError("vesicularity / (1 - crystal_fraction) must stay below 0.9")
        if self.vesicle_radius < 1.0 or self.vesicle_elongation < 1.0 or min(self.lath_size) < 1.0:
            raise ValueError("vesicle_radius, vesicle_elongation and the lath sizes must be ≥ 1")


@dataclass(frozen=True)
class Acquisition:
    """A CT scan (see the module docstring). Attenuation in arbitrary units (glass ≈ 0.5), lengths in voxels."""

    mu_vesicle: float = 0.05
    mu_glass: float = 0.50
    crystal_contrast: float = 0.22
    crystal_spread: float = 0.3
    texture: float = 0.015
    blur_sigma: float = 0.8
    cupping: float = 0.06
    rings: float = 0.01
    ring_count: int = 12
    photons: float = 2000.0
    noise: float = 0.04
    bits: int = 16
    window_low: float = -0.1
    window_high: float = 1.0

    def __post_init__(self) -> None:
        if self.bits not in (8, 16):
            raise ValueError(f"bits must be 8 or 16, got {self.bits}")
        if self.window_high <= self.window_low:
            raise ValueError(f"window_high ({self.window_high}) must exceed window_low ({self.window_low})")
        if self.photons <= 0 or self.noise < 0 or self.blur_sigma < 0 or self.ring_count < 0:
            raise ValueError("photons must be > 0; noise, blur_sigma and ring_count ≥ 0")


@dataclass(frozen=True)
class GeometryRanges:
    """Randomised geometry (training, validation): each value drawn uniformly from [low, high]."""

    vesicularity: tuple[float, float] = (0.15, 0.45)
    vesicle_radius: tuple[float, float] = (2.5, 6.0)
    vesicle_sigma: tuple[float, float] = (0.3, 0.6)
    vesicle_elongation: tuple[float, float] = (1.0, 1.6)
    crystal_fraction: tuple[float, float] = (0.05, 0.25)
    lath_share: tuple[float, float] = (0.4, 0.9)
    lath_length: tuple[float, float] = (14.0, 28.0)
    equant_size: tuple[float, float] = (6.0, 11.0)


@dataclass(frozen=True)
class AcquisitionRanges:
    """Randomised acquisition (training, validation): each value drawn uniformly from [low, high]."""

    mu_vesicle: tuple[float, float] = (0.0, 0.1)
    mu_glass: tuple[float, float] = (0.45, 0.55)
    crystal_contrast: tuple[float, float] = (0.14, 0.30)
    crystal_spread: tuple[float, float] = (0.1, 0.4)
    texture: tuple[float, float] = (0.0, 0.03)
    blur_sigma: tuple[float, float] = (0.5, 1.2)
    cupping: tuple[float, float] = (0.0, 0.1)
    rings: tuple[float, float] = (0.0, 0.025)
    ring_count: tuple[int, int] = (0, 20)
    photons: tuple[float, float] = (1000.0, 4000.0)
    noise: tuple[float, float] = (0.02, 0.07)
    bits: tuple[int, ...] = (8, 16)
    window_low: tuple[float, float] = (-0.15, -0.05)
    window_high: tuple[float, float] = (0.9, 1.1)


def _uniform(rng: np.random.Generator, lo_hi) -> float:
    lo, hi = lo_hi
    return float(rng.uniform(lo, hi)) if hi > lo else float(lo)


def draw_geometry(ranges: GeometryRanges, rng: np.random.Generator, base: Geometry = Geometry()) -> Geometry:
    """One random :class:`Geometry` from ``ranges`` (fields without a range keep ``base``'s values)."""
    ves = _uniform(rng, ranges.vesicularity)
    cry = _uniform(rng, ranges.crystal_fraction)
    ves = min(ves, 0.85 * (1.0 - cry))
    length = _uniform(rng, ranges.lath_length)
    ratio = length / base.lath_size[0]
    return dataclasses.replace(
        base, vesicularity=ves, crystal_fraction=cry,
        vesicle_radius=_uniform(rng, ranges.vesicle_radius), vesicle_sigma=_uniform(rng, ranges.vesicle_sigma),
        vesicle_elongation=_uniform(rng, ranges.vesicle_elongation), lath_share=_uniform(rng, ranges.lath_share),
        lath_size=(length, max(1.0, base.lath_size[1] * ratio ** 0.5), max(1.0, base.lath_size[2] * ratio ** 0.5)),
        equant_size=_uniform(rng, ranges.equant_size))


def draw_acquisition(ranges: AcquisitionRanges, rng: np.random.Generator) -> Acquisition:
    """One random :class:`Acquisition` from ``ranges``."""
    values = {}
    for f in dataclasses.fields(AcquisitionRanges):
        spec = getattr(ranges, f.name)
        if f.name == "bits":
            values[f.name] = int(rng.choice(np.asarray(spec)))
        elif f.name == "ring_count":
            values[f.name] = int(rng.integers(spec[0], spec[1] + 1))
        else:
            values[f.name] = _uniform(rng, spec)
    return Acquisition(**values)


# --------------------------------------------------------------------------- geometry
def _prism(half: tuple[float, float, float], rotation: np.ndarray) -> np.ndarray:
    """A boolean rotated box with half-lengths ``half`` (voxels), on an odd cube just large enough."""
    reach = int(math.ceil(math.sqrt(sum(h * h for h in half)))) + 1
    ax = np.arange(-reach, reach + 1, dtype=np.float32)
    zz, yy, xx = np.meshgrid(ax, ax, ax, indexing="ij")
    pts = np.stack([zz.ravel(), yy.ravel(), xx.ravel()])
    local = rotation.T @ pts            # coordinates in the crystal's frame
    inside = np.all(np.abs(local) <= np.asarray(half, dtype=np.float32)[:, None] + 0.5, axis=0)
    return inside.reshape(zz.shape)


def _place_crystals(shape: tuple[int, int, int], geo: Geometry, rng: np.random.Generator) -> np.ndarray:
    """Crystal mask (bool) with about ``geo.crystal_fraction`` of the voxels, from laths and equant prisms."""
    import porespy as ps
    from scipy.spatial.transform import Rotation

    counts = np.zeros(shape, dtype=np.uint8)
    target = geo.crystal_fraction * float(np.prod(shape))
    filled = 0
    checks = 0
    while filled < target:
        scale = float(np.exp(rng.normal(0.0, geo.crystal_sigma)))
        if rng.random() < geo.lath_share:
            half = tuple(0.5 * s * scale for s in geo.lath_size)
        else:
            side = geo.equant_size * scale
            half = tuple(0.5 * side * f for f in rng.uniform(0.8, 1.2, 3))
        rot = Rotation.random(random_state=rng).as_matrix().astype(np.float32)
        element = _prism(half, rot).astype(np.uint8)
        center = [int(rng.integers(0, n)) for n in shape]
        counts = ps.generators.insert_shape(counts, element, center=center, value=1, mode="overlay")
        np.minimum(counts, 1, out=counts)
        checks += 1
        filled = int(counts.sum(dtype=np.int64))
        if checks > 200_000:  # pragma: no cover - a tiny volume and a huge crystal cannot reach the fraction
            break
    return counts.astype(bool)


def _place_vesicles(shape: tuple[int, int, int], geo: Geometry, target: float,
                    rng: np.random.Generator) -> np.ndarray:
    """Vesicle mask (bool): overlapping lognormal spheres, stretched along z, covering ``target`` of the volume."""
    import porespy as ps
    from scipy import ndimage

    if target <= 0:
        return np.zeros(shape, dtype=bool)
    r_max = 4.0 * geo.vesicle_radius
    pad = int(math.ceil(r_max)) + 1
    nz = int(math.ceil(shape[0] / geo.vesicle_elongation))
    grid = (nz + 2 * pad, shape[1] + 2 * pad, shape[2] + 2 * pad)
    inner = (slice(pad, pad + nz), slice(pad, pad + shape[1]), slice(pad, pad + shape[2]))
    spheres = np.zeros(grid, dtype=bool)
    # expected count of a Boolean model: -ln(1 - phi) × volume / E[sphere volume]
    mean_volume = 4.0 / 3.0 * math.pi * geo.vesicle_radius ** 3 * math.exp(4.5 * geo.vesicle_sigma ** 2)
    expected = -math.log(1.0 - target) * float(np.prod(grid)) / mean_volume
    batch = max(1, int(expected / 40))
    inner_voxels = float(nz * shape[1] * shape[2])
    while spheres[inner].sum(dtype=np.int64) / inner_voxels < target:
        radii = np.clip(geo.vesicle_radius * np.exp(rng.normal(0.0, geo.vesicle_sigma, batch)), 1.5, r_max)
        centers = np.stack([rng.integers(0, n, batch) for n in grid], axis=1)
        for c, r in zip(centers, radii):
            spheres = ps.tools.insert_sphere(spheres, c, float(r), v=True, overwrite=True)
    spheres = spheres[inner]
    if geo.vesicle_elongation > 1.0:
        zoom = shape[0] / nz
        spheres = ndimage.zoom(spheres.astype(np.uint8), (zoom, 1.0, 1.0), order=0, grid_mode=True,
                               mode="grid-constant")[: shape[0]].astype(bool)
    return spheres


def make_labels(shape: int | tuple[int, int, int], geo: Geometry, rng: np.random.Generator) -> np.ndarray:
    """Exact phase labels of a phantom rock.

    Args:
        shape: the volume (Z, Y, X) in voxels, or one side of a cube.
        geo: the rock texture.
        rng: the random source (the only one used).

    Returns:
        uint8 labels (Z, Y, X): 0 vesicle, 1 glass, 2 crystal.

    Raises:
        ValueError: a side shorter than 8 voxels.
    """
    shape = (shape,) * 3 if isinstance(shape, (int, np.integer)) else tuple(int(s) for s in shape)
    if len(shape) != 3 or min(shape) < 8:
        raise ValueError(f"a phantom needs three sides of at least 8 voxels, got {shape}")
    crystals = _place_crystals(shape, geo, rng)
    ves_target = geo.vesicularity / (1.0 - geo.crystal_fraction)
    vesicles = _place_vesicles(shape, geo, ves_target, rng)
    labels = np.full(shape, GLASS, dtype=np.uint8)
    labels[vesicles] = VESICLE
    labels[crystals] = CRYSTAL
    return labels


# --------------------------------------------------------------------------- CT forward model
def _smooth_noise(shape, sigma: float, rng: np.random.Generator) -> np.ndarray:
    from scipy import ndimage

    field_ = ndimage.gaussian_filter(rng.standard_normal(shape).astype(np.float32), sigma)
    std = float(field_.std())
    return field_ / std if std > 0 else field_


def attenuation(labels: np.ndarray, acq: Acquisition, rng: np.random.Generator) -> np.ndarray:
    """Noise-free attenuation (float32, same shape as ``labels``) before blur: per phase, per crystal, texture."""
    from scipy import ndimage

    mu = np.empty(labels.shape, dtype=np.float32)
    mu[labels == VESICLE] = acq.mu_vesicle
    glass = labels == GLASS
    mu[glass] = acq.mu_glass
    if acq.texture > 0:
        mu[glass] += acq.texture * _smooth_noise(labels.shape, 4.0, rng)[glass]
    crystal_ids, n = ndimage.label(labels == CRYSTAL)
    if n:
        per = acq.mu_glass + acq.crystal_contrast * rng.uniform(1 - acq.crystal_spread, 1 + acq.crystal_spread, n)
        table = np.concatenate([[0.0], per]).astype(np.float32)
        sel = crystal_ids > 0
        mu[sel] = table[crystal_ids[sel]]
    return mu


def scan(labels: np.ndarray, acq: Acquisition, rng: np.random.Generator) -> np.ndarray:
    """Simulate a reconstructed CT volume of ``labels``.

    Args:
        labels: uint8 (Z, Y, X) phase labels (0 vesicle, 1 glass, 2 crystal); z is the rotation axis.
        acq: the acquisition.
        rng: the random source.

    Returns:
        uint16 (Z, Y, X) grey values; ``acq.bits == 8`` gives 256 levels spread over the uint16 range.
    """
    from scipy import ndimage

    mu = attenuation(labels, acq, rng)
    if acq.blur_sigma > 0:
        mu = ndimage.gaussian_filter(mu, acq.blur_sigma)
    _, ny, nx = labels.shape
    cy, cx = (ny - 1) / 2.0 + rng.normal(0, 0.05 * ny), (nx - 1) / 2.0 + rng.normal(0, 0.05 * nx)
    yy, xx = np.mgrid[:ny, :nx].astype(np.float32)
    radius = np.hypot(yy - cy, xx - cx)
    big_r = 0.5 * math.hypot(ny, nx)
    if acq.cupping > 0:
        mu *= (1.0 - acq.cupping * np.clip(1.0 - (radius / big_r) ** 2, 0.0, 1.0))[None]
    if acq.rings > 0 and acq.ring_count > 0:
        rings = np.zeros((ny, nx), dtype=np.float32)
        for r0, amp, width in zip(rng.uniform(0, big_r, acq.ring_count), rng.normal(0, acq.rings, acq.ring_count),
                                  rng.uniform(0.5, 1.5, acq.ring_count)):
            rings += amp * np.exp(-0.5 * ((radius - r0) / width) ** 2)
        mu += rings[None]
    counts = rng.poisson(np.clip(mu, 0.0, None) * acq.photons).astype(np.float32)
    mu = counts / acq.photons + np.float32(acq.noise) * rng.standard_normal(mu.shape, dtype=np.float32)
    levels = 2 ** acq.bits - 1
    grey = np.clip((mu - acq.window_low) / (acq.window_high - acq.window_low), 0.0, 1.0) * levels
    grey = np.rint(grey)
    if acq.bits == 8:
        grey *= 257.0
    return grey.astype(np.uint16)


@dataclass(frozen=True)
class Phantom:
    """A phantom cube: its scan, its exact labels and how it was made."""

    image: np.ndarray
    labels: np.ndarray
    geometry: Geometry
    acquisition: Acquisition
    attrs: dict = field(default_factory=dict)


def make_phantom(shape: int | tuple[int, int, int], geometry: Geometry, acquisition: Acquisition,
                 seed: int | np.random.SeedSequence) -> Phantom:
    """Labels (:func:`make_labels`) and scan (:func:`scan`) of one phantom, deterministic in ``seed``.

    Returns:
        a :class:`Phantom` with ``image`` uint16 and ``labels`` uint8 of the same shape (Z, Y, X), and ``attrs``
        (the parameters and the measured phase fractions, JSON-ready).
    """
    seq = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    geo_seq, scan_seq = seq.spawn(2)
    labels = make_labels(shape, geometry, np.random.default_rng(geo_seq))
    image = scan(labels, acquisition, np.random.default_rng(scan_seq))
    counts = np.bincount(labels.ravel(), minlength=3) / labels.size
    attrs = {"geometry": dataclasses.asdict(geometry), "acquisition": dataclasses.asdict(acquisition),
             "vesicularity": float(counts[VESICLE]), "crystal_fraction": float(counts[CRYSTAL])}
    return Phantom(image=image, labels=labels, geometry=geometry, acquisition=acquisition, attrs=attrs)
