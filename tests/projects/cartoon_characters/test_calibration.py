"""Per-label temperature / Platt scaling and F1 thresholds on validation; the calibrate stage."""

import json
import logging

import numpy as np
import pytest

from projects.cartoon_characters import calibration as calib
from projects.cartoon_characters.metrics import expected_calibration_error, per_label_ap
from shared.io import DataError


def _overconfident(n=3000, c=3, factor=3.0, seed=0):
    rng = np.random.default_rng(seed)
    true_logits = rng.normal(-1.0, 2.0, (n, c))
    labels = (rng.random((n, c)) < calib.sigmoid(true_logits)).astype(np.uint8)
    return factor * true_logits, labels


def test_temperature_recovers_the_overconfidence_and_lowers_ece():
    logits, labels = _overconfident(factor=3.0)
    cal = calib.fit(logits, labels, ["a", "b", "c"], "temperature")
    np.testing.assert_allclose(cal.scale, 3.0, rtol=0.15)
    raw, cooked = calib.sigmoid(logits), cal.probabilities(logits)
    assert expected_calibration_error(labels, cooked) < 0.5 * expected_calibration_error(labels, raw)
    np.testing.assert_allclose(per_label_ap(labels, cooked), per_label_ap(labels, raw))  # ranking kept
    assert cal.validation["nll_after"] < cal.validation["nll_before"]


def test_platt_scaling_fits_slope_and_bias():
    logits, labels = _overconfident(factor=2.0, seed=1)
    cal = calib.fit(logits - 1.0, labels, ["a", "b", "c"], "platt")
    np.testing.assert_allclose(cal.scale, 0.5, rtol=0.2)
    np.testing.assert_allclose(cal.bias, 0.5, atol=0.25)


def test_f1_threshold_picks_the_middle_of_the_best_range():
    threshold, f1 = calib.f1_threshold([0.1, 0.4, 0.6, 0.9], [0, 0, 1, 1], grid=99)
    assert f1 == 1.0 and 0.4 < threshold <= 0.6
    assert threshold == pytest.approx(0.5, abs=0.03)


def test_label_without_positives_stays_uncalibrated(caplog):
    logits, labels = _overconfident(n=400, c=2)
    labels[:, 1] = 0
    with caplog.at_level(logging.WARNING):
        cal = calib.fit(logits, labels, ["a", "b"])
    assert cal.unfitted == ["b"] and cal.scale[1] == 1.0 and cal.thresholds[1] == 0.5
    assert "b" in caplog.text


def test_save_and_load_round_trip(tmp_path):
    logits, labels = _overconfident(n=500)
    cal = calib.fit(logits, labels, ["a", "b", "c"])
    path = calib.save(cal, tmp_path / "calibration.json")
    back = calib.load(path)
    assert back.characters == ["a", "b", "c"] and back.method == "temperature"
    np.testing.assert_allclose(back.probabilities(logits), cal.probabilities(logits))
    np.testing.assert_allclose(back.thresholds, cal.thresholds)
    data = json.loads(path.read_text())
    data["thresholds"] = [0.5]
    path.write_text(json.dumps(data))
    with pytest.raises(DataError, match="thresholds"):
        calib.load(path)
    with pytest.raises(ValueError, match="shape"):
        cal.probabilities(np.zeros((2, 5)))


def test_calibrate_stage(tmp_path):
    from projects.cartoon_characters.calibrate import main

    logits, labels = _overconfident(n=600)
    model = tmp_path / "model"
    (model / "predictions").mkdir(parents=True)
    (model / "train.json").write_text(json.dumps({"characters": ["a", "b", "c"], "size": 16, "chosen": "x"}))
    np.savez(model / "predictions" / "val.npz", logits=logits.astype(np.float32), labels=labels)
    params = tmp_path / "params.yaml"
    params.write_text("calibrate: {method: temperature, bounds: [0.05, 20.0], threshold_grid: 99, bins: 10}\n")
    assert main(["--params", str(params), "--model", str(model), "--out", str(tmp_path / "cal")]) == 0
    cal = calib.load(tmp_path / "cal" / "calibration.json")
    assert cal.characters == ["a", "b", "c"] and np.all(cal.scale > 2)
    np.savez(model / "predictions" / "val.npz", logits=logits[:, :2].astype(np.float32), labels=labels[:, :2])
    with pytest.raises(DataError, match="logits"):
        main(["--params", str(params), "--model", str(model), "--out", str(tmp_path / "cal")])


def test_a_temperature_at_its_search_bound_is_warned(caplog):
    """A label the model separates perfectly drives T to the lower bound: said, not silent."""
    rng = np.random.default_rng(0)
    labels = (rng.random((200, 1)) < 0.3).astype(np.uint8)
    logits = np.where(labels == 1, 3.0, -3.0)
    caplog.set_level("WARNING")
    cal = calib.fit(logits, labels, ["a"], "temperature", bounds=(0.05, 20.0))
    assert cal.scale[0] == pytest.approx(0.05, rel=1e-3)
    assert "the temperature of a is at the search bound 0.05" in caplog.text


def test_method_chosen_by_held_out_nll():
    """Labels drawn from σ(z / 2): a temperature alone calibrates, and Platt's extra bias earns nothing held out;
    the same logits shifted by +3: only Platt's bias undoes the shift, and it wins held out."""
    rng = np.random.default_rng(1)
    z = rng.normal(0, 4, (600, 2))
    labels = (rng.random(z.shape) < 1 / (1 + np.exp(-z / 2))).astype(np.uint8)
    _, scores = calib.choose_method(z, labels, ["a", "b"], folds=4)
    assert scores["temperature"] <= scores["platt"] + 0.005
    method, scores = calib.choose_method(z + 3.0, labels, ["a", "b"], folds=4)
    assert method == "platt" and scores["platt"] < scores["temperature"] - 0.01
    with pytest.raises(ValueError):
        calib.choose_method(z[:3], labels[:3], ["a", "b"], folds=4)
