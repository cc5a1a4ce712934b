"""The generator's embedded image set: shapes, sources, determinism, errors."""

import numpy as np
import pytest

from projects.music_video import art


def test_images_shape_dtype_determinism_and_sources():
    a = art.make_images(9, 16, seed=3)
    assert a.shape == (9, 16, 16, 3) and a.dtype == np.uint8
    assert np.array_equal(a, art.make_images(9, 16, seed=3))
    assert not np.array_equal(a, art.make_images(9, 16, seed=4))
    assert a.std() > 10  # not blank
    abstract = art.make_images(4, 16, 0, ("abstract",))
    photos = art.make_images(4, 16, 0, "photos")
    digits = art.make_images(4, 16, 0, ("digits",))
    assert abstract.shape == photos.shape == digits.shape == (4, 16, 16, 3)
    assert np.array_equal(digits[..., 0], digits[..., 2])  # grey digits
    assert art.make_images(0, 16, 0).shape == (0, 16, 16, 3)


def test_kaleidoscope_is_mirror_symmetric():
    rng = np.random.default_rng(0)
    img = rng.random((1, 17, 17, 3))
    out = art._kaleidoscope(img, np.array([4]))
    # 4-fold dihedral symmetry: a mirror about the horizontal axis through the centre
    assert np.allclose(out[0], out[0][::-1], atol=1e-12)


@pytest.mark.parametrize("kwargs, match", [({"n": -1}, "n must"), ({"size": 4}, "size must"),
                                           ({"sources": ()}, "at least one"), ({"sources": ("cats",)}, "unknown")])
def test_bad_arguments(kwargs, match):
    args = {"n": 2, "size": 16, "seed": 0, **kwargs}
    with pytest.raises(ValueError, match=match):
        art.make_images(**args)
