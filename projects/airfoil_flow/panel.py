"""Inviscid, incompressible 2D panel method: linear-strength vortex panels with a Kutta condition.

The airfoil contour (:class:`~projects.airfoil_flow.geometry.Airfoil`, counter-clockwise from
the trailing edge) carries a vortex sheet whose strength varies linearly along each panel
(Katz & Plotkin, *Low-Speed Aerodynamics*, §11.4). The normal velocity vanishes at every panel
midpoint and the Kutta condition ``γ_0 + γ_N = 0`` closes the system. Everything is vectorised
NumPy: one influence matrix for the surface, one per chunk of field points.

The flow is linear in the freestream vector, so one factorisation gives the two *basis*
solutions (freestream along x and along y) and any angle of attack is ``cos α · basis_0 +
sin α · basis_90``::

    sol = solve(naca("2412"), alpha_deg=5.0)
    sol.cl_pressure, sol.cl_circulation, sol.cm          # surface results
    grid = Grid(128, 128)
    f = field(naca("2412"), 5.0, grid)                   # u, v, cp, mask, sdf on the grid

Units: chord 1, |U∞| = 1; ``C_L`` is positive upwards, ``C_M`` about the quarter chord,
positive nose-up.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from projects.airfoil_flow.geometry import Airfoil
from shared.io import DataError

TWO_PI = 2.0 * np.pi
#: |α| beyond this is refused: attached inviscid flow models no real airfoil there
MAX_ALPHA_DEG = 30.0


def check_alpha(alpha_deg, limit: float = MAX_ALPHA_DEG) -> np.ndarray:
    """Angle(s) of attack in degrees, as a float array of the input's shape, checked.

    Raises:
        DataError: an angle is not finite or its magnitude exceeds ``limit`` (deg).
    """
    alpha = np.asarray(alpha_deg, dtype=float)
    if not np.all(np.isfinite(alpha)):
        raise DataError(f"angle of attack must be finite, got {alpha_deg!r}")
    if np.any(np.abs(alpha) > limit):
        bad = alpha.flat[int(np.argmax(np.abs(alpha)))]
        raise DataError(f"angle of attack {bad:g}° is out of range [-{limit:g}°, {limit:g}°]: "
                        "inviscid attached flow does not describe an airfoil there")
    return alpha


@contextlib.contextmanager
def single_thread_blas():
    """Limit BLAS to one thread: the solver's matrices are small, and on a busy 2-core machine
    a multi-threaded OpenBLAS spends far more time waiting than computing (measured: a
    161×161 solve took 0.2 ms on one thread and 220 ms on two)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn and scipy stacks
        yield
        return
    with threadpool_limits(1, user_api="blas"):
        yield


# --------------------------------------------------------------------------- influence
@dataclass(frozen=True)
class Panels:
    nodes: np.ndarray      # (N+1, 2), nodes[0] == nodes[N] at the trailing edge
    length: np.ndarray     # (N,)
    tangent: np.ndarray    # (N, 2), along the node order
    normal: np.ndarray     # (N, 2), outward
    mid: np.ndarray        # (N, 2)

    @classmethod
    def of(cls, foil: Airfoil) -> Panels:
        """The panels between consecutive nodes of ``foil.coords`` (N+1, 2).

        Raises:
            DataError: two consecutive nodes coincide (a zero-length panel).
        """
        nodes = np.asarray(foil.coords, dtype=float)
        d = np.diff(nodes, axis=0)
        length = np.hypot(d[:, 0], d[:, 1])
        if np.any(length <= 0):
            raise DataError(f"{foil.name}: zero-length panel")
        t = d / length[:, None]
        return cls(nodes, length, t, np.column_stack([t[:, 1], -t[:, 0]]), 0.5 * (nodes[:-1] + nodes[1:]))


def _kernel(points: np.ndarray, panels: Panels, self_panel: np.ndarray | None = None):
    """Per point and panel: the subtended angle θ2 − θ1, ln(r1/r2) and the panel-local (x, y)."""
    nodes, t = panels.nodes, panels.tangent
    rx = points[:, :1] - nodes[:, 0]                                   # (M, N+1)
    ry = points[:, 1:] - nodes[:, 1]
    phi = np.arctan2(ry, rx)
    log_r = np.log(np.maximum(rx * rx + ry * ry, 1e-300))
    log_r *= 0.5
    dtheta = phi[:, 1:] - phi[:, :-1]
    dtheta[dtheta > np.pi] -= TWO_PI
    dtheta[dtheta <= -np.pi] += TWO_PI
    if self_panel is not None:
        rows = np.flatnonzero(self_panel >= 0)
        dtheta[rows, self_panel[rows]] = -np.pi                        # outside limit (y' → 0⁻)
    L = log_r[:, :-1] - log_r[:, 1:]
    rx, ry = rx[:, :-1], ry[:, :-1]
    x = rx * t[:, 0] + ry * t[:, 1]
    y = ry * t[:, 0] - rx * t[:, 1]
    return dtheta, L, x, y


def velocity_influence(points: np.ndarray, panels: Panels, self_panel: np.ndarray | None = None
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Matrices ``(Au, Av)``, each ``(M, N+1)``: the velocity at ``points`` is ``(Au @ γ, Av @ γ)``.

    ``γ`` is the (counter-clockwise positive) vortex strength at the N+1 nodes; it varies
    linearly along each panel. For a point that is the midpoint of its own panel
    (``self_panel[i] = j``), the limit from outside the body is taken.
    """
    dtheta, L, x, y = _kernel(points, panels, self_panel)
    S, t = panels.length, panels.tangent
    i1u = (x * dtheta - y * L) / S
    i1v = (x * L - S + y * dtheta) / S
    # panel-local velocity of γ(s) = γ1 (1 − s/S) + γ2 s/S
    u1, u2 = -(dtheta - i1u) / TWO_PI, -i1u / TWO_PI
    v1, v2 = (L - i1v) / TWO_PI, i1v / TWO_PI
    tx, ty = t[:, 0], t[:, 1]
    Au = np.zeros((points.shape[0], S.size + 1))
    Av = np.zeros_like(Au)
    Au[:, :-1] += u1 * tx - v1 * ty
    Au[:, 1:] += u2 * tx - v2 * ty
    Av[:, :-1] += u1 * ty + v1 * tx
    Av[:, 1:] += u2 * ty + v2 * tx
    return Au, Av


def induced_velocity(points: np.ndarray, panels: Panels, gammas: np.ndarray) -> np.ndarray:
    """Velocity ``(k, 2, M)`` induced at ``points`` by ``k`` vortex distributions ``gammas`` (k, N+1).

    The same result as ``velocity_influence`` times ``gammas``, about three times faster: the
    panel rotation is folded into the weights, so that the work is four matrix products.
    """
    dtheta, L, x, y = _kernel(points, panels)
    a1 = x * dtheta - y * L
    a2 = x * L + y * dtheta
    S, t = panels.length, panels.tangent
    g0, g1 = gammas[:, :-1].T, gammas[:, 1:].T                         # (N, k)
    d = (g1 - g0) / S[:, None]
    tx, ty = t[:, :1], t[:, 1:]
    u = -(dtheta @ (tx * g0) + a1 @ (tx * d) + L @ (ty * g0) + a2 @ (ty * d)) + (ty * (g1 - g0)).sum(0)
    v = -(dtheta @ (ty * g0) + a1 @ (ty * d)) + L @ (tx * g0) + a2 @ (tx * d) - (tx * (g1 - g0)).sum(0)
    return np.stack([u, v], axis=1).T / TWO_PI


# --------------------------------------------------------------------------- surface solution
@dataclass(frozen=True)
class Basis:
    """The two basis solutions of one airfoil: freestream (1, 0) and (0, 1)."""

    foil: Airfoil
    panels: Panels
    gamma: np.ndarray        # (2, N+1)
    vt: np.ndarray           # (2, N) tangential surface velocity at the panel midpoints (= γ)

    def gamma_at(self, alpha_deg: float) -> np.ndarray:
        a = np.radians(alpha_deg)
        return np.cos(a) * self.gamma[0] + np.sin(a) * self.gamma[1]


@dataclass(frozen=True)
class Solution:
    """Surface results of one airfoil at one angle of attack."""

    foil: Airfoil
    alpha_deg: float
    x: np.ndarray            # panel midpoints (N, 2)
    cp: np.ndarray           # (N,)
    gamma: np.ndarray        # (N+1,)
    cl_pressure: float
    cl_circulation: float
    cd_pressure: float       # d'Alembert: ≈ 0 in potential flow (a discretisation check)
    cm: float                # about the quarter chord, nose-up positive

    @property
    def cl(self) -> float:
        return self.cl_circulation


def solve_basis(foil: Airfoil) -> Basis:
    """Factorise the panel system once and solve for both basis freestreams.

    Args:
        foil: a closed counter-clockwise contour (K, 2) in chords (N = K − 1 panels).

    Returns:
        :class:`Basis`: node vortex strengths γ (2, N+1) for the freestreams (1, 0) and (0, 1),
        in units of |U∞|, and the tangential surface speed (2, N) at the panel midpoints.

    Raises:
        DataError: the panel system is singular (a degenerate contour).
    """
    panels = Panels.of(foil)
    N = panels.length.size
    Au, Av = velocity_influence(panels.mid, panels, self_panel=np.arange(N))
    n = panels.normal
    A = np.empty((N + 1, N + 1))
    A[:N] = Au * n[:, :1] + Av * n[:, 1:]
    A[N] = 0.0
    A[N, 0] = A[N, N] = 1.0                                            # Kutta: γ_0 + γ_N = 0
    rhs = np.zeros((N + 1, 2))
    rhs[:N, 0], rhs[:N, 1] = -n[:, 0], -n[:, 1]
    try:
        gamma = np.linalg.solve(A, rhs).T                             # (2, N+1)
    except np.linalg.LinAlgError as exc:
        raise DataError(f"{foil.name}: the panel system is singular ({exc}); check the contour") from exc
    # The flow inside the body is at rest, so the surface speed just outside equals the sheet
    # strength (as in XFoil); at the panel midpoints that is the mean of the two node values.
    vt = 0.5 * (gamma[:, :-1] + gamma[:, 1:])                          # (2, N), along the tangent
    return Basis(foil, panels, gamma, vt)


def force_coefficients(cp: np.ndarray, contour: np.ndarray, alpha_deg: float) -> tuple[float, float, float]:
    """(C_L, C_D, C_M about c/4, nose-up) of Cp given at the panel midpoints of a CCW contour."""
    d = np.diff(contour, axis=0)
    forces = -cp[:, None] * np.column_stack([d[:, 1], -d[:, 0]])      # −Cp · outward normal · length
    total = forces.sum(axis=0)
    a = np.radians(alpha_deg)
    arm = 0.5 * (contour[:-1] + contour[1:]) - [0.25, 0.0]
    cm = -float(np.sum(arm[:, 0] * forces[:, 1] - arm[:, 1] * forces[:, 0]))
    return float(total @ [-np.sin(a), np.cos(a)]), float(total @ [np.cos(a), np.sin(a)]), cm


def solve(foil: Airfoil, alpha_deg: float, basis: Basis | None = None) -> Solution:
    """Surface Cp, C_L (pressure and circulation), C_D (pressure) and C_M at one angle of attack.

    Linear-strength vortex panels with a Kutta condition (Katz & Plotkin, *Low-Speed
    Aerodynamics*, §11.4); inviscid and incompressible, |U∞| = 1, unit chord.

    Args:
        foil: closed counter-clockwise contour (K, 2) in chords, from the trailing edge.
        alpha_deg: angle of attack (degrees, |α| ≤ 30).
        basis: a factorisation from :func:`solve_basis` to reuse (optional).

    Returns:
        :class:`Solution`: ``cp`` (N,) at the panel midpoints ``x`` (N, 2), ``cl`` (from the
        circulation), ``cl_pressure``, ``cd_pressure``, ``cm`` (about c/4, nose-up positive).

    Raises:
        DataError: α is out of range or not finite, or the panel system is singular.
    """
    alpha = float(check_alpha(alpha_deg))
    basis = basis or solve_basis(foil)
    a = np.radians(alpha)
    p = basis.panels
    gamma = basis.gamma_at(alpha)
    cp = 1.0 - (np.cos(a) * basis.vt[0] + np.sin(a) * basis.vt[1]) ** 2
    cl_p, cd_p, cm = force_coefficients(cp, p.nodes, alpha)
    circulation = float(np.sum(0.5 * (gamma[:-1] + gamma[1:]) * p.length))
    return Solution(foil, alpha, p.mid, cp, gamma, cl_pressure=cl_p, cl_circulation=-2.0 * circulation,
                    cd_pressure=cd_p, cm=cm)


def polar(foil: Airfoil, alphas_deg) -> dict[str, np.ndarray]:
    """C_L (both ways), C_D (pressure) and C_M over a range of angles, from one factorisation.

    Args:
        foil: closed counter-clockwise contour (K, 2) in chords.
        alphas_deg: angles of attack (degrees), scalar or (A,).

    Returns:
        ``{"alpha", "cl", "cl_pressure", "cd_pressure", "cm"}``, each (A,).

    Raises:
        DataError: an angle is out of range, or the panel system is singular.
    """
    basis = solve_basis(foil)
    sols = [solve(foil, a, basis) for a in np.atleast_1d(alphas_deg)]
    return {"alpha": np.array([s.alpha_deg for s in sols]),
            "cl": np.array([s.cl_circulation for s in sols]),
            "cl_pressure": np.array([s.cl_pressure for s in sols]),
            "cd_pressure": np.array([s.cd_pressure for s in sols]),
            "cm": np.array([s.cm for s in sols])}


# --------------------------------------------------------------------------- fields
@dataclass(frozen=True)
class Grid:
    """A Cartesian grid of cell centres over a chord-normalised box.

    Raises:
        ValueError: fewer than 8 cells along x or y, an empty box, or an x range that does not contain the
            chord [0, 1] (strictly).
    """

    nx: int = 128
    ny: int = 128
    x_range: tuple[float, float] = (-0.5, 1.5)
    y_range: tuple[float, float] = (-1.0, 1.0)

    def __post_init__(self) -> None:
        if self.nx < 8 or self.ny < 8:
            raise ValueError(f"grid needs at least 8×8 cells, got {self.nx}×{self.ny}")
        if self.x_range[1] <= self.x_range[0] or self.y_range[1] <= self.y_range[0]:
            raise ValueError(f"empty grid box x={self.x_range}, y={self.y_range}")
        if not (self.x_range[0] < 0 and self.x_range[1] > 1):
            raise ValueError(f"the grid box x={self.x_range} must contain the chord [0, 1]")

    @property
    def x(self) -> np.ndarray:
        dx = (self.x_range[1] - self.x_range[0]) / self.nx
        return self.x_range[0] + dx * (np.arange(self.nx) + 0.5)

    @property
    def y(self) -> np.ndarray:
        dy = (self.y_range[1] - self.y_range[0]) / self.ny
        return self.y_range[0] + dy * (np.arange(self.ny) + 0.5)

    @property
    def spacing(self) -> tuple[float, float]:
        return float(self.x[1] - self.x[0]), float(self.y[1] - self.y[0])

    def points(self) -> np.ndarray:
        """(ny·nx, 2) cell centres, row-major over (y, x)."""
        xx, yy = np.meshgrid(self.x, self.y)
        return np.column_stack([xx.ravel(), yy.ravel()])

    def with_size(self, nx: int, ny: int | None = None) -> Grid:
        return Grid(nx, ny or nx, self.x_range, self.y_range)


def inside_mask(points: np.ndarray, foil: Airfoil) -> np.ndarray:
    from matplotlib.path import Path

    return Path(foil.coords, closed=True).contains_points(points)


def signed_distance(points: np.ndarray, foil: Airfoil, inside: np.ndarray | None = None) -> np.ndarray:
    """Signed distance (chords) from ``points`` (P, 2) to the contour, negative inside the body.

    The exact distance to the polygon's segments, searched among the segments next to the two
    nearest nodes (a k-d tree of the nodes): exact wherever a nearest point lies on such a
    segment, which holds for panelled airfoils (checked against brute force in the tests).

    Returns:
        (P,) distances; ``inside`` (P,) bool, if given, saves the point-in-polygon test.
    """
    from scipy.spatial import cKDTree

    c = np.asarray(foil.coords, dtype=float)
    nodes = c[:-1] if np.allclose(c[0], c[-1]) else c
    a, b = c[:-1], c[1:]
    n = len(a)
    _, idx = cKDTree(nodes).query(points, k=2)
    segs = np.concatenate([(idx - 1) % n, np.minimum(idx, n - 1)], axis=1)   # (P, 4)
    start, d = a[segs], (b - a)[segs]
    rel = points[:, None, :] - start
    t = np.clip(np.einsum("pkj,pkj->pk", rel, d) / np.maximum(np.einsum("pkj,pkj->pk", d, d), 1e-30), 0.0, 1.0)
    gap = rel - t[..., None] * d
    dist = np.sqrt(np.einsum("pkj,pkj->pk", gap, gap).min(axis=1))
    inside = inside_mask(points, foil) if inside is None else inside
    return np.where(inside, -dist, dist)


def grid_mask(foil: Airfoil, grid: Grid) -> np.ndarray:
    """(ny, nx) bool: the cell centres of ``grid`` inside the contour (a scan-line fill, scikit-image)."""
    from skimage.draw import polygon

    (dx, dy), (x0, y0) = grid.spacing, (grid.x[0], grid.y[0])
    rows, cols = polygon((foil.coords[:, 1] - y0) / dy, (foil.coords[:, 0] - x0) / dx, (grid.ny, grid.nx))
    mask = np.zeros((grid.ny, grid.nx), dtype=bool)
    mask[rows, cols] = True
    return mask


def geometry_channels(foil: Airfoil, grid: Grid) -> tuple[np.ndarray, np.ndarray]:
    """``(mask, sdf)`` of a contour on ``grid``: (ny, nx) bool inside the body, and (ny, nx) signed
    distance in chords (positive in the fluid). The data stage and the surrogate use this one function."""
    mask = grid_mask(foil, grid)
    return mask, signed_distance(grid.points(), foil, mask.ravel()).reshape(grid.ny, grid.nx)


def surrogate_inputs(foils: Sequence[Airfoil], alphas: Sequence[float], grid: Grid) -> np.ndarray:
    """The U-Net input of each (airfoil, α): ``(N, ny, nx, 4)`` float32 = SDF (chords), mask, cos α, sin α.

    Raises:
        ValueError: ``foils`` and ``alphas`` differ in length.
    """
    if len(foils) != len(alphas):
        raise ValueError(f"{len(foils)} airfoils but {len(alphas)} angles")
    out = np.empty((len(foils), grid.ny, grid.nx, 4), "float32")
    for k, (foil, alpha) in enumerate(zip(foils, alphas)):
        mask, sdf = geometry_channels(foil, grid)
        out[k, ..., 0] = sdf
        out[k, ..., 1] = mask
        out[k, ..., 2] = np.cos(np.radians(alpha))
        out[k, ..., 3] = np.sin(np.radians(alpha))
    return out


@dataclass(frozen=True)
class BasisField:
    """Geometry fields and the two basis velocity fields of one airfoil on a grid."""

    grid: Grid
    mask: np.ndarray         # (ny, nx) bool, True inside the body
    sdf: np.ndarray          # (ny, nx), positive in the fluid
    uv0: np.ndarray          # (2, ny, nx): freestream (1, 0); zero inside the body
    uv90: np.ndarray         # (2, ny, nx): freestream (0, 1)

    def at(self, alpha_deg: float) -> dict[str, np.ndarray]:
        """u, v and cp (Bernoulli) at ``alpha_deg``; zero inside the body."""
        a = np.radians(alpha_deg)
        u, v = np.cos(a) * self.uv0 + np.sin(a) * self.uv90
        cp = np.where(self.mask, 0.0, 1.0 - u**2 - v**2)
        return {"u": u, "v": v, "cp": cp}


def basis_field(foil: Airfoil, grid: Grid, basis: Basis | None = None, chunk: int = 4096) -> BasisField:
    """Mask, signed distance and both basis velocity fields on ``grid`` (vectorised in chunks)."""
    basis = basis or solve_basis(foil)
    pts = grid.points()
    mask, sdf = geometry_channels(foil, grid)
    inside, sdf = mask.ravel(), sdf.ravel()
    fluid = np.flatnonzero(~inside)
    uv = np.zeros((2, 2, len(pts)))                                    # (basis, component, point)
    uv[0, 0, fluid] = 1.0
    uv[1, 1, fluid] = 1.0
    for start in range(0, fluid.size, chunk):
        idx = fluid[start:start + chunk]
        uv[:, :, idx] += induced_velocity(pts[idx], basis.panels, basis.gamma)
    shape = (grid.ny, grid.nx)
    return BasisField(grid, inside.reshape(shape), sdf.reshape(shape), uv[0].reshape(2, *shape),
                      uv[1].reshape(2, *shape))


def field(foil: Airfoil, alpha_deg: float, grid: Grid) -> dict[str, np.ndarray]:
    """The flow field of one airfoil at one angle on ``grid``.

    Args:
        foil: closed counter-clockwise contour (K, 2) in chords.
        alpha_deg: angle of attack (degrees, |α| ≤ 30).
        grid: the Cartesian grid (cell centres).

    Returns:
        ``{"u", "v", "cp", "mask", "sdf"}``, each (ny, nx): velocity in units of |U∞| (zero inside
        the body), Cp, the body mask (True inside) and the signed distance (chords, positive outside).

    Raises:
        DataError: α is out of range, or the panel system is singular.
    """
    alpha = float(check_alpha(alpha_deg))
    bf = basis_field(foil, grid)
    return {**bf.at(alpha), "mask": bf.mask, "sdf": bf.sdf}
