"""The panel solver: the issue's validation checks, an exact solution, fields and bad input."""

import numpy as np
import pytest

from projects.airfoil_flow.geometry import karman_trefftz, naca, repanel
from projects.airfoil_flow.lift import circulation_cl, surface_cl, thin_airfoil_cl
from projects.airfoil_flow.panel import Grid, basis_field, field, polar, solve, solve_basis
from shared.io import DataError


def test_naca0012_at_zero_incidence_has_no_lift():
    sol = solve(naca("0012", 160), 0.0)
    assert abs(sol.cl) < 1e-6 and abs(sol.cl_pressure) < 1e-6


def test_pressure_lift_equals_circulation_lift():
    for code in ("0012", "2412", "4412", "6409"):
        pol = polar(naca(code, 160), [-6.0, 2.0, 8.0, 14.0])
        big = np.abs(pol["cl"]) > 0.1
        np.testing.assert_allclose(pol["cl_pressure"][big], pol["cl"][big], rtol=0.005)
        assert np.all(np.abs(pol["cd_pressure"]) < 0.01)  # d'Alembert, up to discretisation


def test_panel_convergence_160_to_320():
    cl160, cl320 = solve(naca("2412", 160), 5.0).cl, solve(naca("2412", 320), 5.0).cl
    assert abs(cl320 / cl160 - 1) < 0.005


def test_naca2412_matches_xfoil_inviscid():
    sol = solve(naca("2412", 160), 5.0)
    assert abs(sol.cl / 0.858 - 1) < 0.01
    assert -0.08 < sol.cm < -0.04  # positive camber pitches nose-down


def test_karman_trefftz_exact_lift():
    foil, radius, beta = karman_trefftz(0.1, 0.05, 10.0)
    exact = 8 * np.pi * radius * np.sin(np.radians(5.0) + beta)
    assert solve(repanel(foil, 200), 5.0).cl == pytest.approx(exact, rel=0.005)


def test_field_is_linear_in_the_freestream_and_tends_to_it():
    foil, grid = naca("2412", 80), Grid(32, 32)
    bf = basis_field(foil, grid)
    f = field(foil, 7.0, grid)
    a = np.radians(7.0)
    np.testing.assert_allclose(f["u"], np.cos(a) * bf.uv0[0] + np.sin(a) * bf.uv90[0], atol=1e-12)
    fluid = ~f["mask"]
    np.testing.assert_allclose(f["cp"][fluid], 1 - f["u"][fluid] ** 2 - f["v"][fluid] ** 2, atol=1e-6)
    assert f["mask"].any() and np.all(f["sdf"][f["mask"]] < 0) and np.all(f["sdf"][fluid] >= 0)
    # the corner cells are ~1 chord away: close to the freestream
    assert abs(f["u"][0, 0] - np.cos(a)) < 0.1 and abs(f["v"][0, 0] - np.sin(a)) < 0.1


def test_no_flow_through_the_surface():
    foil = naca("4412", 120)
    basis = solve_basis(foil)
    p = basis.panels
    pts = p.mid + 1e-3 * p.normal  # just outside each panel
    from projects.airfoil_flow.panel import induced_velocity

    vel = induced_velocity(pts, p, basis.gamma[:1])[0] + np.array([[1.0], [0.0]])
    normal_flow = (vel.T * p.normal).sum(axis=1)
    assert np.median(np.abs(normal_flow)) < 0.02


def test_lift_from_the_field_two_ways():
    foil, grid = naca("2412", 160), Grid(64, 64)
    sol = solve(foil, 5.0)
    f = field(foil, 5.0, grid)
    assert circulation_cl(f["u"], f["v"], grid, f["mask"]) == pytest.approx(sol.cl, abs=1e-4)
    assert surface_cl(f["cp"], f["mask"], grid, foil.coords, 5.0) == pytest.approx(sol.cl, abs=0.06)
    # thin-airfoil theory: 2π per radian for a symmetric section
    assert thin_airfoil_cl(naca("0012").coords, 5.0) == pytest.approx(2 * np.pi * np.radians(5.0), rel=0.02)


@pytest.mark.parametrize("alpha", [45.0, -31.0, float("nan")])
def test_angle_of_attack_out_of_range(alpha):
    with pytest.raises(DataError, match="angle of attack"):
        solve(naca("0012", 40), alpha)


def test_grid_validation():
    with pytest.raises(ValueError, match="chord"):
        Grid(32, 32, (0.2, 1.5), (-1, 1))
    with pytest.raises(ValueError, match="at least 8"):
        Grid(4, 4)


def test_geometry_channels_are_exact():
    """The scan-line mask equals the point-in-polygon test; the signed distance equals brute force."""
    from projects.airfoil_flow.panel import geometry_channels, inside_mask

    grid = Grid(32, 32)
    for foil in (naca("2412", 80), naca("0006", 60), repanel(karman_trefftz(0.1, 0.08, 12.0)[0], 80)):
        mask, sdf = geometry_channels(foil, grid)
        pts = grid.points()
        assert np.array_equal(mask.ravel(), inside_mask(pts, foil))
        a, b = foil.coords[:-1], foil.coords[1:]
        rel = pts[:, None, :] - a[None]
        d = (b - a)[None]
        t = np.clip((rel * d).sum(-1) / (d * d).sum(-1), 0, 1)
        brute = np.sqrt(((rel - t[..., None] * d) ** 2).sum(-1)).min(axis=1)
        np.testing.assert_allclose(np.abs(sdf.ravel()), brute, atol=1e-12)
        assert np.all(sdf[mask] <= 0) and np.all(sdf[~mask] >= 0)


def test_families_are_held_out_whole():
    from projects.airfoil_flow.shapes import family_of, split_families

    assert [family_of(n) for n in ("e387", "sd7037", "goe398", "AV-1.7-8", "2032c")] == ["e", "sd", "goe", "av",
                                                                                            "other"]
    fams = np.array(["e"] * 10 + ["s"] * 8 + ["fx"] * 6 + ["goe"] * 12 + ["mh"] * 4)
    train, val, test = split_families(fams, 0.15, 0.25, seed=0)
    assert train and val and test and not (set(train) & set(val) | set(train) & set(test) | set(val) & set(test))
    assert set(train) | set(val) | set(test) == set(fams)
