"""Physical metrics on hand-made label volumes whose answers are known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from projects.rock_ct import physics as P
from shared.io import DataError


def _two_balls() -> np.ndarray:
    zz, yy, xx = np.mgrid[:24, :24, :24]
    lab = np.full((24, 24, 24), P.GLASS, np.uint8)
    lab[(zz - 8) ** 2 + (yy - 8) ** 2 + (xx - 8) ** 2 <= 16] = P.VESICLE   # inside, radius 4
    lab[(zz - 16) ** 2 + (yy - 16) ** 2 + (xx - 23) ** 2 <= 9] = P.VESICLE  # touches the x = 23 face
    lab[18:22, 2:6, 2:10] = P.CRYSTAL
    return lab


def test_perfect_segmentation_scores_one():
    lab = _two_balls()
    m = P.compare(lab, lab, voxel_size_um=2.0, min_voxels=1)
    assert m["mean_dice"] == 1.0 and m["iou"]["crystal"] == 1.0
    assert m["vesicularity_error_pp"] == 0.0 and m["crystal_fraction_error_pp"] == 0.0
    assert m["ks"] == 0.0 and m["vesicle_count"] == 2
    assert m["crystal_fraction"] == pytest.approx(4 * 4 * 8 / 24 ** 3)


def test_dice_iou_and_fraction_errors_of_a_known_mistake():
    truth = _two_balls()
    pred = truth.copy()
    pred[18:22, 2:6, 2:6] = P.GLASS          # half the crystal missed
    m = P.compare(pred, truth, min_voxels=1)
    assert m["dice"]["crystal"] == pytest.approx(2 * 64 / (64 + 128))
    assert m["iou"]["crystal"] == pytest.approx(0.5)
    assert m["crystal_fraction_error_pp"] == pytest.approx(-100 * 64 / 24 ** 3)
    assert m["vesicularity_error_pp"] == 0.0


def test_diameters_connectivity_and_measure():
    lab = _two_balls()
    d = P.vesicle_diameters(lab, voxel_size_um=5.0, min_voxels=1)
    volumes = [np.sum(lab[:14, :14, :14] == 0), np.sum(lab[12:, 12:, 18:] == 0)]
    np.testing.assert_allclose(d, sorted((6 * np.array(volumes) / math.pi) ** (1 / 3) * 5.0))
    c = P.connectivity(lab)
    assert c["euler_number"] == 2                          # two solid balls, no holes
    assert c["connected_fraction"] == pytest.approx(min(volumes) / sum(volumes))
    m = P.measure(lab, voxel_size_um=5.0, min_voxels=1)
    assert m["vesicle_count"] == 2 and m["unit"] == "µm"
    assert m["diameter"]["d50"] == pytest.approx(np.median(d))


def test_ks_distance_of_different_size_distributions():
    assert P.ks_distance(np.arange(10.0), np.arange(10.0) + 100) == 1.0
    assert math.isnan(P.ks_distance(np.zeros(0), np.ones(3)))


def test_bad_labels_are_one_line_errors():
    lab = _two_balls()
    with pytest.raises(DataError, match=r"prediction has shape \(24, 24, 23\), the truth \(24, 24, 24\)"):
        P.compare(lab[:, :, :23], lab)
    bad = lab.copy()
    bad[0, 0, 0] = 5
    with pytest.raises(DataError, match="labels must lie in 0..2"):
        P.confusion(bad, lab)
    with pytest.raises(DataError, match="integer labels"):
        P.phase_fractions(lab.astype(np.float32))
