"""Lift from a gridded flow field, two ways, and the thin-airfoil-theory baseline.

* :func:`circulation_cl`: the circulation ``Γ = ∮ V·dl`` of the velocity around an ellipse in
  the fluid, and Kutta–Joukowski ``C_L = −2Γ / (U∞ c)`` (Γ counter-clockwise). Far from the
  body the field is smooth, so bilinear interpolation is accurate; in potential flow any
  contour around the airfoil gives the same Γ.
* :func:`surface_cl`: Cp extrapolated from the grid to the panel midpoints and integrated over
  the contour. The surface lies between grid cells, so this has a resolution floor (measured on
  true fields in the ``validate`` stage and reported beside every model).
* :func:`thin_airfoil_cl`: ``C_L = 2π (α − α_L0)``, the classical estimate from the camber line.
"""

from __future__ import annotations

import numpy as np

from projects.airfoil_flow.geometry import leading_edge_index
from projects.airfoil_flow.panel import Grid, force_coefficients
from shared.io import DataError


def _sample(field: np.ndarray, grid: Grid, pts: np.ndarray) -> np.ndarray:
    """Bilinear interpolation of a (ny, nx) cell-centred field at points (K, 2)."""
    from scipy.ndimage import map_coordinates

    dx, dy = grid.spacing
    cols = (pts[:, 0] - grid.x[0]) / dx
    rows = (pts[:, 1] - grid.y[0]) / dy
    return map_coordinates(field, [rows, cols], order=1, mode="nearest")


def contour_points(grid: Grid, centre=(0.5, 0.0), semi_axes=(0.9, 0.6), n: int = 720):
    """``n`` points (n, 2) of an ellipse (in chords) and the line elements (n, 2) of the trapezoidal rule.

    Raises:
        DataError: the ellipse comes closer than one cell to the edge of the grid box.
    """
    theta = np.linspace(0.0, 2 * np.pi, n, endpoint=False)
    a, b = semi_axes
    pts = np.column_stack([centre[0] + a * np.cos(theta), centre[1] + b * np.sin(theta)])
    tangent = np.column_stack([-a * np.sin(theta), b * np.cos(theta)]) * (2 * np.pi / n)
    dx, dy = grid.spacing
    if (pts[:, 0].min() < grid.x[0] + dx or pts[:, 0].max() > grid.x[-1] - dx
            or pts[:, 1].min() < grid.y[0] + dy or pts[:, 1].max() > grid.y[-1] - dy):
        raise DataError(f"the circulation contour (centre {centre}, semi-axes {semi_axes}) leaves the grid box "
                        f"x={grid.x_range}, y={grid.y_range}")
    return pts, tangent


def circulation_cl(u: np.ndarray, v: np.ndarray, grid: Grid, mask: np.ndarray | None = None,
                   centre=(0.5, 0.0), semi_axes=(0.9, 0.6), n: int = 720) -> float:
    """C_L from the circulation of (u, v) around an ellipse (trapezoidal rule, spectrally accurate).

    Args:
        u, v: velocity ``(ny, nx)`` on ``grid`` in units of the freestream speed (so C_L = −2 Γ, Γ in
            freestream speed × chord, counter-clockwise positive).
        mask: ``(ny, nx)``, true inside the body; checked against the contour when given.
        centre, semi_axes: the ellipse, in chords.

    Raises:
        DataError: the ellipse leaves the grid box (see :func:`contour_points`), or crosses the body.
    """
    pts, dl = contour_points(grid, centre, semi_axes, n)
    if mask is not None and _sample(mask.astype(float), grid, pts).max() > 0:
        raise DataError("the circulation contour crosses the body; choose larger semi-axes")
    gamma = float(np.sum(_sample(u, grid, pts) * dl[:, 0] + _sample(v, grid, pts) * dl[:, 1]))
    return -2.0 * gamma


def fill_body(field: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Replace the values inside the body by those of the nearest fluid cell."""
    from scipy.ndimage import distance_transform_edt

    if not mask.any():
        return field
    _, (rows, cols) = distance_transform_edt(mask, return_indices=True)
    return field[rows, cols]


def surface_cp(cp: np.ndarray, mask: np.ndarray, grid: Grid, contour: np.ndarray,
               offsets: tuple[float, ...] = (1.0, 2.0, 3.0)) -> np.ndarray:
    """Cp at the panel midpoints of ``contour`` (K+1, 2), from the grid.

    Cp is sampled (bilinearly, body cells filled with the nearest fluid value) at ``offsets``
    cell sizes along the outward normal and extrapolated to the wall with a polynomial through
    those samples (quadratic for three offsets): sampling on the wall itself smears the suction
    peak and loses about twice as much lift (measured on true fields).
    """
    mid = 0.5 * (contour[:-1] + contour[1:])
    d = np.diff(contour, axis=0)
    normal = np.column_stack([d[:, 1], -d[:, 0]]) / np.hypot(d[:, 0], d[:, 1])[:, None]
    filled = fill_body(cp, mask.astype(bool))
    h = min(grid.spacing)
    offsets = np.asarray(offsets, dtype=float)
    values = np.stack([_sample(filled, grid, mid + o * h * normal) for o in offsets])
    if offsets.size == 1:
        return values[0]
    coef = np.linalg.solve(np.vander(offsets, offsets.size), values)
    return coef[-1]


def pressure_cl(cp_panels: np.ndarray, contour: np.ndarray, alpha_deg: float) -> float:
    """C_L of Cp given at the panel midpoints of a counter-clockwise contour."""
    return force_coefficients(cp_panels, contour, alpha_deg)[0]


def surface_cl(cp: np.ndarray, mask: np.ndarray, grid: Grid, contour: np.ndarray, alpha_deg: float) -> float:
    """C_L from the gridded Cp sampled on the surface and integrated."""
    return pressure_cl(surface_cp(cp, mask, grid, contour), contour, alpha_deg)


def camber_line(contour: np.ndarray, stations: int = 401) -> tuple[np.ndarray, np.ndarray]:
    """Camber line (x, y_c) at cosine-spaced stations, from a counter-clockwise contour."""
    ile = leading_edge_index(contour)
    upper, lower = contour[: ile + 1][::-1], contour[ile:]
    x0, x1 = contour[ile, 0], 0.5 * (contour[0, 0] + contour[-1, 0])
    x = x0 + (x1 - x0) * 0.5 * (1 - np.cos(np.linspace(0, np.pi, stations)))

    def interp(surface):
        order = np.argsort(surface[:, 0], kind="stable")
        xs, ys = surface[order, 0], surface[order, 1]
        keep = np.r_[True, np.diff(xs) > 0]
        return np.interp(x, xs[keep], ys[keep])

    return x, 0.5 * (interp(upper) + interp(lower))


def thin_airfoil_cl(contour: np.ndarray, alpha_deg) -> np.ndarray:
    """Thin-airfoil theory: ``C_L = 2π (α − α_L0)`` with ``α_L0 = −(1/π) ∫ dy_c/dx (cos θ − 1) dθ``."""
    x, yc = camber_line(contour)
    chord = x[-1] - x[0]
    xi = (x - x[0]) / chord
    slope = np.gradient(yc / chord, xi)
    theta = np.arccos(np.clip(1 - 2 * xi, -1, 1))
    integrand = slope * (np.cos(theta) - 1)
    alpha_l0 = -np.trapezoid(integrand, theta) / np.pi
    return 2 * np.pi * (np.radians(np.asarray(alpha_deg, dtype=float)) - alpha_l0)
