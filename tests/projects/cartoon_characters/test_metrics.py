"""mAP, F1, Hamming loss, subset accuracy and ECE on hand-computed examples; AP equals scikit-learn's."""

import logging

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from projects.cartoon_characters.metrics import (
    average_precision,
    bootstrap_map_difference,
    calibration_errors,
    expected_calibration_error,
    f1_scores,
    hamming_loss,
    mean_average_precision,
    per_label_ap,
    reliability,
    subset_accuracy,
    summary,
)


def test_ap_by_hand():
    # ranks: TP (P 1, R 1/2), FP, TP (P 2/3, R 1) → AP = 1/2 · 1 + 1/2 · 2/3
    assert average_precision([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1]) == pytest.approx(0.5 + 1 / 3)
    # a tie is one threshold: {0.5, 0.5} gives P 1/2 at R 1/2, then P 2/3 at R 1
    assert average_precision([1, 0, 1], [0.5, 0.5, 0.2]) == pytest.approx(0.25 + 1 / 3)
    assert average_precision([0, 1], [0.1, 0.9]) == 1.0
    assert np.isnan(average_precision([0, 0, 0], [0.1, 0.5, 0.9]))


def test_ap_equals_sklearn():
    rng = np.random.default_rng(0)
    for trial in range(100):
        n = int(rng.integers(3, 80))
        y = (rng.random(n) < rng.uniform(0.05, 0.6)).astype(int)
        if y.sum() == 0:
            y[0] = 1
        s = rng.random(n)
        if trial % 2:
            s = np.round(s, 1)  # many ties
        assert average_precision(y, s) == pytest.approx(average_precision_score(y, s), abs=1e-12)
    y = (rng.random((200, 5)) < 0.2).astype(int)
    s = rng.random((200, 5)) + 0.3 * y
    np.testing.assert_allclose(per_label_ap(y, s), [average_precision_score(y[:, j], s[:, j]) for j in range(5)])


def test_map_leaves_out_labels_without_positives(caplog):
    y = np.array([[1, 0, 0], [0, 1, 0], [1, 1, 0]])
    s = np.array([[0.9, 0.2, 0.3], [0.1, 0.8, 0.2], [0.7, 0.6, 0.1]])
    with caplog.at_level(logging.WARNING):
        m = mean_average_precision(y, s, ["a", "b", "c"])
    assert m["excluded"] == ["c"] and m["per_label"]["c"] is None
    assert m["map"] == pytest.approx(1.0) and np.isfinite(m["map"])
    assert "c" in caplog.text
    full = summary(y, s, 0.5, ["a", "b", "c"])
    assert all(np.isfinite(full[k]) for k in ("map", "micro_f1", "macro_f1", "ece_pooled", "ece_macro"))


def test_f1_hamming_subset_by_hand():
    y = np.array([[1, 0], [1, 1], [0, 1]])
    p = np.array([[1, 1], [0, 1], [0, 1]])
    f = f1_scores(y, p, ["a", "b"])
    assert f["per_label"]["a"]["f1"] == pytest.approx(2 / 3)   # tp 1, fn 1
    assert f["per_label"]["b"]["f1"] == pytest.approx(4 / 5)   # tp 2, fp 1
    assert f["macro_f1"] == pytest.approx((2 / 3 + 4 / 5) / 2)
    assert f["micro_f1"] == pytest.approx(6 / 8)                # tp 3, fp 1, fn 1
    assert hamming_loss(y, p) == pytest.approx(2 / 6)
    assert subset_accuracy(y, p) == pytest.approx(1 / 3)


def test_ece_by_hand():
    # two bins: {0.1, 0.2} mean 0.15 vs 1/2 positive; {0.8, 0.9} mean 0.85 vs all positive
    assert expected_calibration_error([0, 1, 1, 1], [0.1, 0.2, 0.8, 0.9], bins=2) == pytest.approx(0.25)
    assert expected_calibration_error([0, 1], [0.0, 1.0], bins=10) == 0.0
    rel = reliability([1], [1.0], bins=4)
    assert rel["count"].tolist() == [0, 0, 0, 1]  # 1.0 falls in the last bin
    errors = calibration_errors(np.array([[0, 1], [1, 1]]), np.array([[0.2, 0.9], [0.6, 0.7]]), bins=2,
                                names=["a", "b"])
    # pooled: bin 0 {0.2}: |0 − 0.2|; bin 1 {0.9, 0.6, 0.7}: |1 − 0.7333|
    assert errors["ece_pooled"] == pytest.approx((0.2 + 3 * (1 - 2.2 / 3)) / 4)
    assert errors["per_label"]["a"] == pytest.approx((0.2 + 0.4) / 2)
    with pytest.raises(ValueError):
        reliability([1], [1.2])


def test_bootstrap_of_the_map_margin():
    rng = np.random.default_rng(1)
    y = (rng.random((300, 4)) < 0.2).astype(int)
    good = rng.random((300, 4)) + 0.8 * y
    bad = rng.random((300, 4)) + 0.1 * y
    same = bootstrap_map_difference(y, good, good, n_boot=50)
    assert same["difference"] == 0 and same["low"] == 0 and same["high"] == 0
    b = bootstrap_map_difference(y, good, bad, n_boot=200, seed=0)
    observed = mean_average_precision(y, good)["map"] - mean_average_precision(y, bad)["map"]
    assert b["difference"] == pytest.approx(observed)
    assert 0 < b["low"] < b["difference"] < b["high"] and b["p_value"] < 0.05


def test_summary_ranks_by_the_scores_when_given():
    y = np.array([[1], [0], [1], [0]])
    logits = np.array([[60.0], [50.0], [40.0], [-3.0]])     # σ rounds the first three to exactly 1.0
    probs = 1 / (1 + np.exp(-logits))
    assert summary(y, probs, 0.5)["map"] < summary(y, probs, 0.5, scores=logits)["map"]
    assert summary(y, probs, 0.5, scores=logits)["map"] == pytest.approx(average_precision(y[:, 0], logits[:, 0]))
