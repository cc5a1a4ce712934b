"""Stage ``validate``: the panel solver against symmetry, convergence, XFoil and an exact solution.

Checks (each a row of ``validation.json`` with value, limit and met):

* NACA 0012 at α = 0: |C_L| (symmetry);
* C_L from the pressure integral against C_L from the circulation (worst case over a set of
  airfoils and angles);
* panel convergence: C_L change from 160 to 320 panels (NACA 2412, α = 5°);
* NACA 2412 at α = 5° against XFoil's inviscid C_L = 0.858;
* a Kármán–Trefftz airfoil against its exact conformal-map lift (not in the issue: the one
  case with a closed-form answer);

and the resolution floor of the two ways of getting C_L from a gridded field (circulation
contour, surface Cp), measured on *true* fields at 64², 128² and 256². Plot data: the solver's
polars and the convergence study.

    python -m projects.airfoil_flow.validate --params projects/airfoil_flow/params.yaml \
        --out projects/airfoil_flow/results
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from projects.airfoil_flow.dataset import DataConfig
from projects.airfoil_flow.geometry import karman_trefftz, naca, repanel
from projects.airfoil_flow.lift import circulation_cl, surface_cl
from projects.airfoil_flow.panel import Grid, basis_field, polar, single_thread_blas, solve, solve_basis
from shared.config import load_section
from shared.io import write_csv
from shared.metrics import write_metrics
from shared.stage import run, stage_parser

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ValidateConfig:
    symmetry_limit: float = 1e-6
    pressure_vs_circulation_pct: float = 0.5
    convergence_pct: float = 0.5
    #: XFoil's inviscid C_L of NACA 2412 at α = 5° (measured by the issue's author)
    xfoil_2412_cl: float = 0.858
    xfoil_tolerance_pct: float = 1.0
    karman_trefftz_tolerance_pct: float = 0.5
    #: airfoils of the polar plots and of the pressure-vs-circulation check
    polar_airfoils: tuple[str, ...] = ("0012", "2412", "4412", "0018", "6409")
    polar_alphas: tuple[float, float, float] = (-10.0, 16.0, 1.0)
    #: grids (cells per side) and cases of the resolution-floor study
    floor_grids: tuple[int, ...] = (64, 128, 256)
    floor_cases: tuple[tuple[str, float], ...] = (("0012", 4.0), ("2412", 5.0), ("4412", 8.0), ("4415", -3.0),
                                                  ("6409", 10.0), ("0018", 2.0), ("2410", 12.0), ("1408", -6.0))


def check(value: float, limit: float, **extra: Any) -> dict[str, Any]:
    return {"value": float(value), "target": float(limit), "met": bool(abs(value) <= limit), **extra}


def validate(cfg: ValidateConfig, out: Path, grid: Grid, n_panels: int = 160) -> dict[str, Any]:
    """Run every check; ``grid`` gives the box of the floor study (its size is varied)."""
    n = n_panels
    checks: dict[str, dict[str, Any]] = {}
    with single_thread_blas():
        checks["naca0012_alpha0_abs_cl"] = check(solve(naca("0012", n), 0.0).cl, cfg.symmetry_limit)
        lo, hi, step = cfg.polar_alphas
        alphas = np.arange(lo, hi + 1e-9, step)
        rows, worst = [], 0.0
        for code in cfg.polar_airfoils:
            pol = polar(naca(code, n), alphas)
            for i, a in enumerate(pol["alpha"]):
                rows.append({"airfoil": f"NACA {code}", "alpha": a, "cl": pol["cl"][i],
                             "cl_pressure": pol["cl_pressure"][i], "cd_pressure": pol["cd_pressure"][i],
                             "cm": pol["cm"][i]})
            big = np.abs(pol["cl"]) > 0.1
            worst = max(worst, float(np.max(np.abs(pol["cl_pressure"][big] / pol["cl"][big] - 1))))
        checks["cl_pressure_vs_circulation_pct"] = check(100 * worst, cfg.pressure_vs_circulation_pct)
        conv = []
        for panels in (40, 80, 160, 320, 640):
            s = solve(naca("2412", panels), 5.0)
            conv.append({"panels": panels, "cl": s.cl, "cl_pressure": s.cl_pressure, "cm": s.cm})
        cl = {r["panels"]: r["cl"] for r in conv}
        checks["convergence_160_to_320_pct"] = check(100 * abs(cl[320] / cl[160] - 1), cfg.convergence_pct)
        cl2412 = solve(naca("2412", n), 5.0).cl
        checks["naca2412_alpha5_vs_xfoil_pct"] = check(100 * abs(cl2412 / cfg.xfoil_2412_cl - 1),
                                                        cfg.xfoil_tolerance_pct, cl=cl2412, xfoil=cfg.xfoil_2412_cl)
        foil, radius, beta = karman_trefftz(0.1, 0.05, 10.0)
        exact = 8 * np.pi * radius * np.sin(np.radians(5.0) + beta)
        kt = solve(repanel(foil, n), 5.0).cl
        checks["karman_trefftz_exact_pct"] = check(100 * abs(kt / exact - 1), cfg.karman_trefftz_tolerance_pct,
                                                   cl=kt, exact=exact)
        floor_rows = []
        for code, alpha in cfg.floor_cases:
            f = naca(code, n)
            basis = solve_basis(f)
            truth = solve(f, alpha, basis).cl
            for size in cfg.floor_grids:
                bf = basis_field(f, grid.with_size(size), basis)
                fld = bf.at(alpha)
                floor_rows.append({"airfoil": f"NACA {code}", "alpha": alpha, "grid": size, "cl": truth,
                                   "err_circulation": circulation_cl(fld["u"], fld["v"], bf.grid, bf.mask) - truth,
                                   "err_surface": surface_cl(fld["cp"], bf.mask, bf.grid, f.coords, alpha) - truth})
    floors = {}
    for size in cfg.floor_grids:
        sub = [r for r in floor_rows if r["grid"] == size]
        floors[f"{size}x{size}"] = {"cl_mae_circulation": float(np.mean([abs(r["err_circulation"]) for r in sub])),
                                    "cl_mae_surface": float(np.mean([abs(r["err_surface"]) for r in sub]))}
    for key, c in checks.items():
        log.info("%-34s %.3g (limit %g): %s", key, c["value"], c["target"], "met" if c["met"] else "MISSED")
    for key, f in floors.items():
        log.info("C_L floor on true fields at %s: circulation %.2e, surface Cp %.4f", key,
                 f["cl_mae_circulation"], f["cl_mae_surface"])
    metrics = {"solver_checks": checks, "cl_floor_true_fields": floors}
    write_metrics(out / "validation.json", metrics)
    write_csv(out / "plots" / "polars.csv", rows)
    write_csv(out / "plots" / "convergence.csv", conv)
    write_csv(out / "plots" / "cl_floor.csv", floor_rows)
    return metrics


def main(argv: Sequence[str] | None = None) -> int:
    args = stage_parser(__doc__, outputs=("out",)).parse_args(argv)
    cfg = load_section(args.params, "validate", ValidateConfig)
    data_cfg = load_section(args.params, "data", DataConfig)
    validate(cfg, Path(args.out), data_cfg.grid, data_cfg.n_panels)
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main))
