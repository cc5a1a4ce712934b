"""`capstone rock_ct segment` and `measure` on tiny volumes in several formats, with a tiny untrained network."""

from __future__ import annotations

import json

import numpy as np
import pytest

from shared.cli import main as capstone


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A model folder as the train stage writes it (a tiny, untrained network)."""
    import keras

    from projects.rock_ct.model import ModelConfig, build_model
    from shared.io import write_json

    cfg = ModelConfig(widths=(4, 8), convs_per_level=1)
    keras.utils.set_random_seed(0)
    folder = tmp_path_factory.mktemp("model")
    build_model(cfg).save(folder / "model.keras")
    write_json(folder / "train.json", {"classes": ["vesicle", "glass", "crystal"], "divisor": cfg.divisor,
                                       "receptive_radius": cfg.receptive_radius, "voxel_size_um": 5.0,
                                       "normalisation": {"method": "per-volume percentiles",
                                                         "percentiles": [1.0, 99.0]}})
    return folder


def volume(shape=(20, 24, 16), seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(5_000, 40_000, shape).astype(np.uint16)


def test_segment_tiff_to_zarr_prints_the_physics(model_dir, tmp_path, capsys):
    import tifffile

    from projects.rock_ct.volumes import open_volume

    tifffile.imwrite(tmp_path / "scan.tif", volume())
    out = tmp_path / "labels.zarr"
    assert capstone(["rock_ct", "segment", str(tmp_path / "scan.tif"), str(out), "--model", str(model_dir),
                     "--tile", "8", "--halo", "4", "--voxel-size", "2.5", "--json", str(tmp_path / "m.json"),
                     "--no-progress"]) == 0
    text = capsys.readouterr().out
    for word in ("vesicularity", "crystal fraction", "vesicles", "d50", "µm", "connectivity"):
        assert word in text
    labels = open_volume(out, dataset="labels")
    assert labels.shape == (20, 24, 16) and labels.voxel_size_um == 2.5
    assert np.asarray(labels.array[...]).max() <= 2
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert 0 <= metrics["vesicularity"] <= 1 and metrics["unit"] == "µm"


def test_segment_raw_to_tiff_and_measure(model_dir, tmp_path, capsys):
    import tifffile

    data = volume((12, 16, 16), seed=1)
    (tmp_path / "scan.raw").write_bytes(b"\0" * 64 + data.astype(">u2").tobytes())
    out = tmp_path / "labels.tif"
    assert capstone(["rock_ct", "segment", str(tmp_path / "scan.raw"), str(out), "--model", str(model_dir),
                     "--raw-dtype", "uint16", "--raw-shape", "12,16,16", "--raw-byte-order", "big",
                     "--raw-offset", "64", "--tile", "8", "--halo", "4", "--no-progress"]) == 0
    labels = tifffile.imread(out)
    assert labels.shape == (12, 16, 16) and labels.dtype == np.uint8
    capsys.readouterr()
    assert capstone(["rock_ct", "measure", str(out)]) == 0
    text = capsys.readouterr().out
    assert "vesicularity" in text and "voxel" in text  # no voxel size given: diameters in voxels


def test_measure_known_fractions(tmp_path, capsys):
    import zarr

    labels = np.ones((10, 10, 10), np.uint8)
    labels[:2] = 0          # 20 % vesicle (one slab touching a face)
    labels[5:6] = 2         # 10 % crystal
    group = zarr.open_group(str(tmp_path / "l.zarr"), mode="w")
    group.create_array("labels", data=labels)
    group.attrs["voxel_size_um"] = 3.0
    assert capstone(["rock_ct", "measure", str(tmp_path / "l.zarr")]) == 0
    text = capsys.readouterr().out
    assert "vesicularity      20.00 %" in text and "crystal fraction  10.00 %" in text and "vesicles          1" in text


def test_bad_input_is_one_line(model_dir, tmp_path, capsys):
    (tmp_path / "scan.raw").write_bytes(b"\0" * 100)
    assert capstone(["rock_ct", "segment", str(tmp_path / "scan.raw"), str(tmp_path / "o.zarr"), "--model",
                     str(model_dir), "--raw-dtype", "uint16", "--raw-shape", "4,4,4"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err and "100" in err
    assert capstone(["rock_ct", "segment", str(tmp_path / "missing.tif"), str(tmp_path / "o.zarr")]) == 2
    assert "not found" in capsys.readouterr().err
    float_volume = np.full((8, 8, 8), np.nan, np.float32)
    import tifffile

    tifffile.imwrite(tmp_path / "nan.tif", float_volume)
    assert capstone(["rock_ct", "segment", str(tmp_path / "nan.tif"), str(tmp_path / "o.zarr"), "--model",
                     str(model_dir)]) == 2
    assert "NaN" in capsys.readouterr().err
    tifffile.imwrite(tmp_path / "ok.tif", volume((8, 8, 8)))
    assert capstone(["rock_ct", "segment", str(tmp_path / "ok.tif"), str(tmp_path / "o.zarr"), "--model",
                     str(tmp_path / "nomodel")]) == 2
    assert "train stage" in capsys.readouterr().err
    assert not (tmp_path / "o.zarr").exists()


def test_measure_a_scanners_own_label_values(tmp_path, capsys):
    """Labels 0/1/5 (a segmentation from another tool): refused as they are, measured with --label-map."""
    labels = np.ones((10, 10, 10), np.uint16)
    labels[:3] = 5
    labels[9] = 0
    labels.tofile(tmp_path / "seg.raw")
    raw = ["--raw-dtype", "uint16", "--raw-shape", "10,10,10"]
    assert capstone(["rock_ct", "measure", str(tmp_path / "seg.raw"), *raw]) == 2
    assert "found value(s) [5]" in capsys.readouterr().err
    assert capstone(["rock_ct", "measure", str(tmp_path / "seg.raw"), *raw, "--label-map", "0:2,1:1,5:0"]) == 0
    text = capsys.readouterr().out
    assert "vesicularity      30.00 %" in text and "crystal fraction  10.00 %" in text
    assert capstone(["rock_ct", "measure", str(tmp_path / "seg.raw"), *raw, "--label-map", "1:1,5:0"]) == 2
    assert "label value(s) [0]" in capsys.readouterr().err


def test_segment_never_loses_data_and_refuses_misleading_outputs(model_dir, tmp_path, capsys):
    import tifffile

    scan = tmp_path / "scan.tif"
    tifffile.imwrite(scan, volume((8, 8, 8)))
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "keep.txt").write_text("x")
    args = ["--model", str(model_dir), "--no-progress"]
    for out, message in [(scan, "is the input"), (folder, "zarr"), (tmp_path / "l.h5", ".zarr (a folder) or .tif"),
                         (tmp_path / "keep.txt" / "l.zarr", "is a file")]:
        if out.name == "l.zarr":
            (tmp_path / "keep.txt").write_text("a file")
        assert capstone(["rock_ct", "segment", str(scan), str(out), *args]) == 2, out
        assert message in capsys.readouterr().err
    assert (folder / "keep.txt").exists() and tifffile.imread(scan).dtype == np.uint16
    assert capstone(["rock_ct", "segment", str(scan), str(tmp_path / "l.zarr"), "--format", "tiff", *args]) == 2
    assert "contradicts" in capsys.readouterr().err
    assert capstone(["rock_ct", "segment", str(scan), str(tmp_path / "l.zarr"), "--tile", "8", "--halo", "20",
                     *args]) == 2
    assert "at most twice the tile" in capsys.readouterr().err
    assert capstone(["rock_ct", "segment", str(scan), str(tmp_path / "l.tif"), *args]) == 0
    assert capstone(["rock_ct", "segment", str(scan), str(tmp_path / "l.tif"), *args]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert capstone(["rock_ct", "segment", str(scan), str(tmp_path / "l.tif"), "--overwrite", *args]) == 0
    assert (tmp_path / "l.tif").stat().st_mode & 0o044 == 0o044  # readable by others, as any written file


def test_label_map_and_voxel_size_are_checked(tmp_path, capsys):
    labels = np.ones((4, 4, 4), np.uint8)
    labels.tofile(tmp_path / "l.raw")
    raw = ["--raw-dtype", "uint8", "--raw-shape", "4,4,4"]
    with pytest.raises(SystemExit):
        capstone(["rock_ct", "measure", str(tmp_path / "l.raw"), *raw, "--label-map", "0:0,1:1,1:2"])
    assert "each value once" in capsys.readouterr().err
    assert capstone(["rock_ct", "measure", str(tmp_path / "l.raw"), *raw, "--voxel-size=-2"]) == 2
    assert "positive" in capsys.readouterr().err


def test_a_binary_mask_gets_a_warning(tmp_path, caplog):
    mask = np.zeros((6, 6, 6), np.uint8)
    mask[:2] = 1
    mask.tofile(tmp_path / "m.raw")
    caplog.set_level("WARNING")
    assert capstone(["rock_ct", "measure", str(tmp_path / "m.raw"), "--raw-dtype", "uint8",
                     "--raw-shape", "6,6,6"]) == 0
    assert "only the values 0 and 1" in caplog.text
