"""airfoil_flow tools: the panel solver and the trained surrogate.

    capstone airfoil_flow solve --naca 2412 --alpha 5            # C_L, C_M and a polar over α
    capstone airfoil_flow solve --dat clarky.dat --alpha 4 --plot cp.png --field field.png
    capstone airfoil_flow predict --naca 4412 --alpha 6 --out runs/4412   # surrogate: C_L, field plot, NetCDF

Profiles (real data, the full-size run) are run by the shared ``capstone run airfoil_flow --profile NAME``
(``projects/airfoil_flow/profiles.yaml``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

DEFAULT_PARAMS = "projects/airfoil_flow/params.yaml"
#: the most panels a tool solves with (the dense influence matrix grows as panels²: 4000 take about 0.5 GB)
MAX_PANELS = 4000
#: the most angles of a printed polar
MAX_POLAR_POINTS = 1000


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="airfoil_command", required=True)
    p = sub.add_parser("solve", help="panel-method solution: C_L, C_M, polar, surface Cp and field plots")
    _geometry_args(p)
    p.add_argument("--polar", nargs=3, type=float, default=(-10.0, 15.0, 1.0), metavar=("FROM", "TO", "STEP"),
                   help="angles of the printed polar (deg)")
    p.add_argument("--plot", default=None, help="write a PNG of the surface Cp")
    p.add_argument("--field", default=None, help="write a PNG of u, v and Cp on the grid of params.yaml")
    p.set_defaults(func=cmd_solve)
    p = sub.add_parser("predict", help="surrogate prediction: C_L (two ways), a field plot and a NetCDF")
    _geometry_args(p)
    p.add_argument("--model", default="data/airfoil_flow/model", help="output folder of the train stage")
    p.add_argument("--experiment", default="random", help="the split the model was trained on")
    p.add_argument("--design", default="pod_residual", choices=["geometry", "plain", "pod_residual"],
                   help="U-Net design (pod_residual: POD-RBF corrected by a U-Net, the published headline design)")
    p.add_argument("--out", default="airfoil_prediction", help="folder for field.png and field.nc")
    p.add_argument("--compare", action="store_true", help="also run the solver and print the errors")
    p.set_defaults(func=cmd_predict)


def _geometry_args(p: argparse.ArgumentParser) -> None:
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--naca", help="NACA 4-digit designation, e.g. 2412")
    src.add_argument("--dat", help="UIUC coordinate file (Selig or Lednicer format)")
    p.add_argument("--alpha", type=float, default=0.0, help="angle of attack (deg)")
    p.add_argument("--panels", type=int, default=None, help="panels (default: data.n_panels of params.yaml)")
    p.add_argument("--params", default=DEFAULT_PARAMS, help="params.yaml (grid and panel count)")


def _airfoil(args):
    from projects.airfoil_flow.dataset import DataConfig
    from projects.airfoil_flow.geometry import naca, read_dat, repanel
    from shared.config import load_section

    # only the default may be absent (a tool used outside a checkout): a named --params file must exist
    missing_default = args.params == DEFAULT_PARAMS and not Path(args.params).exists()
    cfg = DataConfig() if missing_default else load_section(args.params, "data", DataConfig)
    panels = cfg.n_panels if args.panels is None else args.panels  # --panels 0 is the geometry's error, not 160
    if panels > MAX_PANELS:
        from shared.io import DataError

        raise DataError(f"--panels {panels}: at most {MAX_PANELS} (the solve is dense; 160-320 converge C_L to 0.01 %)")
    foil = naca(args.naca, panels) if args.naca else repanel(read_dat(args.dat), panels)
    return foil, cfg


def _outside_training(foil, alpha: float, cfg) -> list[str]:
    """Where ``foil`` at ``alpha`` (deg) lies outside the data the surrogates learned from (``cfg``: the data
    section): there a surrogate extrapolates, and ``--compare`` tells by how much."""
    from projects.airfoil_flow.geometry import with_descriptors

    notes = []
    lo, hi = cfg.alpha_range
    if not lo <= alpha <= hi:
        notes.append(f"α = {alpha:g}° lies outside the training angles [{lo:g}°, {hi:g}°]: the surrogate extrapolates")
    thickest = max(cfg.t_range[1], cfg.uiuc.max_thickness)
    t = with_descriptors(foil).t
    if t > thickest:
        notes.append(f"the section is {t:.1%} thick, thicker than any training section ({thickest:.0%}): the "
                     "surrogate extrapolates")
    return notes


def _field_figure(fields: dict, grid, title: str, foil=None):
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), sharey=True)
    extent = (*grid.x_range, *grid.y_range)
    for ax, key, cmap in zip(axes, ("u", "v", "cp"), ("viridis", "coolwarm", "RdBu_r")):
        data = np.ma.masked_where(fields["mask"], fields[key])
        im = ax.imshow(data, origin="lower", extent=extent, cmap=cmap)
        if foil is not None:
            ax.fill(foil.coords[:, 0], foil.coords[:, 1], color="0.6")
        ax.set_title(key)
        ax.set_aspect("equal")
        fig.colorbar(im, ax=ax, shrink=0.8)
    fig.suptitle(title)
    return fig


def _fixed(x: float, digits: int = 4) -> str:
    """``x`` to ``digits`` decimals, without the sign of a value that rounds to zero (``-0.0000``)."""
    text = f"{x:.{digits}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def cmd_solve(args: argparse.Namespace) -> int:
    """``solve``: panel-method C_L (circulation and pressure), C_D,p and C_M,c/4 at ``--alpha`` (deg), and a polar.

    ``--plot`` writes the surface Cp against x/c; ``--field`` u, v (in units of the freestream speed) and Cp on
    the grid of ``--params`` (in chords).

    Raises:
        DataError: ``--alpha`` or an angle of ``--polar`` is not finite or beyond ±30°, ``--polar`` runs
            backwards, has a step ≤ 0 or more than ``MAX_POLAR_POINTS`` angles, or ``--panels`` exceeds
            ``MAX_PANELS``.
        GeometryError: ``--naca`` is not a 4-digit designation, ``--dat`` cannot be read, or ``--panels`` is odd
            or below 8.
        ConfigError: ``--params`` is missing or its ``data`` section is invalid.
    """
    import numpy as np

    from projects.airfoil_flow.panel import check_alpha, field, polar, single_thread_blas, solve
    from shared.io import DataError

    check_alpha(args.alpha)
    lo, hi, step = args.polar
    if not (np.isfinite([lo, hi, step]).all() and step > 0 and lo <= hi):
        raise DataError(f"--polar FROM TO STEP needs FROM ≤ TO and STEP > 0 (degrees), got {lo:g} {hi:g} {step:g}")
    if (hi - lo) / step + 1 > MAX_POLAR_POINTS:
        raise DataError(f"--polar {lo:g} {hi:g} {step:g} asks for {(hi - lo) / step + 1:.0f} angles; at most "
                        f"{MAX_POLAR_POINTS}")
    check_alpha([lo, hi])
    foil, cfg = _airfoil(args)
    with single_thread_blas():
        sol = solve(foil, args.alpha)
        pol = polar(foil, np.arange(lo, hi + 1e-9, step))
    print(f"{foil.name}: {foil.n_panels} panels, α = {args.alpha:g}°")
    for note in foil.notes:
        print(f"  read: {note}")
    print(f"  C_L = {_fixed(sol.cl)} (circulation), {_fixed(sol.cl_pressure)} (pressure integral); "
          f"C_D,p = {sol.cd_pressure:.2e} (0 in potential flow); C_M,c/4 = {_fixed(sol.cm)}")
    print(f"{'alpha':>7}{'C_L':>9}{'C_L,p':>9}{'C_M':>9}")
    for a, cl, clp, cm in zip(pol["alpha"], pol["cl"], pol["cl_pressure"], pol["cm"]):
        print(f"{_fixed(a, 1):>7}{_fixed(cl):>9}{_fixed(clp):>9}{_fixed(cm):>9}")
    if args.plot or args.field:
        import matplotlib.pyplot as plt

        from shared.plots import savefig, use_agg

        use_agg()
        if args.plot:
            fig, ax = plt.subplots(figsize=(6, 3.5))
            ax.plot(sol.x[:, 0], sol.cp, ".-", ms=2)
            ax.invert_yaxis()
            ax.set_xlabel("x/c")
            ax.set_ylabel("Cp")
            ax.set_title(f"{foil.name}, α = {args.alpha:g}°, C_L = {sol.cl:.3f}")
            print(f"surface Cp plot written to {savefig(fig, args.plot)}")
        if args.field:
            with single_thread_blas():
                fld = field(foil, args.alpha, cfg.grid)
            fig = _field_figure(fld, cfg.grid, f"{foil.name}, α = {args.alpha:g}° (panel method)", foil)
            print(f"field plot written to {savefig(fig, args.field)}")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    """``predict``: the surrogate's fields and C_L for one airfoil at ``--alpha`` (deg).

    Writes ``field.nc`` (u, v in units of the freestream speed, Cp, and the body mask, each ``(ny, nx)`` on the
    model's grid, x and y in chords) and ``field.png`` into ``--out``, and prints C_L from the circulation of the
    predicted velocity and from the predicted surface Cp (``--compare``: the RMSE against the panel solver).

    Raises:
        DataError: ``--alpha`` is not finite or beyond ±30°, there is no trained model of that experiment and
            design (the message lists the trained ones), its POD-RBF fit is missing or broken, or a C_L contour
            leaves the grid or crosses the body.
        GeometryError: ``--naca`` is not a 4-digit designation, ``--dat`` cannot be read, or ``--panels`` is odd
            or below 8.
        ConfigError: ``--params`` is missing or its ``data`` section is invalid.
    """
    import numpy as np

    from projects.airfoil_flow.lift import circulation_cl, surface_cl
    from projects.airfoil_flow.panel import check_alpha, field, single_thread_blas
    from shared.io import DataError

    check_alpha(args.alpha)
    foil, cfg = _airfoil(args)
    folder = Path(args.model) / args.experiment / args.design
    path = folder / "model.keras"
    if not path.is_file():
        trained = sorted(f"{m.parent.parent.name}/{m.parent.name}" for m in Path(args.model).glob("*/*/model.keras")
                         if m.parent.name != "mlp")
        if trained:
            raise DataError(f"no {args.experiment}/{args.design} model in {args.model}; trained there (--experiment/"
                            f"--design): {', '.join(trained)} (train.models in params.yaml says which are trained)")
        raise DataError(f"no trained model at {path}; run `capstone run airfoil_flow --stage train` first")
    import xarray as xr

    from projects.airfoil_flow.surrogate import load_surrogate
    from shared.io import write_netcdf
    from shared.plots import savefig, use_agg

    model = load_surrogate(folder)
    grid_shape = model.grid_shape
    grid = cfg.grid if (cfg.grid.ny, cfg.grid.nx) == grid_shape else cfg.grid.with_size(grid_shape[1], grid_shape[0])
    x = model.inputs_for([foil], [args.alpha], grid)
    pred = model.predict(x)[0]
    mask = x[0, ..., 1].astype(bool)
    fields = {"u": pred[..., 0], "v": pred[..., 1], "cp": pred[..., 2], "mask": mask}
    cl_a = circulation_cl(fields["u"], fields["v"], grid, mask)
    cl_b = surface_cl(fields["cp"], mask, grid, foil.coords, args.alpha)
    print(f"{foil.name}, α = {args.alpha:g}° ({args.experiment}/{args.design} surrogate on {grid.nx}×{grid.ny}):")
    print(f"  C_L = {cl_a:.4f} (circulation of the predicted velocity), {cl_b:.4f} (predicted surface Cp)")
    for note in _outside_training(foil, args.alpha, cfg):
        print(f"  note: {note}")
    if args.compare:
        with single_thread_blas():
            true = field(foil, args.alpha, grid)
        fluid = ~mask
        for key in ("u", "v", "cp"):
            rmse = float(np.sqrt(np.mean((fields[key][fluid] - true[key][fluid]) ** 2)))
            print(f"  RMSE {key}: {rmse:.4f}")
        print(f"  solver C_L from the same grid: {circulation_cl(true['u'], true['v'], grid, mask):.4f}")
    out = Path(args.out)
    ds = xr.Dataset({k: (("y", "x"), v.astype("float32" if k != "mask" else "int8")) for k, v in fields.items()},
                    coords={"x": grid.x, "y": grid.y},
                    attrs={"airfoil": foil.name, "alpha": args.alpha, "cl_circulation": cl_a, "cl_surface": cl_b,
                           "model": str(path)})
    print(f"fields written to {write_netcdf(out / 'field.nc', ds)}")
    use_agg()
    fig = _field_figure(fields, grid, f"{foil.name}, α = {args.alpha:g}° (surrogate, C_L = {cl_a:.3f})", foil)
    print(f"field plot written to {savefig(fig, out / 'field.png')}")
    return 0
