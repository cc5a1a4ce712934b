"""Stage ``airfoil_flow_data`` (root dvc.yaml): flow fields around airfoils, and the splits.

The embedded default (``source: naca``) draws NACA 4-digit airfoils (m, p, t) and angles of
attack α by a seeded Latin hypercube over the ranges in ``params.yaml``, adds real sections of
the UIUC database (``uiuc``: aerosandbox's copy, or ``data/airfoil_flow/external/uiuc/*.dat``)
at random angles, and solves every case with the panel method (:mod:`projects.airfoil_flow.panel`).
``source: airfrans`` reads the RANS simulations of AirfRANS instead (:mod:`projects.airfoil_flow.airfrans`).

Writes ``<out>/fields.nc`` (NetCDF via xarray; layout in :func:`dataset.to_dataset`): u, v, cp,
sdf, mask (sample, y, x); per sample m, p, t, α (deg), C_L, C_M, name, family, the Kulfan shape
parameters and the repaneled contour; and ``<out>/splits.json`` with the index sets of each
experiment (random, uiuc_families, α-extrapolation, shape extrapolation; see :func:`make_splits`).

    python -m projects.airfoil_flow.data --params projects/airfoil_flow/params.yaml \
        --out data/airfoil_flow/prepared
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from projects.airfoil_flow.dataset import (  # noqa: F401  (re-exported for users of the stage)
    AirfRANSConfig,
    DataConfig,
    FieldData,
    SplitConfig,
    UIUCConfig,
    load_fields,
    load_splits,
    to_dataset,
)
from projects.airfoil_flow.geometry import Airfoil, karman_trefftz, naca4, read_dat, repanel
from projects.airfoil_flow.panel import Grid, basis_field, single_thread_blas, solve, solve_basis
from projects.airfoil_flow.shapes import aerosandbox_database, family_of, kulfan_parameters, split_families
from shared.config import load_section
from shared.io import DataError, atomic_dir, write_json, write_netcdf
from shared.paths import external_dir
from shared.stage import run, stage_parser

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------- sampling
def latin_hypercube(cfg: DataConfig) -> np.ndarray:
    """``(n_samples, 4)`` rows of (m, p, t, α) from a seeded Latin hypercube."""
    from scipy.stats import qmc

    unit = qmc.LatinHypercube(d=4, seed=cfg.seed).random(cfg.n_samples)
    lo = np.array([cfg.m_range[0], cfg.p_range[0], cfg.t_range[0], cfg.alpha_range[0]])
    hi = np.array([cfg.m_range[1], cfg.p_range[1], cfg.t_range[1], cfg.alpha_range[1]])
    return lo + unit * (hi - lo)


def uiuc_airfoils(cfg: UIUCConfig, n_panels: int) -> tuple[str, list[Airfoil]]:
    """The real sections mixed into the data, and the name of the source they came from.

    Files are drawn in a seeded order and read until ``cfg.n_shapes`` sections are accepted;
    files that do not read or repanel, or thicker than ``cfg.max_thickness``, are skipped (counted
    in the log). Each section's ``family`` is its family label (:func:`shapes.family_of`).

    Raises:
        DataError: the requested source is not available.
    """
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
                        "database): using Kármán–Trefftz sections as the real-shape set", uiuc_dir)
            source = "karman_trefftz"
    rng = np.random.default_rng(cfg.seed)
    if source == "karman_trefftz":
        out = []
        for i in range(cfg.n_shapes):
            ex, ey, tau = rng.uniform(0.04, 0.14), rng.uniform(0.0, 0.12), rng.uniform(4.0, 16.0)
            foil = repanel(karman_trefftz(ex, ey, tau, name=f"kt{'abc'[i % 3]}{i:02d}")[0], n_panels)
            out.append(Airfoil(foil.name, foil.coords, foil.m, foil.p, foil.t, f"kt{'abc'[i % 3]}"))
        return source, out
    if source == "uiuc_dir":
        files = sorted(uiuc_dir.glob("*.dat"))
        if not files:
            raise DataError(f"uiuc.source is uiuc_dir but {uiuc_dir} holds no .dat files; place UIUC coordinate files "
                            "there (https://m-selig.ae.illinois.edu/ads/coord_database.html)")
    else:
        folder = aerosandbox_database()
        if folder is None:
            raise DataError("uiuc.source is aerosandbox but the aerosandbox package is not installed "
                            "(pip install aerosandbox)")
        files = sorted(folder.glob("*.dat"))
    out, skipped = [], {}
    for k in rng.permutation(len(files)):
        if len(out) >= cfg.n_shapes:
            break
        try:
            foil = read_dat(files[k])
            panelled = repanel(foil, n_panels)
        except DataError as exc:
            skipped[files[k].name] = str(exc)
            continue
        if foil.t > cfg.max_thickness:
            skipped[files[k].name] = f"thicker than {cfg.max_thickness} chords"
            continue
        out.append(Airfoil(files[k].stem, panelled.coords, foil.m, foil.p, foil.t, family_of(files[k].stem)))
    if skipped:
        log.info("%d UIUC file(s) skipped on the way to %d sections: %s", len(skipped), len(out),
                 "; ".join(f"{k}: {v[-80:]}" for k, v in list(skipped.items())[:5]))
    return source, out


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


def make_splits(ds, cfg: SplitConfig, uiuc: UIUCConfig | None = None) -> dict[str, dict[str, list[int]]]:
    """Index sets (train/val/test) of every experiment; never tuned on test.

    * ``random``: the generated (NACA) cases 80/10/10, with the real sections of the training
      families added to train and those of the validation families to val;
    * ``uiuc_families``: the same train and val, tested on the real sections of the held-out
      families (the comparison that a four-parameter model cannot follow);
    * ``alpha_extrapolation``, ``shape_extrapolation``: NACA only, as before.
    """
    from shared.data import split_indices

    family = np.asarray(ds["family"].values).astype(str)
    real = np.isin(family, ("naca4", "airfrans"), invert=True)
    in_dist, shapes = np.flatnonzero(~real), np.flatnonzero(real)
    alpha, thick = ds["alpha"].values, ds["t"].values
    splits: dict[str, dict[str, list[int]]] = {}

    def cut(pool: np.ndarray, test: np.ndarray, seed_offset: int) -> dict[str, list[int]]:
        val_frac = cfg.val_fraction
        tr, va = split_indices(len(pool), (1 - val_frac, val_frac), cfg.seed + seed_offset)
        return {"train": pool[tr].tolist(), "val": pool[va].tolist(), "test": np.sort(test).tolist()}

    test_frac = cfg.test_fraction
    tr, va, te = split_indices(len(in_dist), (1 - cfg.val_fraction - test_frac, cfg.val_fraction, test_frac),
                               cfg.seed)
    random = {"train": in_dist[tr].tolist(), "val": in_dist[va].tolist(), "test": in_dist[te].tolist()}
    if len(shapes):
        uiuc = uiuc or UIUCConfig()
        # the database's own NACA sections never count as unseen: the generated data is NACA
        held = shapes[family[shapes] != "naca"]
        fam_train, fam_val, fam_test = split_families(family[held], uiuc.val_fraction, uiuc.test_fraction,
                                                      uiuc.seed)
        fam_train = sorted({*fam_train, *(["naca"] if (family[shapes] == "naca").any() else [])})
        pick = {name: shapes[np.isin(family[shapes], fams)].tolist()
                for name, fams in (("train", fam_train), ("val", fam_val), ("test", fam_test))}
        random["train"] += pick["train"]
        random["val"] += pick["val"]
        splits["random"] = random
        splits["uiuc_families"] = {"train": random["train"], "val": random["val"], "test": pick["test"],
                                   "val_real": pick["val"]}
        log.info("families: train %s | val %s | test %s", fam_train, fam_val, fam_test)
    else:
        splits["random"] = random
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
    return splits


def generate(cfg: DataConfig, out: Path) -> dict[str, Any]:
    """Solve every case and write ``fields.nc`` and ``splits.json`` into ``out``.

    Raises:
        DataError: the requested UIUC source is not available (``naca``), or the AirfRANS archive or one of its
            simulations is missing or unreadable (``airfrans``; :class:`FetchError` and :class:`ChecksumError`
            are ``DataError`` subclasses).
    """
    grid = cfg.grid
    attrs: dict[str, Any] = {"source": cfg.source, "grid": f"{grid.nx}x{grid.ny}",
                             "x_range": list(grid.x_range), "y_range": list(grid.y_range), "n_panels": cfg.n_panels}
    if cfg.source == "naca":
        samples = latin_hypercube(cfg)
        jobs = [(naca4(m, p, t, cfg.n_panels), float(a), grid) for m, p, t, a in samples]
        uiuc_source, shapes = uiuc_airfoils(cfg.uiuc, cfg.n_panels)
        rng = np.random.default_rng(cfg.uiuc.seed + 1)
        jobs += [(foil, float(a), grid) for foil in shapes
                 for a in rng.uniform(*cfg.alpha_range, size=cfg.uiuc.alphas_per_shape)]
        attrs.update(solver="linear-strength vortex panel method (inviscid, incompressible), Kutta condition",
                     sampling=f"Latin hypercube, seed {cfg.seed}", m_range=list(cfg.m_range),
                     p_range=list(cfg.p_range), t_range=list(cfg.t_range), alpha_range=list(cfg.alpha_range),
                     uiuc_source=uiuc_source)
        log.info("%d NACA cases and %d cases of %d real sections (%s) on a %dx%d grid", len(samples),
                 len(jobs) - len(samples), len(shapes), uiuc_source, grid.nx, grid.ny)
        cases = solve_all(jobs, cfg.workers)
    else:
        from projects.airfoil_flow.airfrans import load_airfrans

        cases = load_airfrans(cfg.airfrans, grid, cfg.n_panels)
        attrs.update(solver="AirfRANS: OpenFOAM RANS (k-omega SST), interpolated onto the grid",
                     uiuc_source="none")
    for case in cases:
        case["shape_params"] = kulfan_parameters(case["contour"], cfg.kulfan_weights)
    ds = to_dataset(cases, grid, attrs)
    write_netcdf(out / "fields.nc", ds)
    splits = make_splits(ds, cfg.splits, cfg.uiuc)
    write_json(out / "splits.json", splits)
    for name, parts in splits.items():
        log.info("split %-20s %s", name, {k: len(v) for k, v in parts.items() if k != "t_limit"})
    return {"samples": len(cases), "splits": {k: {p: len(v) for p, v in s.items()} for k, s in splits.items()}}


def main(argv: Sequence[str] | None = None) -> int:
    args = stage_parser(__doc__, outputs=("out",)).parse_args(argv)
    cfg = load_section(args.params, "data", DataConfig)
    with atomic_dir(args.out) as tmp:
        summary = generate(cfg, tmp)
    log.info("wrote %s: %s", args.out, summary)
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main))
