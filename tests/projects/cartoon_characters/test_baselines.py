"""The HOG + colour-histogram one-vs-rest logistic regression baseline."""

import logging

import numpy as np
import pytest

from projects.cartoon_characters.baselines import BaselineConfig, features, fit_baseline
from projects.cartoon_characters.metrics import mean_average_precision

from .conftest import CHARACTERS, write_prepared


def _split(folder, name):
    with np.load(folder / f"{name}.npz") as f:
        return f["images"], f["labels"]


def test_features_shape_and_colour_histogram():
    cfg = BaselineConfig(colour_bins=2, pixels_per_cell=8, cells_per_block=2, orientations=4)
    red = np.zeros((1, 16, 16, 3), np.uint8)
    red[..., 0] = 255
    x = features(red, cfg)
    hog_len = 1 * 1 * 2 * 2 * 4  # one block position of 2×2 cells at 16 px
    assert x.shape == (1, hog_len + 8) and x.dtype == np.float32
    hist = x[0, hog_len:]
    assert hist[4] == pytest.approx(1.0) and hist.sum() == pytest.approx(1.0)  # (r=1, g=0, b=0) → bin 4
    with pytest.raises(ValueError, match="smaller"):
        features(np.zeros((1, 8, 8, 3), np.uint8), cfg)


def test_baseline_learns_the_colours_and_chooses_c_on_val(tmp_path, caplog):
    folder = write_prepared(tmp_path / "prepared", counts={"train": 80, "val": 40, "test": 40, "shifted": 8})
    cfg = BaselineConfig(C=(0.01, 1.0), pixels_per_cell=8, colour_bins=4, max_iter=200)
    (xt, yt), (xv, yv), (xs, ys) = (_split(folder, s) for s in ("train", "val", "test"))
    base = fit_baseline(xt, yt, xv, yv, cfg, CHARACTERS, n_jobs=1)
    assert base.C in (0.01, 1.0) and base.val_map_by_C[base.C] == max(base.val_map_by_C.values())
    logits = base.logits(xs)
    assert logits.shape == (40, len(CHARACTERS))
    assert mean_average_precision(ys, logits)["map"] > 0.8
    yt[:, 0] = 0
    with caplog.at_level(logging.WARNING):
        constant = fit_baseline(xt, yt, xv, yv, cfg, CHARACTERS, n_jobs=1)
    assert "red" in caplog.text and np.all(np.isfinite(constant.logits(xs)))
