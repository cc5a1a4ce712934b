"""Network, TTA invariance, MC dropout, Grad-CAM, calibration and the CAS baseline features."""

import keras
import numpy as np
import pytest

from projects.galaxy_morphology import baseline, calibration
from projects.galaxy_morphology.model import (
    ModelConfig,
    build_model,
    dihedral_views,
    grad_cam,
    mc_dropout,
    predict_logits,
    predict_tta,
    softmax,
)
from projects.galaxy_morphology.train import TrainConfig, class_weights, compile_model

SMALL = ModelConfig(widths=(8, 16), dropout=0.3)


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    return build_model(SMALL, (16, 16, 3), 4)


def test_tta_is_invariant_to_a_90_degree_rotation(model):
    x = np.random.default_rng(0).normal(size=(3, 16, 16, 3)).astype(np.float32)
    a = predict_tta(model, x)
    b = predict_tta(model, np.ascontiguousarray(np.rot90(x, 1, axes=(1, 2))))
    c = predict_tta(model, np.ascontiguousarray(x[:, ::-1]))
    np.testing.assert_allclose(a, b, atol=1e-5)
    np.testing.assert_allclose(a, c, atol=1e-5)
    assert len(dihedral_views(x)) == 8 and a.shape == (3, 4)


def test_mc_dropout_and_grad_cam(model):
    x = np.random.default_rng(1).normal(size=(5, 16, 16, 3)).astype(np.float32)
    mean, entropy = mc_dropout(model, x, samples=4)
    assert mean.shape == (5, 4) and np.allclose(mean.sum(1), 1)
    assert (entropy >= 0).all() and (entropy <= np.log(4) + 1e-9).all()
    cam = grad_cam(model, x)
    assert cam.shape == (5, 16, 16) and cam.min() >= 0 and cam.max() <= 1


def test_model_saves_and_loads(tmp_path, model):
    x = np.random.default_rng(2).normal(size=(2, 16, 16, 3)).astype(np.float32)
    model.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras", compile=False)
    np.testing.assert_allclose(predict_logits(model, x), predict_logits(again, x), atol=1e-5)


def test_a_training_step_lowers_the_loss():
    keras.utils.set_random_seed(0)
    net = build_model(SMALL, (16, 16, 3), 2)
    compile_model(net, TrainConfig(epochs=1, learning_rate=1e-2, warmup_epochs=0), steps_per_epoch=20)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 16, 16, 3)).astype(np.float32)
    y = np.eye(2, dtype=np.float32)[(x.mean(axis=(1, 2, 3)) > 0).astype(int)]
    x[y[:, 1] == 1] += 1.0
    first = net.train_on_batch(x, y, return_dict=True)["loss"]
    for _ in range(15):
        last = net.train_on_batch(x, y, return_dict=True)["loss"]
    assert last < first


def test_bn_momentum_and_backbone_options():
    net = build_model(ModelConfig(widths=(4,)), (16, 16, 3), 3)
    assert net.get_layer("stem_bn").momentum == pytest.approx(0.9)
    with pytest.raises(ValueError):
        ModelConfig(stem_stride=3)


@pytest.mark.slow
def test_efficientnet_backbone_builds_without_weights():
    net = build_model(ModelConfig(backbone="efficientnet_b0"), (32, 32, 3), 5)
    assert net.output_shape == (None, 5)


def test_class_weights_balance():
    w = class_weights(np.array([0, 0, 0, 1]), 3)
    assert w[0] == pytest.approx(4 / 6) and w[1] == pytest.approx(2.0) and w[2] == 0.0


def test_ece_and_temperature_scaling_on_synthetic_logits():
    rng = np.random.default_rng(0)
    n, k = 4000, 5
    true_logits = rng.normal(0, 2.0, size=(n, k))
    labels = np.array([rng.choice(k, p=p) for p in softmax(true_logits)])
    # calibrated by construction: ECE small
    assert calibration.expected_calibration_error(softmax(true_logits), labels) < 0.03
    # three times over-confident: ECE large, the fitted temperature undoes it
    logits = 3 * true_logits
    assert calibration.expected_calibration_error(softmax(logits), labels) > 0.08
    t = calibration.fit_temperature(logits, labels)
    assert t == pytest.approx(3.0, rel=0.15)
    assert calibration.expected_calibration_error(softmax(logits, t), labels) < 0.03
    assert calibration.nll(logits, labels, t) < calibration.nll(logits, labels)
    rel = calibration.reliability(softmax(logits, t), labels, bins=10)
    assert rel["count"].sum() == n


def test_cas_features_on_shapes_with_known_answers(blob):
    f = dict(zip(baseline.FEATURES, baseline.morphology_features(blob, detect_sigma=2.0)))
    # a noiseless symmetric blob: no asymmetry, axis ratio 1; a Gaussian has C = 5 log10(r80/r20) = 2.14
    assert abs(f["asymmetry"]) < 0.05
    assert f["axis_ratio"] == pytest.approx(1.0, abs=0.02)
    assert f["concentration"] == pytest.approx(5 * np.log10(np.sqrt(np.log(5)) / np.sqrt(np.log(1.25))), abs=0.15)
    assert f["colour_1"] == pytest.approx(0.0, abs=1e-6)
    # an elongated Gaussian (axis ratio 0.5; a grid large enough that its segment is not cut) and a lopsided one
    yy, xx = np.mgrid[:81, :81] - 40.0
    ellipse = 100 * np.exp(-(xx**2 / (2 * 6.0**2) + yy**2 / (2 * 3.0**2)))
    g = dict(zip(baseline.FEATURES, baseline.morphology_features(np.repeat(ellipse[..., None], 3, -1))))
    assert g["axis_ratio"] == pytest.approx(0.5, abs=0.07) and g["ellipticity"] == pytest.approx(0.5, abs=0.07)
    lopsided = ellipse + 80 * np.exp(-((xx - 8) ** 2 + (yy - 3) ** 2) / 4.0)
    h = dict(zip(baseline.FEATURES, baseline.morphology_features(np.repeat(lopsided[..., None], 3, -1))))
    assert h["asymmetry"] > 0.15 > g["asymmetry"] + 0.1
    assert h["n_peaks"] == 2 and h["second_peak_ratio"] > 0.3


def test_gini_and_m20_limits():
    assert baseline.gini(np.ones(100)) == pytest.approx(0.0)
    point = np.zeros(100)
    point[0] = 1
    assert baseline.gini(point) == pytest.approx(1.0)
    image = np.zeros((21, 21))
    image[10, 10] = 1.0
    image[0, 0] = 1e-3
    mask = np.ones_like(image, bool)
    assert baseline.m20(image, mask, 10.0, 10.0) < -2
