"""POD-RBF as a baseline and as the first stage of the pod_residual U-Net: saving, cross-fitting, the surrogate
wrapper that feeds each design its inputs, and the headline design's choice."""

import numpy as np
import pytest

from projects.airfoil_flow import data
from projects.airfoil_flow.baselines import POD_FILE, PODRegression, out_of_fold
from projects.airfoil_flow.evaluate import choose_design
from projects.airfoil_flow.geometry import Airfoil
from projects.airfoil_flow.model import UNetConfig, build_unet
from projects.airfoil_flow.surrogate import Surrogate, load_surrogate
from shared.io import DataError


@pytest.fixture(scope="module")
def fields(prepared):
    return data.load_fields(prepared / "fields.nc")


def _rmse(pred, fields, idx):
    truth = np.stack([fields.u[idx], fields.v[idx], fields.cp[idx]], axis=-1)
    return float(np.sqrt(np.mean((pred - truth) ** 2)))


def test_pod_fit_survives_save_and_load(fields, tmp_path):
    idx = np.arange(14)
    pod = PODRegression(modes=4).fit(fields, idx)
    loaded = PODRegression.load(pod.save(tmp_path / POD_FILE))
    np.testing.assert_allclose(loaded.predict(fields, np.arange(14, 22)), pod.predict(fields, np.arange(14, 22)),
                               atol=1e-6)
    assert loaded.modes == 4 and loaded.energy_ == pytest.approx(pod.energy_)
    with pytest.raises(ValueError, match="parameters"):
        pod.predict_params(np.zeros((1, 3)), fields.mask[:1])
    (tmp_path / "cut.npz").write_bytes((tmp_path / POD_FILE).read_bytes()[:200])
    with pytest.raises(DataError):
        PODRegression.load(tmp_path / "cut.npz")
    arrays = dict(np.load(tmp_path / POD_FILE))
    np.savez(tmp_path / "nan.npz", **{**arrays, "coeffs": arrays["coeffs"] * np.nan})
    with pytest.raises(DataError, match="NaN"):
        PODRegression.load(tmp_path / "nan.npz")


def test_out_of_fold_fields_never_come_from_a_fit_that_saw_the_case(fields):
    idx = np.arange(20)
    oof = out_of_fold(fields, idx, modes=4, smoothing=1e-4, folds=3)
    in_sample = PODRegression(modes=4).fit(fields, idx).predict(fields, idx)
    assert oof.shape == (20, 16, 16, 3) and np.all(oof[fields.mask[idx]] == 0)
    # a fit interpolates its own cases; the cross-fitted fields carry the error POD makes on unseen cases
    assert _rmse(oof, fields, idx) > 2 * _rmse(in_sample, fields, idx)
    with pytest.raises(ValueError, match="folds"):
        out_of_fold(fields, idx, modes=4, smoothing=1e-4, folds=1)
    with pytest.raises(DataError, match="at least 11 training cases"):  # 8 Kulfan parameters and α, + 2
        out_of_fold(fields, idx[:12], modes=4, smoothing=1e-4, folds=3)


def test_untrained_pod_residual_is_pod_and_contours_give_the_prepared_inputs(fields, tmp_path):
    pod = PODRegression(modes=4).fit(fields, np.arange(14))
    model = build_unet(UNetConfig(design="pod_residual", filters=4, levels=2), (16, 16))
    assert model.inputs[0].shape[-1] == 7
    surrogate = Surrogate(model, pod)
    idx = np.arange(14, 22)
    x = surrogate.inputs(fields, idx)
    np.testing.assert_allclose(surrogate.predict(x), pod.predict(fields, idx), atol=1e-6)  # the zero head
    foils = [Airfoil(str(fields.meta["name"][i]), fields.contour(i)) for i in idx]
    from_contours = surrogate.inputs_for(foils, fields.meta["alpha"][idx], fields.grid)
    np.testing.assert_allclose(from_contours, x, atol=1e-4)
    # one airfoil and one angle: a batch of one; an angle that is not finite: one-line error
    one = surrogate.inputs_for(foils[0], float(fields.meta["alpha"][idx[0]]), fields.grid)
    np.testing.assert_allclose(one, x[:1], atol=1e-4)
    with pytest.raises(DataError, match="finite"):
        surrogate.inputs_for(foils[0], float("nan"), fields.grid)
    # saved and loaded as the train stage writes it
    model.save(tmp_path / "model.keras")
    with pytest.raises(DataError, match=POD_FILE):
        load_surrogate(tmp_path)
    pod.save(tmp_path / POD_FILE)
    np.testing.assert_allclose(load_surrogate(tmp_path).predict(x), surrogate.predict(x), atol=1e-6)
    other = tmp_path / "other"  # the fit of another grid beside the network
    other.mkdir()
    build_unet(UNetConfig(design="pod_residual", filters=4, levels=2), (8, 8)).save(other / "model.keras")
    pod.save(other / POD_FILE)
    with pytest.raises(DataError, match="does not belong"):
        load_surrogate(other)
    with pytest.raises(DataError, match="no trained model"):
        load_surrogate(tmp_path / "missing")


def test_headline_design_is_named_or_chosen_on_validation():
    val = {"geometry": {"cl_mae_circulation": 0.05}, "pod_residual": {"cl_mae_circulation": 0.01}}
    assert choose_design("auto", ["geometry", "pod_residual"], val) == "pod_residual"
    assert choose_design("geometry", ["geometry", "pod_residual"], val) == "geometry"
    assert choose_design("auto", [], None) is None
    with pytest.raises(DataError, match="plain"):
        choose_design("plain", ["geometry", "pod_residual"], val)
