"""The data stage's generator, the NetCDF round trip, the splits, and every bad-input error."""

import json

import numpy as np
import pytest

from projects.airfoil_flow import data
from projects.airfoil_flow.panel import Grid
from shared.config import ConfigError
from shared.io import DataError


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    cfg = data.DataConfig(n_samples=16, n_panels=40, grid=Grid(16, 16), workers=1,
                          ood=data.OODConfig(source="karman_trefftz", n_karman_trefftz=2, alphas=(0.0, 4.0)))
    out = tmp_path_factory.mktemp("prepared")
    data.generate(cfg, out)
    return out


def test_netcdf_round_trip_with_attributes(prepared):
    import xarray as xr

    ds = xr.open_dataset(prepared / "fields.nc")
    assert ds["u"].dims == ("sample", "y", "x") and ds.sizes["sample"] == 20
    assert set(ds.data_vars) >= {"u", "v", "cp", "sdf", "mask", "m", "p", "t", "alpha", "cl", "cm"}
    assert ds.attrs["source"] == "naca" and ds.attrs["ood_source"] == "karman_trefftz"
    assert ds["alpha"].attrs["units"] == "degree"
    ds.close()
    fields = data.load_fields(prepared / "fields.nc")
    assert fields.inputs([0, 1]).shape == (2, 16, 16, 4) and fields.targets([0]).shape == (1, 16, 16, 4)
    assert list(fields.meta["family"]).count("karman_trefftz") == 4
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
    assert set(fields.meta["family"][splits["ood_shapes"]["test"]]) == {"karman_trefftz"}


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
        data.load_splits(tmp_path / "splits.json", 20)


def test_bad_params(tiny_params):
    path = tiny_params("airfoil_flow", {"data": {"n_sampels": 10}})
    with pytest.raises(ConfigError) as err:
        data.main(["--params", str(path), "--out", "x"])
    assert "'n_sampels'" in str(err.value) and str(path) in str(err.value)
    path = tiny_params("airfoil_flow", {"data": {"alpha_range": [-10.0, 45.0]}})
    with pytest.raises(ConfigError, match="alpha_range"):
        data.main(["--params", str(path), "--out", "x"])
    path = tiny_params("airfoil_flow", {"data": {"ood": {"alphas": [50.0]}}})
    with pytest.raises(ConfigError, match="out of range"):
        data.main(["--params", str(path), "--out", "x"])


def test_uiuc_folder_as_ood_source(tmp_path, monkeypatch):
    from projects.airfoil_flow.geometry import naca

    monkeypatch.setenv("CAPSTONE_ROOT", str(tmp_path))
    folder = tmp_path / "data" / "airfoil_flow" / "external" / "uiuc"
    folder.mkdir(parents=True)
    foil = naca("4415", 60)
    (folder / "myfoil.dat").write_text("MY FOIL\n" + "\n".join(f"{x} {y}" for x, y in foil.coords))
    source, foils = data.ood_airfoils(data.OODConfig(source="auto"), 40)
    assert source == "uiuc_dir" and foils[0].name == "MY FOIL" and foils[0].n_panels == 40
    (folder / "myfoil.dat").unlink()
    with pytest.raises(DataError, match="holds no .dat"):
        data.ood_airfoils(data.OODConfig(source="uiuc_dir"), 40)
