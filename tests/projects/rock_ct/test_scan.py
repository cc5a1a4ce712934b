"""The data stage's real-scan source (``data.source: scan``) and evaluate on a scan without a shifted volume."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tifffile

from projects.rock_ct import data as D
from shared.io import DataError


def _scan(folder, nz=40, values=(0, 1, 5), image_name="image.tif"):
    """A tiny labelled 'scan': dark pores, mid matrix, bright minerals, the labels in the scanner's own values."""
    rng = np.random.default_rng(0)
    phase = rng.integers(0, 3, (nz // 4, 4, 4)).repeat(4, 0).repeat(4, 1).repeat(4, 2)
    image = (np.array([3000, 20000, 40000])[phase] + rng.normal(0, 500, phase.shape)).astype(np.uint16)
    folder.mkdir(parents=True, exist_ok=True)
    tifffile.imwrite(folder / image_name, image)
    tifffile.imwrite(folder / "labels.tif", np.array(values, np.uint8)[phase])
    return phase


def _params(tiny_params, folder, **scan):
    return tiny_params("rock_ct", {"data": {"source": "scan", "scan": {
        "image": str(folder / "image"), "labels": str(folder / "labels.tif"), "label_map": {0: 0, 1: 1, 5: 2},
        **scan}}})


def test_scan_is_cut_into_z_slabs_with_mapped_labels(tiny_params, tmp_path):
    import zarr

    phase = _scan(tmp_path / "ext")
    out = tmp_path / "phantom"
    assert D.main(["--params", str(_params(tiny_params, tmp_path / "ext")), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["test.zarr", "train.zarr", "val.zarr"]
    slabs = {s: zarr.open_group(str(out / f"{s}.zarr"), mode="r") for s in ("train", "val", "test")}
    assert [slabs[s]["labels"].shape[0] for s in ("train", "val", "test")] == [24, 8, 8]
    assert np.array_equal(slabs["val"]["labels"][...], phase[24:32])          # 5 → 2 (crystal), slices 24-31
    assert slabs["test"].attrs["source"] == "scan" and slabs["test"].attrs["cubes"][0]["z_range"] == [32, 40]


def test_negative_label_values_are_mapped(tmp_path):
    phase = _scan(tmp_path / "ext")
    tifffile.imwrite(tmp_path / "ext/labels.tif", (phase - 1).astype(np.int16))   # -1 pore, 0 matrix, 1 mineral
    _, labels, _ = D.read_scan(D.ScanConfig(image=str(tmp_path / "ext/image"), labels=str(tmp_path / "ext/labels"),
                                            label_map={-1: 0, 0: 1, 1: 2}))
    assert np.array_equal(labels, phase)


def test_scan_errors_name_the_cause(tiny_params, tmp_path):
    _scan(tmp_path / "ext", values=(0, 1, 7))
    with pytest.raises(DataError, match=r"label value\(s\) \[7\].*label_map"):
        D.read_scan(D.ScanConfig(image=str(tmp_path / "ext/image"), labels=str(tmp_path / "ext/labels"),
                                 label_map={0: 0, 1: 1, 5: 2}))
    with pytest.raises(DataError, match=r"image volume .*missing: put it there"):
        D.read_scan(D.ScanConfig(image=str(tmp_path / "nowhere/image")))
    tifffile.imwrite(tmp_path / "ext/labels2.tif", np.zeros((40, 8, 16), np.uint8))
    with pytest.raises(DataError, match="label volume .* has shape"):
        D.read_scan(D.ScanConfig(image=str(tmp_path / "ext/image"), labels=str(tmp_path / "ext/labels2.tif")))
    with pytest.raises(DataError, match="has 4 slices"):
        D.split_scan(D.GenerateConfig(source="scan", scan=D.ScanConfig(
            image=str(tmp_path / "ext/image"), labels=str(tmp_path / "ext/labels"), label_map={0: 0, 1: 1, 7: 2},
            split=(0.8, 0.1, 0.1))), tmp_path / "out")
    with pytest.raises(ValueError, match="split"):
        D.ScanConfig(split=(0.5, 0.5, 0.5))


def test_evaluate_scores_a_scan_without_a_shifted_volume(tiny_params, tmp_path, monkeypatch):
    from projects.rock_ct import evaluate as E
    from shared.metrics import validate_headline

    class Stand:  # the U-Net's stand-in: multi-Otsu
        def segment(self, array, tile=96, halo=16, progress=True):
            from projects.rock_ct.baselines import MultiOtsu

            return MultiOtsu().predict(np.asarray(array))

    _scan(tmp_path / "ext", nz=80)
    out = tmp_path / "phantom"
    D.split_scan(D.GenerateConfig(source="scan", scan=D.ScanConfig(
        image=str(tmp_path / "ext/image"), labels=str(tmp_path / "ext/labels"), label_map={0: 0, 1: 1, 5: 2})), out)
    monkeypatch.setattr(E, "load_segmenter", lambda model_dir: Stand())
    params = tiny_params("rock_ct", {"evaluate": {"baselines": ["multi_otsu", "median_otsu"], "block": 8,
                                                  "bootstrap": 20}})
    res = tmp_path / "results"
    assert E.main(["--params", str(params), "--data", str(out), "--model", str(tmp_path), "--out", str(res)]) == 0
    metrics = json.loads((res / "metrics.json").read_text())
    head = validate_headline(metrics["headline"])
    assert head["data"] == "test slab of the scan" and not head.get("also")
    assert "shifted" not in metrics and not any(k.startswith("shifted") for k in metrics["targets"])
