"""The network, the in-graph click simulation of training, and the predictor (zoom-in, images in, masks out)."""

import json

import numpy as np
import pytest

from projects.clothing_segmentation import clicks as clicks_lib
from projects.clothing_segmentation.clicks import Click
from projects.clothing_segmentation.model import (
    ClickColourSimilarity,
    MaskPooling,
    ModelConfig,
    build_model,
    load_model,
)
from projects.clothing_segmentation.predictor import (
    ModelSegmenter,
    coco_annotation,
    crop_view,
    load_rgb,
    load_segmenter,
    paste_view,
    square_view,
    to_rgb8,
    zoom_view,
)
from shared.io import DataError

SMALL = ModelConfig(widths=(8, 12), blocks_per_stage=1, expansion=2, decoder_width=8, class_hidden=8, n_classes=5)


def _inputs(batch, size, seed=0):
    rng = np.random.default_rng(seed)
    return {"image": rng.uniform(0, 255, (batch, size, size, 3)).astype(np.float32),
            "clicks": (rng.random((batch, size, size, 2)) > 0.95).astype(np.float32),
            "prev_mask": rng.random((batch, size, size, 1)).astype(np.float32)}


def test_build_model_outputs_and_any_multiple_of_the_divisor():
    model = build_model(SMALL)
    assert sorted(t.name for t in model.inputs) == ["clicks", "image", "prev_mask"]
    for size in (16, 32, 48):
        out = model(_inputs(2, size), training=False)
        assert tuple(out["mask"].shape) == (2, size, size, 1)
        assert tuple(out["class"].shape) == (2, 5)
    assert build_model(ModelConfig()).count_params() < 300_000  # small enough for 2 CPU cores


def test_model_config_is_checked():
    with pytest.raises(ValueError):
        ModelConfig(widths=(8,))
    with pytest.raises(ValueError):
        ModelConfig(dropout=1.0)
    assert ModelConfig(widths=(8, 16, 32)).divisor == 8


def test_saved_model_reloads_with_its_custom_layers(tmp_path):
    model = build_model(SMALL)
    x = _inputs(1, 32, seed=3)
    before = model(x, training=False)
    model.save(tmp_path / "m.keras")
    again = load_model(tmp_path / "m.keras")
    after = again(x, training=False)
    np.testing.assert_allclose(np.asarray(before["mask"]), np.asarray(after["mask"]), atol=1e-5)
    np.testing.assert_allclose(np.asarray(before["class"]), np.asarray(after["class"]), atol=1e-5)
    assert MaskPooling(epsilon=0.5).get_config()["epsilon"] == 0.5
    with pytest.raises(DataError, match="not found"):
        load_model(tmp_path / "missing.keras")
    (tmp_path / "bad.keras").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="cannot be loaded"):
        load_model(tmp_path / "bad.keras")


def test_click_colour_similarity_is_one_on_the_clicked_colour_and_zero_without_clicks():
    image = np.zeros((1, 4, 6, 3), np.float32)
    image[0, :, :3] = 0.8  # left half one colour, right half another ([-1, 1] scale)
    image[0, :, 3:] = -0.8
    clicks = np.zeros((1, 4, 6, 2), np.float32)
    clicks[0, 1, 1, 0] = 1.0  # one positive click on the left, no negative click
    out = np.asarray(ClickColourSimilarity(sigma=0.25)(image, clicks))
    assert out.shape == (1, 4, 6, 2)
    np.testing.assert_allclose(out[0, :, :3, 0], 1.0, atol=1e-5)
    assert out[0, :, 3:, 0].max() < 1e-6 and not out[..., 1].any()
    assert ClickColourSimilarity(sigma=0.5).get_config()["sigma"] == 0.5
    with pytest.raises(ValueError):
        ModelConfig(colour_sigma=0.0)


def test_mask_pooling_weights_features_by_the_mask_and_stops_its_gradient():
    import tensorflow as tf

    features = tf.constant(np.arange(8, dtype=np.float32).reshape(1, 2, 2, 2))
    logits = tf.constant(np.array([[[[30.0], [-30.0]], [[-30.0], [-30.0]]]], np.float32))  # only the first pixel
    with tf.GradientTape() as tape:
        tape.watch(logits)
        pooled = MaskPooling(epsilon=1e-6)(features, logits)
        total = tf.reduce_sum(pooled)
    np.testing.assert_allclose(pooled.numpy()[0], [0, 1, 3, 4], atol=1e-4)  # masked mean, then global mean
    grad = tape.gradient(total, logits)
    assert grad is None or not np.any(grad.numpy())


# --------------------------------------------------------------------------- clicks in the training graph
def test_graph_clicks_agree_with_the_protocol_simulator():
    from projects.clothing_segmentation.train import disk_maps, error_depth, next_click

    gt = np.zeros((24, 24), bool)
    gt[4:20, 4:14] = True
    pred = np.zeros_like(gt)
    pred[4:20, 4:8] = True  # misses the right part: a false negative
    row, col, positive, has_error = (np.asarray(v)[0] for v in next_click(gt[None], pred[None]))
    assert bool(positive) and bool(has_error)
    assert gt[row, col] and not pred[row, col]
    expected = clicks_lib.next_click(gt, pred)
    assert abs(int(row) - expected.y) <= 2 and abs(int(col) - expected.x) <= 2
    spill = gt.copy()
    spill[4:20, 14:23] = True  # a large false positive to the right
    _, col, positive, _ = (np.asarray(v)[0] for v in next_click(gt[None], spill[None]))
    assert not bool(positive) and col >= 14
    _, _, _, has_error = next_click(gt[None], gt[None])
    assert not bool(np.asarray(has_error)[0])
    depth = np.asarray(error_depth(gt[None]))[0]
    assert depth[0, 0] == 0 and depth[4, 4] == 1 and depth[11, 8] == 5  # chessboard distance, border counts
    disk = np.asarray(disk_maps(np.array([5]), np.array([7]), (16, 16), 3.0))[0]
    np.testing.assert_array_equal(disk, clicks_lib.encode_clicks([Click(5, 7, True)], (16, 16), 3.0)[..., 0])


# --------------------------------------------------------------------------- predictor
def test_views_crop_and_paste_back():
    assert square_view((40, 100)) == (-30.0, 0.0, 100.0)
    image = np.arange(40 * 100, dtype=np.float32).reshape(40, 100)
    view = (-30, 0, 100)
    crop = crop_view(image, view, 100)
    assert crop.shape == (100, 100) and np.all(crop[:30] == 0)
    np.testing.assert_allclose(paste_view(np.zeros_like(image), crop, view), image)
    prob = np.zeros((40, 100), np.float32)
    prob[10:20, 30:40] = 1
    y0, x0, side = zoom_view((40, 100), prob, [Click(15, 35, True), Click(25, 60, False)], 1.4, 0.1)
    assert y0 <= 10 and x0 <= 30 and y0 + side >= 26 and x0 + side >= 61 and side <= 100


def test_model_segmenter_zooms_after_the_first_click_and_names_a_class():
    net = build_model(SMALL)
    seg = ModelSegmenter(net, size=32, radius=2.0, classes=list("abcde"))
    assert isinstance(seg, clicks_lib.ClickSegmenter)
    image = np.random.default_rng(0).integers(0, 255, (50, 70, 3)).astype(np.uint8)
    seg.reset(image)
    first = seg.predict([Click(25, 35, True)], None)
    assert first.shape == (50, 70) and first.dtype == np.float32 and 0 <= first.min() <= first.max() <= 1
    assert seg.last_view == (-10, 0, 70)
    name, p = seg.predicted_class()
    assert name in "abcde" and 0 < p <= 1 and np.isclose(seg.class_probabilities.sum(), 1)
    small = np.zeros((50, 70), np.float32)
    small[20:30, 30:40] = 0.9
    seg.predict([Click(25, 35, True), Click(22, 33, False)], small)
    assert seg.last_view[2] < 70  # zoomed in on the mask
    with pytest.raises(DataError, match="outside the image"):
        seg.predict([Click(60, 10, True)], None)
    with pytest.raises(DataError, match="differ in size"):
        seg.predict([Click(5, 5, True)], np.zeros((10, 10), np.float32))
    with pytest.raises(DataError, match="at least one click"):
        seg.predict([], None)
    full = seg.segment(image, [Click(25, 35, True), Click(5, 5, False)])
    assert full.shape == (50, 70)


def test_load_segmenter_needs_a_trained_folder(tmp_path):
    with pytest.raises(DataError, match="run the train stage"):
        load_segmenter(tmp_path)


def test_load_rgb_refuses_non_images_corrupt_files_and_bombs(tmp_path):
    from PIL import Image

    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(DataError, match="not an image"):
        load_rgb(tmp_path / "notes.png")
    Image.fromarray(np.zeros((30, 40, 3), np.uint8)).save(tmp_path / "ok.jpg")
    data = (tmp_path / "ok.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError):
        load_rgb(tmp_path / "cut.jpg")
    with pytest.raises(DataError, match="more than the limit"):
        load_rgb(tmp_path / "ok.jpg", max_pixels=1000)
    assert load_rgb(tmp_path / "ok.jpg").shape == (30, 40, 3)
    grey16 = np.full((4, 5), 65535, np.uint16)
    assert to_rgb8(grey16).shape == (4, 5, 3) and to_rgb8(grey16).max() == 255
    assert to_rgb8(np.zeros((4, 5, 4), np.uint8)).shape == (4, 5, 3)


def test_coco_annotation_round_trips_through_pycocotools():
    from pycocotools import mask as mask_utils

    mask = np.zeros((20, 30), np.uint8)
    mask[5:12, 3:20] = 255
    coco = json.loads(json.dumps(coco_annotation(mask, category="top", image_name="x.png",
                                                 classes=["background", "top"])))
    ann = coco["annotations"][0]
    assert ann["category_id"] == 1 and ann["area"] == 7 * 17 and ann["bbox"] == [3, 5, 17, 7]
    decoded = mask_utils.decode({"size": ann["segmentation"]["size"],
                                 "counts": ann["segmentation"]["counts"].encode()})
    np.testing.assert_array_equal(decoded, mask > 0)
    other = coco_annotation(mask, category="scarf", image_name="x.png", classes=["background", "top"])
    assert other["categories"][-1]["name"] == "scarf"
