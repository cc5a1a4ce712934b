"""Flickr8k readers (both layouts, split lists, Karpathy JSON), bad input, and the data stage on tiny params."""

import json

import numpy as np
import pytest
from PIL import Image

from projects.image_captioning import data, readers
from projects.image_captioning.dataset import load_prepared
from projects.image_captioning.text import normalize
from shared.io import DataError

NAMES = [f"{1000 + i}_abc.jpg" for i in range(6)]
ODD = "A Dog\u2019s  \u201cRED\u201d T-shirt, on the BEACH!!"


def _photos(folder, names=NAMES, size=(30, 20)):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for name in names:
        Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(folder / name)


def kaggle(root):
    _photos(root / "Images")
    rows = ["image,caption"] + [f'{n},"A dog, running {k} ."' if k == 0 else f"{n},A dog runs {k} ."
                                for n in NAMES for k in range(5)]
    rows[1] = f"{NAMES[0]},{ODD}"
    (root / "captions.txt").write_text("\n".join(rows) + "\n")
    return root


def original(root, lists=True, karpathy=False):
    _photos(root / "Flicker8k_Dataset")
    text = root / "Flickr8k_text"
    text.mkdir(parents=True)
    lines = [f"{n}#{k}\tA cat sits {k} ." for n in NAMES for k in range(5)]
    lines.append("2258277193_586949ec62.jpg.1#0\tA stray line of the real file .")
    (text / "Flickr8k.token.txt").write_text("\n".join(lines) + "\n")
    if lists:
        for split, names in (("train", NAMES[:4]), ("dev", NAMES[4:5]), ("test", NAMES[5:])):
            (text / f"Flickr_8k.{split}Images.txt").write_text("\n".join(names) + "\n")
    if karpathy:
        images = [{"filename": n, "split": s} for n, s in zip(NAMES, ["train", "restval", "train", "val", "test",
                                                                       "test"])]
        (root / "dataset_flickr8k.json").write_text(json.dumps({"images": images}))
    return root


def test_kaggle_layout(tmp_path):
    got = readers.read_flickr8k(kaggle(tmp_path / "k"))
    assert sorted(got.captions) == NAMES and all(len(c) == 5 for c in got.captions.values())
    assert got.captions[NAMES[1]][0] == "A dog, running 0 ."  # a quoted caption with a comma
    assert got.splits is None and "Kaggle" in got.layout


def test_original_layout_with_official_lists(tmp_path):
    got = readers.read_flickr8k(original(tmp_path / "o"))
    assert got.splits == {**dict.fromkeys(NAMES[:4], "train"), NAMES[4]: "val", NAMES[5]: "test"}
    assert "2258277193_586949ec62.jpg.1" not in got.captions  # on no list: not used, not an error
    assert "official" in got.split_rule and got.captions[NAMES[0]][3] == "A cat sits 3 ."


def test_karpathy_split(tmp_path):
    got = readers.read_flickr8k(original(tmp_path / "o", lists=False, karpathy=True))
    assert got.splits[NAMES[1]] == "train" and got.splits[NAMES[3]] == "val" and "Karpathy" in got.split_rule


def test_without_lists_every_captioned_photo_must_exist(tmp_path):
    with pytest.raises(DataError, match=r"2258277193_586949ec62\.jpg\.1 is missing"):
        readers.read_flickr8k(original(tmp_path / "o", lists=False))


@pytest.mark.parametrize("case, match", [
    ("missing_image", r"Images/1000_abc\.jpg is missing"),
    ("unreadable", r"1000_abc\.jpg"),
    ("empty", r"captions\.txt is empty"),
    ("columns", r"captions\.txt: expected the columns 'image,caption'"),
    ("no_folder", r"neither captions\.txt nor Flickr8k\.token\.txt"),
    ("token_line", r"Flickr8k\.token\.txt, line 1"),
])
def test_bad_input_is_one_line_naming_the_file(tmp_path, case, match):
    root = kaggle(tmp_path / "k")
    if case == "missing_image":
        (root / "Images" / NAMES[0]).unlink()
    elif case == "unreadable":
        (root / "Images" / NAMES[0]).write_bytes(b"not a jpeg at all")
    elif case == "empty":
        (root / "captions.txt").write_text("\n")
    elif case == "columns":
        (root / "captions.txt").write_text("file,text\na.jpg,a dog\n")
    elif case == "no_folder":
        (root / "captions.txt").unlink()
    elif case == "token_line":
        (root / "captions.txt").unlink()
        (root / "Flickr8k.token.txt").write_text("1000_abc.jpg A dog without tab\n")
    with pytest.raises(DataError, match=match) as info:
        got = readers.read_flickr8k(root)
        readers.load_photos([got.images / n for n in sorted(got.captions)], 32)
    assert "\n" not in str(info.value)


def test_fit_square_and_rgb8():
    img = np.full((10, 20, 3), 200, np.uint8)
    box = readers.fit_square(img, 32, "letterbox")
    assert box.shape == (32, 32, 3) and box[0, 0].tolist() == [0, 0, 0] and box[16, 16].tolist() == [200] * 3
    assert readers.fit_square(img, 32, "crop").min() == 200
    assert readers.to_rgb8(np.full((4, 4), 65535, np.uint16)).tolist()[0][0] == [255, 255, 255]
    rgba = np.zeros((2, 2, 4), np.uint8)  # transparent black over white
    assert readers.to_rgb8(rgba)[0, 0].tolist() == [255, 255, 255]


def test_data_stage_flickr8k(tmp_path, tiny_params):
    root = kaggle(tmp_path / "k")
    params = tiny_params("image_captioning", {"data": {"source": "flickr8k", "path": str(root), "size": 32,
                                                        "split_fractions": [0.5, 0.25, 0.25]}})
    out = tmp_path / "prepared"
    assert data.main(["--params", str(params), "--out", str(out)]) == 0
    images, splits, meta = load_prepared(out)
    assert images.shape == (6, 32, 32, 3) and images.dtype == np.uint8
    assert sorted(e["image"] for s in splits.values() for e in s) == NAMES  # split by image: each photo once
    everything = [c for s in splits.values() for e in s for c in e["captions"]]
    assert normalize(ODD) in everything and all(c == normalize(c) for c in everything)
    assert meta["source"] == "flickr8k" and "seeded split by photo" in meta["split_rule"]


def test_data_stage_scenes(tmp_path, tiny_params):
    params = tiny_params("image_captioning", {"data": {"size": 32, "scenes": {"count": 20}}})
    out = tmp_path / "prepared"
    assert data.main(["--params", str(params), "--out", str(out)]) == 0
    images, splits, meta = load_prepared(out)
    assert [len(splits[k]) for k in ("train", "val", "test")] == [16, 2, 2]
    assert sorted(e["index"] for s in splits.values() for e in s) == list(range(20))
    assert all(len(e["captions"]) == 5 and e["layout"] for s in splits.values() for e in s)
    assert meta["counts"]["train"]["captions"] == 80


@pytest.mark.slow
def test_coco_without_prepared_tfds_data_says_what_to_do(tmp_path):
    pytest.importorskip("tensorflow_datasets")
    with pytest.raises(DataError, match="tfds build coco_captions"):
        next(readers.iter_coco(tmp_path / "coco", "val", 32))
