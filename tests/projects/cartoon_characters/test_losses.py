"""The losses: ASL with its parameters at zero and focal with γ 0 equal BCE; ASL discards easy negatives;
positive weights; get_config round trips."""

import keras
import numpy as np
import pytest

from projects.cartoon_characters.losses import AsymmetricLoss, FocalLoss, LossConfig, WeightedBCE, make_loss

rng = np.random.default_rng(0)
Y = (rng.random((6, 4)) < 0.4).astype("float32")
LOGITS = rng.normal(0, 3, (6, 4)).astype("float32")


def bce():
    return float(keras.losses.BinaryCrossentropy(from_logits=True)(Y, LOGITS))


def test_asl_at_zero_and_focal_at_gamma_zero_equal_bce():
    reference = bce()
    assert float(AsymmetricLoss(0.0, 0.0, 0.0)(Y, LOGITS)) == pytest.approx(reference, rel=1e-6)
    assert float(FocalLoss(0.0)(Y, LOGITS)) == pytest.approx(reference, rel=1e-6)
    assert float(WeightedBCE()(Y, LOGITS)) == pytest.approx(reference, rel=1e-6)


def test_asl_clip_discards_easy_negatives_and_focusing_lowers_the_loss():
    y = np.zeros((1, 2), "float32")
    easy = np.array([[-4.0, -3.5]], "float32")  # p ≈ 0.018, 0.029 < margin 0.05
    assert float(AsymmetricLoss(0.0, 0.0, 0.05)(y, easy)) == 0.0
    assert float(AsymmetricLoss(0.0, 4.0, 0.0)(Y, LOGITS)) < bce()
    assert float(FocalLoss(2.0)(Y, LOGITS)) < bce()


def test_positive_weight_scales_the_positive_term():
    y = np.array([[1.0, 0.0]], "float32")
    logits = np.array([[0.3, 0.2]], "float32")
    plain = WeightedBCE()
    weighted = WeightedBCE([3.0, 3.0])
    pos = float(plain(np.array([[1.0]]), logits[:, :1]))
    neg = float(plain(np.array([[0.0]]), logits[:, 1:]))
    assert float(weighted(y, logits)) == pytest.approx((3 * pos + neg) / 2, rel=1e-6)
    for loss in (AsymmetricLoss(pos_weight=[2.0, 1.0]), FocalLoss(1.0, 0.25, [2.0, 1.0])):
        clone = type(loss).from_config(loss.get_config())
        assert float(clone(Y[:, :2], LOGITS[:, :2])) == pytest.approx(float(loss(Y[:, :2], LOGITS[:, :2])))


def test_make_loss_by_name():
    cfg = LossConfig()
    assert isinstance(make_loss("asl", cfg), AsymmetricLoss) and isinstance(make_loss("focal", cfg), FocalLoss)
    assert isinstance(make_loss("bce", cfg, [1.0, 2.0]), WeightedBCE)
    with pytest.raises(ValueError, match="unknown loss"):
        make_loss("hinge", cfg)


def test_gradients_stay_finite_for_saturated_logits():
    import tensorflow as tf

    y = tf.constant([[1.0, 0.0, 1.0, 0.0]])
    logits = tf.Variable([[40.0, -40.0, -40.0, 40.0]])  # σ = 1 or 0 exactly in float32
    for loss in (AsymmetricLoss(), AsymmetricLoss(1.0, 4.0, 0.0), FocalLoss(2.0), FocalLoss(0.5), WeightedBCE()):
        with tf.GradientTape() as tape:
            value = loss(y, logits)
        grad = tape.gradient(value, logits)
        assert np.isfinite(float(value)) and np.isfinite(grad.numpy()).all(), type(loss).__name__
