"""The surrogates: the masked loss, the exact basis combination, a training step, saving."""

import keras
import numpy as np
import pytest

from projects.airfoil_flow.model import (
    CombineBasis,
    MaskedMSE,
    MLPConfig,
    UNetConfig,
    build_cl_mlp,
    build_unet,
)


def test_masked_loss_ignores_cells_inside_the_body():
    rng = np.random.default_rng(0)
    y_true = rng.normal(size=(2, 8, 8, 4)).astype("float32")
    y_true[..., 3] = 1.0
    y_true[:, 2:4, 2:6, 3] = 0.0  # the body
    y_pred = y_true[..., :3].copy()
    loss = MaskedMSE()
    assert float(loss(y_true, y_pred)) == pytest.approx(0.0, abs=1e-7)
    y_pred[:, 2:4, 2:6, :] += 100.0  # garbage inside the body changes nothing
    assert float(loss(y_true, y_pred)) == pytest.approx(0.0, abs=1e-7)
    y_pred[:, 0, 0, 0] += 1.0  # one fluid cell wrong
    assert float(loss(y_true, y_pred)) > 0
    assert MaskedMSE.from_config(loss.get_config()).weights == loss.weights


def test_combine_basis_is_the_exact_linear_combination():
    x = np.zeros((1, 4, 4, 4), "float32")
    a = np.radians(30.0)
    x[..., 2], x[..., 3] = np.cos(a), np.sin(a)
    d = np.random.default_rng(1).normal(size=(1, 4, 4, 4)).astype("float32") * 0.1
    out = np.asarray(CombineBasis(scale_90=2.0)([x, d]))
    u0, v0, u90, v90 = 1 + d[..., 0], d[..., 1], 2 * d[..., 2], 1 + 2 * d[..., 3]
    u, v = np.cos(a) * u0 + np.sin(a) * u90, np.cos(a) * v0 + np.sin(a) * v90
    np.testing.assert_allclose(out[..., 0], u, atol=1e-6)
    np.testing.assert_allclose(out[..., 2], 1 - u**2 - v**2, atol=1e-6)
    x[..., 1] = 1.0  # inside the body: zero
    assert np.all(np.asarray(CombineBasis()([x, d])) == 0)


@pytest.mark.parametrize("design", ["geometry", "plain"])
def test_training_step_and_save_load(tmp_path, design):
    model = build_unet(UNetConfig(design=design, filters=4, levels=3), (16, 16))
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=MaskedMSE())
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 16, 16, 4)).astype("float32")
    x[..., 1] = 0
    y = rng.normal(size=(4, 16, 16, 4)).astype("float32") * 0.1
    y[..., 3] = 1
    before = float(model.evaluate(x, y, verbose=0))
    model.fit(x, y, epochs=3, batch_size=4, verbose=0)
    assert float(model.evaluate(x, y, verbose=0)) < before
    model.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras", compile=False)
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)


def test_geometry_design_ignores_the_angle_except_through_the_combination():
    model = build_unet(UNetConfig(design="geometry", filters=4, levels=2), (8, 8))
    x = np.zeros((1, 8, 8, 4), "float32")
    x[..., 2] = 1.0
    out0 = model.predict(x, verbose=0)
    x[..., 2], x[..., 3] = 0.0, 1.0
    out90 = model.predict(x, verbose=0)
    x[..., 2], x[..., 3] = np.cos(0.3), np.sin(0.3)
    out = model.predict(x, verbose=0)
    np.testing.assert_allclose(out[..., :2], np.cos(0.3) * out0[..., :2] + np.sin(0.3) * out90[..., :2], atol=1e-5)


def test_bad_configs():
    with pytest.raises(ValueError, match="divisible"):
        build_unet(UNetConfig(levels=4), (20, 20))
    with pytest.raises(ValueError, match="scale_90"):
        UNetConfig(scale_90=0)
    mlp = build_cl_mlp(MLPConfig(width=4, depth=1), [0, 0, 0.1, 0], [0.1, 0.1, 0.1, 5])
    assert mlp.predict(np.zeros((2, 4), "float32"), verbose=0).shape == (2, 1)
