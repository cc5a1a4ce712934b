"""Property-based fuzzing of the clothing readers (issue 17 §C): CCP ``.mat`` annotations and label lists
(written with scipy from fuzzed contents, then truncated or corrupted) and COCO annotations JSON
(a valid file with keys dropped, values of the wrong type, odd ids, sizes and segmentations).

Property: the readers return pictures/arrays OR raise :class:`~shared.io.DataError`; any other exception is a crash.
"""

from __future__ import annotations

import copy
import io
import itertools
import json
import re

import numpy as np
import scipy.io
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from projects.clothing_segmentation.labels import CCP_LABELS
from projects.clothing_segmentation.loaders import iter_ccp, iter_coco, read_ccp_labels, read_label_list
from shared.io import DataError

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
_COUNT = itertools.count()
CLASSES = ("background", "top")
MERGE = {"background": list(CCP_LABELS[:1]), "top": list(CCP_LABELS[1:])}


def _photo(path, h=6, w=5):
    from PIL import Image

    Image.fromarray(np.full((h, w, 3), 120, np.uint8)).save(path)


_GT = st.sampled_from([
    np.zeros((6, 5), np.uint8), np.full((6, 5), 58, np.uint8), np.full((6, 5), 59, np.uint8),
    np.full((6, 5), -1, np.int16), np.zeros((5, 6), np.uint8), np.zeros((6, 5, 2), np.uint8),
    np.zeros((6, 5), np.float64), np.zeros((0, 0), np.uint8), np.array([["a"]]), np.full((6, 5), 2**40, np.int64),
    np.zeros((6, 5), bool), np.full((6, 5), 3, np.uint16)])


@st.composite
def mat_bytes(draw, variable: str) -> bytes:
    value = draw(st.one_of(_GT, st.just(np.array(list(CCP_LABELS), dtype=object).reshape(1, -1)),
                           st.just(np.array([[]], dtype=object)), st.just(np.array([1, 2, 3])),
                           st.just({"nested": np.ones(2)})))
    name = draw(st.sampled_from([variable, variable, "other"]))
    buffer = io.BytesIO()
    try:
        scipy.io.savemat(buffer, {name: value}, format=draw(st.sampled_from(["5", "4"])))
    except (TypeError, ValueError):  # MATLAB 4 cannot hold it
        buffer = io.BytesIO()
        scipy.io.savemat(buffer, {name: value})
    raw = bytearray(buffer.getvalue())
    damage = draw(st.sampled_from(["none", "none", "truncate", "flip"]))
    if damage == "truncate":
        raw = raw[:draw(st.integers(0, len(raw) - 1))]
    elif damage == "flip":
        for _ in range(draw(st.integers(1, 6))):
            raw[draw(st.integers(0, len(raw) - 1))] = draw(st.integers(0, 255))
    return bytes(raw)


@SETTINGS
@given(data=mat_bytes("groundtruth") | st.binary(max_size=300))
@example(data=b"MATLAB 7.3 MAT-file" + b"\x00" * 200)
def test_fuzz_ccp_annotation(data, tmp_path_factory):
    path = tmp_path_factory.mktemp("mat") / "0001.mat"
    path.write_bytes(data)
    try:
        labels = read_ccp_labels(path)
    except DataError:
        event("DataError")
        return
    event("read")
    assert labels.ndim == 2 and labels.dtype.kind in "ui"


@SETTINGS
@given(data=mat_bytes("label_list") | st.binary(max_size=300))
def test_fuzz_ccp_label_list(data, tmp_path_factory):
    path = tmp_path_factory.mktemp("mat") / "label_list.mat"
    path.write_bytes(data)
    try:
        names = read_label_list(path)
    except DataError:
        return
    assert all(isinstance(n, str) for n in names)


@settings(SETTINGS, max_examples=25)
@given(annotation=mat_bytes("groundtruth"), label_list=st.sampled_from([None, "valid", "short"]))
def test_fuzz_ccp_folder(annotation, label_list, tmp_path_factory):
    root = tmp_path_factory.mktemp("ccp")
    (root / "photos").mkdir()
    (root / "annotations" / "pixel-level").mkdir(parents=True)
    _photo(root / "photos" / "0001.jpg")
    (root / "annotations" / "pixel-level" / "0001.mat").write_bytes(annotation)
    if label_list:
        names = CCP_LABELS if label_list == "valid" else CCP_LABELS[:3]
        scipy.io.savemat(root / "label_list.mat", {"label_list": np.array(list(names), dtype=object).reshape(1, -1)})
    try:
        pictures = list(iter_ccp(root, MERGE, CLASSES))
    except DataError:
        event("DataError")
        return
    event("read")
    assert all(p.image.shape == (6, 5, 3) for p in pictures)


_COCO = {
    "images": [{"id": 1, "file_name": "a.png", "height": 6, "width": 5}],
    "annotations": [{"id": 10, "image_id": 1, "category_id": 1, "iscrowd": 0, "area": 4.0, "bbox": [0, 0, 2, 2],
                     "segmentation": [[0, 0, 2, 0, 2, 2, 0, 2]]},
                    {"id": 11, "image_id": 1, "category_id": 2, "iscrowd": 1, "area": 2.0, "bbox": [0, 0, 1, 2],
                     "segmentation": {"size": [6, 5], "counts": [0, 2, 28]}}],
    "categories": [{"id": 1, "name": "top"}, {"id": 2, "name": "background"}],
}
_JUNK = st.sampled_from([None, -1, 0, 2**63, 1.5, float("nan"), "", "x", "../../etc/passwd", "/", [], {}, [1, 2],
                         {"counts": "!!"}, {"size": [6], "counts": []}, {"size": ["a", 5], "counts": [30]},
                         {"size": [6, 5], "counts": "PPYo0"}, [[1, 2, 3]], [["a", "b", "c", "d", "e", "f"]],
                         True, "a.png", 6, 5, [[0, 0, 1e300, 0, 1, 1]]])


_PATHS = [(top, i, key) for top in ("images", "annotations", "categories")
          for i, item in enumerate(_COCO[top]) for key in sorted(item)]


@st.composite
def coco_bytes(draw) -> bytes:
    doc = copy.deepcopy(_COCO)
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["value", "value", "value", "drop_key", "drop_key", "section", "dup"]))
        top, i, key = draw(st.sampled_from(_PATHS))
        items = doc.get(top)
        if op == "section":
            if draw(st.booleans()):
                doc.pop(top, None)
            else:
                doc[top] = draw(_JUNK)
        elif isinstance(items, list) and i < len(items) and isinstance(items[i], dict):
            if op == "dup":
                items.append(copy.deepcopy(items[i]))
            elif op == "drop_key":
                items[i].pop(key, None)
            else:
                items[i][key] = draw(_JUNK)
    text = json.dumps(doc)
    if draw(st.integers(0, 9)) == 0:
        text = text[:draw(st.integers(0, len(text)))]
    encoding = draw(st.sampled_from(["utf-8"] * 5 + ["utf-16"]))
    return (draw(st.sampled_from(["", "", "", "\ufeff"])) + text).encode(encoding)


def _coco_with(top: str, i: int, key: str, value) -> bytes:
    doc = copy.deepcopy(_COCO)
    if value is _DROP:
        del doc[top][i][key]
    else:
        doc[top][i][key] = value
    return json.dumps(doc).encode()


_DROP = object()


@settings(SETTINGS, max_examples=60)
@given(data=coco_bytes())
@example(data=json.dumps(_COCO).encode())
# crashes found (KeyError, ValueError, TypeError before the fix): each now a DataError naming the file
@example(data=_coco_with("categories", 0, "name", _DROP))
@example(data=_coco_with("categories", 0, "id", "x"))
@example(data=_coco_with("images", 0, "file_name", _DROP))
@example(data=_coco_with("images", 0, "file_name", 5))
@example(data=_coco_with("images", 0, "height", None))
@example(data=_coco_with("images", 0, "width", float("nan")))
@example(data=_coco_with("annotations", 0, "category_id", "x"))
def test_fuzz_coco_json(data, tmp_path_factory):
    folder = tmp_path_factory.mktemp("coco")
    _photo(folder / "a.png")
    (folder / "annotations.json").write_bytes(data)
    try:
        pictures = list(iter_coco(folder, "annotations.json", ("background", "top")))
    except DataError:
        event("DataError")
        return
    event("read")
    for picture in pictures:
        assert picture.image.shape == (6, 5, 3)
        assert all(m.shape == (6, 5) and m.dtype == bool for _, m in picture.masks)


# --------------------------------------------------------------------------- the web page (issue 17 §C, last item)
class _FakeSegmenter:
    """Stands in for the network: a disc around the last click (no TensorFlow)."""

    classes = ("background", "top")

    def reset(self, image):
        self.shape = image.shape[:2]

    def predict(self, clicks, prev):
        yy, xx = np.mgrid[:self.shape[0], :self.shape[1]]
        c = clicks[-1]
        return ((yy - c.y) ** 2 + (xx - c.x) ** 2 <= 4).astype(np.float32)

    def predicted_class(self):
        return "top", 0.9


_NAMES = st.sampled_from(["../../../etc/passwd", "..", ".", "/etc/shadow", "..\\..\\windows\\win.ini", "a/../../b.png",
                          "%2e%2e%2fx.png", "....//x.png", "~/x.png", "\x00x.png", "CON", "x" * 400 + ".png", "é.png",
                          "a b.png", "", " ", "-rf", ".hidden.png", "x.png/..", "\u202egnp.exe"]) | st.text(max_size=40)


@settings(SETTINGS, max_examples=40)
@given(name=_NAMES, category=st.none() | _NAMES)
def test_fuzz_app_export_names_stay_inside_out_dir(name, category, tmp_path_factory):
    """Whatever the uploaded file's name (and the chosen category), exports land in ``out_dir/exports`` only."""
    from projects.clothing_segmentation.app import Controller, Session, safe_stem

    out = tmp_path_factory.mktemp("app")
    controller = Controller(_FakeSegmenter(), out)
    session = Session(image=np.full((6, 5, 3), 120, np.uint8), name=name)
    session, _ = controller.click(session, 2, 3, True)
    png, coco = controller.export(session, category)
    exports = (out / "exports").resolve()
    for path in (png, coco):
        assert path.resolve().parent == exports and path.is_file()
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,60}", safe_stem(name))
    assert sorted(p.name for p in out.rglob("*") if p.is_file()) == sorted([png.name, coco.name])


@settings(SETTINGS, max_examples=30)
@given(data=st.binary(max_size=120) | st.sampled_from([b"", b"\x89PNG\r\n\x1a\n", b"GIF89a\xff\xff\xff\xff"]),
       name=st.sampled_from(["up.png", "up.jpg", "up", "up.tif", "..png", "a b.gif"]))
def test_fuzz_app_upload_bytes(data, name, tmp_path_factory):
    """An upload of junk bytes is refused with a DataError (the page shows its message), never a crash."""
    from projects.clothing_segmentation.app import Controller

    folder = tmp_path_factory.mktemp("upload")
    (folder / name).write_bytes(data)
    controller = Controller(_FakeSegmenter(), folder / "out", max_pixels=10_000)
    try:
        session, _ = controller.load(folder / name)
    except DataError:
        return
    assert session.image.ndim == 3 and session.image.shape[-1] == 3
