"""AirfRANS reader on a tiny .vtu written by meshio (an O-mesh around a NACA 0012)."""

import json
import zipfile

import numpy as np
import pytest

from projects.airfoil_flow import airfrans
from projects.airfoil_flow.data import AirfRANSConfig
from projects.airfoil_flow.geometry import naca
from projects.airfoil_flow.panel import Grid
from shared.io import DataError

NAME = "airFoil2D_SST_50.0_5.0_0.0_0.0_12.0"
U_INF = 50.0


def linear_u(x, y):
    return np.column_stack([U_INF * (1 + 0.1 * x), U_INF * (0.05 + 0.02 * y), np.zeros_like(x)])


def write_vtu(path, with_p=True):
    import meshio

    wall = naca("0012", 40).coords[:-1]  # 40 distinct wall nodes
    centre = np.array([0.5, 0.0])
    side = np.sign(np.round(wall[:, 1], 9))[:, None] * np.array([0.0, 0.3])
    rings = [centre + (wall - centre) * s + (s - 1) * side for s in (1.0, 1.3, 2.0, 3.0, 4.5, 7.0)]
    pts = np.concatenate(rings)
    n = len(wall)
    quads = [[r * n + i, r * n + (i + 1) % n, (r + 1) * n + (i + 1) % n, (r + 1) * n + i]
             for r in range(len(rings) - 1) for i in range(n)]
    U = linear_u(pts[:, 0], pts[:, 1])
    U[:n] = 0.0  # no-slip wall
    point_data = {"U": U, "nut": np.zeros(len(pts)), "implicit_distance": np.zeros(len(pts))}
    if with_p:
        point_data["p"] = 0.5 * U_INF**2 * (0.1 * pts[:, 0] - 0.2 * pts[:, 1])
    mesh = meshio.Mesh(np.column_stack([pts, np.zeros(len(pts))]), [("quad", np.array(quads))],
                       point_data=point_data)
    mesh.write(path)
    return pts


def test_parse_name():
    info = airfrans.parse_name(NAME)
    assert info["u_inf"] == 50.0 and info["alpha"] == 5.0 and info["series"] == "naca4"
    assert airfrans.parse_name("airFoil2D_SST_31.6_-2.5_2.0_3.0_4.0_12.0")["series"] == "naca5"
    with pytest.raises(DataError, match="not an AirfRANS simulation name"):
        airfrans.parse_name("cylinder_01")


def test_read_vtu_wall_and_interpolation(tmp_path):
    write_vtu(tmp_path / "sim.vtu")
    sim = airfrans.read_vtu(tmp_path / "sim.vtu")
    wall = airfrans.wall_contour(sim, "sim")
    assert len(wall) == 41 and np.allclose(wall[0], [1.0, 0.0])
    grid = Grid(24, 24, (-0.4, 1.4), (-0.6, 0.6))
    case = airfrans.load_case(tmp_path / "sim.vtu", NAME, grid, n_panels=40)
    assert case["u"].shape == (24, 24) and case["mask"].any()
    # linear fields are reproduced exactly away from the wall's cells
    xx, yy = np.meshgrid(grid.x, grid.y)
    far = case["sdf"] > 0.35
    np.testing.assert_allclose(case["u"][far], (1 + 0.1 * xx[far]), atol=1e-9)
    np.testing.assert_allclose(case["cp"][far], 0.1 * xx[far] - 0.2 * yy[far], atol=1e-9)
    assert case["alpha"] == 5.0 and case["t"] == pytest.approx(0.12, abs=0.01)


def test_bad_vtu_files(tmp_path):
    write_vtu(tmp_path / "nop.vtu", with_p=False)
    with pytest.raises(DataError, match="lacks point field"):
        airfrans.read_vtu(tmp_path / "nop.vtu")
    write_vtu(tmp_path / "ok.vtu")
    (tmp_path / "cut.vtu").write_bytes((tmp_path / "ok.vtu").read_bytes()[:300])
    with pytest.raises(DataError, match="not a readable VTU"):
        airfrans.read_vtu(tmp_path / "cut.vtu")


def test_load_from_a_zip_through_fetch_and_offline_message(tmp_path, monkeypatch):
    monkeypatch.setenv("CAPSTONE_ROOT", str(tmp_path))
    write_vtu(tmp_path / "sim.vtu")
    archive = tmp_path / "Dataset.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("Dataset/manifest.json", json.dumps({"full_train": [NAME], "full_test": []}))
        zf.write(tmp_path / "sim.vtu", f"Dataset/{NAME}/{NAME}_internal.vtu")
    cfg = AirfRANSConfig(url=f"file://{archive}", sha256=None, max_samples=None)
    cases = airfrans.load_airfrans(cfg, Grid(16, 16, (-0.4, 1.4), (-0.6, 0.6)), n_panels=40)
    assert len(cases) == 1 and cases[0]["family"] == "airfrans"
    offline = AirfRANSConfig(url="file:///nonexistent/Dataset.zip")
    (tmp_path / "data" / "airfoil_flow" / "raw" / "Dataset.zip").unlink()
    with pytest.raises(DataError) as err:
        airfrans.locate(offline)
    message = str(err.value)
    assert "Dataset.zip" in message and "external" in message and "\n" not in message
    bad = AirfRANSConfig(url=f"file://{archive}", sha256="0" * 64)
    with pytest.raises(DataError, match="sha256"):
        airfrans.locate(bad)
