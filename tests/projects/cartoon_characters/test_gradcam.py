"""Grad-CAM per character: shapes and range, one map per predicted character, and the map follows the evidence."""

import numpy as np
import pytest

from projects.cartoon_characters.gradcam import grad_cam, grad_cam_sets, overlay


def test_maps_per_character_in_unit_range(model_dir):
    from projects.cartoon_characters.predict import load_predictor

    predictor = load_predictor(model_dir)
    frames = np.random.default_rng(1).integers(0, 256, (3, 16, 16, 3), dtype=np.uint8)
    cams = grad_cam(predictor.model, frames, [0, 2, 3])
    assert cams.shape == (3, 16, 16) and cams.dtype == np.float32
    assert cams.min() >= 0 and cams.max() <= 1
    predicted = np.array([[True, False, True, False], [False] * 4, [False, False, False, True]])
    sets = grad_cam_sets(predictor.model, frames, predicted)
    assert [sorted(s) for s in sets] == [[0, 2], [], [3]]
    # the same map whatever else is explained
    np.testing.assert_allclose(sets[0][2], grad_cam(predictor.model, frames[:1], [2])[0], atol=1e-5)
    np.testing.assert_allclose(sets[2][3], cams[2], atol=1e-5)
    assert overlay(frames[0], cams[0]).shape == (16, 16, 3)
    with pytest.raises(ValueError, match="one class per frame"):
        grad_cam(predictor.model, frames, [0])
    with pytest.raises(ValueError, match="0..3"):
        grad_cam(predictor.model, frames, [0, 1, 9])


def test_map_follows_the_feature_that_drives_the_logit():
    """A gap-head network whose logit is the mean of one channel: Grad-CAM is that channel's map, which is high
    where the frame is bright."""
    import keras

    from projects.cartoon_characters.model import ModelConfig, build_model

    net = build_model(ModelConfig(head="gap", widths=(2,), convs_per_stage=1, stem_stride=1, n_classes=1, size=8,
                                  dropout=0.0))
    conv = net.get_layer("conv0_0")
    kernel = np.zeros(conv.kernel.shape, "float32")
    kernel[1, 1, :, 0] = 1.0  # channel 0 = the sum of the colour channels at the pixel
    conv.kernel.assign(kernel)
    dense = net.get_layer("head").dense
    dense.kernel.assign(np.array([[1.0], [0.0]], "float32"))
    frame = np.zeros((1, 8, 8, 3), np.uint8)
    frame[0, :4, :4] = 255  # a bright top-left quadrant
    cam = grad_cam(net, frame, [0])[0]
    assert cam[:4, :4].mean() > 0.5 > cam[4:, 4:].mean()
    assert isinstance(net, keras.Model)
