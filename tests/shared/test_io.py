import numpy as np
import pytest

from shared.io import (
    DataError,
    atomic_dir,
    atomic_write,
    check_array,
    load_npz,
    read_fits,
    read_image,
    read_json,
    read_netcdf,
    read_tiff,
    save_npz,
    write_csv,
    write_fits,
    write_image,
    write_json,
    write_netcdf,
    write_tiff,
)


def test_atomic_write_leaves_no_partial_file(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_write(target) as fh:
        fh.write("half of the new")
        raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_atomic_dir_replaces_whole_folder_or_nothing(tmp_path):
    target = tmp_path / "d"
    with atomic_dir(target) as tmp:
        (tmp / "a").write_text("1")
    with pytest.raises(RuntimeError), atomic_dir(target) as tmp:
        (tmp / "b").write_text("2")
        raise RuntimeError
    assert sorted(p.name for p in target.iterdir()) == ["a"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d"]


def test_json_nan_becomes_null_and_corrupt_json_is_clear(tmp_path):
    path = write_json(tmp_path / "m.json", {"a": float("nan"), "b": np.float32(1.5), "c": np.arange(2)})
    assert read_json(path) == {"a": None, "b": 1.5, "c": [0, 1]}
    path.write_text('{"a": ')
    with pytest.raises(DataError, match="not valid JSON"):
        read_json(path)
    with pytest.raises(DataError, match="not found"):
        read_json(tmp_path / "missing.json")


def test_npz_round_trip_and_errors(tmp_path):
    path = save_npz(tmp_path / "a.npz", x=np.arange(3.0))
    assert load_npz(path, required=["x"])["x"].tolist() == [0, 1, 2]
    with pytest.raises(DataError, match="lacks"):
        load_npz(path, required=["y"])
    path.write_bytes(path.read_bytes()[:20])
    with pytest.raises(DataError, match="corrupt or truncated"):
        load_npz(path)


def test_check_array():
    assert check_array([[1.0, 2.0]], "x", shape=(None, 2)).shape == (1, 2)
    with pytest.raises(DataError, match="shape"):
        check_array(np.zeros((2, 3)), "x", shape=(None, 2))
    with pytest.raises(DataError, match="NaN"):
        check_array([1.0, np.nan], "x")
    with pytest.raises(DataError, match="dtype"):
        check_array(np.array(["a"]), "x", dtype="f")
    with pytest.raises(DataError, match="dimensions"):
        check_array(np.zeros(3), "x", ndim=2)


@pytest.mark.parametrize("suffix, dtype, shape", [(".png", np.uint8, (5, 6, 3)), (".png", np.uint16, (5, 6)),
                                                  (".tif", np.uint16, (5, 6, 4)), (".jpg", np.uint8, (8, 8, 3))])
def test_image_round_trip(tmp_path, suffix, dtype, shape):
    img = (np.arange(np.prod(shape)) % 200).astype(dtype).reshape(shape)
    path = write_image(tmp_path / f"i{suffix}", img)
    back = read_image(path)
    assert back.shape == shape and back.dtype == dtype
    if suffix != ".jpg":
        np.testing.assert_array_equal(back, img)


def test_corrupt_image_and_channel_check(tmp_path):
    path = write_image(tmp_path / "i.png", np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(DataError, match="channel"):
        read_image(path, channels=1)
    path.write_bytes(path.read_bytes()[:30])
    with pytest.raises(DataError, match="corrupt or truncated"):
        read_image(path)
    (tmp_path / "t.tif").write_bytes(b"II*\x00garbage")
    with pytest.raises(DataError, match="TIFF"):
        read_tiff(tmp_path / "t.tif")


def test_tiff_keeps_float(tmp_path):
    vol = np.random.default_rng(0).random((3, 4, 5)).astype(np.float32)
    np.testing.assert_array_equal(read_tiff(write_tiff(tmp_path / "v.tif", vol)), vol)


def test_netcdf_round_trip_and_missing_variable(tmp_path):
    import xarray as xr

    ds = xr.Dataset({"u": (("y", "x"), np.ones((2, 3)))}, attrs={"title": "t"})
    path = write_netcdf(tmp_path / "a.nc", ds)
    back = read_netcdf(path, ["u"])
    assert back.attrs["title"] == "t" and back["u"].shape == (2, 3)
    with pytest.raises(DataError, match="lacks variable"):
        read_netcdf(path, ["v"])
    path.write_bytes(b"CDF\x01 not really")
    with pytest.raises(DataError, match="NetCDF"):
        read_netcdf(path)


def test_fits_round_trip_nan_and_no_data(tmp_path):
    from astropy.io import fits

    data = np.arange(12, dtype=np.float32).reshape(3, 4)
    path = write_fits(tmp_path / "a.fits", data, {"BAND": "r", "PIXSCALE": 0.262})
    back, header = read_fits(path)
    np.testing.assert_array_equal(back, data)
    assert header["BAND"] == "r" and back.dtype.byteorder in ("=", "<", "|")
    data[0, 0] = np.nan
    write_fits(path, data)
    with pytest.raises(DataError, match="NaN"):
        read_fits(path)
    assert np.isnan(read_fits(path, allow_nan=True)[0][0, 0])
    fits.PrimaryHDU().writeto(tmp_path / "empty.fits")
    with pytest.raises(DataError, match="no HDU with image data"):
        read_fits(tmp_path / "empty.fits")


def test_timeit_and_rel_l2():
    from shared.metrics import rel_l2, summarize, timeit

    stats = timeit(lambda: sum(range(1000)), repeats=3)
    assert stats["repeats"] == 3 and 0 <= stats["min_s"] <= stats["median_s"] <= stats["max_s"]
    assert rel_l2([1.0, 1.0], [1.0, 2.0]) == pytest.approx(1 / np.sqrt(5))
    assert summarize([1, 2, 3])["median"] == 2


def test_write_csv_float_format(tmp_path):
    rows = [{"step": 1, "loss": 0.123456789012}, {"step": 2, "loss": 1.5e-7}]
    assert (write_csv(tmp_path / "a.csv", rows).read_text()) == "step,loss\n1,0.123456789012\n2,1.5e-07\n"
    assert write_csv(tmp_path / "b.csv", rows, float_format="%.3g").read_text() == "step,loss\n1,0.123\n2,1.5e-07\n"


_WRITER = """
import sys
from pathlib import Path
from shared.io import atomic_dir, atomic_write
target, n = Path(sys.argv[1]), 0
while True:  # versions of a folder of 20 files and of a file, each written whole, until killed
    n += 1
    with atomic_dir(target / "folder") as tmp:
        for i in range(20):
            (tmp / f"part{i}.txt").write_text(f"{n}\\n" * 2000)
    with atomic_write(target / "file.txt") as fh:
        fh.write(f"{n}\\n" * 20000)
    (target / "written").write_text(str(n))
"""


@pytest.mark.slow
def test_outputs_survive_sigkill_during_a_write(tmp_path):
    """A process killed (SIGKILL) at random moments while it rewrites a folder and a file leaves, each time, a
    whole previous or new version: never a missing, mixed or partial one."""
    import random
    import signal
    import subprocess
    import sys
    import time

    rng = random.Random(7)
    for _ in range(5):
        proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(tmp_path)])
        deadline = time.monotonic() + 30
        while not (tmp_path / "written").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.3))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        parts = {(tmp_path / "folder" / f"part{i}.txt").read_text() for i in range(20)}
        assert len(parts) == 1 and len(parts.pop().splitlines()) == 2000  # one version, whole
        lines = (tmp_path / "file.txt").read_text().splitlines()
        assert len(lines) == 20000 and len(set(lines)) == 1
