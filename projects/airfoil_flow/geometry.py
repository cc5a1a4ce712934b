"""Airfoil geometry: NACA 4-digit and Kármán–Trefftz generators, UIUC coordinate files, repaneling.

An :class:`Airfoil` is a closed polygon in chord units, ordered like the Selig format and
like XFoil: from the trailing edge over the upper surface to the leading edge and back along
the lower surface (counter-clockwise), first point equal to the last (closed trailing edge)::

    foil = naca4(0.02, 0.4, 0.12, n_panels=160)          # NACA 2412
    foil = naca("2412")
    foil = repanel(read_dat("clarky.dat"), 160)          # any UIUC file, Selig or Lednicer

Readers check what they read and raise :class:`GeometryError` (a ``DataError``) naming the
file, the line and what is wrong: non-numeric or unpaired values, a wrong Lednicer point count,
an unclosed or self-intersecting contour.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from shared.io import DataError

#: a contour whose ends are further apart than this (in chords) is not a closed airfoil
MAX_TE_GAP = 0.05


class GeometryError(DataError):
    """An airfoil contour is malformed (unclosed, self-intersecting, unreadable)."""


@dataclass(frozen=True)
class Airfoil:
    """A closed, counter-clockwise contour ``coords`` (K, 2) starting and ending at the trailing edge."""

    name: str
    coords: np.ndarray
    #: NACA-style descriptors (max camber, its position, max thickness; chords), exact for
    #: generated NACA airfoils and measured from the contour otherwise
    m: float = float("nan")
    p: float = float("nan")
    t: float = float("nan")
    family: str = "other"

    @property
    def n_panels(self) -> int:
        return len(self.coords) - 1

    def with_coords(self, coords: np.ndarray) -> Airfoil:
        return Airfoil(self.name, coords, self.m, self.p, self.t, self.family)


# --------------------------------------------------------------------------- generators
def _cosine(n: int) -> np.ndarray:
    """``n + 1`` points on [0, 1] clustered at both ends."""
    return 0.5 * (1.0 - np.cos(np.linspace(0.0, np.pi, n + 1)))


def naca4(m: float, p: float, t: float, n_panels: int = 160, name: str | None = None) -> Airfoil:
    """NACA 4-digit airfoil (max camber ``m``, its position ``p``, thickness ``t``; chords).

    Cosine spacing, ``n_panels`` panels (even), closed trailing edge (the ``-0.1036 x⁴``
    thickness coefficient).
    """
    if n_panels < 8 or n_panels % 2:
        raise GeometryError(f"n_panels must be even and at least 8, got {n_panels}")
    if not (0 <= m <= 0.1 and 0 < t <= 0.4 and (m == 0 or 0.05 <= p <= 0.95)):
        raise GeometryError(f"NACA parameters out of range: m={m} (0..0.1), p={p} (0.05..0.95), t={t} (0..0.4)")
    x = _cosine(n_panels // 2)
    yt = 5 * t * (0.2969 * np.sqrt(x) - 0.1260 * x - 0.3516 * x**2 + 0.2843 * x**3 - 0.1036 * x**4)
    yt[-1] = 0.0
    if m > 0:
        front = x < p
        yc = np.where(front, m / p**2 * (2 * p * x - x**2), m / (1 - p) ** 2 * ((1 - 2 * p) + 2 * p * x - x**2))
        dyc = np.where(front, 2 * m / p**2 * (p - x), 2 * m / (1 - p) ** 2 * (p - x))
    else:
        yc = dyc = np.zeros_like(x)
    theta = np.arctan(dyc)
    upper = np.column_stack([x - yt * np.sin(theta), yc + yt * np.cos(theta)])
    lower = np.column_stack([x + yt * np.sin(theta), yc - yt * np.cos(theta)])
    coords = np.concatenate([upper[::-1], lower[1:]])
    coords[-1] = coords[0]
    label = name or f"NACA {round(m * 100):d}{round(p * 10) if m else 0:d}{round(t * 100):02d}"
    return Airfoil(label, coords, float(m), float(p if m else 0.0), float(t), "naca4")


def naca(code: str, n_panels: int = 160) -> Airfoil:
    """``naca("2412")``: a NACA 4-digit airfoil from its designation."""
    digits = re.sub(r"(?i)^naca\s*", "", str(code).strip())
    if not re.fullmatch(r"\d{4}", digits):
        raise GeometryError(f"not a NACA 4-digit designation: {code!r} (expected e.g. 2412)")
    m, p, t = int(digits[0]) / 100, int(digits[1]) / 10, int(digits[2:]) / 100
    return naca4(m, p if m else 0.0, t, n_panels, name=f"NACA {digits}")


def karman_trefftz(eps_x: float, eps_y: float, te_angle_deg: float, n_points: int = 400,
                   name: str | None = None) -> tuple[Airfoil, float, float]:
    """A Kármán–Trefftz airfoil (a non-NACA family with an exact potential-flow solution).

    The circle through ζ = 1 centred at ``(-eps_x, eps_y)`` is mapped by the Kármán–Trefftz
    transform with trailing-edge angle ``te_angle_deg``. Returns the airfoil scaled to unit
    chord (x extent, leading edge at x = 0, not rotated) and ``(radius, beta)`` in units of that
    chord, so that the exact lift is ``C_L = 8π · radius · sin(α + beta)``.
    """
    if not (0 < eps_x < 0.5 and 0 <= eps_y < 0.5 and 0 <= te_angle_deg < 45):
        raise GeometryError(f"Kármán–Trefftz parameters out of range: eps_x={eps_x}, eps_y={eps_y}, "
                            f"te_angle={te_angle_deg}")
    n = 2.0 - np.radians(te_angle_deg) / np.pi
    centre = complex(-eps_x, eps_y)
    radius = abs(1.0 - centre)
    beta = np.arctan2(eps_y, 1.0 + eps_x)
    theta = -beta + np.linspace(0.0, 2 * np.pi, n_points + 1)
    zeta = centre + radius * np.exp(1j * theta)
    a, b = (1 + 1 / zeta) ** n, (1 - 1 / zeta) ** n
    z = n * (a + b) / (a - b)
    z[0] = z[-1] = n  # the trailing edge, where the formula is 0/0-sensitive
    x0, chord = z.real.min(), n - z.real.min()
    coords = np.column_stack([(z.real - x0) / chord, z.imag / chord])
    foil = Airfoil(name or f"KT {eps_x:.3f}/{eps_y:.3f}/{te_angle_deg:.0f}", coords, family="karman_trefftz")
    return with_descriptors(foil), radius / chord, float(beta)


# --------------------------------------------------------------------------- UIUC files
def parse_dat(text: str, source: str = "<string>") -> Airfoil:
    """Parse a UIUC coordinate file in the Selig or the Lednicer format.

    Selig: a name line, then ``x y`` from the trailing edge over the upper surface to the
    leading edge and back along the lower surface. Lednicer: a name line, a line with the
    point counts of the upper and lower surface, then each surface from the leading edge.
    """
    lines = text.splitlines()
    rows: list[tuple[int, float, float]] = []
    name = None
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line:
            continue
        tokens = line.replace(",", " ").split()
        try:
            values = [float(tok) for tok in tokens]
        except ValueError:
            if name is None and not rows:
                name = line
                continue
            bad = next(tok for tok in tokens if not _is_float(tok))
            raise GeometryError(f"{source}, line {number}: non-numeric value {bad!r} in {line!r}") from None
        if len(values) != 2:
            kind = "an odd number of values" if len(values) % 2 else f"{len(values)} values"
            raise GeometryError(f"{source}, line {number}: {kind} ({line!r}); coordinate lines hold one pair 'x y'")
        if name is None and not rows:
            name = Path(source).stem
        rows.append((number, *values))
    if len(rows) < 5:
        raise GeometryError(f"{source}: only {len(rows)} coordinate pair(s); an airfoil needs many more")
    first = rows[0]
    if first[1] >= 2 and first[2] >= 2 and float(first[1]).is_integer() and float(first[2]).is_integer():
        n_up, n_lo = int(first[1]), int(first[2])
        pts = np.array([r[1:] for r in rows[1:]])
        if len(pts) != n_up + n_lo:
            raise GeometryError(f"{source}: the Lednicer header (line {first[0]}) announces {n_up} + {n_lo} points, "
                                f"the file holds {len(pts)}")
        upper, lower = pts[:n_up], pts[n_up:]
        if np.allclose(upper[0], lower[0]):
            lower = lower[1:]
        coords = np.concatenate([upper[::-1], lower])
    else:
        coords = np.array([r[1:] for r in rows])
    return Airfoil(name or Path(source).stem, check_contour(coords, source))


def _is_float(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def read_dat(path: str | os.PathLike) -> Airfoil:
    """Read a UIUC ``.dat`` file (Selig or Lednicer), validated and normalised to unit chord."""
    path = Path(path)
    if not path.is_file():
        raise GeometryError(f"airfoil file not found: {path}")
    try:
        text = path.read_text(encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        text = path.read_text(encoding="latin-1")
    foil = parse_dat(text, str(path))
    return with_descriptors(normalize(foil))


# --------------------------------------------------------------------------- checks and repaneling
def check_contour(coords: np.ndarray, source: str = "contour", max_gap: float = MAX_TE_GAP) -> np.ndarray:
    """Validate a contour; returns it counter-clockwise with consecutive duplicates removed."""
    coords = np.asarray(coords, dtype=float)
    if coords.ndim != 2 or coords.shape[1] != 2:
        raise GeometryError(f"{source}: coordinates must have shape (K, 2), got {coords.shape}")
    if not np.all(np.isfinite(coords)):
        raise GeometryError(f"{source}: coordinates contain NaN or infinite values")
    keep = np.r_[True, np.any(np.abs(np.diff(coords, axis=0)) > 1e-12, axis=1)]
    coords = coords[keep]
    if len(coords) < 5:
        raise GeometryError(f"{source}: fewer than 5 distinct points")
    chord = np.ptp(coords[:, 0])
    if chord <= 0:
        raise GeometryError(f"{source}: the contour has zero chord")
    gap = np.hypot(*(coords[0] - coords[-1])) / chord
    if gap > max_gap:
        raise GeometryError(f"{source}: the contour is not closed: its ends are {gap:.3f} chords apart "
                            f"(at most {max_gap} allowed); both surfaces must run between the trailing edges")
    closed = coords if gap == 0 else np.vstack([coords, coords[:1]])
    crossing = self_intersection(closed)
    if crossing is not None:
        i, j = crossing
        raise GeometryError(f"{source}: the contour intersects itself (segments {i} and {j}, near "
                            f"x={coords[i, 0]:.3f}, y={coords[i, 1]:.3f})")
    if _signed_area(closed) < 0:
        coords = coords[::-1].copy()
    elif _signed_area(closed) == 0:
        raise GeometryError(f"{source}: the contour encloses no area")
    return coords


def _signed_area(closed: np.ndarray) -> float:
    x, y = closed[:, 0], closed[:, 1]
    return 0.5 * float(np.sum(x[:-1] * y[1:] - x[1:] * y[:-1]))


def self_intersection(closed: np.ndarray) -> tuple[int, int] | None:
    """First pair of non-adjacent segments of a closed polyline that cross, or ``None``."""
    a, b = closed[:-1], closed[1:]
    n = len(a)

    def orient(p, q, r):
        return (q[..., 0] - p[..., 0]) * (r[..., 1] - p[..., 1]) - (q[..., 1] - p[..., 1]) * (r[..., 0] - p[..., 0])

    A, B = a[:, None], b[:, None]
    C, D = a[None, :], b[None, :]
    d1, d2 = orient(A, B, C), orient(A, B, D)
    d3, d4 = orient(C, D, A), orient(C, D, B)
    cross = (d1 * d2 < 0) & (d3 * d4 < 0)
    i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    adjacent = (np.abs(i - j) <= 1) | ((i == 0) & (j == n - 1)) | ((j == 0) & (i == n - 1))
    hits = np.argwhere(cross & ~adjacent & (i < j))
    return (int(hits[0, 0]), int(hits[0, 1])) if len(hits) else None


def leading_edge_index(coords: np.ndarray) -> int:
    return int(np.argmin(coords[:, 0]))


def normalize(foil: Airfoil) -> Airfoil:
    """Translate and scale so that the leading edge (min x) is at x = 0 and the trailing edge at x = 1."""
    c = foil.coords
    te = 0.5 * (c[0] + c[-1])
    le = c[leading_edge_index(c)]
    chord = te[0] - le[0]
    if chord <= 0:
        raise GeometryError(f"{foil.name}: the trailing edge is not downstream of the leading edge")
    return foil.with_coords((c - [le[0], te[1]]) / chord)


def close_trailing_edge(coords: np.ndarray) -> np.ndarray:
    """Close a blunt trailing edge by blending the gap linearly to zero at the leading edge."""
    coords = np.array(coords, dtype=float)
    if np.allclose(coords[0], coords[-1], atol=1e-12):
        coords[-1] = coords[0]
        return coords
    mid = 0.5 * (coords[0] + coords[-1])
    ile = leading_edge_index(coords)
    x0, x1 = coords[ile, 0], mid[0]
    weight = np.clip((coords[:, 0] - x0) / (x1 - x0), 0.0, 1.0)[:, None]
    shift = np.where(np.arange(len(coords))[:, None] <= ile, mid - coords[0], mid - coords[-1])
    coords = coords + weight * shift
    coords[-1] = coords[0]
    return coords


def repanel(foil: Airfoil, n_panels: int = 160, cosine_weight: float = 0.8) -> Airfoil:
    """Redistribute ``n_panels`` panels (even) along the arc length of each surface.

    The trailing edge is closed first (:func:`close_trailing_edge`); a cubic spline in arc
    length runs through the given points. The spacing is ``cosine_weight`` × cosine +
    the rest uniform: pure cosine spacing makes the panels of a nearly cusped trailing edge
    (e.g. S1210) shorter than the gap between the two surfaces, and the vortex-panel system
    then loses C_L by tens of percent (C_L from pressure and from circulation disagree).
    """
    from scipy.interpolate import CubicSpline

    if n_panels < 8 or n_panels % 2:
        raise GeometryError(f"n_panels must be even and at least 8, got {n_panels}")
    c = close_trailing_edge(foil.coords)
    s = np.r_[0.0, np.cumsum(np.hypot(*np.diff(c, axis=0).T))]
    spline = CubicSpline(s, c, axis=0)
    fine = np.linspace(0, s[-1], 4001)
    s_le = fine[np.argmin(spline(fine)[:, 0])]
    half = n_panels // 2
    spacing = cosine_weight * _cosine(half) + (1 - cosine_weight) * np.linspace(0.0, 1.0, half + 1)
    nodes = np.r_[s_le * spacing, s_le + (s[-1] - s_le) * spacing[1:]]
    coords = spline(nodes)
    coords[-1] = coords[0]
    check_contour(coords, foil.name)
    return foil.with_coords(coords)


def with_descriptors(foil: Airfoil, stations: int = 201) -> Airfoil:
    """Measure max camber, its position and max thickness from the contour (NACA-style)."""
    c = foil.coords
    ile = leading_edge_index(c)
    upper, lower = c[: ile + 1][::-1], c[ile:]
    x = _cosine(stations - 1) * (c[0, 0] - c[ile, 0]) + c[ile, 0]
    yu = np.interp(x, *_monotone(upper))
    yl = np.interp(x, *_monotone(lower))
    camber, thickness = 0.5 * (yu + yl), yu - yl
    k = int(np.argmax(np.abs(camber)))
    m = float(camber[k]) if abs(camber[k]) > 1e-4 else 0.0
    return Airfoil(foil.name, c, m, float(x[k]) if m else 0.0, float(thickness.max()), foil.family)


def _monotone(surface: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y = surface[:, 0], surface[:, 1]
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    keep = np.r_[True, np.diff(x) > 0]
    return x[keep], y[keep]
