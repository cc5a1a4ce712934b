"""Reference polar readers: XFoil's file, CSV, JSON and NASA-style tables, and bad files."""

import json

import pytest

from projects.airfoil_flow.polars import find_reference_polars, naca_designation, read_polar, select_re
from shared.io import DataError

XFOIL = """
       XFOIL         Version 6.99

 Calculated polar for: NACA 2412

 Mach =   0.000     Re =     3.000 e 6     Ncrit =   9.000

  alpha    CL        CD       CDp       CM     Top_Xtr  Bot_Xtr
 ------ -------- --------- --------- -------- -------- --------
  -2.000   0.0142   0.00550   0.00085  -0.0530   0.7180   0.3580
   0.000   0.2514   0.00540   0.00080  -0.0540   0.6400   0.4970
   2.000   0.4861   0.00560   0.00090  -0.0550   0.5500   0.6100
"""


def test_xfoil_file(tmp_path):
    (tmp_path / "naca2412.pol").write_text(XFOIL)
    frame = read_polar(tmp_path / "naca2412.pol")
    assert list(frame["alpha"]) == [-2.0, 0.0, 2.0] and frame["re"].iloc[0] == 3e6
    assert frame["cl"].iloc[1] == pytest.approx(0.2514)


def test_csv_json_and_table(tmp_path):
    (tmp_path / "a.csv").write_text("alpha,CL,CD,CM,Re\n0,0.0,0.01,0,1e5\n4,0.4,0.012,0,1e5\n4,0.45,0.01,0,1e6\n")
    (tmp_path / "b.json").write_text(json.dumps({"alpha": [0, 5], "CL": [0.0, 0.5], "Re": [1e6, 1e6]}))
    (tmp_path / "c.dat").write_text("# Ladson\n# alpha cl cd\n -4.04 -0.4417 0.00871\n 2.05 0.2125 0.00816\n")
    (tmp_path / "d.csv").write_text("alpha_deg,cl,cd\n-4.04,-0.4417,0.0087\n")
    a = read_polar(tmp_path / "a.csv")
    high, re_used = select_re(a, 6e6)
    assert re_used == 1e6 and len(high) == 1
    assert list(read_polar(tmp_path / "b.json")["cl"]) == [0.0, 0.5]
    assert read_polar(tmp_path / "c.dat")["cd"].iloc[0] == pytest.approx(0.00871)
    assert read_polar(tmp_path / "d.csv")["alpha"].iloc[0] == -4.04


@pytest.mark.parametrize("name, text, match", [
    ("x.csv", "angle,lift\n1,2\n", "no column"),
    ("x.csv", "alpha,cl\n1,abc\n", "non-numeric"),
    ("x.dat", "1 2\n3\n", "same number"),
    ("x.json", "{not json", "not valid JSON"),
    ("x.pol", "alpha CL CD\n------\n1 2\n", "2 values for 3 columns"),
    ("x.csv", "", "empty"),
])
def test_bad_polar_files(tmp_path, name, text, match):
    (tmp_path / name).write_text(text)
    with pytest.raises(DataError, match=match):
        read_polar(tmp_path / name)


def test_reference_folder_layout(tmp_path):
    (tmp_path / "measured").mkdir()
    (tmp_path / "measured" / "NACA0012_6e6_Ladson.csv").write_text("alpha_deg,cl\n0,0\n5,0.55\n")
    found = find_reference_polars(tmp_path)
    assert found[0]["label"] == "measured" and found[0]["airfoil"] == "0012"
    assert naca_designation("naca4412-xfoil") == "4412" and naca_designation("clarky") is None
    assert find_reference_polars(tmp_path / "missing") == []
