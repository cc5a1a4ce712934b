"""The real dataset: AirfRANS (Bonnet et al., NeurIPS 2022 Datasets and Benchmarks).

1000 incompressible RANS simulations (OpenFOAM, k-ω SST, Re 2–6 million) around NACA 4- and
5-digit airfoils, α from −5° to 15°. The official archive ``Dataset.zip`` unpacks to
``Dataset/manifest.json`` (the splits of the four tasks) and one folder per simulation, named
``airFoil2D_SST_<U∞>_<α>_<NACA parameters>``, whose ``<name>_internal.vtu`` holds the mesh with
the point fields ``U`` (m/s), ``p`` (kinematic pressure, m²/s²), ``nut`` and ``implicit_distance``.

This module reads the ``.vtu`` files with meshio, finds the airfoil as the no-slip boundary of
the mesh, and interpolates u/U∞, v/U∞ and Cp = p / (½ U∞²) linearly (Delaunay) onto the same
grid as the panel-method data, so that the same models train on RANS fields.

Where the files come from, in order: an unpacked ``data/airfoil_flow/external/Dataset/``; a
hand-placed ``data/airfoil_flow/external/Dataset.zip``; a download through
``shared.data.fetch``. Offline, the error says which file to put where.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from projects.airfoil_flow.geometry import Airfoil, check_contour, repanel, with_descriptors
from projects.airfoil_flow.panel import Grid, force_coefficients, geometry_channels
from shared.data import FetchError, fetch
from shared.io import DataError, check_array
from shared.paths import data_dir, external_dir

log = logging.getLogger(__name__)

NAME = re.compile(r"^airFoil2D_SST_(?P<u>[-\d.eE+]+)_(?P<alpha>[-\d.eE+]+)_(?P<params>[-\d._eE+]+)$")


def parse_name(name: str) -> dict[str, Any]:
    """Freestream speed, angle of attack (deg) and NACA parameters from a simulation name.

    Returns:
        ``{"u_inf": m/s, "alpha": deg, "series": "naca4" | "naca5", "params": [3 or 4 floats]}``.

    Raises:
        DataError: the name is not ``airFoil2D_SST_<U>_<alpha>_<params>``, or it has neither 3 nor 4 shape
            parameters.
    """
    match = NAME.match(name)
    if not match:
        raise DataError(f"not an AirfRANS simulation name: {name!r} (expected airFoil2D_SST_<U>_<alpha>_<params>)")
    params = [float(v) for v in match["params"].split("_")]
    if len(params) not in (3, 4):
        raise DataError(f"{name!r}: expected 3 (NACA 4-digit) or 4 (5-digit) shape parameters, got {len(params)}")
    return {"u_inf": float(match["u"]), "alpha": float(match["alpha"]),
            "series": "naca4" if len(params) == 3 else "naca5", "params": params}


# --------------------------------------------------------------------------- the archive
class Archive:
    """Reads simulations from an unpacked ``Dataset/`` folder or from the zip itself.

    Raises:
        DataError: ``path`` is a file but not a zip archive (a truncated download, for one), the zip holds no
            ``manifest.json``, or the folder has none at its top.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        try:
            self.zip = zipfile.ZipFile(self.path) if self.path.is_file() else None
        except zipfile.BadZipFile as exc:
            raise DataError(f"{self.path} is not a zip archive ({exc}): download Dataset.zip again") from exc
        if self.zip is not None:
            manifests = [n for n in self.zip.namelist() if n.endswith("manifest.json")]
            if not manifests:
                raise DataError(f"{self.path} holds no manifest.json: not the AirfRANS Dataset.zip")
            self.prefix = manifests[0][: -len("manifest.json")]
        elif not (self.path / "manifest.json").is_file():
            raise DataError(f"{self.path} holds no manifest.json: not the unpacked AirfRANS Dataset folder")

    def manifest(self) -> dict[str, list[str]]:
        """The archive's ``manifest.json``: list name (``full_train``, ``aoa_test``, ...) → simulation names.

        Raises:
            DataError: the manifest is not valid JSON (or not UTF-8).
        """
        try:
            if self.zip is not None:
                return json.loads(self.zip.read(self.prefix + "manifest.json"))
            return json.loads((self.path / "manifest.json").read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise DataError(f"the AirfRANS manifest in {self.path} is not valid JSON: {exc}") from exc

    @contextmanager
    def internal(self, name: str) -> Iterator[Path]:
        """A local path of ``<name>_internal.vtu`` (extracted to a temporary file from a zip).

        Raises:
            DataError: the simulation's ``.vtu`` is not in the folder or the zip.
        """
        member = f"{name}/{name}_internal.vtu"
        if self.zip is None:
            path = self.path / member
            if not path.is_file():
                raise DataError(f"{path} is missing from the AirfRANS folder")
            yield path
            return
        try:
            info = self.zip.getinfo(self.prefix + member)
        except KeyError:
            raise DataError(f"{self.path} lacks {self.prefix + member}") from None
        with tempfile.TemporaryDirectory(prefix="airfrans-") as tmp:
            out = Path(tmp) / Path(member).name
            with self.zip.open(info) as src, open(out, "wb") as dst:
                while block := src.read(1 << 20):
                    dst.write(block)
            yield out


def locate(cfg) -> Archive:
    """The AirfRANS archive: unpacked folder, hand-placed zip, or a checksummed download.

    Raises:
        FetchError: the zip is neither hand-placed nor downloadable (the message says where to put it).
        ChecksumError: a hand-placed or downloaded zip does not have ``cfg.sha256``.
        DataError: the zip holds no ``manifest.json``.
    """
    ext = external_dir("airfoil_flow")
    for folder in (ext / "Dataset", ext / "AirfRANS" / "Dataset"):
        if (folder / "manifest.json").is_file():
            return Archive(folder)
    name = Path(cfg.url).name or "Dataset.zip"
    try:
        path = fetch(cfg.url, cfg.sha256, data_dir("airfoil_flow", "raw") / name)
    except FetchError as exc:
        raise FetchError(f"AirfRANS is not available ({exc}). Download {name} (about 9.3 GB) from {cfg.url} and "
                         f"place it at {ext / name}, or unzip it there as {ext / 'Dataset'}/") from None
    return Archive(path)


# --------------------------------------------------------------------------- one simulation
def read_vtu(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Points (P, 2), 2-D cells as node lists, U (P, 2) and p (P,) of an AirfRANS ``.vtu``.

    Units as stored by AirfRANS: points in m (unit chord), U in m/s, p the kinematic pressure in m²/s².

    Raises:
        DataError: the file is missing or not a readable VTU; it lacks the point field ``U`` or ``p``; points,
            ``U`` or ``p`` have the wrong shape or dtype or hold NaN/inf; it holds no quad, triangle or polygon
            cells.
    """
    import meshio

    path = Path(path)
    if not path.is_file():
        raise DataError(f"file not found: {path}")
    try:
        mesh = meshio.read(path)
    except (Exception, SystemExit) as exc:  # meshio raises ReadError, KeyError, ... and exits on some files
        raise DataError(f"{path} is not a readable VTU file (corrupt or truncated?): {exc}") from exc
    missing = [k for k in ("U", "p") if k not in mesh.point_data]
    if missing:
        raise DataError(f"{path} lacks point field(s) {missing}; it has {sorted(mesh.point_data)}")
    n = len(mesh.points)
    points = check_array(mesh.points, "points", ndim=2, dtype="f", source=path)[:, :2]
    U = check_array(mesh.point_data["U"], "point field 'U'", dtype="f", source=path)
    if U.ndim != 2 or U.shape[0] != n or U.shape[1] < 2:
        raise DataError(f"{path}: point field 'U' has shape {U.shape}, expected ({n}, 2 or 3)")
    p = check_array(np.ravel(mesh.point_data["p"]), "point field 'p'", shape=(n,), dtype="f", source=path)
    cells = [c.data for c in mesh.cells if c.type in ("quad", "triangle", "polygon")]
    if not cells:
        raise DataError(f"{path} holds no 2-D cells (quads or triangles)")
    return {"points": points.astype(float), "U": U[:, :2].astype(float), "p": p.astype(float), "cells": cells}


def wall_contour(sim: dict[str, np.ndarray], source: str = "mesh") -> np.ndarray:
    """The airfoil: the mesh boundary edges whose nodes have zero velocity, chained into a loop.

    Returns:
        the closed contour (K+1, 2), starting at the trailing edge (largest x).

    Raises:
        DataError: fewer than 5 no-slip boundary edges, a wall that is not a single closed loop, or a contour
            that :func:`check_contour` refuses (``source`` names the simulation).
    """
    wall = np.all(sim["U"] == 0.0, axis=1)
    edges = []
    for block in sim["cells"]:
        rolled = np.roll(block, -1, axis=1)
        edges.append(np.sort(np.stack([block, rolled], axis=-1).reshape(-1, 2), axis=1))
    edges = np.concatenate(edges)
    uniq, counts = np.unique(edges, axis=0, return_counts=True)
    boundary = uniq[(counts == 1) & wall[uniq[:, 0]] & wall[uniq[:, 1]]]
    if len(boundary) < 5:
        raise DataError(f"{source}: found no no-slip wall (U = 0) on the mesh boundary")
    neighbours: dict[int, list[int]] = {}
    for a, b in boundary:
        neighbours.setdefault(int(a), []).append(int(b))
        neighbours.setdefault(int(b), []).append(int(a))
    if any(len(v) != 2 for v in neighbours.values()):
        raise DataError(f"{source}: the wall boundary is not a single closed loop")
    start = next(iter(neighbours))
    loop, prev = [start], None
    while True:
        nxt = next(n for n in neighbours[loop[-1]] if n != prev)
        if nxt == start:
            break
        prev = loop[-1]
        loop.append(nxt)
    if len(loop) != len(neighbours):
        raise DataError(f"{source}: the wall boundary has {len(neighbours)} nodes but one loop covers {len(loop)}")
    xy = sim["points"][loop]
    te = int(np.argmax(xy[:, 0]))
    xy = np.roll(xy, -te, axis=0)
    xy = check_contour(np.vstack([xy, xy[:1]]), source)
    return xy


def to_grid(sim: dict[str, np.ndarray], grid: Grid, mask: np.ndarray, source: str = "mesh") -> dict[str, np.ndarray]:
    """Linear (Delaunay) interpolation of U and p onto the fluid cells of ``grid``.

    Returns:
        ``{"U": (2, ny, nx), "p": (ny, nx)}`` in the units of ``sim``; cells where ``mask`` (ny, nx) is true
        (the body) are 0.

    Raises:
        DataError: a fluid cell of the grid lies outside the mesh (the box is too large).
    """
    from scipy.interpolate import LinearNDInterpolator

    pts = grid.points()
    x0, x1 = grid.x_range
    y0, y1 = grid.y_range
    margin = 0.1 * max(x1 - x0, y1 - y0)
    keep = ((sim["points"][:, 0] > x0 - margin) & (sim["points"][:, 0] < x1 + margin)
            & (sim["points"][:, 1] > y0 - margin) & (sim["points"][:, 1] < y1 + margin))
    values = np.column_stack([sim["U"][keep], sim["p"][keep]])
    interp = LinearNDInterpolator(sim["points"][keep], values)
    fluid = ~mask.ravel()
    out = np.zeros((len(pts), 3))
    out[fluid] = interp(pts[fluid])
    if not np.all(np.isfinite(out)):
        bad = int((~np.isfinite(out).all(axis=1)).sum())
        raise DataError(f"{source}: {bad} grid cell(s) lie outside the mesh; shrink the grid box")
    shape = (grid.ny, grid.nx)
    return {"U": out[:, :2].T.reshape(2, *shape), "p": out[:, 2].reshape(shape)}


def load_case(path: str | os.PathLike, name: str, grid: Grid, n_panels: int) -> dict[str, Any]:
    """One simulation as a prepared case (the same keys as the data stage's ``solve_case``).

    ``u``, ``v`` (in units of the freestream speed), ``cp``, ``sdf`` (chords) and ``mask`` are ``(ny, nx)``
    (0 inside the body for the flow fields); ``surface_cp`` is ``(n_panels,)`` at the panel midpoints of
    ``contour`` ``(n_panels + 1, 2)``; ``alpha`` is in degrees.

    Raises:
        DataError: the name or the file is not an AirfRANS simulation, the wall cannot be found, or the grid
            box leaves the mesh.
        GeometryError: the wall contour cannot be repanelled.
    """
    info = parse_name(name)
    sim = read_vtu(path)
    wall = wall_contour(sim, name)
    foil = with_descriptors(Airfoil(name, wall, family="airfrans"))
    panelled = repanel(foil, n_panels)
    mask, sdf = geometry_channels(panelled, grid)
    gridded = to_grid(sim, grid, mask, name)
    q = 0.5 * info["u_inf"] ** 2
    u, v = gridded["U"] / info["u_inf"]
    cp = np.where(mask, 0.0, gridded["p"] / q)
    u, v = np.where(mask, 0.0, u), np.where(mask, 0.0, v)
    # surface Cp at the panel midpoints from the nearest wall node of the mesh (pressure lift only:
    # the viscous part of the lift is negligible at these Reynolds numbers)
    from scipy.spatial import cKDTree

    wall_nodes = np.flatnonzero(np.all(sim["U"] == 0.0, axis=1))
    mid = 0.5 * (panelled.coords[:-1] + panelled.coords[1:])
    _, nearest = cKDTree(sim["points"][wall_nodes]).query(mid)
    surface = sim["p"][wall_nodes][nearest] / q
    cl, _, cm = force_coefficients(surface, panelled.coords, info["alpha"])
    return {"u": u, "v": v, "cp": cp, "sdf": sdf, "mask": mask, "surface_cp": surface, "cl": cl, "cl_pressure": cl,
            "cm": cm, "alpha": info["alpha"], "m": foil.m, "p": foil.p, "t": foil.t, "name": name,
            "family": "airfrans", "contour": panelled.coords}


def load_airfrans(cfg, grid: Grid, n_panels: int) -> list[dict[str, Any]]:
    """Read the simulations listed under ``cfg.manifest_keys`` (at most ``cfg.max_samples``).

    Returns:
        one dict per simulation, as :func:`load_case`.

    Raises:
        FetchError: the archive is not available (see :func:`locate`).
        ChecksumError: the archive does not have ``cfg.sha256``.
        DataError: a manifest key is not in the manifest, or a simulation is missing or unreadable.
        GeometryError: a wall contour cannot be repanelled.
    """
    from tqdm import tqdm

    archive = locate(cfg)
    manifest = archive.manifest()
    unknown = [k for k in cfg.manifest_keys if k not in manifest]
    if unknown:
        raise DataError(f"airfrans.manifest_keys {unknown} not in the manifest; it has {sorted(manifest)}")
    names = sorted({n for k in cfg.manifest_keys for n in manifest[k]})
    if cfg.max_samples is not None and len(names) > cfg.max_samples:
        pick = np.random.default_rng(cfg.seed).choice(len(names), cfg.max_samples, replace=False)
        names = [names[i] for i in sorted(pick)]
    cases = []
    for name in tqdm(names, desc="AirfRANS → grid", mininterval=2):
        with archive.internal(name) as path:
            cases.append(load_case(path, name, grid, n_panels))
    log.info("read %d AirfRANS simulations from %s", len(cases), archive.path)
    return cases
