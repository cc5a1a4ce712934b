"""Imbalance handling: positive weights, repeat-factor oversampling, undersampling of frequent-only frames."""

import numpy as np
import pytest

from projects.cartoon_characters.imbalance import ImbalanceConfig, label_frequencies, positive_weights, resample

# 100 frames: label 0 in 80, label 1 in 5 (rare), 15 frames without labels
LABELS = np.zeros((100, 2), np.uint8)
LABELS[:80, 0] = 1
LABELS[80:85, 1] = 1
CFG = ImbalanceConfig(threshold=0.2, power=1.0, cap=10.0)


def test_frequencies_and_positive_weights():
    np.testing.assert_allclose(label_frequencies(LABELS), [0.8, 0.05, 0.15])
    np.testing.assert_allclose(positive_weights(LABELS, CFG), [20 / 80, 10.0])  # 95/5 = 19 capped at 10
    empty = np.zeros((4, 1), np.uint8)
    assert positive_weights(empty, CFG)[0] == 10.0


def test_oversampling_repeats_rare_frames_and_is_seeded():
    idx = resample(LABELS, "oversample", CFG, seed=0)
    counts = np.bincount(idx, minlength=100)
    assert (counts[80:85] == 2).all()  # sqrt(0.2 / 0.05) = 2 repeats
    assert (counts[:80] == 1).all() and (counts[85:] >= 1).all()
    np.testing.assert_array_equal(idx, resample(LABELS, "oversample", CFG, seed=0))


def test_undersampling_thins_frequent_only_frames_and_keeps_rare_ones():
    idx = resample(LABELS, "undersample", CFG, seed=0)
    assert set(range(80, 85)) <= set(idx.tolist())
    kept_frequent = np.isin(np.arange(80), idx).mean()
    assert 0.25 < kept_frequent < 0.75  # keep probability sqrt(0.2 / 0.8) = 0.5
    np.testing.assert_array_equal(resample(LABELS, "none", CFG, 0), np.arange(100))
    np.testing.assert_array_equal(resample(LABELS, "class_weights", CFG, 0), np.arange(100))
    with pytest.raises(ValueError, match="unknown imbalance"):
        resample(LABELS, "smote", CFG, 0)
