"""Property-based fuzzing of the captions readers (issue 17 §C): Kaggle ``captions.txt``, the original
``Flickr8k.token.txt``, the official split lists and Karpathy's ``dataset_flickr8k.json``, as valid files
mutated (lines dropped/duplicated, separators and ``#n`` damaged, quotes, BOMs, other encodings, junk)
and wrong-typed JSON values; and :func:`load_photo` on fuzzed image bytes.

Property: the readers return their result OR raise :class:`~shared.io.DataError`; any other exception is a crash.
"""

from __future__ import annotations

import copy
import itertools
import json

import numpy as np
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from projects.image_captioning.readers import SPLIT_LISTS, load_photo, read_flickr8k
from shared.io import DataError

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
_COUNT = itertools.count()
PHOTOS = ("a.jpg", "b.jpg", "c.jpg")
KAGGLE = 'image,caption\na.jpg,A dog runs.\na.jpg,"A dog, brown, runs."\nb.jpg,Two cats.\nc.jpg,A bird , flying\n'
TOKEN = "a.jpg#0\tA dog runs .\na.jpg#1\tA brown dog .\nb.jpg#0\tTwo cats .\nc.jpg#0\tA bird .\n"
KARPATHY = {"images": [{"filename": "a.jpg", "split": "train"}, {"filename": "b.jpg", "split": "val"},
                       {"filename": "c.jpg", "split": "restval"}], "dataset": "flickr8k"}
_PIECES = st.sampled_from(["", ",", "\t", "#", "#x", "#0", '"', '""', "\x00", "é", "\ufeff", " ", "\r", "a.jpg",
                           "missing.jpg", "../a.jpg", "image", "caption", ",,,", "\t\t", "#-1", "#１"])


@st.composite
def mutated_text(draw, text: str) -> bytes:
    lines = text.splitlines()
    for _ in range(draw(st.integers(0, 3))):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["drop", "dup", "insert", "insert", "cut", "junk", "swap"]))
        if op == "drop":
            del lines[i]
        elif op == "dup":
            lines.insert(i, lines[i])
        elif op == "insert":
            at = draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:at] + draw(_PIECES) + lines[i][at:]
        elif op == "cut":
            lines[i] = lines[i][:draw(st.integers(0, len(lines[i])))]
        elif op == "junk":
            lines.insert(i, draw(st.text(max_size=20)))
        else:
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
    out = draw(st.sampled_from(["", "", "\ufeff"])) + draw(st.sampled_from(["\n", "\r\n"])).join(lines)
    return out.encode(draw(st.sampled_from(["utf-8", "utf-8", "utf-8", "latin-1", "utf-16"])), "replace")


_JUNK = st.sampled_from([None, 1, [], {}, "", "test", "restval", "a.jpg", ["a.jpg"], {"x": 1}, "missing.jpg", 1.5])


@st.composite
def karpathy_bytes(draw) -> bytes:
    doc = copy.deepcopy(KARPATHY)
    for _ in range(draw(st.integers(0, 2))):
        op = draw(st.sampled_from(["value", "value", "drop", "images"]))
        images = doc.get("images")
        entry = images[draw(st.integers(0, len(images) - 1))] if isinstance(images, list) and images else {}
        if op == "images":
            doc["images"] = draw(_JUNK)
        elif isinstance(entry, dict):
            key = draw(st.sampled_from(["filename", "split"]))
            if op == "drop":
                entry.pop(key, None)
            else:
                entry[key] = draw(_JUNK)
    text = json.dumps(doc)
    return draw(st.sampled_from([text.encode(), text.encode("utf-16"), b"\xff" + text.encode(), text[:20].encode()]))


def _folder(tmp_path_factory, files: dict[str, bytes]):
    folder = tmp_path_factory.mktemp("flickr8k")
    (folder / "Images").mkdir()
    for name in PHOTOS:
        (folder / "Images" / name).write_bytes(b"not opened by read_flickr8k")
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


def _check(folder) -> None:
    try:
        found = read_flickr8k(folder)
    except DataError as exc:
        event(f"DataError: {str(exc).split(': ')[-1][:30]}")
        return
    event("read")
    assert found.captions and all(isinstance(k, str) and v for k, v in found.captions.items())
    assert found.splits is None or all(isinstance(k, str) and isinstance(v, str) for k, v in found.splits.items())


@SETTINGS
@given(data=mutated_text(KAGGLE))
@example(data=b",,,\n")  # IndexError before the fix: no row left after dropping blank ones
def test_fuzz_kaggle_captions(data, tmp_path_factory):
    _check(_folder(tmp_path_factory, {"captions.txt": data}))


@SETTINGS
@given(data=mutated_text(TOKEN))
def test_fuzz_token_file(data, tmp_path_factory):
    _check(_folder(tmp_path_factory, {"Flickr8k.token.txt": data}))


@settings(SETTINGS, max_examples=40)
@given(lists=st.lists(mutated_text("a.jpg\nb.jpg"), min_size=3, max_size=3))
@example(lists=[b"a.jpg", b"\xff\xfeb", b"c.jpg"])  # UnicodeDecodeError before the fix
def test_fuzz_split_lists(lists, tmp_path_factory):
    files = {"Flickr8k.token.txt": TOKEN.encode()}
    files.update({name: data for name, data in zip(SPLIT_LISTS.values(), lists)})
    _check(_folder(tmp_path_factory, files))


@settings(SETTINGS, max_examples=40)
@given(data=karpathy_bytes())
@example(data=b"\xff" + json.dumps(KARPATHY).encode())  # UnicodeDecodeError before the fix
@example(data=json.dumps({"images": [{"filename": 5, "split": "train"}]}).encode())
def test_fuzz_karpathy_json(data, tmp_path_factory):
    _check(_folder(tmp_path_factory, {"captions.txt": KAGGLE.encode(), "dataset_flickr8k.json": data}))


@settings(SETTINGS, max_examples=30)
@given(data=st.binary(max_size=200), size=st.sampled_from([1, 8]))
@example(data=b"\x89PNG\r\n\x1a\n", size=8)
def test_fuzz_load_photo_bytes(data, size, tmp_path_factory):
    path = tmp_path_factory.mktemp("photo") / "p.jpg"
    path.write_bytes(data)
    try:
        photo = load_photo(path, size)
    except DataError:
        return
    assert photo.shape == (size, size, 3) and photo.dtype == np.uint8
