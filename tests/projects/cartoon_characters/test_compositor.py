"""The embedded compositor: labels are what is visible, out-of-frame characters are unlabelled, Zipf, determinism."""

import math

import numpy as np
import pytest

from projects.cartoon_characters.compositor import (
    CHARACTERS,
    CompositorConfig,
    Scene,
    compose,
    draw_characters,
    generate,
)

CFG = CompositorConfig()
CLEAN = Scene(border=0.0, distractors=(0, 0), occluders=(0, 0))


def test_labels_are_the_visible_characters():
    rng = np.random.default_rng(0)
    seen_hidden = 0
    for _ in range(150):
        frame = compose(CFG, 48, rng, Scene(border=0.3, occluders=(0, 3)))
        counts = np.bincount(frame.owner[frame.owner >= 0], minlength=len(CHARACTERS))
        np.testing.assert_array_equal(counts, frame.visible)
        rule = (frame.visible >= CFG.min_visible_pixels) & (frame.visible >= CFG.min_visible_fraction * frame.area)
        np.testing.assert_array_equal(frame.labels, (frame.drawn & rule).astype(np.uint8))
        assert not np.any(frame.labels & ~frame.drawn)
        seen_hidden += int(np.sum(frame.drawn & ~frame.labels.astype(bool)))
        assert frame.labels.sum() <= CFG.max_characters
    assert seen_hidden > 0  # the rule was exercised: some drawn characters were too hidden or cropped to count


def test_character_alone_in_frame_is_labelled_with_its_whole_area():
    for c in range(len(CHARACTERS)):
        drawn = np.eye(len(CHARACTERS), dtype=bool)[c]
        frame = compose(CompositorConfig(nominal=CLEAN), 64, np.random.default_rng(c), characters=drawn,
                        positions={c: (32.0, 32.0)})
        assert frame.labels.tolist() == drawn.astype(int).tolist()
        assert frame.visible[c] == pytest.approx(frame.area[c])


@pytest.mark.parametrize("where", [(-40.0, 32.0), (32.0, 110.0), (-30.0, -30.0)])
def test_character_fully_out_of_frame_is_not_labelled(where):
    drawn = np.zeros(len(CHARACTERS), dtype=bool)
    drawn[[0, 3]] = True
    frame = compose(CompositorConfig(nominal=CLEAN), 64, np.random.default_rng(1), characters=drawn,
                    positions={0: where, 3: (32.0, 32.0)})
    assert frame.drawn[0] and frame.visible[0] == 0 and frame.labels[0] == 0
    assert frame.labels[3] == 1
    assert not np.any(frame.owner == 0)


def test_a_sliver_at_the_border_is_not_labelled_but_a_half_is():
    drawn = np.eye(len(CHARACTERS), dtype=bool)[1]
    cfg = CompositorConfig(nominal=CLEAN, min_visible_fraction=0.2)
    sliver = compose(cfg, 64, np.random.default_rng(2), characters=drawn, positions={1: (-7.0, 32.0)})
    half = compose(cfg, 64, np.random.default_rng(2), characters=drawn, positions={1: (0.0, 32.0)})
    assert 0 < sliver.visible[1] < 0.2 * sliver.area[1] and sliver.labels[1] == 0
    assert half.visible[1] >= 0.2 * half.area[1] and half.labels[1] == 1


def test_zipf_frequencies():
    freq = CFG.frequencies()
    assert freq[0] == pytest.approx(CFG.top_frequency) and freq[-1] == pytest.approx(CFG.rarest_frequency)
    ranks = np.arange(1, len(freq) + 1)
    slope = np.polyfit(np.log(ranks), np.log(freq), 1)[0]
    assert slope == pytest.approx(-CFG.zipf_exponent)
    rng = np.random.default_rng(3)
    drawn = np.array([draw_characters(CFG, rng) for _ in range(8000)])
    # drawing again frames of more than max_characters changes the rates very little
    np.testing.assert_allclose(drawn.mean(axis=0), freq, rtol=0.15, atol=0.006)
    assert drawn.sum(axis=1).max() <= CFG.max_characters
    # after the visibility rule the labels keep the order and the rarest stays near 2 %
    _, labels = generate(CFG, 32, 200, seed=3)
    rates = labels.mean(axis=0)
    assert rates[0] > rates[-1] and rates[0] > 0.25 and rates[-1] < 0.06


def test_generate_is_deterministic_and_a_prefix():
    a_images, a_labels = generate(CFG, 32, 12, seed=(5, 0))
    b_images, b_labels = generate(CFG, 32, 12, seed=(5, 0))
    np.testing.assert_array_equal(a_images, b_images)
    np.testing.assert_array_equal(a_labels, b_labels)
    c_images, _ = generate(CFG, 32, 6, seed=(5, 0))
    np.testing.assert_array_equal(c_images, a_images[:6])
    d_images, _ = generate(CFG, 32, 12, seed=(5, 1))
    assert not np.array_equal(d_images, a_images)
    assert a_images.dtype == np.uint8 and a_images.shape == (12, 32, 32, 3)
    assert a_labels.dtype == np.uint8 and a_labels.shape == (12, len(CHARACTERS))


def test_shifted_scene_is_smaller_and_more_occluded():
    nominal, shifted = CFG.nominal, CFG.shifted
    assert shifted.scale[1] < nominal.scale[0]
    assert shifted.occluders[0] > nominal.occluders[0] and shifted.occluders[1] > nominal.occluders[1]
    assert not set(shifted.backgrounds) & set(nominal.backgrounds)
    assert math.isclose(CFG.zipf_exponent, math.log(CFG.top_frequency / CFG.rarest_frequency) / math.log(10))


def test_bad_config_is_refused():
    with pytest.raises(ValueError, match="backgrounds"):
        Scene(backgrounds=("moon",))
    with pytest.raises(ValueError, match="frequencies"):
        CompositorConfig(top_frequency=0.01, rarest_frequency=0.02)
