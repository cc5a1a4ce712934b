"""The embedded procedural scene set (projects.image_captioning.scenes)."""

import numpy as np
import pytest

from projects.image_captioning import scenes
from projects.image_captioning.text import normalize


@pytest.fixture(scope="module")
def scene_set():
    return scenes.generate(60, size=48, seed=3)


def test_shapes_and_determinism(scene_set):
    images, caps, descr = scene_set
    assert images.shape == (60, 48, 48, 3) and images.dtype == np.uint8
    assert len(caps) == len(descr) == 60 and all(len(c) == 5 for c in caps)
    again, caps2, _ = scenes.generate(10, size=48, seed=3)  # scene i does not depend on count
    np.testing.assert_array_equal(again, images[:10])
    assert caps2 == caps[:10]
    other, _, _ = scenes.generate(10, size=48, seed=4)
    assert not np.array_equal(other, images[:10])


def test_objects_are_drawn_and_within_count(scene_set):
    images, _, descr = scene_set
    for img, scene in zip(images, descr):
        assert 1 <= len(scene.objects) <= 4
        for obj in scene.objects:  # the sprite's colour is present near its centre
            r, c = (int(round(v)) for v in obj.center)
            h = max(2, int(obj.side / 2))
            patch = img[max(0, r - h):r + h, max(0, c - h):c + h].reshape(-1, 3).astype(int)
            assert np.min(np.abs(patch - np.array(scenes.COLOURS[obj.colour])).sum(1)) < 60


def test_relations_hold_in_the_geometry():
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(300):
        scene = scenes.sample_scene(rng, 64)
        if scene.layout != "relation":
            continue
        a, b = scene.groups
        seen.add(scene.relation)
        if scene.relation == "left_of":
            assert max(o.center[1] for o in a) < min(o.center[1] for o in b)
        elif scene.relation == "above":
            assert max(o.center[0] for o in a) < min(o.center[0] for o in b)
        elif scene.relation == "on":
            (top,), (base,) = a, b
            assert top.center[0] < base.center[0] and abs(top.center[1] - base.center[1]) < base.side / 2
            assert base.kind in scenes.SUPPORTS and top.size == "small" and base.size == "big"
    assert seen == set(scenes.RELATIONS)


def test_captions_name_the_content(scene_set):
    _, caps, descr = scene_set
    for refs, scene in zip(caps, descr):
        assert len(set(refs)) >= 2  # paraphrases, not copies
        for ref in refs:
            assert ref[0].isupper() and ref.endswith(" .")
            words = normalize(ref).split()
            for group in scene.groups:  # every group is named by one of its nouns
                _, singular, plural = scenes.KINDS[group[0].kind]
                nouns = {w for name in singular + plural for w in name.split()}
                assert nouns & set(words), (ref, group[0].kind)


def test_bad_arguments():
    with pytest.raises(ValueError):
        scenes.generate(0)
    with pytest.raises(ValueError):
        scenes.sample_scene(np.random.default_rng(0), 16)
    with pytest.raises(ValueError):
        scenes.sample_scene(np.random.default_rng(0), 64, max_objects=5)
