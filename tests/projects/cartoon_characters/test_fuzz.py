"""Property-based fuzzing of the labels-CSV reader (issue 17 §C) in its dialects: ',' / tab / ';' delimiters,
0/1 columns or a ``labels`` column of names, BOMs, CRLF, quotes, blank trailing columns; valid files mutated
(cells replaced, rows dropped/duplicated/cut, junk lines, odd encodings); and :func:`load_frame` on fuzzed bytes.

Property: the readers return their result OR raise :class:`~shared.io.DataError`; any other exception is a crash.
"""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from projects.cartoon_characters.readers import load_frame, read_labels_csv
from shared.io import DataError

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
_COUNT = itertools.count()
FRAMES = ("a.png", "b.png", "sub/c.png")
ONEHOT = [["filename", "tom", "jerry", ""], ["a.png", "1", "0", ""], ["b.png", "0", "1", ""],
          ["sub/c.png", "1", "1", ""]]
NAMES = [["filename", "labels"], ["a.png", "tom"], ["b.png", "jerry|tom"], ["sub/c.png", ""]]
_CELLS = st.sampled_from(["", " ", "0", "1", "2", "yes", "tom", "Tom", "tom ", "jerry;tom", "a,b", "a.png", "../x.png",
                          "/etc/passwd", "./a.png", "sub\\c.png", "missing.png", '"', '"q"', "\x00", "é", "filename",
                          "labels", "FILENAME", "\ufeff", "x" * 200, "\t", ";", "１"])


@st.composite
def labels_csv(draw) -> bytes:
    rows = [list(r) for r in draw(st.sampled_from([ONEHOT, NAMES]))]
    for _ in range(draw(st.integers(0, 4))):
        if not rows:
            break
        i = draw(st.integers(0, len(rows) - 1))
        op = draw(st.sampled_from(["cell", "cell", "cell", "drop", "dup", "add_col", "cut", "junk"]))
        if op == "cell" and rows[i]:
            rows[i][draw(st.integers(0, len(rows[i]) - 1))] = draw(_CELLS)
        elif op == "drop":
            del rows[i]
        elif op == "dup":
            rows.insert(i, list(rows[i]))
        elif op == "add_col":
            rows[i].append(draw(_CELLS))
        elif op == "cut":
            rows = rows[:i]
        else:
            rows.insert(i, [draw(st.text(max_size=15))])
    delimiter = draw(st.sampled_from([",", ",", "\t", ";"]))
    text = draw(st.sampled_from(["\n", "\r\n"])).join(delimiter.join(r) for r in rows)
    text = draw(st.sampled_from(["", "", "\ufeff"])) + text
    return text.encode(draw(st.sampled_from(["utf-8", "utf-8", "utf-8", "latin-1", "utf-16"])), "replace")


@st.composite
def characters(draw):
    return draw(st.sampled_from([(), ("tom", "jerry"), ("jerry", "tom", "spike"), ("tom",)]))


@SETTINGS
@given(data=labels_csv() | st.binary(max_size=200), known=characters(), require=st.booleans())
@example(data=b"filename,tom\n" + b'"' + b"x" * 200_000 + b'"', known=(), require=False)  # csv field limit
def test_fuzz_labels_csv(data, known, require, tmp_path_factory):
    root = tmp_path_factory.mktemp("frames")
    (root / "sub").mkdir()
    for name in FRAMES:
        (root / name).write_bytes(b"frame")
    (root / "labels.csv").write_bytes(data)
    try:
        found = read_labels_csv(root, "labels.csv", known, require)
    except DataError as exc:
        event(f"DataError: {str(exc).split(': ')[-1][:30]}")
        return
    event("read")
    assert found.labels.shape == (len(found.paths), len(found.characters)) and found.labels.dtype == np.uint8
    assert all(p.is_file() and p.resolve().is_relative_to(root.resolve()) for p in found.paths)
    assert set(np.unique(found.labels)) <= {0, 1}


@settings(SETTINGS, max_examples=30)
@given(data=st.binary(max_size=200), suffix=st.sampled_from([".png", ".jpg", ".gif", ".tif", ".bmp", ".webp"]))
@example(data=b"GIF89a" + b"\x00" * 20, suffix=".gif")
def test_fuzz_load_frame_bytes(data, suffix, tmp_path_factory):
    path = tmp_path_factory.mktemp("frame") / f"f{suffix}"
    path.write_bytes(data)
    try:
        frame = load_frame(path, 8)
    except DataError:
        return
    assert frame.shape[:2] == (8, 8)
