"""The evaluate stage on tiny phantoms, with a stand-in for the U-Net (the network is tested by helper B's tests)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from projects.rock_ct import evaluate as E
from shared.io import DataError
from shared.metrics import validate_headline


class _MedianSegmenter:
    """Stands in for the tiled U-Net: median + multi-Otsu."""

    def segment(self, array, tile=96, halo=16, progress=True):
        from projects.rock_ct.baselines import MedianOtsu

        return MedianOtsu().predict(np.asarray(array))


@pytest.fixture(scope="module")
def phantom_dir(tmp_path_factory):
    from projects.rock_ct.data import GenerateConfig, SplitConfig, generate
    from projects.rock_ct.phantom import Geometry

    geo = Geometry(vesicle_radius=2.5, lath_size=(9.0, 5.0, 3.0), equant_size=5.0)
    cfg = GenerateConfig(geometry=geo, splits={
        "train": SplitConfig(2, 20, 1, "nominal", "randomised"), "val": SplitConfig(1, 20, 3),
        "test": SplitConfig(1, 20, 2), "shifted": SplitConfig(1, 20, 4, "nominal", "shifted")})
    out = tmp_path_factory.mktemp("phantom")
    generate(cfg, out)
    return out


def test_evaluate_main_writes_metrics_tables_and_predictions(phantom_dir, tiny_params, tmp_path, monkeypatch):
    import zarr

    monkeypatch.setattr(E, "load_segmenter", lambda model_dir: _MedianSegmenter())
    params = tiny_params("rock_ct", {"evaluate": {"block": 10, "bootstrap": 50, "baseline": {
        "sparse_voxels": 150, "dense_voxels": 2000, "trees": 5, "max_depth": 6, "num_sigma": 2, "sigma_max": 2.0,
        "workers": 1}}})
    out, preds = tmp_path / "results", tmp_path / "predictions"
    assert E.main(["--params", str(params), "--data", str(phantom_dir), "--model", str(tmp_path / "model"),
                   "--out", str(out), "--predictions", str(preds)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    head = validate_headline(metrics["headline"])
    assert head["baseline"] == metrics["choice"]["strongest_baseline"] in E.NAMES
    assert head["significance"]["test"].startswith("paired bootstrap over 8 blocks")
    assert set(metrics["test"]) == {*E.NAMES, E.MODEL}
    # the stand-in is median_otsu itself: identical on every split
    assert metrics["test"][E.MODEL]["mean_dice"] == pytest.approx(metrics["test"]["median_otsu"]["mean_dice"])
    assert {"test_mean_dice", "shifted_margin_over_rf_dense_points", "mvox_per_s"} <= set(metrics["targets"])
    for name in ("methods.csv", "sizes.csv", "plots/dice.csv"):
        assert (out / name).stat().st_size > 0
    group = zarr.open_group(str(preds / "test.zarr"), mode="r")
    assert group[E.MODEL].shape == (20, 20, 20) and "truth" in group


def test_block_dice_and_bootstrap():
    truth = np.zeros((8, 8, 8), np.uint8)
    truth[:, :, 4:] = 1
    truth[:4, :4, :4] = 2
    assert np.allclose(E.block_dice(truth, truth, 4), 1.0)
    boot = E.paired_bootstrap(np.ones(8), np.zeros(8), 100, 0)
    assert boot["low"] == boot["high"] == 1.0


def test_missing_split_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="run the rock_ct_data stage first"):
        E.load_split(tmp_path, "test")
