"""Airfoil geometry: NACA and Kármán–Trefftz generators, both UIUC formats, every malformed file."""

import numpy as np
import pytest

from projects.airfoil_flow.geometry import (
    GeometryError,
    karman_trefftz,
    naca,
    naca4,
    parse_dat,
    read_dat,
    repanel,
    with_descriptors,
)


def selig_text(foil, name="TEST FOIL"):
    return name + "\n" + "\n".join(f" {x:.7f} {y:.7f}" for x, y in foil.coords) + "\n"


def lednicer_text(foil, name="TEST FOIL LEDNICER"):
    c = foil.coords
    ile = int(np.argmin(c[:, 0]))
    upper, lower = c[: ile + 1][::-1], c[ile:]
    rows = [name, f"{len(upper)}.  {len(lower)}.", ""]
    rows += [f"{x:.7f} {y:.7f}" for x, y in upper] + [""] + [f"{x:.7f} {y:.7f}" for x, y in lower]
    return "\n".join(rows) + "\n"


def test_naca_closed_trailing_edge_and_orientation():
    foil = naca("2412", 80)
    c = foil.coords
    assert c.shape == (81, 2) and np.array_equal(c[0], c[-1])
    assert np.allclose(c[0], [1.0, 0.0])
    area = 0.5 * np.sum(c[:-1, 0] * c[1:, 1] - c[1:, 0] * c[:-1, 1])
    assert area > 0  # counter-clockwise: upper surface first
    assert (foil.m, foil.p, foil.t) == (0.02, 0.4, 0.12)
    assert c[10, 1] > 0 > c[-11, 1]


def test_naca_symmetric_and_bad_codes():
    c = naca("0012", 60).coords
    assert np.allclose(c[:, 1], -c[::-1, 1])
    for bad in ("24x2", "241", "NACA 23012"):
        with pytest.raises(GeometryError, match="NACA 4-digit"):
            naca(bad)
    with pytest.raises(GeometryError, match="n_panels"):
        naca4(0.02, 0.4, 0.12, 31)


def test_selig_and_lednicer_give_the_same_airfoil(tmp_path):
    foil = naca("4412", 60)
    (tmp_path / "s.dat").write_text(selig_text(foil))
    (tmp_path / "l.dat").write_text(lednicer_text(foil))
    selig, led = read_dat(tmp_path / "s.dat"), read_dat(tmp_path / "l.dat")
    assert selig.name == "TEST FOIL" and led.name == "TEST FOIL LEDNICER"
    np.testing.assert_allclose(selig.coords, foil.coords, atol=1e-6)
    np.testing.assert_allclose(led.coords, foil.coords, atol=1e-6)
    assert selig.m == pytest.approx(0.04, abs=2e-3) and selig.t == pytest.approx(0.12, abs=2e-3)


def test_reversed_order_is_reoriented_and_open_te_is_closed(tmp_path):
    c = naca("2412", 60).coords.copy()
    c[:31, 1] += 0.002 * c[:31, 0]  # a blunt trailing edge (0.4 % of the chord) ...
    c[31:, 1] -= 0.002 * c[31:, 0]
    c = c[::-1]  # ... listed clockwise
    text = "REVERSED\n" + "\n".join(f"{x} {y}" for x, y in c)
    foil = parse_dat(text, "rev.dat")
    area = 0.5 * np.sum(foil.coords[:-1, 0] * foil.coords[1:, 1] - foil.coords[1:, 0] * foil.coords[:-1, 1])
    assert area > 0
    out = repanel(foil, 80)
    assert out.n_panels == 80 and np.array_equal(out.coords[0], out.coords[-1])


@pytest.mark.parametrize("body, match", [
    ("1.0 0.0\n0.5 0.06 0.1\n0.0 0.0\n0.5 -0.06\n1.0 0.0\n", "odd number of values"),
    ("1.0 0.0\n0.5 abc\n0.0 0.0\n0.5 -0.06\n1.0 0.0\n", "non-numeric value 'abc'"),
    ("1.0 0.0\n0.5 0.06\n", "only 2 coordinate pair"),
    # only the upper surface: the contour does not come back to the trailing edge
    ("1.0 0.0\n0.75 0.04\n0.5 0.06\n0.25 0.05\n0.0 0.0\n", "not closed"),
    # a figure eight
    ("1.0 0.0\n0.75 0.05\n0.5 -0.05\n0.25 0.0\n0.5 0.05\n0.75 -0.05\n1.0 0.0\n", "intersects itself"),
    ("61. 61.\n0.0 0.0\n0.5 0.06\n1.0 0.0\n0.0 0.0\n0.5 -0.06\n1.0 0.0\n", "announces 61 \\+ 61 points"),
])
def test_malformed_dat_files_are_reported(tmp_path, body, match):
    path = tmp_path / "bad.dat"
    path.write_text("BAD FOIL\n" + body)
    with pytest.raises(GeometryError, match=match) as err:
        read_dat(path)
    assert "bad.dat" in str(err.value)


def test_missing_file():
    with pytest.raises(GeometryError, match="not found"):
        read_dat("/nonexistent/foil.dat")


def test_karman_trefftz_descriptors_and_repanel():
    foil, radius, beta = karman_trefftz(0.1, 0.05, 10.0)
    assert foil.coords[:, 0].min() == pytest.approx(0.0) and foil.coords[:, 0].max() == pytest.approx(1.0)
    assert radius > 0.25 and beta > 0
    d = with_descriptors(repanel(foil, 120))
    assert 0.05 < d.t < 0.2 and d.m > 0
