"""Property-based fuzzing of the UIUC/Selig/Lednicer ``.dat`` reader (issue 17 §C).

Property: :func:`read_dat` (then :func:`repanel`, as ``capstone airfoil_flow solve --dat`` does) and
:func:`naca` (``--naca``) return a valid :class:`Airfoil` or raise
:class:`~shared.io.DataError` (``GeometryError`` is one); any other exception is a crash.
Structure-aware: valid Selig and Lednicer files, mutated (lines dropped, duplicated, swapped,
truncated, values replaced by NaN/inf/huge/text, BOMs, separators, encodings), plus raw bytes.
"""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from projects.airfoil_flow.geometry import naca, naca4, read_dat, repanel
from shared.io import DataError

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
_COUNT = itertools.count()


def _selig(n: int = 40) -> list[str]:
    foil = naca4(0.02, 0.4, 0.12, n_panels=n)
    return ["NACA 2412"] + [f"{x:.6f} {y:.6f}" for x, y in foil.coords]


def _lednicer(n: int = 40) -> list[str]:
    c = naca4(0.04, 0.4, 0.15, n_panels=n).coords
    le = int(np.argmin(c[:, 0]))
    upper, lower = c[:le + 1][::-1], c[le:]
    return (["NACA 4415 (Lednicer)", f"{len(upper)}. {len(lower)}.", ""]
            + [f"{x:.6f} {y:.6f}" for x, y in upper] + [""] + [f"{x:.6f} {y:.6f}" for x, y in lower])


_TOKENS = st.sampled_from(["nan", "inf", "-inf", "1e308", "1e-320", "-0", "0", "1", "2", "100", "1.0d0", "abc",
                           "1,5", "", "\x00", "é", "1e999", "0x10", "1 2 3", "--1", ".", "+.5e-3", "3", "1e5"])


@st.composite
def _mutated(draw) -> bytes:
    lines = draw(st.sampled_from([_selig(), _lednicer(), _selig(8), _lednicer(8)]))
    lines = list(lines)
    for _ in range(draw(st.integers(0, 4))):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["drop", "dup", "swap", "token", "truncate", "junk", "cols", "scale"]))
        if op == "drop":
            del lines[i]
        elif op == "dup":
            lines.insert(i, lines[i])
        elif op == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "token":
            parts = lines[i].split() or [""]
            parts[draw(st.integers(0, len(parts) - 1))] = draw(_TOKENS)
            lines[i] = " ".join(parts)
        elif op == "truncate":
            lines = lines[:i]
        elif op == "junk":
            lines.insert(i, draw(st.text(max_size=30)))
        elif op == "cols":  # swap x and y throughout
            lines = [" ".join(ln.split()[::-1]) for ln in lines]
        else:
            f = draw(st.sampled_from([1e-300, 1e300, -1.0, 0.0, 100.0]))
            out = []
            for ln in lines:
                try:
                    out.append(" ".join(f"{float(v) * f:.17g}" for v in ln.split()))
                except ValueError:
                    out.append(ln)
            lines = out
    sep = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    text = sep.join(lines)
    text = text.replace(" ", draw(st.sampled_from([" ", "\t", ",", ";", "  "])))
    bom = draw(st.sampled_from(["", "\ufeff"]))
    encoding = draw(st.sampled_from(["utf-8", "latin-1", "utf-16", "utf-32"]))
    return (bom + text).encode(encoding, errors="replace")


def _check(data: bytes, tmp_path_factory) -> None:
    path = tmp_path_factory.mktemp("dat") / f"foil{next(_COUNT)}.dat"
    path.write_bytes(data)
    try:
        foil = read_dat(path)
        assert foil.coords.ndim == 2 and foil.coords.shape[1] == 2 and np.all(np.isfinite(foil.coords))
        panels = repanel(foil, 40)
    except DataError:
        return
    assert panels.coords.shape == (41, 2) and np.all(np.isfinite(panels.coords))


@SETTINGS
@given(data=_mutated())
def test_read_dat_mutated_files(data, tmp_path_factory):
    _check(data, tmp_path_factory)


@SETTINGS
@given(data=st.binary(max_size=400) | st.text(max_size=200).map(lambda s: s.encode("utf-8")))
@example(data=b"")
@example(data=b"\xff\xfe\x00\x00")
def test_read_dat_random_bytes(data, tmp_path_factory):
    _check(data, tmp_path_factory)


@settings(SETTINGS, max_examples=30)
@given(code=st.sampled_from(["2412", "NACA 0012", "naca0012", "0000", "9999", "12", "24120", "٢٤١٢", "２４１２", "²412",
                             "NACA", "", " 2412 ", "2412\n", "-412", "4.12"]) | st.text(max_size=8))
def test_naca_designations(code):
    try:
        foil = naca(code, 40)
    except DataError:
        return
    assert foil.coords.shape == (41, 2) and np.all(np.isfinite(foil.coords))
