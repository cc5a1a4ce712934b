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
    ("1.0 0.0\n0.5 0.06 0.1\n0.0 0.0\n0.5 -0.06\n1.0 0.0\n", "line 3: 3 values"),
    ("1.0 0.0\n0.5 abc\n0.0 0.0\n0.5 -0.06\n1.0 0.0\n", "non-numeric value 'abc'"),
    ("1.0 0.0\n0.5 0.06\n", "only 2 coordinate pair"),
    # only the upper surface: the contour does not come back to the trailing edge
    ("1.0 0.0\n0.75 0.04\n0.5 0.06\n0.25 0.05\n0.0 0.0\n", "not closed"),
    # a figure eight
    ("1.0 0.0\n0.75 0.05\n0.5 -0.05\n0.25 0.0\n0.5 0.05\n0.75 -0.05\n1.0 0.0\n", "intersects itself"),
    # a damaged coordinate line in the middle is an error, not a note
    ("1.0 0.0\n0.5 0.06\n0.1 0.03\n0.0 0.0\n0.1 -0.03x\n0.5 -0.06\n1.0 0.0\n", "non-numeric value '-0.03x'"),
    # an upper surface, then a lower surface from the leading edge: open at the leading edge
    ("0.0 0.01\n0.02 0.04\n0.3 0.08\n0.7 0.05\n1.0 0.0\n0.7 -0.03\n0.3 -0.05\n0.02 -0.03\n0.0 -0.01\n",
     "open at its leading edge"),
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


# --------------------------------------------------------------------------- the ways users write sections
REF = naca("2412", 120)


def _rows(c, fmt="{:.7f} {:.7f}"):
    return [fmt.format(x, y) for x, y in c]


def _same_section(foil, ref=REF, atol=2e-5):
    """The same closed contour, whatever its starting point and density (by distance to the reference)."""
    from projects.airfoil_flow.panel import signed_distance

    d = signed_distance(foil.coords, ref)
    assert np.abs(d).max() < atol, np.abs(d).max()
    assert np.hypot(*(foil.coords[0] - foil.coords[-1])) < 1e-9
    assert foil.coords[:, 0].min() == pytest.approx(0.0, abs=1e-6)
    assert foil.coords[:, 0].max() == pytest.approx(1.0, abs=1e-6)


def _lednicer(c, name="LEDNICER"):
    ile = int(np.argmin(c[:, 0]))
    upper, lower = c[: ile + 1][::-1], c[ile:]
    return [name, f"{len(upper)}.  {len(lower)}.", ""] + _rows(upper) + [""] + _rows(lower)


@pytest.mark.parametrize("kind", ["selig", "no_name", "bom_crlf_tabs", "trailing_notes", "lednicer", "lednicer_no_name",
                                  "lednicer_bad_counts", "percent", "translated", "le_start", "clockwise",
                                  "duplicates", "commas", "header_numbers"])
def test_every_common_way_of_writing_a_section(tmp_path, kind):
    c = REF.coords
    if kind == "selig":
        text = "\n".join(["NACA 2412", *_rows(c)])
    elif kind == "no_name":
        text = "\n".join(_rows(c))
    elif kind == "bom_crlf_tabs":
        text = "\ufeff" + "\r\n".join(["NACA 2412", *_rows(c, "{:.7f}\t{:.7f}")]) + "\r\n"
    elif kind == "trailing_notes":
        text = "\n".join(["NACA 2412", *_rows(c), "", "Digitised by J. Smith, 1994",
                          "http://m-selig.ae.illinois.edu/ads/coord_database.html", "Re = 100000 0.5"])
    elif kind == "lednicer":
        text = "\n".join(_lednicer(c))
    elif kind == "lednicer_no_name":
        text = "\n".join(_lednicer(c)[1:])
    elif kind == "lednicer_bad_counts":
        text = "\n".join(["LEDNICER", "61. 62.", ""] + _lednicer(c)[3:])
    elif kind == "percent":  # percent of chord: the first pair is 100 0, two whole numbers but not counts
        text = "\n".join(["NACA 2412 (percent)", *_rows(100 * c, "{:.5f} {:.5f}")])
    elif kind == "translated":
        text = "\n".join(["MOVED", *_rows(c * 250.0 + [40.0, -12.0])])
    elif kind == "le_start":
        ile = int(np.argmin(c[:, 0]))
        loop = np.vstack([c[ile:-1], c[: ile + 1]])
        text = "\n".join(["LE START", *_rows(loop)])
    elif kind == "clockwise":
        text = "\n".join(["CW", *_rows(c[::-1])])
    elif kind == "duplicates":
        ile = int(np.argmin(c[:, 0]))
        dup = np.vstack([c[: ile + 1], c[ile:ile + 1], c[ile:], c[-1:]])
        text = "\n".join(["DUP", *_rows(dup)])
    elif kind == "commas":
        text = "\n".join(["CSV", *_rows(c, "{:.7f}, {:.7f}")])
    elif kind == "header_numbers":  # a plot-range line before the coordinates (TASOPT files)
        text = "\n".join(["TASOPT-LIKE", "  -2.0  3.0  -2.5  3.5", *_rows(c)])
    path = tmp_path / "foil.dat"
    path.write_bytes(text.encode("utf-8"))
    foil = read_dat(path)
    _same_section(foil)
    assert foil.coords[1, 1] > 0  # counter-clockwise from the trailing edge: upper surface first
    if kind == "trailing_notes":
        assert any("ignored 3 line(s)" in n for n in foil.notes)
    if kind.startswith("lednicer"):
        assert any(n.startswith("Lednicer") for n in foil.notes)
    if kind == "lednicer_bad_counts":
        assert any("announces 61 + 62" in n for n in foil.notes)
    if kind == "percent":
        assert not any("Lednicer" in n for n in foil.notes) and any("chord 100" in n for n in foil.notes)
    if kind == "le_start":
        assert any(n.startswith("reordered") for n in foil.notes)
    assert not any("derotated" in n for n in foil.notes)


@pytest.mark.parametrize("pitch", [-7.0, 3.0, 12.0])
def test_a_pitched_section_is_derotated_to_its_chord_line(tmp_path, pitch):
    phi = np.radians(pitch)
    rot = np.array([[np.cos(phi), -np.sin(phi)], [np.sin(phi), np.cos(phi)]])
    c = (REF.coords - [0.25, 0.0]) @ rot.T * 3.0 + [10.0, 5.0]   # pitched about c/4, scaled, moved
    path = tmp_path / "pitched.dat"
    path.write_text("\n".join(["PITCHED", *_rows(c)]))
    foil = read_dat(path)
    _same_section(foil, atol=1e-5)
    note = next(n for n in foil.notes if "derotated" in n)
    assert f"{pitch:+.3f}" in note and "true chord 3" in note


def test_open_trailing_edge_and_flatback(tmp_path):
    c = REF.coords.copy()
    n = len(c) // 2
    c[:n, 1] += 0.01 * c[:n, 0]
    c[n + 1:, 1] -= 0.01 * c[n + 1:, 0]
    path = tmp_path / "blunt.dat"
    path.write_text("\n".join(["BLUNT", *_rows(c)]))
    foil = read_dat(path)
    assert np.hypot(*(foil.coords[0] - foil.coords[-1])) == pytest.approx(0.02, abs=2e-3)
    out = repanel(foil, 80)
    assert np.array_equal(out.coords[0], out.coords[-1])


def test_the_shared_cases_kinds_through_the_cli(tmp_path, capsys):
    """BOM without a name line, and a section listed from the leading edge: C_L as NACA 2412."""
    from shared.cli import main as cli

    c = naca("2412", 160).coords
    (tmp_path / "bom.dat").write_bytes(("\ufeff" + "\n".join(_rows(c))).encode())
    ile = int(np.argmin(c[:, 0]))
    (tmp_path / "le.dat").write_text("\n".join(["LE START", *_rows(np.vstack([c[ile:-1], c[: ile + 1]]))]))
    for name in ("bom.dat", "le.dat"):
        assert cli(["airfoil_flow", "solve", "--dat", str(tmp_path / name), "--alpha", "5", "--polar", "5", "5",
                    "1"]) == 0
        out = capsys.readouterr().out
        assert "C_L = 0.86" in out
