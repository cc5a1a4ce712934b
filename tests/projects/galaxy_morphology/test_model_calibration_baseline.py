"""Network, TTA invariance (label-aware for chirality pairs), MC dropout, Grad-CAM, calibration, the statmorph
baseline features and the paired test."""

import keras
import numpy as np
import pytest

from projects.galaxy_morphology import calibration, evaluate, morphology
from projects.galaxy_morphology.augment import AugmentConfig, Augmenter, mirror_permutation, train_dataset
from projects.galaxy_morphology.baseline import subset
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


def test_chirality_aware_tta_and_mirror_permutation():
    perm = mirror_permutation(["round", "cw", "acw", "edge"], [["cw", "acw"]])
    assert perm.tolist() == [0, 2, 1, 3]
    with pytest.raises(ValueError, match="two distinct classes"):
        mirror_permutation(["a", "b"], [["a", "c"]])
    with pytest.raises(ValueError, match="two chirality pairs"):
        mirror_permutation(["a", "b", "c"], [["a", "b"], ["b", "c"]])
    # a "network" that reads handedness: a pinwheel pattern P, unchanged by 90° rotations, negated by a mirror;
    # logits (0, s, -s, 0) with s = <x, P>
    a = np.random.default_rng(0).normal(size=(8, 8))
    b = sum(np.rot90(a, k) for k in range(4))
    pinwheel = b - b[:, ::-1]
    pinwheel /= np.abs(pinwheel).sum()
    np.testing.assert_allclose(np.rot90(pinwheel), pinwheel, atol=1e-12)
    np.testing.assert_allclose(pinwheel[:, ::-1], -pinwheel, atol=1e-12)
    x = pinwheel[None, :, :, None].astype(np.float32)
    inputs = keras.Input((8, 8, 1))
    dense = keras.layers.Dense(4)
    net = keras.Model(inputs, dense(keras.layers.Flatten()(inputs)))
    weight = 5 / np.sum(pinwheel**2) * pinwheel.reshape(-1, 1) * np.array([[0.0, 1.0, -1.0, 0.0]])
    dense.set_weights([weight.astype(np.float32), np.zeros(4, np.float32)])
    plain = predict_tta(net, x)
    aware = predict_tta(net, x, mirror=perm)
    # label-blind TTA averages the mirrored views' opposite votes into a tie; label-aware TTA keeps the handedness
    assert plain[0, 1] == pytest.approx(plain[0, 2], abs=1e-6)
    assert aware[0, 1] > aware[0, 2] + 0.4


def test_augmenter_mirror_swaps_paired_labels():
    cfg = AugmentConfig(rotate=False, shift=0.0, zoom=(1.0, 1.0), blur_p=0.0, noise_p=0.0)
    image = np.zeros((8, 8, 1), np.float32)
    image[:, 1] = 1.0
    outs = [Augmenter(cfg, seed)(image) for seed in range(16)]
    assert {m for _, m in outs} == {True, False}
    for out, mirrored in outs:
        np.testing.assert_array_equal(out, image[:, ::-1] if mirrored else image)
    # through the tf.data pipeline: a mirrored image (bright column on the right) carries the paired label
    x = np.repeat(image[None], 32, axis=0)
    ds = train_dataset(x, np.full(32, 1), 3, batch_size=32, augment=cfg, stretch="linear", softening=1.0,
                       mirror=np.array([0, 2, 1]))
    images, onehots = next(iter(ds))
    right = images.numpy()[:, :, 6, 0].sum(axis=1) > 0
    labels = onehots.numpy().argmax(1)
    assert right.any() and (~right).any()
    np.testing.assert_array_equal(labels, np.where(right, 2, 1))


def _noisy(image, seed=0):
    return image + np.random.default_rng(seed).normal(0, 1.0, image.shape)


def test_statmorph_features_on_shapes_with_known_answers():
    yy, xx = np.mgrid[:64, :64] - 31.5
    blob = 400 * np.exp(-(xx**2 + yy**2) / (2 * 4.0**2))
    f = dict(zip(morphology.FEATURES, morphology.morphology_features(_noisy(np.repeat(blob[..., None], 3, -1)))))
    assert f["statmorph_flag"] < 2 and abs(f["asymmetry"]) < 0.05 and f["ellipticity_asymmetry"] < 0.08
    # a Gaussian's C = 5 log10(r80 / r20) = 2.14 (statmorph measures within 1.5 Petrosian radii)
    assert f["concentration"] == pytest.approx(2.14, abs=0.2)
    assert f["colour_1"] == pytest.approx(0.0, abs=0.02)
    ellipse = 400 * np.exp(-(xx**2 / (2 * 6.0**2) + yy**2 / (2 * 3.0**2)))
    g = dict(zip(morphology.FEATURES, morphology.morphology_features(_noisy(np.repeat(ellipse[..., None], 3, -1)))))
    assert g["ellipticity_asymmetry"] == pytest.approx(0.5, abs=0.08)
    lopsided = ellipse + 300 * np.exp(-((xx - 8) ** 2 + (yy - 3) ** 2) / 4.0)
    h = dict(zip(morphology.FEATURES, morphology.morphology_features(_noisy(np.repeat(lopsided[..., None], 3, -1)))))
    assert h["asymmetry"] > g["asymmetry"] + 0.1
    assert h["n_peaks"] == 2 and h["second_peak_ratio"] > 0.3
    assert g["gini"] > 0.3 and -3 < g["m20"] < 0
    # nothing to detect: zeros and statmorph's "catastrophic" flag
    empty = morphology.morphology_features(np.random.default_rng(1).normal(0, 1, (32, 32, 3)), detect_sigma=50)
    assert empty[-1] == 4 and not empty[:-1].any()


def test_stratified_subset_and_mcnemar():
    labels = np.repeat([0, 1, 2], [50, 30, 20])
    idx = subset(labels, 10, seed=0)
    assert idx.size == 10 and np.bincount(labels[idx]).tolist() == [5, 3, 2] and np.all(np.diff(idx) > 0)
    assert subset(labels, 500, 0).size == 100
    a = np.array([True] * 30 + [False] * 5)
    b = np.array([False] * 20 + [True] * 10 + [True] * 5)
    result = evaluate.mcnemar(a, b)
    assert result["statistic"] == 20 and result["b_only"] == 5 and result["p_value"] < 0.01
    assert evaluate.mcnemar(a, a)["p_value"] == 1.0
