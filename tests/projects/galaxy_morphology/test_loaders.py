"""The real-data readers on tiny fixtures in the official layouts, and every bad input."""

import h5py
import numpy as np
import pytest

from projects.galaxy_morphology import loaders
from projects.galaxy_morphology.data import DataConfig, SourceConfig, build
from projects.galaxy_morphology.dataset import load_split
from shared.data import ChecksumError, FetchError, fetch, sha256sum
from shared.io import DataError, write_fits, write_image


def _galaxy_rgb(seed, size=48):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size] - size / 2
    blob = 200 * np.exp(-(xx**2 + yy**2) / 50.0)
    image = rng.normal(20, 3, (size, size, 3)) + blob[..., None] * np.array([1.0, 0.8, 0.5])
    return np.clip(image, 0, 255).astype(np.uint8)


def _galaxy10_h5(path, n=12, size=48):
    with h5py.File(path, "w") as f:
        f["images"] = np.stack([_galaxy_rgb(i, size) for i in range(n)])
        f["ans"] = np.arange(n) % 10
        f["redshift"] = np.full(n, 0.05)
    return path


def test_galaxy10_h5_layout(tmp_path):
    path = _galaxy10_h5(tmp_path / "Galaxy10_DECals.h5")
    items, n, classes = loaders.read_galaxy10(path, chunk=5)
    items = list(items)
    assert n == 12 and len(items) == 12 and classes == loaders.GALAXY10_CLASSES
    assert items[3].label == 3 and items[3].image.shape == (48, 48, 3)
    # colour images come in blue → red band order (reversed RGB)
    with h5py.File(path) as f:
        np.testing.assert_array_equal(items[0].image, f["images"][0][..., ::-1])


def test_galaxy10_bad_files(tmp_path):
    with h5py.File(tmp_path / "wrong.h5", "w") as f:
        f["images"] = np.zeros((2, 8, 8, 3), np.uint8)
    with pytest.raises(DataError, match=r"lacks dataset\(s\) \['ans'\]"):
        loaders.read_galaxy10(tmp_path / "wrong.h5")
    (tmp_path / "corrupt.h5").write_bytes(b"not an hdf5 file at all")
    with pytest.raises(DataError, match="not a readable HDF5"):
        loaders.read_galaxy10(tmp_path / "corrupt.h5")
    with h5py.File(tmp_path / "classes.h5", "w") as f:
        f["images"] = np.zeros((2, 8, 8, 3), np.uint8)
        f["ans"] = np.array([1, 12])
    items, _, _ = loaders.read_galaxy10(tmp_path / "classes.h5")
    with pytest.raises(DataError, match="class 12, outside 0-9"):
        list(items)


def test_galaxy10_fetch_from_file_url_and_offline_message(tmp_path):
    source = _galaxy10_h5(tmp_path / "served.h5")
    dest = tmp_path / "data" / "galaxy_morphology" / "raw" / "Galaxy10_DECals.h5"
    got = fetch(source.as_uri(), sha256sum(source), dest, external=tmp_path / "external")
    assert loaders.read_galaxy10(got)[1] == 12
    with pytest.raises(ChecksumError, match="expected"):
        fetch(source.as_uri(), "0" * 64, tmp_path / "other" / "Galaxy10_DECals.h5", external=tmp_path / "external")
    with pytest.raises(FetchError, match="place the file at"):
        fetch((tmp_path / "missing.h5").as_uri(), loaders.GALAXY10_SHA256, tmp_path / "x" / "Galaxy10_DECals.h5",
              external=tmp_path / "external")


def _image_folder(tmp_path, suffix=".png"):
    rows = ["filename,class"]
    for i in range(12):
        name = f"img/{i:03d}{suffix}"
        write_image(tmp_path / name, _galaxy_rgb(i))
        rows.append(f"{name},{['Elliptical', 'Spiral', 'Merger'][i % 3]}")
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    return tmp_path


def test_image_folder_with_labels_csv(tmp_path):
    folder = _image_folder(tmp_path, ".jpg")
    items, n, classes = loaders.read_image_folder(folder, folder / "labels.csv")
    items = list(items)
    assert n == 12 and classes == ("Elliptical", "Merger", "Spiral")
    assert items[1].label == classes.index("Spiral") and items[1].image.shape == (48, 48, 3)
    # integer class columns are indices into the given classes
    (folder / "ints.csv").write_text("filename,class\nimg/000.jpg,2\n")
    rows, _ = loaders.read_labels(folder / "ints.csv", ["a", "b", "c"])
    assert rows[0].label == 2


def test_unknown_class_and_missing_column(tmp_path):
    folder = _image_folder(tmp_path)
    with pytest.raises(DataError, match=r"row 3: unknown class 'Spiral'; known classes: Elliptical, Merger"):
        loaders.read_labels(folder / "labels.csv", ["Elliptical", "Merger"])
    (folder / "bad.csv").write_text("file,label\na.png,x\n")
    with pytest.raises(DataError, match=r"lacks column\(s\) \['filename', 'class'\]"):
        loaders.read_labels(folder / "bad.csv", [])


def test_corrupt_jpeg_is_reported(tmp_path):
    folder = _image_folder(tmp_path, ".jpg")
    path = folder / "img" / "004.jpg"
    path.write_bytes(path.read_bytes()[:60])
    items, _, _ = loaders.read_image_folder(folder, folder / "labels.csv")
    with pytest.raises(DataError, match="004.jpg is not a readable image"):
        list(items)


def test_fits_cube_and_per_band_folders(tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "cubes").mkdir()
    rows = ["filename,class"]
    for i in range(4):
        write_fits(tmp_path / "cubes" / f"obj{i}.fits", rng.normal(size=(3, 20, 20)).astype(np.float32))
        rows.append(f"obj{i}.fits,{'ab'[i % 2]}")
    (tmp_path / "cubes" / "labels.csv").write_text("\n".join(rows) + "\n")
    items, n, classes = loaders.read_fits_folder(tmp_path / "cubes", tmp_path / "cubes" / "labels.csv")
    items = list(items)
    assert n == 4 and classes == ("a", "b") and items[0].image.shape == (3, 20, 20)

    bands = ["f150w", "f277w", "f444w"]
    for band in bands:
        for obj in ("12608", "14832"):
            write_fits(tmp_path / "jwst" / band / f"ceers_{band}_{obj}.fits", rng.normal(size=(25, 25)))
    (tmp_path / "jwst" / "labels.csv").write_text("filename,class\n12608,disk\n14832,smooth\n")
    items, n, _ = loaders.read_fits_folder(tmp_path / "jwst", tmp_path / "jwst" / "labels.csv", layout="per_band",
                                           bands=bands, pattern="{band}/ceers_{band}_{id}.fits")
    cube = next(items).image
    assert cube.shape == (3, 25, 25)
    # the CLI finds the objects present in every band of such a folder
    from projects.galaxy_morphology.cli import _per_band_ids

    assert _per_band_ids(tmp_path / "jwst", bands, "{band}/ceers_{band}_{id}.fits") == (["12608", "14832"], {})
    # an object without one of the bands is named with what it lacks (the CLI prints it), not dropped silently
    assert _per_band_ids(tmp_path / "jwst", [*bands, "f090w"], "{band}/ceers_{band}_{id}.fits") == (
        [], {"12608": ["f090w"], "14832": ["f090w"]})


def test_fits_bad_inputs(tmp_path):
    from astropy.io import fits

    fits.PrimaryHDU().writeto(tmp_path / "empty.fits")
    with pytest.raises(DataError, match="no HDU with image data"):
        loaders.read_fits_object(tmp_path, "empty.fits")
    cube = np.ones((3, 8, 8), np.float32)
    cube[1, 2, 2] = np.nan
    write_fits(tmp_path / "nan.fits", cube)
    with pytest.raises(DataError, match="NaN"):
        loaders.read_fits_object(tmp_path, "nan.fits")
    assert np.isnan(loaders.read_fits_object(tmp_path, "nan.fits", allow_nan=True)).sum() == 1
    (tmp_path / "g").mkdir()
    write_fits(tmp_path / "g" / "x.fits", np.ones((8, 8)))
    with pytest.raises(DataError, match=r"r/x.fits"):
        loaders.read_fits_object(tmp_path, "x", layout="per_band", bands=["g", "r"])


def test_data_stage_builds_stratified_splits_from_an_image_folder(tmp_path):
    folder = _image_folder(tmp_path / "src")
    cfg = DataConfig(source=SourceConfig(kind="images", path=str(folder), bands=("g", "r", "i")),
                     split_fractions=(0.5, 0.25, 0.25), workers=1)
    manifest = build(cfg, tmp_path / "prepared")
    assert manifest["classes"] == ["Elliptical", "Merger", "Spiral"]
    assert {s: sum(c.values()) for s, c in manifest["counts"].items()} == {"train": 6, "val": 3, "test": 3}
    x, y, ids = load_split(tmp_path / "prepared", "train")
    assert x.shape == (6, 64, 64, 3) and sorted(np.bincount(y)) == [2, 2, 2]


def test_prepared_split_errors(tmp_path):
    folder = _image_folder(tmp_path / "src")
    cfg = DataConfig(source=SourceConfig(kind="images", path=str(folder)), split_fractions=(0.5, 0.25, 0.25),
                     workers=1)
    build(cfg, tmp_path / "prepared")
    with pytest.raises(DataError, match="no 'shifted' split"):
        load_split(tmp_path / "prepared", "shifted")
    path = tmp_path / "prepared" / "train.npz"
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(DataError, match="corrupt or truncated"):
        load_split(tmp_path / "prepared", "train")


def test_read_any_accepts_exactly_the_suffixes_a_folder_scan_picks(tmp_path):
    cube = np.random.default_rng(0).normal(10, 1, (3, 8, 8)).astype(np.float32)
    for name in ("a.fits", "b.FIT", "c.fts", "d.fits.gz", "e.fz"):
        assert loaders.is_readable(name) and loaders.is_fits(name)
    write_fits(tmp_path / "a.fits", cube)
    np.testing.assert_array_equal(loaders.read_any(tmp_path / "a.fits"), cube)
    assert loaders.is_readable("x.png") and loaders.is_readable("x.JPEG") and not loaders.is_readable("x.txt")
    assert loaders.stem("round.fits.gz") == "round" and loaders.stem("s.fits.fz") == "s"
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(DataError, match="unsupported file type"):
        loaders.read_any(tmp_path / "notes.txt")


def test_evaluation_splits_of_any_name_and_bad_split_names(tmp_path):
    (tmp_path / "labels.csv").write_text("filename,class,split\na.fits,spiral,curve_sky_1\nb.fits,spiral,Test!\n")
    with pytest.raises(DataError, match="row 3: split 'Test!' is not a name"):
        loaders.read_labels(tmp_path / "labels.csv", ["spiral"])
