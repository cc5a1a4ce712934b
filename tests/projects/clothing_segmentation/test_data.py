"""Labels, the generator, the CCP and COCO loaders and the data stage, on tiny fixtures written here."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from projects.clothing_segmentation import data as data_stage
from projects.clothing_segmentation import generate
from projects.clothing_segmentation.labels import CCP_LABELS, CLASSES, apply_lut, merge_lut
from projects.clothing_segmentation.loaders import ccp_root, iter_ccp, iter_coco, letterbox, read_label_list
from shared.config import read_yaml
from shared.data import FetchError
from shared.io import DataError, load_npz, read_json

MERGE = read_yaml("projects/clothing_segmentation/params.yaml")["data"]["merge"]
V = {name: k for k, name in enumerate(CCP_LABELS)}


# --------------------------------------------------------------------------- fixtures
def ccp_labels(h=24, w=16) -> np.ndarray:
    """A tiny CCP label map: skin, a shirt, jeans, two separate shoes and a one-pixel ring."""
    g = np.zeros((h, w), np.uint8)
    g[1:5, 5:11] = V["skin"]
    g[5:12, 3:13] = V["shirt"]
    g[12:20, 4:12] = V["jeans"]
    g[21:23, 2:6] = V["shoes"]
    g[21:23, 10:14] = V["sneakers"]
    g[8, 2] = V["ring"]
    return g


def write_ccp(root, layout="official", n=3, labels=ccp_labels):
    import scipy.io
    from PIL import Image

    ann = root / ("annotations/pixel-level" if layout == "official" else "pixel_annotations_mat")
    ann.mkdir(parents=True)
    (root / "photos").mkdir()
    cells = np.empty((1, len(CCP_LABELS)), dtype=object)
    cells[0, :] = list(CCP_LABELS)
    scipy.io.savemat(root / "label_list.mat", {"label_list": cells})
    rng = np.random.default_rng(0)
    for i in range(1, n + 1):
        g = labels()
        palette = rng.integers(0, 255, (len(CCP_LABELS), 3)).astype(np.uint8)
        Image.fromarray(palette[g]).save(root / "photos" / f"{i:04d}.jpg", quality=95)
        scipy.io.savemat(ann / f"{i:04d}.mat", {"groundtruth": g})
    return root


# --------------------------------------------------------------------------- labels
def test_the_params_merge_table_places_every_ccp_label_once():
    lut = merge_lut(MERGE, CLASSES)
    assert lut.shape == (59,) and set(lut.tolist()) == set(range(len(CLASSES)))
    assert CLASSES[lut[V["jeans"]]] == "trousers" and CLASSES[lut[V["null"]]] == "background"
    assert CLASSES[lut[V["hair"]]] == "skin_hair" and CLASSES[lut[V["wedges"]]] == "shoes"
    assert {k: tuple(v) for k, v in MERGE.items()} == data_stage.DEFAULT_MERGE  # params and code agree


@pytest.mark.parametrize("change, message", [
    ({"top": ["shirt", "jeans"]}, "listed under both"),
    ({"hat": []}, r"does not place the source label\(s\) \['hat'\]"),
    ({"hat": ["hat", "fedora"]}, "not labels of the source"),
    ({"capes": ["cape"]}, "names class"),
])
def test_a_bad_merge_table_is_refused(change, message):
    merge = {**MERGE, **change}
    if "capes" in change:
        merge["outerwear"] = [n for n in merge["outerwear"] if n != "cape"]
    with pytest.raises(DataError, match=message):
        merge_lut(merge, CLASSES)


def test_an_unknown_label_value_is_a_clear_error():
    lut = merge_lut(MERGE, CLASSES)
    with pytest.raises(DataError, match=r"unknown label value\(s\) \[70\]"):
        apply_lut(np.array([[0, 70]], np.uint8), lut, "x.mat")


# --------------------------------------------------------------------------- CCP
@pytest.mark.parametrize("layout", ["official", "sample"])
def test_ccp_loader_reads_both_layouts(tmp_path, layout):
    root = write_ccp(tmp_path / "ccp", layout)
    assert read_label_list(root / "label_list.mat") == CCP_LABELS
    pictures = list(iter_ccp(root, MERGE, CLASSES))
    assert [p.id for p in pictures] == ["0001", "0002", "0003"]
    first = pictures[0]
    assert first.image.shape == (24, 16, 3) and first.image.dtype == np.uint8
    found = {CLASSES[k]: int(m.sum()) for k, m in first.masks}
    assert found == {"background": 24 * 16 - 24 - 70 - 64 - 16 - 1, "skin_hair": 24, "top": 70, "trousers": 64,
                     "shoes": 16, "accessory": 1}


def test_ccp_bad_inputs_are_clear_errors(tmp_path):
    import scipy.io

    root = write_ccp(tmp_path / "corrupt")
    (root / "photos" / "0002.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    with pytest.raises(DataError, match="0002.jpg is not a readable image"):
        list(iter_ccp(root, MERGE, CLASSES))
    root = write_ccp(tmp_path / "size")
    scipy.io.savemat(root / "annotations/pixel-level/0001.mat", {"groundtruth": np.zeros((10, 10), np.uint8)})
    with pytest.raises(DataError, match=r"0001.mat is 10x10 pixels but its photo .*0001.jpg is 16x24"):
        list(iter_ccp(root, MERGE, CLASSES))
    root = write_ccp(tmp_path / "value")
    bad = ccp_labels()
    bad[0, 0] = 77
    scipy.io.savemat(root / "annotations/pixel-level/0003.mat", {"groundtruth": bad})
    with pytest.raises(DataError, match=r"0003.mat holds unknown label value\(s\) \[77\]"):
        list(iter_ccp(root, MERGE, CLASSES))
    (root / "photos" / "0003.jpg").unlink()
    with pytest.raises(DataError, match="has no photo"):
        list(iter_ccp(root, MERGE, CLASSES, ["0003"]))


def test_ccp_archive_in_external_or_a_one_line_error(tmp_path, monkeypatch):
    monkeypatch.setenv("CAPSTONE_ROOT", str(tmp_path))
    external = tmp_path / "data/clothing_segmentation/external"
    missing = "file://" + str(tmp_path / "nowhere.zip")
    with pytest.raises(FetchError, match=r"place the file at .*external/clothing-co-parsing-master.zip"):
        ccp_root("", missing)
    src = write_ccp(tmp_path / "src" / "clothing-co-parsing-master", n=1)
    external.mkdir(parents=True)
    with zipfile.ZipFile(external / "clothing-co-parsing-master.zip", "w") as zf:
        for f in src.rglob("*"):
            zf.write(f, f.relative_to(src.parent))
    root = ccp_root("", missing)
    assert (root / "label_list.mat").is_file() and "raw" in root.parts
    assert len(list(iter_ccp(root, MERGE, CLASSES))) == 1


# --------------------------------------------------------------------------- COCO
def write_coco(folder, *, json_size=(20, 30)):
    from PIL import Image
    from pycocotools import mask as mask_utils

    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((20, 30, 3), 120, np.uint8)).save(folder / "a.png")
    square = np.zeros((20, 30), np.uint8)
    square[2:8, 3:13] = 1
    rle = mask_utils.encode(np.asfortranarray(square))
    rle["counts"] = rle["counts"].decode("ascii")
    # uncompressed RLE: column-major runs (rows 10-14 of columns 20-21)
    column = [10, 5, 5]
    counts = [20 * 20 + column[0]] + [column[1], column[2] + 10, column[1], 20 * 8 + column[2]]
    coco = {"images": [{"id": 7, "file_name": "a.png", "height": json_size[0], "width": json_size[1]}],
            "annotations": [
                {"id": 1, "image_id": 7, "category_id": 1, "segmentation": [[15, 10, 25, 10, 25, 18, 15, 18]],
                 "iscrowd": 0},
                {"id": 2, "image_id": 7, "category_id": 2, "segmentation": rle, "iscrowd": 0},
                {"id": 3, "image_id": 7, "category_id": 3, "segmentation": {"size": [20, 30], "counts": counts},
                 "iscrowd": 1},
                {"id": 4, "image_id": 7, "category_id": 4, "segmentation": [[0, 0, 2, 0, 2, 2]], "iscrowd": 0}],
            "categories": [{"id": 1, "name": "skirt"}, {"id": 2, "name": "shirt"}, {"id": 3, "name": "sandal"},
                           {"id": 4, "name": "umbrella"}]}
    (folder / "coco.json").write_text(json.dumps(coco))
    return folder


def test_coco_loader_reads_polygons_and_both_rles(tmp_path):
    folder = write_coco(tmp_path / "coco")
    mapping = {"skirt": "skirt", "shirt": "top", "sandal": "shoes"}  # umbrella: dropped
    (picture,) = iter_coco(folder, "coco.json", CLASSES, mapping)
    got = {CLASSES[k]: m for k, m in picture.masks}
    assert sorted(got) == ["shoes", "skirt", "top"]
    assert got["top"].sum() == 60 and got["top"][2:8, 3:13].all()
    assert got["shoes"].sum() == 10 and got["shoes"][10:15, 20:22].all()
    assert 70 <= got["skirt"].sum() <= 100 and got["skirt"][14, 20]


def test_coco_size_mismatch_is_a_clear_error(tmp_path):
    folder = write_coco(tmp_path / "coco", json_size=(40, 30))
    with pytest.raises(DataError, match=r"a.png is 30x20 pixels but .*coco.json gives 30x40"):
        list(iter_coco(folder, "coco.json", CLASSES, {"shirt": "top"}))
    (folder / "broken.json").write_text("{not json")
    with pytest.raises(DataError, match="not a COCO annotations JSON"):
        list(iter_coco(folder, "broken.json", CLASSES))


# --------------------------------------------------------------------------- generate → data
TINY = {"generate": {"count": 8, "height": 64, "width": 48, "workers": 1, "clutter": 6},
        "data": {"size": 32, "eval_size": 48, "min_area_fraction": 0.002}}


def test_render_is_deterministic_and_its_pieces_are_garments():
    cfg = generate.GenerateConfig(count=2, height=64, width=48, clutter=4)
    image, ids, pieces = generate.render(1, cfg)
    again = generate.render(1, cfg)
    assert np.array_equal(image, again[0]) and np.array_equal(ids, again[1])
    assert image.shape == (64, 48, 3) and ids.shape == (64, 48) and ids.max() <= len(pieces)
    assert set(pieces) <= set(CLASSES[2:]) and ("top" in pieces or "dress" in pieces)


def test_generate_then_data_stages(tmp_path, tiny_params):
    params = tiny_params("clothing_segmentation", {**TINY, "data": {**TINY["data"],
                                                                   "path": str(tmp_path / "generated")}})
    assert generate.main(["--params", str(params), "--out", str(tmp_path / "generated")]) == 0
    coco = read_json(tmp_path / "generated" / "annotations.json")
    assert len(coco["images"]) == 8 and len(list((tmp_path / "generated" / "images").glob("*.jpg"))) == 8
    assert {c["name"] for c in coco["categories"]} == set(CLASSES[2:])
    assert data_stage.main(["--params", str(params), "--out", str(tmp_path / "prepared")]) == 0
    meta = read_json(tmp_path / "prepared" / "meta.json")
    assert meta["classes"] == list(CLASSES) and meta["size"] == 32
    seen = set()
    for split in ("train", "val", "test"):
        data = load_npz(tmp_path / "prepared" / f"{split}.npz")
        n, m = len(data["images"]), len(data["masks"])
        assert data["images"].shape == (n, 32, 32, 3) and data["images"].dtype == np.uint8
        assert data["masks"].shape == (m, 32, 32) and data["masks"].dtype == np.uint8 and m > 0
        assert set(np.unique(data["masks"])) <= {0, 1} and data["masks"].reshape(m, -1).any(1).all()
        assert data["image_index"].dtype == np.int32 and data["image_index"].max() < n
        assert data["labels"].dtype == np.int32 and set(data["labels"]) <= set(range(2, len(CLASSES)))
        ids = set(data["ids"].tolist())
        assert not ids & seen  # split by image
        seen |= ids
        if split != "train":
            assert data["eval_images"].shape == (n, 48, 48, 3) and data["eval_masks"].shape == (m, 48, 48)
        assert meta["counts"][split]["instances"] == m
    assert len(seen) == 8


def test_data_stage_ccp_instances_are_connected_regions_over_the_minimum_area(tmp_path, tiny_params):
    root = write_ccp(tmp_path / "ccp", "sample", n=4)
    params = tiny_params("clothing_segmentation", {"data": {"source": "ccp", "path": str(root), "size": 24,
                                                            "eval_size": 0, "min_area_fraction": 0.01,
                                                            "split_fractions": [0.5, 0.25, 0.25]}})
    assert data_stage.main(["--params", str(params), "--out", str(tmp_path / "prepared")]) == 0
    data = load_npz(tmp_path / "prepared" / "train.npz")
    assert "eval_images" not in data
    names = sorted(CLASSES[k] for k in data["labels"][data["image_index"] == 0])
    assert names == ["shoes", "shoes", "top", "trousers"]  # two separate shoes; the 1-pixel ring dropped
    meta = read_json(tmp_path / "prepared" / "meta.json")
    assert meta["counts"]["train"]["dropped_small"] == 2 and meta["counts"]["train"]["images"] == 2


def test_letterbox_keeps_the_aspect_and_centres():
    image = np.full((20, 10, 3), 200, np.uint8)
    out = letterbox(image, 8)
    assert out.shape == (8, 8, 3) and out[:, :2].max() == 0 and out[:, 2:6].min() == 200
    mask = np.zeros((20, 10), bool)
    mask[:10] = True
    assert letterbox(mask, 8, mask=True)[:4, 2:6].all() and not letterbox(mask, 8, mask=True)[4:].any()
