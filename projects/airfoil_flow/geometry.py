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

#: a contour whose ends are further apart than this (in chords) is not a closed airfoil (flatback
#: sections such as AH 93-W-480B have trailing edges of 0.23 chords)
MAX_TE_GAP = 0.3


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
    #: what reading the file did (format, lines ignored, reordering, derotation), for the user
    notes: tuple[str, ...] = ()

    @property
    def n_panels(self) -> int:
        return len(self.coords) - 1

    def with_coords(self, coords: np.ndarray) -> Airfoil:
        return Airfoil(self.name, coords, self.m, self.p, self.t, self.family, self.notes)


# --------------------------------------------------------------------------- generators
def _cosine(n: int) -> np.ndarray:
    """``n + 1`` points on [0, 1] clustered at both ends."""
    return 0.5 * (1.0 - np.cos(np.linspace(0.0, np.pi, n + 1)))


def naca4(m: float, p: float, t: float, n_panels: int = 160, name: str | None = None) -> Airfoil:
    """NACA 4-digit airfoil (max camber ``m``, its position ``p``, thickness ``t``; chords).

    Cosine spacing, ``n_panels`` panels (even), closed trailing edge (the ``-0.1036 x⁴``
    thickness coefficient; Abbott & von Doenhoff, *Theory of Wing Sections*, §6.4).

    Returns:
        An :class:`Airfoil` with coords (n_panels + 1, 2) in chords, counter-clockwise from the
        trailing edge.

    Raises:
        GeometryError: ``n_panels`` odd or below 8, or parameters out of range.
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
    """``naca("2412")``: a NACA 4-digit airfoil from its designation (see :func:`naca4`).

    Raises:
        GeometryError: not a 4-digit designation, or ``n_panels`` invalid.
    """
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

    Raises:
        GeometryError: not 0 < ``eps_x`` < 0.5, 0 ≤ ``eps_y`` < 0.5 and 0 ≤ ``te_angle_deg`` < 45.
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
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eEdD][+-]?\d+)?$")


def _numbers(line: str) -> list[float] | None:
    """The numbers of a line (separated by blanks, tabs, commas or semicolons), or ``None`` for text."""
    tokens = [t for t in re.split(r"[\s,;]+", line.strip()) if t]
    if not tokens or not all(_NUMBER.match(t) for t in tokens):
        return None
    return [float(t.replace("d", "e").replace("D", "e")) for t in tokens]


def parse_dat(text: str, source: str = "<string>") -> Airfoil:
    """Parse an airfoil coordinate file: Selig or Lednicer format, as users and databases write them.

    * **Selig**: an optional name line, then ``x y`` pairs around the contour (any starting point,
      either direction; normally from the trailing edge over the upper surface to the leading
      edge and back).
    * **Lednicer**: an optional name line, a line with the point counts of the upper and the
      lower surface, then each surface from the leading edge to the trailing edge. The format is
      decided by the data, not by the first line alone: the count line must be two whole numbers
      ≥ 2 whose sum matches the points that follow (or the points must form two runs from the
      leading edge), so a Selig file in percent of chord whose first pair is ``100 0`` is not
      mistaken for it.
    * Tolerated: a UTF-8 byte-order mark, tabs, CRLF line ends, commas or semicolons between
      values, blank lines, further header lines (only the first is the name), and text after the
      coordinates (notes, author, URL; ignored with a note in :attr:`Airfoil.notes`).

    The units are free (chords, percent, millimetres): :func:`read_dat` normalises.

    Args:
        text: the file's content.
        source: a name for messages (the file path).

    Returns:
        An :class:`Airfoil` with the raw contour (K, 2), ordered counter-clockwise from the trailing
        edge (:func:`order_contour`), in the file's units, not yet normalised.

    Raises:
        GeometryError: fewer than 5 coordinate pairs, a line of 1 or 3+ values among the
            coordinates, text between coordinate lines that is neither a blank nor a section
            label, an unclosed or self-intersecting contour (the message names the file and line).
    """
    text = text.lstrip("\ufeff")
    rows: list[tuple[int, list[float]]] = []
    header: list[str] = []
    trailing: list[tuple[int, str]] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip().lstrip("\ufeff")
        if not line:
            continue
        values = _numbers(line)
        if values is None:
            if rows:
                trailing.append((number, line))
            else:
                header.append(line)
            continue
        damaged = [(n, t) for n, t in trailing if _numbers(t.split()[0]) is not None]
        if damaged:  # coordinates follow a line that starts like one: a damaged coordinate line
            n, text_line = damaged[0]
            bad = next(tok for tok in re.split(r"[\s,;]+", text_line) if tok and _numbers(tok) is None)
            raise GeometryError(f"{source}, line {n}: non-numeric value {bad!r} in {text_line!r}")
        if trailing:  # numbers after text that followed the coordinates
            if len(values) == 2 and len(trailing) <= 2 and all(len(t) < 40 for _, t in trailing):
                trailing.clear()  # a section label between the surfaces ("lower surface")
            else:
                trailing.append((number, line))
                continue
        rows.append((number, values))
    # leading lines that are not pairs (plot ranges, a Reynolds number) belong to the header
    while rows and len(rows[0][1]) != 2:
        number, values = rows.pop(0)
        header.append(" ".join(f"{v:g}" for v in values))
    # a trailing run of lines that are not pairs (a year, a Reynolds number) belongs to the notes
    while rows and len(rows[-1][1]) != 2:
        number, values = rows.pop()
        trailing.insert(0, (number, " ".join(f"{v:g}" for v in values)))
    bad = [(n, v) for n, v in rows if len(v) != 2]
    if bad:
        number, values = bad[0]
        kind = "one value" if len(values) == 1 else f"{len(values)} values"
        raise GeometryError(f"{source}, line {number}: {kind} ({' '.join(f'{v:g}' for v in values)}); "
                            "coordinate lines hold one pair 'x y'")
    if len(rows) < 5:
        raise GeometryError(f"{source}: only {len(rows)} coordinate pair(s); an airfoil needs many more")
    name = next((h for h in header if _numbers(h) is None), Path(source).stem)
    notes: list[str] = []
    if trailing:
        notes.append(f"ignored {len(trailing)} line(s) after the coordinates, from line {trailing[0][0]}: "
                     f"{trailing[0][1][:60]!r}")
    pts = np.array([v for _, v in rows], dtype=float)
    lednicer = _lednicer_split(pts)
    if lednicer is not None:
        upper, lower = lednicer
        n_up, n_lo = int(pts[0, 0]), int(pts[0, 1])
        if (len(upper), len(lower)) == (n_up, n_lo):
            notes.append(f"Lednicer format ({n_up} + {n_lo} points)")
        else:
            notes.append(f"Lednicer format: the count line (line {rows[0][0]}) announces {n_up} + {n_lo} points, "
                         f"the file holds {len(upper)} + {len(lower)} (split where x returns to the leading edge)")
        if np.allclose(upper[0], lower[0]):
            lower = lower[1:]
        coords = np.concatenate([upper[::-1], lower])
    else:
        coords = pts
    coords, how = order_contour(coords, source)
    notes += how
    return Airfoil(name, check_contour(coords, source), notes=tuple(notes))


def _lednicer_split(pts: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """``(upper, lower)`` if ``pts`` is Lednicer data (count line first), else ``None``."""
    (a, b), rest = pts[0], pts[1:]
    if not (a >= 2 and b >= 2 and float(a).is_integer() and float(b).is_integer()):
        return None
    n_up, n_lo = int(a), int(b)
    x = rest[:, 0]
    span = np.ptp(x) if len(x) else 0.0
    if span <= 0 or max(a, b) <= x.max() + 1e-9 and (a, b) in {tuple(p) for p in rest[:3]}:
        return None

    def near_le(i: int) -> bool:
        return 0 <= i < len(x) and x[i] - x.min() < 0.05 * span

    if n_up + n_lo == len(rest) and near_le(0) and near_le(n_up):
        return rest[:n_up], rest[n_up:]
    # counts that do not match the data: split where x jumps back to the leading edge
    back = np.flatnonzero(np.diff(x) < -0.5 * span)
    if len(back) == 1 and near_le(0) and near_le(int(back[0]) + 1):
        k = int(back[0]) + 1
        return rest[:k], rest[k:]
    if n_up + n_lo == len(rest):
        return rest[:n_up], rest[n_up:]
    return None


def order_contour(coords: np.ndarray, source: str = "contour") -> tuple[np.ndarray, list[str]]:
    """Reorder a contour to start and end at the trailing edge.

    A closed contour listed from any other point (e.g. from the leading edge round to the
    leading edge) is rolled so that it starts at the trailing edge: of the two points farthest
    apart (nose and tail), the sharper one. An open contour must have its gap at the trailing
    edge. The direction is fixed later (:func:`check_contour`).

    Args:
        coords: (K, 2) points in any units.
        source: a name for messages.

    Returns:
        The reordered (K', 2) contour and a list of notes saying what was done (empty if nothing).

    Raises:
        GeometryError: an open contour whose gap is at the leading edge.
    """
    c = np.asarray(coords, dtype=float)
    scale = max(float(np.ptp(c)), 1e-300)
    c = c[np.r_[True, np.any(np.abs(np.diff(c, axis=0)) > 1e-9 * scale, axis=1)]]
    if len(c) < 5:
        return c, []
    gap = float(np.hypot(*(c[0] - c[-1]))) / scale
    closed = gap < 1e-9
    if gap * scale > MAX_TE_GAP * max(float(np.ptp(c[:, 0])), 1e-300):
        return c, []  # too wide for any trailing edge: check_contour says that it is not closed
    if not closed:  # the gap must be at the trailing edge: the end that widens slowly
        mid = 0.5 * (c[0] + c[-1])
        ring = np.vstack([mid, c])
        q = int(np.argmax(np.hypot(*(ring - mid).T)))
        if _nose_growth(ring, 0, q) > _nose_growth(ring, q, 0):
            raise GeometryError(f"{source}: the contour is open at its leading edge (its first and last points "
                                f"are {gap:.3g} of its size apart, near x={c[0, 0]:.4g}, y={c[0, 1]:.4g}): list "
                                "it around the whole section, from the trailing edge to the trailing edge")
        return c, []
    loop = c[:-1]
    i, j = _farthest_pair(loop)
    te = i if _nose_growth(loop, i, j) < _nose_growth(loop, j, i) else j
    if te == 0:
        return c, []
    rolled = np.vstack([np.roll(loop, -te, axis=0), loop[te:te + 1]])
    return rolled, [f"reordered: the contour started {te} points away from the trailing edge "
                    f"(at x={loop[0, 0]:.4g}, y={loop[0, 1]:.4g}); it now starts at the trailing edge"]


def _farthest_pair(c: np.ndarray) -> tuple[int, int]:
    d = np.hypot(c[:, None, 0] - c[None, :, 0], c[:, None, 1] - c[None, :, 1])
    i, j = np.unravel_index(int(np.argmax(d)), d.shape)
    return int(i), int(j)


def _width(loop: np.ndarray, s: float) -> float:
    """Width of the closed polygon ``loop`` (chord along x) across the line x = s."""
    a, b = loop, np.roll(loop, -1, axis=0)
    cross = (a[:, 0] - s) * (b[:, 0] - s) <= 0
    cross &= a[:, 0] != b[:, 0]
    if not cross.any():
        return 0.0
    t = (s - a[cross, 0]) / (b[cross, 0] - a[cross, 0])
    y = a[cross, 1] + t * (b[cross, 1] - a[cross, 1])
    return float(np.ptp(y))


def _nose_growth(loop: np.ndarray, k: int, other: int) -> float:
    """How fast the section widens going in from extreme point ``k`` towards ``other``: the width
    at 4 % minus the width at 1 % of their distance. A round nose widens like √x (large), a
    trailing edge linearly (small), whatever its gap and however coarse the points."""
    d = loop[other] - loop[k]
    size = float(np.hypot(*d))
    rot = np.array([[d[0], d[1]], [-d[1], d[0]]]) / size
    local = (loop - loop[k]) @ rot.T
    return _width(local, 0.04 * size) - _width(local, 0.01 * size)


def _is_float(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def read_dat(path: str | os.PathLike) -> Airfoil:
    """Read a coordinate file (Selig or Lednicer, see :func:`parse_dat`) and normalise it.

    Normalised (:func:`normalize`): leading edge at (0, 0), trailing edge at (1, 0), so any
    units, translation and pitch of the file are removed; a pitched section is derotated to its
    chord line, and :attr:`Airfoil.notes` says so (with the angle).

    Args:
        path: the ``.dat`` file (UTF-8, with or without BOM, or Latin-1).

    Returns:
        The :class:`Airfoil` (coords (K, 2) in chords, counter-clockwise from the trailing edge)
        with its NACA-style descriptors measured.

    Raises:
        GeometryError: the file is missing or malformed (see :func:`parse_dat`).
    """
    path = Path(path)
    if not path.is_file():
        raise GeometryError(f"airfoil file not found: {path}")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    foil = parse_dat(text, str(path))
    return with_descriptors(normalize(foil))


# --------------------------------------------------------------------------- checks and repaneling
def check_contour(coords: np.ndarray, source: str = "contour", max_gap: float = MAX_TE_GAP) -> np.ndarray:
    """Validate a contour (K, 2); returns it counter-clockwise with consecutive duplicates removed.

    Raises:
        GeometryError: wrong shape, NaN, fewer than 5 distinct points, zero chord, ends further
            apart than ``max_gap`` chords (not closed), self-intersection, or zero area.
    """
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


#: a section whose chord line (nose to trailing edge) is inclined more than this is derotated (deg)
PITCH_TOLERANCE_DEG = 0.05


def chord_line(coords: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """``(leading_edge, trailing_edge, angle_deg)`` of a contour ordered from the trailing edge.

    The trailing edge is the midpoint of the first and last point; the leading edge is the point
    farthest from it (XFoil's definition); the angle is the chord line's inclination to the x axis
    (positive: trailing edge above the leading edge, i.e. the section stored nose-down).
    """
    c = np.asarray(coords, dtype=float)
    te = 0.5 * (c[0] + c[-1])
    le = c[int(np.argmax(np.hypot(*(c - te).T)))]
    return le, te, float(np.degrees(np.arctan2(te[1] - le[1], te[0] - le[0])))


def normalize(foil: Airfoil, pitch_tolerance_deg: float = PITCH_TOLERANCE_DEG) -> Airfoil:
    """Unit chord along x: leading edge at x = 0, trailing edge at (1, 0); units and offsets removed.

    A section stored pitched (its chord line, :func:`chord_line`, inclined by more than
    ``pitch_tolerance_deg`` with the most forward point not on the chord line) is **derotated to
    its chord line**: rotated about the leading edge so the chord lies on the x axis, then
    scaled by the true chord length. :attr:`Airfoil.notes` records the angle. A section stored
    level keeps the UIUC convention (leading edge = the point of least x).

    Args:
        foil: the contour (K, 2) in any units, ordered from the trailing edge.
        pitch_tolerance_deg: inclinations up to this are taken as level (deg).

    Returns:
        The normalised :class:`Airfoil` (chords).

    Raises:
        GeometryError: the contour has no extent along its chord.
    """
    c = foil.coords
    le, te, angle = chord_line(c)
    ile = leading_edge_index(c)
    level_angle = np.degrees(np.arctan2(te[1] - c[ile, 1], te[0] - c[ile, 0]))
    notes = foil.notes
    if abs(angle) > pitch_tolerance_deg and abs(level_angle) > pitch_tolerance_deg:
        phi = np.radians(angle)
        rot = np.array([[np.cos(phi), np.sin(phi)], [-np.sin(phi), np.cos(phi)]])
        chord = float(np.hypot(*(te - le)))
        if chord <= 0:
            raise GeometryError(f"{foil.name}: the contour has no extent along its chord")
        coords = (c - le) @ rot.T / chord
        notes = (*notes, f"derotated to its chord line: the file's section was pitched {angle:+.3f}° "
                         f"(nose {'down' if angle > 0 else 'up'}); true chord {chord:.6g} file units, "
                         f"leading edge at ({le[0]:.6g}, {le[1]:.6g})")
        return Airfoil(foil.name, coords, foil.m, foil.p, foil.t, foil.family, notes)
    le = c[ile]
    chord = te[0] - le[0]
    if chord <= 0:
        raise GeometryError(f"{foil.name}: the trailing edge is not downstream of the leading edge")
    if abs(chord - 1.0) > 1e-6 or abs(le[0]) > 1e-9 or abs(te[1]) > 1e-9:
        notes = (*notes, f"scaled and translated: chord {chord:.6g} file units, leading edge at "
                         f"({le[0]:.6g}, {le[1]:.6g})")
    return Airfoil(foil.name, (c - [le[0], te[1]]) / chord, foil.m, foil.p, foil.t, foil.family, notes)


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

    Returns:
        The :class:`Airfoil` with coords (n_panels + 1, 2), closed, counter-clockwise.

    Raises:
        GeometryError: ``n_panels`` odd or below 8, or the repaneled contour intersects itself
            (crossed or looped trailing-edge points).
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
    return Airfoil(foil.name, c, m, float(x[k]) if m else 0.0, float(thickness.max()), foil.family, foil.notes)


def _monotone(surface: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y = surface[:, 0], surface[:, 1]
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    keep = np.r_[True, np.diff(x) > 0]
    return x[keep], y[keep]
