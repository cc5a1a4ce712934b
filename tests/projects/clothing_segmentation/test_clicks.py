"""The click simulator, the click encoding and the NoC protocol on hand-made masks."""

from __future__ import annotations

import numpy as np
import pytest

from projects.clothing_segmentation.clicks import (
    Click,
    ClickSegmenter,
    encode_clicks,
    iou,
    next_click,
    noc,
    run_protocol,
    summarize_runs,
)
from shared.io import DataError


def square(shape=(21, 31), y0=5, y1=16, x0=5, x1=16):
    mask = np.zeros(shape, bool)
    mask[y0:y1, x0:x1] = True
    return mask


def test_first_click_is_the_deepest_point_of_the_object():
    gt = square()  # rows 5-15, columns 5-15: centre (10, 10)
    assert next_click(gt, np.zeros_like(gt)) == Click(10, 10, True)


def test_next_click_goes_to_the_larger_error_and_chooses_its_sign():
    gt = square()
    pred = gt.copy()
    pred[5:16, 5:8] = False  # a thin false negative (3 columns)
    pred[2:19, 19:30] = True  # a wide false positive: rows 2-18, columns 19-29 (depth 6 on column 24)
    click = next_click(gt, pred)
    assert not click.positive and click.x == 24 and 7 <= click.y <= 13
    pred[2:19, 19:30] = False  # only the false negative left: a positive click inside it
    click = next_click(gt, pred)
    assert click.positive and 5 <= click.x <= 7 and 5 <= click.y <= 15


def test_no_error_means_no_click_and_the_image_border_counts_as_boundary():
    gt = square()
    assert next_click(gt, gt) is None
    full = np.ones((9, 9), bool)  # the whole image: the deepest point is its centre, not a corner
    assert next_click(full, np.zeros_like(full)) == Click(4, 4, True)


def test_masks_of_different_sizes_are_refused():
    with pytest.raises(DataError, match="same size"):
        next_click(np.zeros((4, 4), bool), np.zeros((4, 5), bool))


def test_encode_clicks_draws_disks_per_channel():
    maps = encode_clicks([Click(5, 5, True), Click(0, 0, False)], (12, 10), radius=2)
    assert maps.shape == (12, 10, 2) and maps.dtype == np.float32
    assert maps[..., 0].sum() == 13  # a radius-2 disk: 13 pixels
    assert maps[0, 0, 1] == 1 and maps[..., 1].sum() == 6  # a quarter disk at the corner
    assert encode_clicks([], (3, 4), 2).sum() == 0


@pytest.mark.parametrize("click", [Click(12, 0, True), Click(0, 10, False), Click(-1, 3, True)])
def test_a_click_outside_the_image_is_a_clear_error(click):
    with pytest.raises(DataError, match=r"outside the image of 10x12 pixels"):
        encode_clicks([click], (12, 10), 2)


def test_noc_on_a_known_sequence():
    ious = [0.5, 0.86, 0.89, 0.91, 0.95]
    assert noc(ious, 0.85, 20) == 2
    assert noc(ious, 0.90, 20) == 4
    assert noc([0.1, 0.2], 0.9, 20) == 20
    assert iou(square(), square()) == 1.0 and iou(np.zeros((2, 2)), np.zeros((2, 2))) == 1.0


class Scripted:
    """A segmenter that replays given masks, one per click."""

    name = "scripted"

    def __init__(self, masks):
        self.masks = masks

    def reset(self, image):
        self.k = 0

    def predict(self, clicks, prev_mask):
        mask = self.masks[min(self.k, len(self.masks) - 1)]
        self.k += 1
        return mask.astype(np.float32)


def test_run_protocol_counts_clicks_and_nof():
    gt = square()
    image = np.zeros((*gt.shape, 3), np.uint8)
    half = gt.copy()
    half[:, 10:] = False
    most = gt.copy()
    most[5, 5:16] = False  # IoU 110/121 = 0.909
    seg = Scripted([half, most, gt])
    assert isinstance(seg, ClickSegmenter)
    result = run_protocol(seg, image, gt, max_clicks=6)
    assert result["noc85"] == 2 and result["noc90"] == 2 and not result["failed90"]
    assert len(result["ious"]) == 6 and result["ious"][-1] == 1.0
    assert len(result["clicks"]) == 3  # no click after a perfect mask
    failing = run_protocol(Scripted([half]), image, gt, max_clicks=6)
    assert failing["noc90"] == 6 and failing["failed90"]
    stopped = run_protocol(Scripted([half, most, gt]), image, gt, max_clicks=6, stop_iou=0.9, min_clicks=2)
    assert len(stopped["clicks"]) == 2 and stopped["ious"] == [iou(gt, half)] + [iou(gt, most)] * 5
    summary = summarize_runs([result, failing], 6)
    assert summary["nof90"] == 1 and summary["noc90"] == (2 + 6) / 2 and len(summary["curve"]) == 6


def test_run_protocol_refuses_bad_inputs():
    gt = square()
    with pytest.raises(DataError, match="differ in size"):
        run_protocol(Scripted([gt]), np.zeros((5, 5, 3), np.uint8), gt)
    with pytest.raises(DataError, match="empty"):
        run_protocol(Scripted([gt]), np.zeros((*gt.shape, 3), np.uint8), np.zeros_like(gt))
    with pytest.raises(DataError, match="returned a mask of shape"):
        run_protocol(Scripted([np.zeros((3, 3))]), np.zeros((*gt.shape, 3), np.uint8), gt)
