"""The data stage's generator, the NetCDF round trip, the splits, and every bad-input error."""

import json

import numpy as np
import pytest

from projects.airfoil_flow import data
from shared.config import ConfigError
from shared.io import DataError


def test_netcdf_round_trip_with_attributes(prepared):
    import xarray as xr

    ds = xr.open_dataset(prepared / "fields.nc")
    assert ds["u"].dims == ("sample", "y", "x") and ds.sizes["sample"] == 22
    assert set(ds.data_vars) >= {"u", "v", "cp", "sdf", "mask", "m", "p", "t", "alpha", "cl", "cm"}
    assert ds.attrs["source"] == "naca" and ds.attrs["uiuc_source"] == "karman_trefftz"
    assert ds["shape_params"].shape == (22, 8)
    assert ds["alpha"].attrs["units"] == "degree"
    ds.close()
    fields = data.load_fields(prepared / "fields.nc")
    assert fields.inputs([0, 1]).shape == (2, 16, 16, 4) and fields.targets([0]).shape == (1, 16, 16, 4)
    assert sorted(set(fields.meta["family"])) == ["kta", "ktb", "ktc", "naca4"]
    assert np.all(fields.u[fields.mask] == 0)


def test_splits_are_disjoint_and_follow_the_rules(prepared):
    fields = data.load_fields(prepared / "fields.nc")
    splits = data.load_splits(prepared / "splits.json", len(fields))
    r = splits["random"]
    assert not set(r["train"]) & set(r["test"]) and not set(r["train"]) & set(r["val"])
    ext = splits["alpha_extrapolation"]
    assert np.all((fields.meta["alpha"][ext["train"]] >= -4) & (fields.meta["alpha"][ext["train"]] <= 10))
    assert np.all((fields.meta["alpha"][ext["test"]] < -4) | (fields.meta["alpha"][ext["test"]] > 10))
    shape = splits["shape_extrapolation"]
    assert fields.meta["t"][shape["test"]].min() > fields.meta["t"][shape["train"]].max()
    fam = splits["uiuc_families"]
    test_families = set(fields.meta["family"][fam["test"]])
    assert len(test_families) == 1 and test_families <= {"kta", "ktb", "ktc"}
    assert not test_families & set(fields.meta["family"][fam["train"]])
    assert not test_families & set(fields.meta["family"][fam["val"]])
    assert set(fields.meta["family"][fam["val_real"]]) <= {"kta", "ktb", "ktc"} - test_families
    assert set(r["test"]) <= set(np.flatnonzero(fields.meta["family"] == "naca4"))


def test_nan_field_is_reported(prepared, tmp_path):
    import xarray as xr

    ds = xr.open_dataset(prepared / "fields.nc").load()
    ds["cp"][2, 3, 4] = np.nan
    ds.to_netcdf(tmp_path / "nan.nc", engine="h5netcdf")
    with pytest.raises(DataError, match="'cp'.*NaN"):
        data.load_fields(tmp_path / "nan.nc")


def test_missing_variable_wrong_shape_and_corrupt_file(prepared, tmp_path):
    import xarray as xr

    ds = xr.open_dataset(prepared / "fields.nc").load()
    ds.drop_vars("sdf").to_netcdf(tmp_path / "nosdf.nc", engine="h5netcdf")
    with pytest.raises(DataError, match="lacks variable"):
        data.load_fields(tmp_path / "nosdf.nc")
    bad = ds.copy()
    bad["alpha"] = ("sample", np.array(["x"] * ds.sizes["sample"]))
    bad.to_netcdf(tmp_path / "dtype.nc", engine="h5netcdf")
    with pytest.raises(DataError, match="'alpha'.*dtype"):
        data.load_fields(tmp_path / "dtype.nc")
    (tmp_path / "cut.nc").write_bytes((prepared / "fields.nc").read_bytes()[:500])
    with pytest.raises(DataError, match="not a readable NetCDF"):
        data.load_fields(tmp_path / "cut.nc")
    with pytest.raises(DataError, match="file not found"):
        data.load_fields(tmp_path / "missing.nc")


def test_splits_from_another_run(prepared, tmp_path):
    (tmp_path / "splits.json").write_text(json.dumps({"random": {"train": [0, 999], "val": [], "test": []}}))
    with pytest.raises(DataError, match="different runs"):
        data.load_splits(tmp_path / "splits.json", 22)


def test_bad_params(tiny_params):
    path = tiny_params("airfoil_flow", {"data": {"n_sampels": 10}})
    with pytest.raises(ConfigError) as err:
        data.main(["--params", str(path), "--out", "x"])
    assert "'n_sampels'" in str(err.value) and str(path) in str(err.value)
    path = tiny_params("airfoil_flow", {"data": {"alpha_range": [-10.0, 45.0]}})
    with pytest.raises(ConfigError, match="alpha_range"):
        data.main(["--params", str(path), "--out", "x"])
    path = tiny_params("airfoil_flow", {"data": {"uiuc": {"n_shapes": 1}}})
    with pytest.raises(ConfigError, match="n_shapes"):
        data.main(["--params", str(path), "--out", "x"])


def test_uiuc_folder_as_source(tmp_path, monkeypatch):
    from projects.airfoil_flow.geometry import naca

    monkeypatch.setenv("CAPSTONE_ROOT", str(tmp_path))
    folder = tmp_path / "data" / "airfoil_flow" / "external" / "uiuc"
    folder.mkdir(parents=True)
    foil = naca("4415", 60)
    (folder / "sd9999.dat").write_text("MY FOIL\n" + "\n".join(f"{x} {y}" for x, y in foil.coords))
    (folder / "broken.dat").write_text("NOT A FOIL\n1 2 3\n")
    source, foils = data.uiuc_airfoils(data.UIUCConfig(source="auto"), 40)
    assert source == "uiuc_dir" and len(foils) == 1  # the broken file is skipped
    assert foils[0].name == "sd9999" and foils[0].family == "sd" and foils[0].n_panels == 40
    for f in folder.iterdir():
        f.unlink()
    with pytest.raises(DataError, match="holds no .dat"):
        data.uiuc_airfoils(data.UIUCConfig(source="uiuc_dir"), 40)
