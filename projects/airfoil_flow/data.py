"""Stage ``airfoil_flow_data`` (root dvc.yaml): flow fields around airfoils, and the splits.

The embedded default (``source: naca``) draws NACA 4-digit airfoils (m, p, t) and angles of
attack α by a seeded Latin hypercube over the ranges in ``params.yaml`` and solves each case
with the panel method (:mod:`projects.airfoil_flow.panel`). Out-of-distribution shapes
(non-NACA, see :class:`OODConfig`) go through the same solver. ``source: airfrans`` reads the
RANS simulations of AirfRANS instead (:mod:`projects.airfoil_flow.airfrans`).

Writes ``<out>/fields.nc`` (NetCDF via xarray), dims ``(sample, y, x)``:

* ``u``, ``v``, ``cp`` (zero inside the body), ``sdf`` (positive in the fluid), ``mask``
  (1 inside the body) on the cell centres ``x``, ``y`` of a chord-normalised box;
* per sample: ``m``, ``p``, ``t``, ``alpha`` (deg), ``cl`` (circulation), ``cl_pressure``,
  ``cm`` (quarter chord), ``name``, ``family`` (naca4, uiuc, karman_trefftz, airfrans);
* the repaneled contour ``contour_x``, ``contour_y`` (sample, node) and the solver's surface
  ``surface_cp`` (sample, panel) at the panel midpoints;

and ``<out>/splits.json`` with the index sets of each experiment (random, α-extrapolation,
shape extrapolation, out-of-distribution shapes).

    python -m projects.airfoil_flow.data --params projects/airfoil_flow/params.yaml \
        --out data/airfoil_flow/prepared
"""

from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from projects.airfoil_flow.geometry import Airfoil, karman_trefftz, naca4, read_dat, repanel
from projects.airfoil_flow.panel import MAX_ALPHA_DEG, Grid, basis_field, single_thread_blas, solve, solve_basis
from shared.config import load_section
from shared.io import DataError, atomic_dir, check_array, read_json, read_netcdf, write_json, write_netcdf
from shared.paths import external_dir
from shared.stage import run, stage_parser

log = logging.getLogger(__name__)

FIELDS = ("u", "v", "cp", "sdf", "mask")
PER_SAMPLE = ("m", "p", "t", "alpha", "cl", "cl_pressure", "cm")
#: non-NACA UIUC airfoils used as out-of-distribution shapes (file stems of the UIUC database)
UIUC_DEFAULT = ("clarky", "e387", "sd7037", "s1223", "rae2822", "fx63137", "mh32", "e423", "ag35", "goe387",
                "s1210", "ah79100a")


@dataclass(frozen=True)
class OODConfig:
    """Out-of-distribution (non-NACA) shapes, solved with the same panel method.

    ``source``: ``uiuc_dir`` reads every ``*.dat`` in ``data/airfoil_flow/external/uiuc/``;
    ``aerosandbox`` reads ``names`` from the UIUC database that the installed ``aerosandbox``
    package ships (files only, the package is never imported); ``karman_trefftz`` generates
    analytic airfoils; ``auto`` takes the first of these that is available.
    """

    source: Literal["auto", "uiuc_dir", "aerosandbox", "karman_trefftz", "none"] = "auto"
    names: tuple[str, ...] = UIUC_DEFAULT
    n_karman_trefftz: int = 12
    #: every OOD shape is solved at each of these angles (deg)
    alphas: tuple[float, ...] = (-2.0, 2.0, 6.0, 10.0)


@dataclass(frozen=True)
class SplitConfig:
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
    source: Literal["naca", "airfrans"] = "naca"
    n_samples: int = 1000
    seed: int = 0
    n_panels: int = 160
    m_range: tuple[float, float] = (0.0, 0.06)
    p_range: tuple[float, float] = (0.2, 0.6)
    t_range: tuple[float, float] = (0.06, 0.18)
    alpha_range: tuple[float, float] = (-8.0, 14.0)
    grid: Grid = field(default_factory=Grid)
    ood: OODConfig = field(default_factory=OODConfig)
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
        for a in self.ood.alphas:
            if abs(a) > MAX_ALPHA_DEG:
                raise ValueError(f"ood.alphas: angle of attack {a}° is out of range "
                                 f"[-{MAX_ALPHA_DEG}, {MAX_ALPHA_DEG}]")


# --------------------------------------------------------------------------- sampling
def latin_hypercube(cfg: DataConfig) -> np.ndarray:
    """``(n_samples, 4)`` rows of (m, p, t, α) from a seeded Latin hypercube."""
    from scipy.stats import qmc

    unit = qmc.LatinHypercube(d=4, seed=cfg.seed).random(cfg.n_samples)
    lo = np.array([cfg.m_range[0], cfg.p_range[0], cfg.t_range[0], cfg.alpha_range[0]])
    hi = np.array([cfg.m_range[1], cfg.p_range[1], cfg.t_range[1], cfg.alpha_range[1]])
    return lo + unit * (hi - lo)


def ood_airfoils(cfg: OODConfig, n_panels: int) -> tuple[str, list[Airfoil]]:
    """The out-of-distribution shapes and the name of the source they came from."""
    source = cfg.source
    if source == "none":
        return "none", []
    uiuc_dir = external_dir("airfoil_flow") / "uiuc"
    if source == "auto":
        if uiuc_dir.is_dir() and any(uiuc_dir.glob("*.dat")):
            source = "uiuc_dir"
        elif aerosandbox_database() is not None:
            source = "aerosandbox"
        else:
            log.warning("no UIUC files in %s and no aerosandbox package (pip install aerosandbox ships the UIUC "
                        "database): using Kármán–Trefftz airfoils as out-of-distribution shapes", uiuc_dir)
            source = "karman_trefftz"
    if source == "uiuc_dir":
        files = sorted(uiuc_dir.glob("*.dat"))
        if not files:
            raise DataError(f"ood.source is uiuc_dir but {uiuc_dir} holds no .dat files; place UIUC coordinate files "
                            "there (https://m-selig.ae.illinois.edu/ads/coord_database.html)")
        foils = [read_dat(f) for f in files]
    elif source == "aerosandbox":
        folder = aerosandbox_database()
        if folder is None:
            raise DataError("ood.source is aerosandbox but the aerosandbox package is not installed "
                            "(pip install aerosandbox)")
        missing = [n for n in cfg.names if not (folder / f"{n}.dat").is_file()]
        if missing:
            raise DataError(f"ood.names: {missing} not in the UIUC database at {folder}")
        foils = [read_dat(folder / f"{n}.dat") for n in cfg.names]
    else:
        rng = np.random.default_rng(12345)
        foils = []
        for i in range(cfg.n_karman_trefftz):
            ex, ey, tau = rng.uniform(0.04, 0.14), rng.uniform(0.0, 0.12), rng.uniform(4.0, 16.0)
            foils.append(karman_trefftz(ex, ey, tau, name=f"KT{i:02d}")[0])
    family = "karman_trefftz" if source == "karman_trefftz" else "uiuc"
    out = []
    for foil in foils:
        panelled = repanel(foil, n_panels)
        out.append(Airfoil(foil.name, panelled.coords, foil.m, foil.p, foil.t, family))
    return source, out


def aerosandbox_database() -> Path | None:
    """The UIUC coordinate database folder inside an installed aerosandbox (not imported)."""
    spec = importlib.util.find_spec("aerosandbox")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "geometry" / "airfoil" / "airfoil_database"
    return folder if folder.is_dir() else None


# --------------------------------------------------------------------------- solving
def solve_case(foil: Airfoil, alpha: float, grid: Grid) -> dict[str, Any]:
    """Everything stored for one sample: fields, surface Cp and coefficients."""
    with single_thread_blas():
        basis = solve_basis(foil)
        sol = solve(foil, alpha, basis)
        bf = basis_field(foil, grid, basis)
    if abs(sol.cl) > 0.1 and abs(sol.cl_pressure / sol.cl - 1) > 0.02:
        log.warning("%s at %.1f°: C_L from pressure (%.4f) and circulation (%.4f) differ by more than 2%%; the "
                    "panel solution is doubtful (a cusped or wavy contour?)", foil.name, alpha, sol.cl_pressure, sol.cl)
    return {**bf.at(alpha), "sdf": bf.sdf, "mask": bf.mask, "surface_cp": sol.cp, "cl": sol.cl_circulation,
            "cl_pressure": sol.cl_pressure, "cm": sol.cm, "alpha": alpha, "m": foil.m, "p": foil.p, "t": foil.t,
            "name": foil.name, "family": foil.family, "contour": foil.coords}


def _solve_job(job: tuple[Airfoil, float, Grid]) -> dict[str, Any]:
    return solve_case(*job)


def solve_all(jobs: Sequence[tuple[Airfoil, float, Grid]], workers: int = 0, desc: str = "solving") -> list[dict]:
    """Solve the cases in parallel processes, with a progress bar."""
    from tqdm import tqdm

    workers = workers or os.cpu_count() or 1
    if workers == 1 or len(jobs) < 8:
        return [_solve_job(j) for j in tqdm(jobs, desc=desc, mininterval=2)]
    with ProcessPoolExecutor(workers) as pool:
        return list(tqdm(pool.map(_solve_job, jobs, chunksize=8), total=len(jobs), desc=desc, mininterval=2))


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
    ds = xr.Dataset(data, coords={"x": grid.x, "y": grid.y, "sample": np.arange(len(cases))}, attrs=attrs)
    units = {"u": "U_inf", "v": "U_inf", "cp": "1", "sdf": "chord", "alpha": "degree", "x": "chord", "y": "chord",
             "m": "chord", "p": "chord", "t": "chord"}
    for k, unit in units.items():
        ds[k].attrs["units"] = unit
    ds["mask"].attrs["meaning"] = "1 inside the body, 0 in the fluid"
    ds["cl"].attrs["long_name"] = "lift coefficient from the circulation (Kutta-Joukowski)"
    ds["cm"].attrs["long_name"] = "pitching moment coefficient about the quarter chord, nose-up positive"
    return ds


def make_splits(ds, cfg: SplitConfig) -> dict[str, dict[str, list[int]]]:
    """Index sets (train/val/test) of every experiment; never tuned on test."""
    from shared.data import split_indices

    family = np.asarray(ds["family"].values).astype(str)
    in_dist = np.flatnonzero(~np.isin(family, ("uiuc", "karman_trefftz")))
    ood = np.flatnonzero(np.isin(family, ("uiuc", "karman_trefftz")))
    alpha, thick = ds["alpha"].values, ds["t"].values
    splits: dict[str, dict[str, list[int]]] = {}

    def cut(pool: np.ndarray, test: np.ndarray, seed_offset: int) -> dict[str, list[int]]:
        val_frac = cfg.val_fraction
        tr, va = split_indices(len(pool), (1 - val_frac, val_frac), cfg.seed + seed_offset)
        return {"train": pool[tr].tolist(), "val": pool[va].tolist(), "test": np.sort(test).tolist()}

    test_frac = cfg.test_fraction
    tr, va, te = split_indices(len(in_dist), (1 - cfg.val_fraction - test_frac, cfg.val_fraction, test_frac),
                               cfg.seed)
    splits["random"] = {"train": in_dist[tr].tolist(), "val": in_dist[va].tolist(), "test": in_dist[te].tolist()}
    lo, hi = cfg.alpha_train_range
    inside = (alpha[in_dist] >= lo) & (alpha[in_dist] <= hi)
    if inside.all() or not inside.any():
        log.warning("alpha_train_range %s leaves no α-extrapolation test set; skipping that split", (lo, hi))
    else:
        splits["alpha_extrapolation"] = cut(in_dist[inside], in_dist[~inside], 1)
    limit = np.quantile(thick[in_dist], cfg.thick_quantile)
    thin = thick[in_dist] <= limit
    if thin.all():
        log.warning("all airfoils have the same thickness; skipping the shape-extrapolation split")
    else:
        splits["shape_extrapolation"] = {**cut(in_dist[thin], in_dist[~thin], 2), "t_limit": [float(limit)]}
    if len(ood):
        splits["ood_shapes"] = {"train": splits["random"]["train"], "val": splits["random"]["val"],
                                "test": ood.tolist()}
    return splits


def generate(cfg: DataConfig, out: Path) -> dict[str, Any]:
    """Solve every case and write ``fields.nc`` and ``splits.json`` into ``out``."""
    grid = cfg.grid
    attrs: dict[str, Any] = {"source": cfg.source, "grid": f"{grid.nx}x{grid.ny}",
                             "x_range": list(grid.x_range), "y_range": list(grid.y_range), "n_panels": cfg.n_panels}
    if cfg.source == "naca":
        samples = latin_hypercube(cfg)
        jobs = [(naca4(m, p, t, cfg.n_panels), float(a), grid) for m, p, t, a in samples]
        ood_source, shapes = ood_airfoils(cfg.ood, cfg.n_panels)
        jobs += [(foil, float(a), grid) for foil in shapes for a in cfg.ood.alphas]
        attrs.update(solver="linear-strength vortex panel method (inviscid, incompressible), Kutta condition",
                     sampling=f"Latin hypercube, seed {cfg.seed}", m_range=list(cfg.m_range),
                     p_range=list(cfg.p_range), t_range=list(cfg.t_range), alpha_range=list(cfg.alpha_range),
                     ood_source=ood_source)
        log.info("%d NACA cases and %d out-of-distribution cases (%s) on a %dx%d grid", len(samples),
                 len(jobs) - len(samples), ood_source, grid.nx, grid.ny)
        cases = solve_all(jobs, cfg.workers)
    else:
        from projects.airfoil_flow.airfrans import load_airfrans

        cases = load_airfrans(cfg.airfrans, grid, cfg.n_panels)
        attrs.update(solver="AirfRANS: OpenFOAM RANS (k-omega SST), interpolated onto the grid",
                     ood_source="none")
    ds = to_dataset(cases, grid, attrs)
    write_netcdf(out / "fields.nc", ds)
    splits = make_splits(ds, cfg.splits)
    write_json(out / "splits.json", splits)
    for name, parts in splits.items():
        log.info("split %-20s %s", name, {k: len(v) for k, v in parts.items() if k != "t_limit"})
    return {"samples": len(cases), "splits": {k: {p: len(v) for p, v in s.items()} for k, s in splits.items()}}


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
    """Read ``fields.nc`` and check shapes, dtypes and finiteness of every variable."""
    path = Path(path)
    ds = read_netcdf(path, (*FIELDS, *PER_SAMPLE, "name", "family", "contour_x", "contour_y", "surface_cp"))
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
    for k in ("contour_x", "contour_y", "surface_cp"):
        meta[k] = check_array(ds[k].values, f"variable '{k}'", ndim=2, dtype="f", source=path)
    meta["name"] = np.asarray(ds["name"].values).astype(str)
    meta["family"] = np.asarray(ds["family"].values).astype(str)
    x, y = ds["x"].values, ds["y"].values
    dx, dy = x[1] - x[0], y[1] - y[0]
    grid = Grid(len(x), len(y), (float(x[0] - dx / 2), float(x[-1] + dx / 2)),
                (float(y[0] - dy / 2), float(y[-1] + dy / 2)))
    return FieldData(meta=meta, grid=grid, attrs=dict(ds.attrs), **arrays)


def load_splits(path: str | os.PathLike, n_samples: int) -> dict[str, dict[str, np.ndarray]]:
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


def main(argv: Sequence[str] | None = None) -> int:
    args = stage_parser(__doc__, outputs=("out",)).parse_args(argv)
    cfg = load_section(args.params, "data", DataConfig)
    with atomic_dir(args.out) as tmp:
        summary = generate(cfg, tmp)
    log.info("wrote %s: %s", args.out, summary)
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main))
