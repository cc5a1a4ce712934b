"""Readers and writers of CT volumes on tiny fixtures; each bad input is one DataError line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from projects.rock_ct import volumes as V
from shared.io import DataError


@pytest.fixture
def cube():
    return np.arange(4 * 5 * 6, dtype=np.uint16).reshape(4, 5, 6) * 7


def test_tiff_stack_folder_reads_lazily_in_natural_order(tmp_path, cube):
    import tifffile

    folder = tmp_path / "stack"
    folder.mkdir()
    for z in range(cube.shape[0]):   # s0 .. s3, written with names that sort wrongly as text at s10
        tifffile.imwrite(folder / f"s{z * 5}.tif", cube[z])
    vol = V.open_volume(folder)
    assert vol.shape == cube.shape and vol.dtype == np.uint16
    np.testing.assert_array_equal(vol.read(), cube)
    np.testing.assert_array_equal(vol.array[1:3, 2:, ::2], cube[1:3, 2:, ::2])
    np.testing.assert_array_equal(vol.array[2], cube[2])


def test_multipage_tiff_and_voxel_size_round_trip(tmp_path, cube):
    path = tmp_path / "out.tif"
    with V.create_volume(path, cube.shape, cube.dtype, voxel_size_um=2.5, format="tiff") as out:
        for z in range(cube.shape[0]):
            out[z] = cube[z]
    vol = V.open_volume(path)
    assert vol.voxel_size_um == pytest.approx(2.5)
    np.testing.assert_array_equal(vol.read(), cube)


def test_compressed_multipage_tiff(tmp_path, cube):
    import tifffile

    path = tmp_path / "zlib.tiff"
    tifffile.imwrite(path, cube, compression="zlib", photometric="minisblack")
    np.testing.assert_array_equal(V.open_volume(path).array[1:3], cube[1:3])


@pytest.mark.parametrize("order", ["little", "big"])
def test_raw_with_header_offset_and_byte_order(tmp_path, cube, order):
    path = tmp_path / "vol.raw"
    dt = cube.dtype.newbyteorder("<" if order == "little" else ">")
    path.write_bytes(b"H" * 64 + cube.astype(dt).tobytes())
    spec = {"dtype": "uint16", "shape": list(cube.shape), "byte_order": order, "offset": 64, "voxel_size_um": 3.0}
    vol = V.open_volume(path, raw=spec)
    np.testing.assert_array_equal(vol.read(), cube)
    assert vol.voxel_size_um == 3.0
    # the same layout from a JSON sidecar
    (tmp_path / "vol.raw.json").write_text(json.dumps(spec))
    np.testing.assert_array_equal(V.open_volume(path).read(), cube)


def test_raw_from_metaimage_header(tmp_path, cube):
    (tmp_path / "vol.raw").write_bytes(cube.astype(">u2").tobytes())
    (tmp_path / "vol.mhd").write_text("ObjectType = Image\nNDims = 3\nDimSize = 6 5 4\nElementType = MET_USHORT\n"
                                      "BinaryDataByteOrderMSB = True\nElementSpacing = 0.005 0.005 0.005\n"
                                      "ElementDataFile = vol.raw\n")
    for path in (tmp_path / "vol.mhd", tmp_path / "vol.raw"):
        vol = V.open_volume(path)
        np.testing.assert_array_equal(vol.read(), cube)
        assert vol.voxel_size_um == pytest.approx(5.0)


def test_hdf5_dataset_and_voxel_size(tmp_path, cube):
    import h5py

    path = tmp_path / "v.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("scan/gray", data=cube, chunks=(2, 5, 6)).attrs["element_size_um"] = [4.0, 4.0, 4.0]
        f.create_dataset("meta", data=np.zeros(3))
    vol = V.open_volume(path)
    assert vol.voxel_size_um == 4.0
    np.testing.assert_array_equal(vol.array[1:2], cube[1:2])
    with pytest.raises(DataError, match="no dataset"):
        V.open_volume(path, dataset="nope")


def test_zarr_group_round_trip_with_xarray_coordinates(tmp_path, cube):
    path = tmp_path / "p.zarr"
    labels = (cube % 3).astype(np.uint8)
    V.write_arrays(path, {"image": cube, "labels": labels}, voxel_size_um=5.0, attrs={"seed": 1}, chunks=2)
    vol = V.open_volume(path)
    lab = V.open_labels(path, like=vol, dataset="labels")
    np.testing.assert_array_equal(vol.read(), cube)
    np.testing.assert_array_equal(lab.read(), labels)
    assert vol.voxel_size_um == 5.0
    da = V.as_xarray(vol, (slice(1, 3), slice(None), slice(0, 2)))
    np.testing.assert_allclose(da.coords["z"].values, [7.5, 12.5])
    import xarray as xr

    ds = xr.open_zarr(path, consolidated=False)
    np.testing.assert_allclose(ds["x"].values, (np.arange(6) + 0.5) * 5.0)
    np.testing.assert_array_equal(ds["image"].values, cube)


def test_zarr_writer_is_atomic(tmp_path, cube):
    path = tmp_path / "seg.zarr"
    with pytest.raises(RuntimeError), V.create_volume(path, cube.shape, np.uint8, chunks=2,
                                                      voxel_size_um=1.0) as out:
        out[0] = 1
        raise RuntimeError("killed")
    assert not path.exists() and not list(tmp_path.iterdir())
    with V.create_volume(path, cube.shape, np.uint8, chunks=2, voxel_size_um=1.0) as out:
        out[:] = 2
    vol = V.open_volume(path)
    assert vol.source.endswith(":labels") and int(vol.read().sum()) == 2 * cube.size


def test_bad_inputs_are_one_line_errors(tmp_path, cube):
    raw = tmp_path / "bad.raw"
    raw.write_bytes(cube.tobytes()[:-2])
    with pytest.raises(DataError, match=r"has 238 bytes, but shape \(4, 5, 6\) .* needs 240") as err:
        V.open_volume(raw, raw={"dtype": "uint16", "shape": [4, 5, 6]})
    assert "\n" not in str(err.value)
    with pytest.raises(DataError, match="unknown dtype 'uint12'"):
        V.open_volume(raw, raw={"dtype": "uint12", "shape": [4, 5, 6]})
    with pytest.raises(DataError, match="needs its layout"):
        V.open_volume(raw)
    floats = tmp_path / "f.raw"
    data = cube.astype(np.float32)
    data[2, 1, 1] = np.nan
    floats.write_bytes(data.tobytes())
    with pytest.raises(DataError, match=r"1 NaN .* z=2"):
        V.open_volume(floats, raw={"dtype": "float32", "shape": [4, 5, 6]})
    image = tmp_path / "i.zarr"
    V.write_arrays(image, {"image": cube}, voxel_size_um=1.0)
    other = tmp_path / "l.zarr"
    V.write_arrays(other, {"labels": np.zeros((4, 5, 5), np.uint8)}, voxel_size_um=1.0)
    with pytest.raises(DataError, match=r"label volume .* has shape \(4, 5, 5\), the image .* has \(4, 5, 6\)"):
        V.open_labels(other, like=V.open_volume(image))
    with pytest.raises(DataError, match="volume not found"):
        V.open_volume(tmp_path / "missing.raw")
    (tmp_path / "x.png").write_bytes(b"x")
    with pytest.raises(DataError, match="unknown volume format"):
        V.open_volume(tmp_path / "x.png")
