"""shared.images.to_rgb8: every pixel layout read_image returns becomes the RGB a viewer shows."""

import numpy as np
import pytest

from shared.images import to_rgb8
from shared.io import DataError


def test_grey_16_bit_float_and_alpha():
    assert to_rgb8(np.full((2, 3), 65535, np.uint16)).tolist()[0][0] == [255, 255, 255]
    assert to_rgb8(np.full((2, 3), 257 * 100, np.uint16))[0, 0].tolist() == [100, 100, 100]
    assert to_rgb8(np.full((1, 1, 3), 0.5, np.float32))[0, 0].tolist() == [128, 128, 128]
    assert to_rgb8(np.array([[[np.nan, 2.0, 255.0]]], np.float32))[0, 0].tolist() == [0, 2, 255]
    rgba = np.zeros((1, 2, 4), np.uint8)
    rgba[0, 1] = [10, 20, 30, 255]
    assert to_rgb8(rgba).tolist() == [[[255, 255, 255], [10, 20, 30]]]      # transparent → white
    assert to_rgb8(np.array([[[0, 128]]], np.uint8))[0, 0].tolist() == [127, 127, 127]  # grey + half alpha
    out = to_rgb8(np.zeros((4, 5, 1), np.uint8))
    assert out.shape == (4, 5, 3) and out.dtype == np.uint8 and out.flags.c_contiguous


@pytest.mark.parametrize("bad", [np.zeros((2, 2, 5), np.uint8), np.zeros((0, 3, 3), np.uint8), np.zeros(4),
                                 np.zeros((2, 2), complex)])
def test_no_image_is_one_line(bad):
    with pytest.raises(DataError, match="frame.png"):
        to_rgb8(bad, "frame.png")
