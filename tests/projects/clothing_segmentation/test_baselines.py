"""GrabCut and random walker as click segmenters, on a tiny synthetic garment."""

from __future__ import annotations

import numpy as np
import pytest

from projects.clothing_segmentation.baselines import GrabCutSegmenter, RandomWalkerSegmenter, content_box
from projects.clothing_segmentation.clicks import Click, ClickSegmenter, iou, run_protocol
from shared.io import DataError


@pytest.fixture
def garment():
    """A red 'shirt' (rectangle) and a blue 'bag' (disk) on a noisy grey background, 48x40, with letterbox bars."""
    rng = np.random.default_rng(0)
    image = rng.integers(90, 140, (48, 40, 3)).astype(np.uint8)
    image[:, :4] = 0  # letterbox padding
    image[:, -4:] = 0
    shirt = np.zeros((48, 40), bool)
    shirt[10:34, 10:26] = True
    yy, xx = np.mgrid[:48, :40]
    bag = (yy - 36) ** 2 + (xx - 29) ** 2 <= 25
    image[shirt] = (200, 30, 30)
    image[bag] = (30, 30, 200)
    shirt &= ~bag
    return image, shirt


@pytest.mark.parametrize("make", [lambda: GrabCutSegmenter(iterations=2, click_radius=2),
                                  lambda: RandomWalkerSegmenter(click_radius=2)])
def test_one_click_finds_a_contrasted_garment(garment, make):
    image, shirt = garment
    seg = make()
    assert isinstance(seg, ClickSegmenter)
    seg.reset(image)
    prob = seg.predict([Click(20, 17, True)], None)
    assert prob.shape == shirt.shape and prob.dtype == np.float32
    assert iou(shirt, prob > 0.5) > 0.85
    result = run_protocol(seg, image, shirt, max_clicks=5)
    assert result["noc85"] <= 3 and len(result["seconds"]) >= 1


def test_grabcut_negative_click_removes_a_region(garment):
    image, shirt = garment
    seg = GrabCutSegmenter(iterations=2, click_radius=2)
    seg.reset(image)
    wrong = np.ones(shirt.shape, np.float32)  # a previous mask over everything
    prob = seg.predict([Click(20, 17, True), Click(40, 8, False)], wrong)
    assert prob[40, 8] == 0 and prob[20, 17] == 1


@pytest.mark.parametrize("seg", [GrabCutSegmenter(), RandomWalkerSegmenter()])
def test_bad_inputs_are_clear_errors(seg, garment):
    image, _ = garment
    with pytest.raises(DataError, match="before reset"):
        seg.predict([Click(1, 1, True)], None)
    with pytest.raises(DataError, match="RGB image"):
        seg.reset(image[..., 0])
    seg.reset(image)
    with pytest.raises(DataError, match="outside the image"):
        seg.predict([Click(48, 3, True)], None)
    assert not seg.predict([Click(3, 5, False)], None).any()  # no positive click: nothing selected


def test_content_box_drops_letterbox_bars(garment):
    image, _ = garment
    assert content_box(image) == (0, 48, 4, 36)
    assert content_box(np.zeros((5, 6, 3), np.uint8)) == (0, 5, 0, 6)
