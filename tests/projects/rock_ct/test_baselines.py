"""The classical baselines on a tiny phantom: each returns labels of the right form and beats chance."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from projects.rock_ct import baselines as B
from projects.rock_ct.phantom import Acquisition, Geometry, make_phantom
from projects.rock_ct.physics import compare

GEO = Geometry(vesicularity=0.3, crystal_fraction=0.2, vesicle_radius=3.0, lath_size=(9.0, 5.0, 3.0),
               equant_size=5.0)
ACQ = Acquisition(noise=0.02, blur_sigma=0.6, rings=0.0, cupping=0.0)
CFG = B.BaselineConfig(sparse_voxels=300, dense_voxels=4000, trees=10, max_depth=8, num_sigma=2, sigma_max=2.0,
                       workers=1)


@pytest.fixture(scope="module")
def cubes():
    return make_phantom(24, GEO, ACQ, 1), make_phantom(24, GEO, ACQ, 2)


@pytest.mark.parametrize("name", B.NAMES)
def test_each_baseline_segments_a_clean_phantom(cubes, name):
    train, test = cubes
    method = B.make_baselines(CFG, [name])[name].fit([train.image], [train.labels])
    pred = method.predict(test.image)
    assert pred.dtype == np.uint8 and pred.shape == test.labels.shape and pred.max() <= 2
    assert compare(pred, test.labels)["mean_dice"] > 0.6


def test_scribbles_are_inside_each_phase(cubes):
    lab = cubes[0].labels
    idx = B.scribbles(lab, 99, np.random.default_rng(0))
    assert len(idx) == 99 and len(set(idx)) == 99
    assert np.bincount(lab.ravel()[idx], minlength=3).tolist() == [33, 33, 33]


def test_dark_to_bright_order_is_a_parameter(cubes):
    test = cubes[1]
    swapped = dataclasses.replace(CFG, order=("vesicle", "crystal", "glass"))
    a = B.MultiOtsu(CFG).predict(test.image)
    b = B.MultiOtsu(swapped).predict(test.image)
    assert np.array_equal(a == 1, b == 2) and np.array_equal(a == 0, b == 0)
    with pytest.raises(ValueError, match="order must name each"):
        B.BaselineConfig(order=("vesicle", "glass"))


def test_bad_inputs(cubes):
    from shared.io import DataError

    with pytest.raises(DataError, match=r"\(Z, Y, X\) volume"):
        B.MultiOtsu().predict(np.zeros((4, 4)))
    with pytest.raises(DataError, match="unknown baseline"):
        B.make_baselines(CFG, ["unet"])
    with pytest.raises(DataError, match="differ"):
        B.RandomForest(CFG).fit([cubes[0].image], [cubes[0].labels[:-1]])
