"""Retrieval baselines: most frequent caption, nearest-neighbour consensus."""

import numpy as np
import pytest

from projects.image_captioning.baselines import (
    NearestNeighbourCaptioner,
    consensus_bleu,
    frequent_caption,
    image_features,
)


def test_frequent_caption():
    assert frequent_caption([["a cat", "a dog"], ["a dog", "b"], ["b"]]) == "a dog"  # tie a dog / b: alphabetical
    with pytest.raises(ValueError):
        frequent_caption([[]])


def test_consensus_bleu_matrix():
    b = consensus_bleu(["a red car on the grass", "a red car on the grass", "two blue cats", ""])
    assert b.shape == (4, 4) and b[0, 1] == pytest.approx(1.0) and b[0, 0] == pytest.approx(1.0)
    assert b[0, 2] < 0.1 and np.all(b[3] == 0.0)
    short = consensus_bleu(["a red car", "a red car on the grass"])
    assert short[0, 1] < short[1, 0] or short[0, 1] < 1.0  # the brevity penalty hits the short hypothesis


def test_features_shape_and_similarity():
    rng = np.random.default_rng(0)
    red = np.zeros((2, 32, 32, 3), np.uint8)
    red[..., 0] = 200
    red[1, 8:16, 8:16] = 255
    blue = np.zeros((1, 32, 32, 3), np.uint8)
    blue[..., 2] = 200
    noise = rng.integers(0, 255, (1, 32, 32, 3), dtype=np.uint8)
    f = image_features(np.concatenate([red, blue, noise]))
    assert f.shape[0] == 4 and f.dtype == np.float32 and np.all(np.isfinite(f))
    assert np.linalg.norm(f[0] - f[1]) < np.linalg.norm(f[0] - f[2])
    with pytest.raises(ValueError):
        image_features(red, kind="sift")


def test_nearest_neighbour_consensus():
    feats = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0]], np.float32)
    caps = [["a red car", "a red car on the road", "a car"], ["a red car on grass", "a red automobile"],
            ["two blue cats", "a pair of blue cats"]]
    nn = NearestNeighbourCaptioner(feats, caps)
    got = nn.caption_all(np.array([[0.0, 0.05], [5.0, 4.9]], np.float32), ks=[1, 2])
    assert got[1][1] in caps[2] and got[2][0] in caps[0] + caps[1]
    assert got[1][0] == "a red car"  # the consensus of image 0's own captions
    with pytest.raises(ValueError):
        nn.caption_all(feats, ks=[0])
