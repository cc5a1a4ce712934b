"""The prepared data of airfoil_flow: its configuration, ``fields.nc`` and ``splits.json``.

A library module (no stage): the data stage (:mod:`projects.airfoil_flow.data`) writes these
files with :func:`to_dataset`; the train and evaluate stages read them with :func:`load_fields`
and :func:`load_splits`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from projects.airfoil_flow.panel import MAX_ALPHA_DEG, Grid
from shared.io import DataError, check_array, read_json, read_netcdf

FIELDS = ("u", "v", "cp", "sdf", "mask")
PER_SAMPLE = ("m", "p", "t", "alpha", "cl", "cl_pressure", "cm")


@dataclass(frozen=True)
class UIUCConfig:
    """Real sections (the UIUC airfoil database) mixed into the data and held out **by family**.

    ``source``: ``uiuc_dir`` reads every ``*.dat`` in ``data/airfoil_flow/external/uiuc/``;
    ``aerosandbox`` reads the copy of the UIUC database that the installed ``aerosandbox``
    package ships; ``karman_trefftz`` generates analytic sections (three families, for tests and
    machines without aerosandbox); ``auto`` takes the first available; ``none`` leaves them out.
    ``n_shapes`` sections are drawn (seeded) from the readable files; each is solved at
    ``alphas_per_shape`` angles drawn from the data's ``alpha_range``. The family of a section is
    the letter prefix of its file name (``e`` Eppler, ``s``/``sd`` Selig, ``fx`` Wortmann, ``goe``
    Göttingen, ``mh`` Hepperle, ``naca`` …); whole families are held out for validation and
    test (``val_fraction``, ``test_fraction`` of the sections, at least one family each).

    Raises:
        ValueError: ``n_shapes`` < 3 or ``alphas_per_shape`` < 1, or ``val_fraction`` or ``test_fraction``
            outside (0, 0.5).
    """

    source: Literal["auto", "uiuc_dir", "aerosandbox", "karman_trefftz", "none"] = "auto"
    n_shapes: int = 240
    alphas_per_shape: int = 2
    val_fraction: float = 0.15
    test_fraction: float = 0.25
    #: sections thicker than this (chords) are left out (flatbacks, 66 % root sections)
    max_thickness: float = 0.25
    seed: int = 0

    def __post_init__(self) -> None:
        if self.n_shapes < 3 or self.alphas_per_shape < 1:
            raise ValueError(f"n_shapes ≥ 3 and alphas_per_shape ≥ 1 required, got {self.n_shapes}, "
                             f"{self.alphas_per_shape}")
        if not (0 < self.val_fraction < 0.5 and 0 < self.test_fraction < 0.5):
            raise ValueError("uiuc.val_fraction and uiuc.test_fraction must lie in (0, 0.5)")


@dataclass(frozen=True)
class SplitConfig:
    """The splits of the prepared samples: random, α-extrapolation and shape (thickness) extrapolation.

    Raises:
        ValueError: ``val_fraction`` or ``test_fraction`` outside (0, 0.5), or ``thick_quantile`` outside [0.5, 1).
    """

    val_fraction: float = 0.1
    test_fraction: float = 0.1
    #: α-extrapolation: train on α in this range (deg), test outside it
    alpha_train_range: tuple[float, float] = (-4.0, 10.0)
    #: shape extrapolation: the airfoils thicker than this quantile of t are held out
    thick_quantile: float = 0.85
    seed: int = 0

    def __post_init__(self) -> None:
        if not (0 < self.val_fraction < 0.5 and 0 < self.test_fraction < 0.5):
            raise ValueError("val_fraction and test_fraction must lie in (0, 0.5)")
        if not 0.5 <= self.thick_quantile < 1:
            raise ValueError(f"thick_quantile must lie in [0.5, 1), got {self.thick_quantile}")


@dataclass(frozen=True)
class AirfRANSConfig:
    """The real dataset: AirfRANS (Bonnet et al., NeurIPS 2022), RANS at Re 2–6 million."""

    url: str = "https://data.isir.upmc.fr/extrality/NeurIPS_2022/Dataset.zip"
    #: sha256 of Dataset.zip; null logs the hash of the file used (it could not be measured here)
    sha256: str | None = None
    #: which manifest lists to read (e.g. full_train, full_test, aoa_train, aoa_test)
    manifest_keys: tuple[str, ...] = ("full_train", "full_test")
    #: read at most this many simulations (null: all), chosen with ``seed``
    max_samples: int | None = 200
    seed: int = 0


@dataclass(frozen=True)
class DataConfig:
    """The ``data`` section: the source, the sampled shapes and angles, the grid and the splits.

    Raises:
        ValueError: ``n_samples`` < 10, or ``m_range``, ``p_range``, ``t_range`` (chords) or ``alpha_range``
            (deg) not ordered or outside [0, 0.1], [0.05, 0.95], [0.01, 0.4], [-30, 30].
    """

    source: Literal["naca", "airfrans"] = "naca"
    n_samples: int = 1000
    seed: int = 0
    n_panels: int = 160
    m_range: tuple[float, float] = (0.0, 0.06)
    p_range: tuple[float, float] = (0.2, 0.6)
    t_range: tuple[float, float] = (0.06, 0.18)
    alpha_range: tuple[float, float] = (-8.0, 14.0)
    grid: Grid = field(default_factory=Grid)
    uiuc: UIUCConfig = field(default_factory=UIUCConfig)
    #: Kulfan (CST) weights per surface of the shape parameters of the baselines
    kulfan_weights: int = 6
    splits: SplitConfig = field(default_factory=SplitConfig)
    airfrans: AirfRANSConfig = field(default_factory=AirfRANSConfig)
    #: worker processes for the solver (0: all cores)
    workers: int = 0

    def __post_init__(self) -> None:
        if self.n_samples < 10:
            raise ValueError(f"n_samples must be at least 10, got {self.n_samples}")
        for name, (lo, hi), limits in (("m_range", self.m_range, (0, 0.1)), ("p_range", self.p_range, (0.05, 0.95)),
                                       ("t_range", self.t_range, (0.01, 0.4)),
                                       ("alpha_range", self.alpha_range, (-MAX_ALPHA_DEG, MAX_ALPHA_DEG))):
            if not limits[0] <= lo <= hi <= limits[1]:
                raise ValueError(f"{name} [{lo}, {hi}] must be ordered and lie within {list(limits)}")


# --------------------------------------------------------------------------- writing
def shape_param_names(n: int) -> list[str]:
    """Names of the ``n`` Kulfan parameters: ``upper_0…``, ``lower_0…``, ``le_weight``, ``te_thickness``."""
    k = max(0, (n - 2) // 2)
    return [f"upper_{i}" for i in range(k)] + [f"lower_{i}" for i in range(k)] + ["le_weight", "te_thickness"][:n]


def to_dataset(cases: Sequence[dict[str, Any]], grid: Grid, attrs: dict[str, Any]):
    """Stack per-case dicts into the xarray Dataset written to ``fields.nc``."""
    import xarray as xr

    def stack(key, dtype):
        return np.stack([c[key] for c in cases]).astype(dtype)

    dims = ("sample", "y", "x")
    data = {k: (dims, stack(k, "float32")) for k in ("u", "v", "cp", "sdf")}
    data["mask"] = (dims, stack("mask", "int8"))
    for k in PER_SAMPLE:
        data[k] = (("sample",), np.array([c[k] for c in cases], dtype="float64"))
    data["name"] = (("sample",), np.array([c["name"] for c in cases], dtype=str))
    data["family"] = (("sample",), np.array([c["family"] for c in cases], dtype=str))
    data["contour_x"] = (("sample", "node"), stack("contour", "float64")[..., 0])
    data["contour_y"] = (("sample", "node"), stack("contour", "float64")[..., 1])
    data["surface_cp"] = (("sample", "panel"), stack("surface_cp", "float32"))
    data["shape_params"] = (("sample", "shape_param"), stack("shape_params", "float64"))
    n_shape = len(cases[0]["shape_params"]) if cases else 0
    ds = xr.Dataset(data, coords={"x": grid.x, "y": grid.y, "sample": np.arange(len(cases)),
                                  "shape_param": shape_param_names(n_shape)}, attrs=attrs)
    units = {"u": "U_inf", "v": "U_inf", "cp": "1", "sdf": "chord", "alpha": "degree", "x": "chord", "y": "chord",
             "m": "chord", "p": "chord", "t": "chord"}
    for k, unit in units.items():
        ds[k].attrs["units"] = unit
    ds["mask"].attrs["meaning"] = "1 inside the body, 0 in the fluid"
    ds["cl"].attrs["long_name"] = "lift coefficient from the circulation (Kutta-Joukowski)"
    ds["cm"].attrs["long_name"] = "pitching moment coefficient about the quarter chord, nose-up positive"
    ds["shape_params"].attrs["long_name"] = ("Kulfan (CST) parameters of the section (aerosandbox "
                                             "get_kulfan_parameters): upper, lower weights, LE weight, TE thickness")
    return ds


# --------------------------------------------------------------------------- reading
@dataclass
class FieldData:
    """The prepared fields in memory (float32), with validation."""

    u: np.ndarray
    v: np.ndarray
    cp: np.ndarray
    sdf: np.ndarray
    mask: np.ndarray
    meta: dict[str, np.ndarray]
    grid: Grid
    attrs: dict[str, Any]

    def __len__(self) -> int:
        return self.u.shape[0]

    def contour(self, i: int) -> np.ndarray:
        return np.column_stack([self.meta["contour_x"][i], self.meta["contour_y"][i]])

    def inputs(self, idx=slice(None)) -> np.ndarray:
        """``(n, H, W, 4)``: SDF, mask, cos α, sin α."""
        a = np.radians(self.meta["alpha"][idx]).astype("float32")
        sdf, mask = self.sdf[idx], self.mask[idx].astype("float32")
        ones = np.ones_like(sdf)
        return np.stack([sdf, mask, ones * np.cos(a)[:, None, None], ones * np.sin(a)[:, None, None]], axis=-1)

    def targets(self, idx=slice(None)) -> np.ndarray:
        """``(n, H, W, 4)``: u, v, Cp and the fluid indicator (for the masked loss)."""
        return np.stack([self.u[idx], self.v[idx], self.cp[idx], 1.0 - self.mask[idx].astype("float32")], axis=-1)


def load_fields(path: str | os.PathLike) -> FieldData:
    """Read ``fields.nc`` and check shapes, dtypes and finiteness of every variable.

    Returns:
        a :class:`FieldData`: ``u``, ``v`` (units of the freestream speed), ``cp``, ``sdf`` (chords) float32 and
        ``mask`` bool, each ``(n, ny, nx)``; ``meta`` with ``alpha`` (deg), ``cl``, ``cl_pressure``, ``cm``,
        ``m``, ``p``, ``t`` (max camber, its position, max thickness; chords, may be NaN) ``(n,)``,
        ``contour_x``/``contour_y`` ``(n, K+1)`` (chords) and ``surface_cp`` ``(n, K)`` (K panels),
        ``shape_params`` ``(n, F)``, ``name`` and ``family``; the grid.

    Raises:
        DataError: the file is missing or not a readable NetCDF, lacks a variable, holds no samples, or a
            variable has the wrong shape or dtype or holds NaN/inf (``m``, ``p``, ``t`` may be NaN).
        ValueError: the x/y coordinates describe a grid that :class:`Grid` refuses.
    """
    path = Path(path)
    ds = read_netcdf(path, (*FIELDS, *PER_SAMPLE, "name", "family", "contour_x", "contour_y", "surface_cp",
                                   "shape_params"))
    n = ds.sizes["sample"]
    if n == 0:
        raise DataError(f"{path} holds no samples")
    shape = (n, ds.sizes["y"], ds.sizes["x"])
    arrays = {}
    for k in FIELDS:
        arr = check_array(ds[k].values, f"variable '{k}'", shape=shape, dtype="fiu", source=path)
        arrays[k] = arr.astype("float32") if k != "mask" else arr.astype(bool)
    meta = {k: check_array(ds[k].values, f"variable '{k}'", shape=(n,), dtype="fiu", source=path)
            for k in ("alpha", "cl", "cl_pressure", "cm")}
    for k in ("m", "p", "t"):
        meta[k] = check_array(ds[k].values, f"variable '{k}'", shape=(n,), dtype="f", finite=False, source=path)
    for k in ("contour_x", "contour_y", "surface_cp", "shape_params"):
        meta[k] = check_array(ds[k].values, f"variable '{k}'", ndim=2, dtype="f", source=path)
    meta["name"] = np.asarray(ds["name"].values).astype(str)
    meta["family"] = np.asarray(ds["family"].values).astype(str)
    x, y = ds["x"].values, ds["y"].values
    dx, dy = x[1] - x[0], y[1] - y[0]
    grid = Grid(len(x), len(y), (float(x[0] - dx / 2), float(x[-1] + dx / 2)),
                (float(y[0] - dy / 2), float(y[-1] + dy / 2)))
    return FieldData(meta=meta, grid=grid, attrs=dict(ds.attrs), **arrays)


def load_splits(path: str | os.PathLike, n_samples: int) -> dict[str, dict[str, np.ndarray]]:
    """``splits.json``: experiment → part (``train``, ``val``, ``test``, ...) → sample indices (int arrays).

    Raises:
        DataError: the file is missing, empty or not valid JSON, or an index lies outside ``0 … n_samples − 1``.
    """
    splits = read_json(path)
    out = {}
    for name, parts in splits.items():
        out[name] = {}
        for part, idx in parts.items():
            if part == "t_limit":
                continue
            arr = np.asarray(idx, dtype=int)
            if arr.size and (arr.min() < 0 or arr.max() >= n_samples):
                raise DataError(f"{path}: split {name}/{part} indexes beyond the {n_samples} samples of fields.nc; "
                                "the two files come from different runs of the data stage")
            out[name][part] = arr
    return out


