"""Real frames: the labels-CSV and label-per-folder layouts, every image mode, bad input in one line, the split."""

import numpy as np
import pytest
from PIL import Image

from projects.cartoon_characters.readers import (
    FolderConfig,
    letterbox,
    load_frame,
    read_folder,
    read_label_folders,
    read_labels_csv,
    stratified_split,
    to_rgb8,
)
from shared.io import DataError


def _png(path, colour=(200, 30, 30), size=(12, 8), mode="RGB"):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).convert(mode).save(path)
    return path


def _one_line(exc_info, *parts):
    text = str(exc_info.value)
    assert "\n" not in text, text
    for part in parts:
        assert part in text, text


def test_csv_with_one_column_per_character(tmp_path):
    for name in ("a.png", "sub/b.png", "c.png"):
        _png(tmp_path / name)
    (tmp_path / "labels.csv").write_text("filename,homer,marge\na.png,1,0\nsub/b.png,1,1\nc.png,0,0\n")
    found = read_labels_csv(tmp_path)
    assert found.characters == ("homer", "marge")
    assert found.labels.tolist() == [[1, 0], [1, 1], [0, 0]]
    assert found.names == ["a.png", "sub/b.png", "c.png"]


def test_csv_with_a_labels_column_of_names(tmp_path):
    for name in ("a.png", "b.png", "c.png"):
        _png(tmp_path / name)
    (tmp_path / "labels.csv").write_text("filename,labels\na.png,marge;homer\nb.png,bart | homer\nc.png,\n")
    found = read_labels_csv(tmp_path)
    assert found.characters == ("bart", "homer", "marge")
    assert found.labels.tolist() == [[0, 1, 1], [1, 1, 0], [0, 0, 0]]
    fixed = read_labels_csv(tmp_path, characters=("marge", "homer", "bart", "lisa"))
    assert fixed.labels.tolist() == [[1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 0, 0]]


def test_label_per_folder_merges_a_frame_in_several_folders(tmp_path):
    _png(tmp_path / "homer" / "f1.png", (10, 20, 30))
    _png(tmp_path / "marge" / "f1.png", (10, 20, 30))          # same frame, same name
    _png(tmp_path / "marge" / "copy_of_f2.png", (90, 20, 30))  # same content as homer/f2.png, other name
    _png(tmp_path / "homer" / "f2.png", (90, 20, 30))
    _png(tmp_path / "marge" / "f3.png", (1, 2, 3))
    _png(tmp_path / "_none" / "empty.png", (5, 5, 5))
    (tmp_path / "homer" / "notes.txt").write_text("not an image")
    found = read_label_folders(tmp_path)
    assert found.characters == ("homer", "marge")
    labels = dict(zip(found.names, found.labels.tolist()))
    assert labels == {"f1.png": [1, 1], "f2.png": [1, 1], "f3.png": [0, 1], "empty.png": [0, 0]} or \
        labels == {"f1.png": [1, 1], "copy_of_f2.png": [1, 1], "f3.png": [0, 1], "empty.png": [0, 0]}
    via_config = read_folder(FolderConfig(root=str(tmp_path), labels_csv=None))
    assert via_config.labels.tolist() == found.labels.tolist()


@pytest.mark.parametrize("csv_text, parts", [
    ("filename,homer\na.png,2\n", ["labels.csv", "line 2", "'homer'", "'2'", "not 0 or 1"]),
    ("filename,homer\na.png,yes\n", ["line 2", "'yes'"]),
    ("filename,labels\na.png,homer;flanders\n", ["line 2", "'labels'", "unknown character 'flanders'"]),
    ("filename,homer\na.png,1\nmissing.png,0\n", ["line 3", "'missing.png'", "missing"]),
    ("filename,homer\na.png,1\na.png,0\n", ["line 3", "duplicate filename 'a.png'", "line 2"]),
    ("filename,homer\na.png,0\n", ["line 2", "'a.png'", "no labels"]),
    ("file,homer\na.png,1\n", ["no 'filename' column"]),
    ("filename,flanders\na.png,1\n", ["column 'flanders'", "unknown character"]),
])
def test_csv_errors_are_one_line(tmp_path, csv_text, parts):
    _png(tmp_path / "a.png")
    (tmp_path / "labels.csv").write_text(csv_text)
    with pytest.raises(DataError) as exc:
        read_labels_csv(tmp_path, characters=("homer",), require_label="no labels" in parts)
    _one_line(exc, *parts)


@pytest.mark.parametrize("csv_text, parts", [
    ("filename,labels\na.png,Homer\nb.png,homer\n", ["'Homer' and 'homer' differ only in case"]),
    ('filename,labels\na.png,"homer,marge"\n', ["line 2", "separate names with ';' or '|'"]),
    ("filename,homer\na.png,1\n./a.png,0\n", ["line 3", "duplicate filename 'a.png'"]),
    ("filename,homer\n../a.png,1\n", ["line 2", "points outside"]),
    ("filename,homer,\na.png,1,x\n", ["column 3 has values but no header"]),
])
def test_spreadsheet_mistakes_are_one_line(tmp_path, csv_text, parts):
    _png(tmp_path / "a.png")
    _png(tmp_path / "b.png")
    (tmp_path / "labels.csv").write_text(csv_text)
    with pytest.raises(DataError) as exc:
        read_labels_csv(tmp_path)
    _one_line(exc, *parts)


def test_known_characters_need_their_columns_and_utf8(tmp_path):
    _png(tmp_path / "a.png")
    (tmp_path / "labels.csv").write_text("filename,homer\na.png,1\n")
    with pytest.raises(DataError) as exc:
        read_labels_csv(tmp_path, characters=("homer", "marge"))
    _one_line(exc, "no column for the character(s) 'marge'")
    (tmp_path / "labels.csv").write_bytes("filename,homer\nä.png,1\n".encode("latin-1"))
    with pytest.raises(DataError) as exc:
        read_labels_csv(tmp_path)
    _one_line(exc, "not UTF-8", "save it as UTF-8")


@pytest.mark.parametrize("csv_text", [
    "filename;homer;marge\na.png;1;0\nsub\\b.png;1;1\n",          # European Excel; a Windows path
    "filename\thomer\tmarge\na.png\t1\t0\nsub/b.png\t1\t1\n",      # tab-separated
    "filename,homer,marge,\r\na.png,1,0,\r\n./sub/b.png,1,1,\r\n",   # trailing empty column, CRLF, './'
    "Filename,Labels,notes\na.png,homer,x\nsub/b.png,marge|homer,y\n",   # header case; an extra column ignored
])
def test_spreadsheet_dialects_read_the_same_labels(tmp_path, csv_text):
    _png(tmp_path / "a.png")
    _png(tmp_path / "sub" / "b.png", (1, 2, 3))
    (tmp_path / "labels.csv").write_text(csv_text, newline="")
    found = read_labels_csv(tmp_path)
    assert found.characters == ("homer", "marge")
    assert found.names == ["a.png", "sub/b.png"] and found.labels.tolist() == [[1, 0], [1, 1]]


def test_folder_errors_are_one_line(tmp_path):
    _png(tmp_path / "homer" / "f1.png", (1, 1, 1))
    _png(tmp_path / "marge" / "f1.png", (2, 2, 2))
    with pytest.raises(DataError) as exc:
        read_label_folders(tmp_path)
    _one_line(exc, "f1.png", "same name but different content")
    with pytest.raises(DataError) as exc:
        read_label_folders(tmp_path, characters=("homer",))
    _one_line(exc, "unknown character 'marge'")
    _png(tmp_path / "_none" / "x.png", (3, 3, 3))
    with pytest.raises(DataError) as exc:
        read_label_folders(tmp_path / "_none" / "..", require_label=True)
    _one_line(exc, "no labels")
    with pytest.raises(DataError) as exc:
        read_label_folders(tmp_path / "absent")
    _one_line(exc, "data/cartoon_characters/external/")
    with pytest.raises(DataError) as exc:
        read_labels_csv(tmp_path)
    _one_line(exc, "labels.csv", "data/cartoon_characters/external/")


def test_unreadable_image_is_one_line(tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    with pytest.raises(DataError) as exc:
        load_frame(bad, 16)
    _one_line(exc, "broken.png")


@pytest.mark.parametrize("mode", ["1", "L", "LA", "P", "RGB", "RGBA", "I;16"])
def test_every_image_mode_becomes_letterboxed_rgb(tmp_path, mode):
    path = _png(tmp_path / f"frame_{mode.replace(';', '')}.png", (250, 250, 250), size=(20, 10), mode=mode)
    if mode == "I;16":  # a 16-bit grey frame near white
        Image.fromarray(np.full((10, 20), 64000, np.uint16)).save(path)
    frame = load_frame(path, 16)
    assert frame.shape == (16, 16, 3) and frame.dtype == np.uint8
    assert frame[0, 0].tolist() == [0, 0, 0] and frame[8, 8].min() > 100   # black bars, content in the middle


def test_alpha_over_white_and_16_bit_scaling():
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[..., 0] = 255           # red, fully transparent → white
    assert to_rgb8(rgba)[0, 0].tolist() == [255, 255, 255]
    grey16 = np.full((2, 2), 65535, np.uint16)
    assert to_rgb8(grey16)[0, 0].tolist() == [255, 255, 255]
    wide = np.zeros((10, 40, 3), np.uint8)
    boxed = letterbox(wide + 200, 20)
    assert boxed.shape == (20, 20, 3) and boxed[:7].max() == 0 and boxed[8:12].min() == 200


def test_iterative_split_keeps_every_label_in_every_split():
    rng = np.random.default_rng(0)
    labels = (rng.random((120, 5)) < [0.5, 0.3, 0.1, 0.04, 0.03]).astype(np.uint8)
    labels[:3, 4] = 1
    labels[3:6, 3] = 1
    parts = stratified_split(labels, (0.7, 0.15, 0.15), seed=0, characters=list("abcde"))
    assert sorted(np.concatenate(parts).tolist()) == list(range(120))
    for part in parts:
        assert np.all(labels[part].sum(axis=0) > 0)
    assert len(parts[0]) > len(parts[1])


def test_split_error_names_the_label_with_too_few_frames():
    labels = np.zeros((30, 3), np.uint8)
    labels[:, 0] = 1
    labels[:10, 1] = 1
    labels[:2, 2] = 1
    with pytest.raises(DataError) as exc:
        stratified_split(labels, (0.7, 0.15, 0.15), seed=0, characters=["homer", "marge", "maggie"])
    _one_line(exc, "'maggie'", "2 frame(s)", "at least 3")
