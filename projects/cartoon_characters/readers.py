"""Real labelled cartoon frames: the two folder layouts, letterboxing and the iterative-stratification split.

Two layouts (``data.folder`` in params.yaml, profile ``folder``):

* **labels CSV** (``labels_csv: labels.csv``): the frames in ``root`` (sub-folders allowed) and a CSV with a
  ``filename`` column (the path relative to ``root``) and either one 0/1 column per character, or one ``labels``
  column of character names separated by ``;`` or ``|`` (empty: no character)::

      filename,homer,marge,bart          filename,labels
      ep1/0001.png,1,0,1                 ep1/0001.png,homer;bart
      ep1/0002.png,0,0,0                 ep1/0002.png,

* **label per folder** (``labels_csv: null``): one sub-folder of ``root`` per character, holding the frames that
  show it. A frame in several folders gets several labels: files are matched by content (identical bytes are one
  frame, whatever their names); two different files of the same name in two folders are an error, since the layout
  cannot say whether they are one frame. A sub-folder ``_none`` holds frames that show no character.

Every frame is read with :func:`shared.io.read_image` (any mode: grey, palette, RGBA, 16 bit, CMYK, TIFF...),
alpha composited over white, converted to RGB uint8 and letterboxed into ``size × size``: the longer side scaled to
``size`` (area averaging), centred, the rest padded with black.

Bad input ends with one line (:class:`shared.io.DataError`) naming the file, row and column: a label value other
than 0/1, an unknown character name, an image listed but missing, a frame without labels where ``require_label``
demands one, a duplicate file name, an unreadable image.

Splits: iterative stratification (Sechidis et al. 2011, the ``iterative-stratification`` package), so every
character is in train, val and test; a character with fewer frames than that needs is an error naming it.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from shared.images import to_rgb8
from shared.io import IMAGE_SUFFIXES, DataError, read_image

log = logging.getLogger(__name__)

#: the sub-folder of the label-per-folder layout for frames without any character
NONE_FOLDER = "_none"
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class FolderConfig:
    """A folder of real labelled frames (``data.source: folder``)."""

    #: the frames' folder, relative to the repository root
    root: str = "data/cartoon_characters/external/frames"
    #: the labels CSV inside ``root``; ``None``: the label-per-folder layout
    labels_csv: str | None = "labels.csv"
    #: the column order; empty: the CSV's columns (or the sorted names of its ``labels`` column / of the folders)
    characters: tuple[str, ...] = ()
    #: a frame without any label is an error
    require_label: bool = False
    #: train, val, test fractions
    split: tuple[float, float, float] = (0.7, 0.15, 0.15)

    def __post_init__(self) -> None:
        if len(self.split) != 3 or min(self.split) <= 0 or abs(sum(self.split) - 1) > 1e-6:
            raise ValueError(f"split must be three positive fractions (train, val, test) summing to 1, "
                             f"got {self.split}")
        if len(set(self.characters)) != len(self.characters):
            raise ValueError(f"characters must be distinct, got {list(self.characters)}")


@dataclass
class Labelled:
    """Frames found on disk with their multi-hot labels (not yet read)."""

    paths: list[Path]
    names: list[str]            # as given in the CSV, or relative to the layout's root
    labels: np.ndarray          # uint8 (n, C)
    characters: tuple[str, ...]


def _missing_root(root: Path) -> DataError:
    return DataError(f"frames folder {root} is missing: put your frames in data/cartoon_characters/external/ "
                     f"(frames/ with frames/labels.csv, or one sub-folder of frames/ per character) or set "
                     f"data.folder.root")


# --------------------------------------------------------------------------------------------------------------------
def read_labels_csv(root: str | Path, csv_name: str = "labels.csv", characters: Sequence[str] = (),
                    require_label: bool = False) -> Labelled:
    """The labels-CSV layout: ``filename`` plus 0/1 columns per character, or a ``labels`` column of names.

    Args:
        root: the frames' folder; the CSV is ``root / csv_name``.
        csv_name: the CSV file name.
        characters: the known characters (and column order); empty: taken from the CSV.
        require_label: refuse a frame without labels.

    Returns:
        the :class:`Labelled` frames in CSV order.

    Raises:
        DataError: (one line naming the file, line and column) the folder or CSV is missing or has no
            ``filename`` column; a 0/1 column holds another value; a character name or column is unknown; a
            file name is empty, repeated or its image is missing; a frame has no labels and ``require_label``.
    """
    root = Path(root)
    if not root.is_dir():
        raise _missing_root(root)
    path = root / csv_name
    if not path.is_file():
        raise DataError(f"labels file {path} is missing: put a CSV with a 'filename' column and one 0/1 column per "
                        f"character (or a 'labels' column of names separated by ';' or '|') in "
                        f"data/cartoon_characters/external/frames/, or set data.folder.labels_csv: null for one "
                        f"sub-folder per character")
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            text = fh.read()
    except UnicodeDecodeError as exc:
        raise DataError(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start}): save it as UTF-8 CSV") from exc
    first = text.splitlines()[0] if text.strip() else ""
    # the delimiter that makes a 'filename' column of line 1: ',' (default), tab, or ';' (European Excel)
    delimiter = next((d for d in (",", "\t", ";") if "filename" in [h.strip().lower() for h in first.split(d)]), ",")
    try:
        rows = list(csv.reader(text.splitlines(), delimiter=delimiter))
    except csv.Error as exc:
        raise DataError(f"{path} is not a readable CSV: {exc}") from exc
    if not rows:
        raise DataError(f"{path} is empty")
    header = [h.strip() for h in rows[0]]
    lower = [h.lower() for h in header]
    if "filename" not in lower:
        raise DataError(f"{path}: line 1 has no 'filename' column (columns: {', '.join(header)}; the delimiter may "
                        f"be ',', tab or ';')")
    # a trailing column without header and without values (as spreadsheet programs write it) is ignored
    blank = [i for i, h in enumerate(header) if not h]
    for i in blank:
        if any(i < len(row) and row[i].strip() for row in rows[1:]):
            raise DataError(f"{path}: line 1, column {i + 1} has values but no header")
    rows = [[c for i, c in enumerate(row) if i not in blank] for row in rows]
    header = [h for i, h in enumerate(header) if i not in blank]
    lower = [h.lower() for h in header]
    fcol = lower.index("filename")
    others = [i for i, h in enumerate(header) if i != fcol]
    names_mode = "labels" in lower
    if names_mode:
        ignored = [header[i] for i in others if lower[i] != "labels"]
        if ignored:
            log.warning("%s: reading the 'labels' column; column(s) %s ignored", path, ", ".join(map(repr, ignored)))
        others = [lower.index("labels")]
        known = tuple(characters)
    else:
        columns = [header[i] for i in others]
        if not columns:
            raise DataError(f"{path}: line 1 has no label column besides 'filename' (add one 0/1 column per "
                            f"character, or a 'labels' column)")
        dup = sorted({c for c in columns if columns.count(c) > 1})
        if dup:
            raise DataError(f"{path}: line 1 repeats column(s) {', '.join(map(repr, dup))}")
        if characters:
            unknown = [c for c in columns if c not in characters]
            if unknown:
                raise DataError(f"{path}: line 1, column {unknown[0]!r} is an unknown character (known: "
                                f"{', '.join(characters)}; data.folder.characters)")
        absent = [c for c in characters if c not in columns]
        if absent:
            raise DataError(f"{path}: line 1 has no column for the character(s) {', '.join(map(repr, absent))} of "
                            f"data.folder.characters")
        known = tuple(characters) or tuple(columns)
    entries: list[tuple[str, set[str]]] = []
    first_line: dict[str, int] = {}
    for lineno, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise DataError(f"{path}: line {lineno} has {len(row)} fields, the header {len(header)}")
        raw_name = row[fcol].strip()
        if not raw_name:
            raise DataError(f"{path}: line {lineno}, column 'filename' is empty")
        # one spelling per file: Windows separators and './' removed, so that duplicates are found
        name = posixpath.normpath(raw_name.replace("\\", "/"))
        if name.startswith("../") or name == ".." or posixpath.isabs(name):
            raise DataError(f"{path}: line {lineno}, column 'filename': {raw_name!r} points outside {root}")
        if name in first_line:
            raise DataError(f"{path}: line {lineno}, column 'filename': duplicate filename {name!r} "
                            f"(also on line {first_line[name]})")
        first_line[name] = lineno
        present: set[str] = set()
        if names_mode:
            cell = row[others[0]].strip()
            if "," in cell:
                raise DataError(f"{path}: line {lineno}, column 'labels': {cell!r}: separate names with ';' or '|'")
            for label in (p.strip() for p in re.split(r"[;|]", cell) if p.strip()):
                if known and label not in known:
                    raise DataError(f"{path}: line {lineno}, column 'labels': unknown character {label!r} (known: "
                                    f"{', '.join(known)}; data.folder.characters)")
                present.add(label)
        else:
            for i in others:
                value = row[i].strip()
                if value not in ("0", "1"):
                    raise DataError(f"{path}: line {lineno}, column {header[i]!r}: value {value!r} is not 0 or 1")
                if value == "1":
                    present.add(header[i])
        if require_label and not present:
            raise DataError(f"{path}: line {lineno}: frame {name!r} has no labels (data.folder.require_label is "
                            f"true)")
        image = root / name
        if not image.is_file():
            raise DataError(f"{path}: line {lineno}, column 'filename': image {name!r} is listed but missing from "
                            f"{root}")
        entries.append((name, present))
    if not entries:
        raise DataError(f"{path} lists no frames")
    if names_mode and not known:
        known = tuple(sorted(set().union(*(p for _, p in entries))))
        folded: dict[str, str] = {}
        for name in known:
            other = folded.setdefault(" ".join(name.lower().split()), name)
            if other != name:
                raise DataError(f"{path}, column 'labels': {other!r} and {name!r} differ only in case or spaces; "
                                f"write each character one way (or list them in data.folder.characters)")
    if not known:
        raise DataError(f"{path}: no frame has any label")
    labels = np.zeros((len(entries), len(known)), dtype=np.uint8)
    index = {c: j for j, c in enumerate(known)}
    for i, (_, present) in enumerate(entries):
        for c in present:
            labels[i, index[c]] = 1
    return Labelled([root / n for n, _ in entries], [n for n, _ in entries], labels, known)


def read_label_folders(root: str | Path, characters: Sequence[str] = (), require_label: bool = False) -> Labelled:
    """The label-per-folder layout: one sub-folder of ``root`` per character (``_none``: no character).

    Returns:
        the :class:`Labelled` frames, one per distinct file content, sorted by name.

    Raises:
        DataError: the folder is missing or has no character folders; a folder names an unknown character; two
            different files share a name; ``require_label`` and a ``_none`` folder holds frames.
    """
    root = Path(root)
    if not root.is_dir():
        raise _missing_root(root)
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    char_folders = [p for p in folders if p.name != NONE_FOLDER]
    if not char_folders:
        raise DataError(f"{root} has no character sub-folders (one folder per character, or a labels.csv with "
                        f"data.folder.labels_csv)")
    if characters:
        unknown = [p.name for p in char_folders if p.name not in characters]
        if unknown:
            raise DataError(f"{root / unknown[0]}: folder of an unknown character {unknown[0]!r} (known: "
                            f"{', '.join(characters)}; data.folder.characters)")
    known = tuple(characters) or tuple(p.name for p in char_folders)
    by_digest: dict[str, tuple[Path, str, set[str]]] = {}
    by_name: dict[str, tuple[str, Path]] = {}
    unlabelled: set[str] = set()
    for folder in folders:
        for file in sorted(folder.rglob("*")):
            if not file.is_file() or file.name.startswith("."):
                continue
            if file.suffix.lower() not in IMAGE_SUFFIXES:
                log.warning("%s: not an image suffix, skipped", file)
                continue
            digest = hashlib.sha256(file.read_bytes()).hexdigest()
            rel = str(file.relative_to(folder))
            if rel in by_name and by_name[rel][0] != digest:
                raise DataError(f"{file} and {by_name[rel][1]} have the same name but different content: rename one, "
                                f"or make them the same file if they are one frame")
            by_name.setdefault(rel, (digest, file))
            entry = by_digest.setdefault(digest, (file, rel, set()))
            if folder.name == NONE_FOLDER:
                if require_label:
                    raise DataError(f"{file}: frame has no labels (in {NONE_FOLDER}/) but data.folder.require_label "
                                    f"is true")
                unlabelled.add(digest)
                continue
            entry[2].add(folder.name)
    if not by_digest:
        raise DataError(f"{root}: the character folders hold no images")
    for digest in unlabelled:
        file, _, present = by_digest[digest]
        if present:
            log.warning("%s is in %s/ and in character folder(s) %s; it gets those labels", file, NONE_FOLDER,
                        sorted(present))
    entries = sorted(by_digest.values(), key=lambda e: e[1])
    index = {c: j for j, c in enumerate(known)}
    labels = np.zeros((len(entries), len(known)), dtype=np.uint8)
    for i, (_, _, present) in enumerate(entries):
        for c in present:
            labels[i, index[c]] = 1
    return Labelled([e[0] for e in entries], [e[1] for e in entries], labels, known)


def read_folder(cfg: FolderConfig, base: Path | None = None) -> Labelled:
    """The layout ``cfg`` names (``labels_csv`` set: the CSV layout; ``None``: label per folder).

    Raises:
        DataError: see :func:`read_labels_csv` and :func:`read_label_folders`.
    """
    root = (base / cfg.root) if base is not None and not Path(cfg.root).is_absolute() else Path(cfg.root)
    if cfg.labels_csv:
        return read_labels_csv(root, cfg.labels_csv, cfg.characters, cfg.require_label)
    return read_label_folders(root, cfg.characters, cfg.require_label)


# --------------------------------------------------------------------------------------------------------------------
def letterbox(image: np.ndarray, size: int) -> np.ndarray:
    """RGB uint8 (H, W, 3) → (size, size, 3): the longer side scaled to ``size`` (area averaging when shrinking),
    centred, padded with black."""
    from PIL import Image

    h, w = image.shape[:2]
    scale = size / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    resample = Image.Resampling.BOX if scale < 1 else Image.Resampling.BILINEAR
    resized = np.asarray(Image.fromarray(image).resize((nw, nh), resample))
    out = np.zeros((size, size, 3), dtype=np.uint8)
    y0, x0 = (size - nh) // 2, (size - nw) // 2
    out[y0:y0 + nh, x0:x0 + nw] = resized
    return out


def load_frame(path: str | Path, size: int) -> np.ndarray:
    """One frame file → letterboxed RGB uint8 (size, size, 3), any image mode.

    Raises:
        DataError: the file is missing, unreadable or not an image (one line naming it).
    """
    return letterbox(to_rgb8(read_image(path), str(path)), size)


def load_frames(paths: Sequence[str | Path], size: int) -> np.ndarray:
    """:func:`load_frame` of every path, stacked: uint8 (n, size, size, 3).

    Raises:
        DataError: a file is missing, unreadable or not an image (one line naming it).
    """
    out = np.empty((len(paths), size, size, 3), dtype=np.uint8)
    for i, path in enumerate(paths):
        out[i] = load_frame(path, size)
    return out


# --------------------------------------------------------------------------------------------------------------------
def stratified_split(labels: np.ndarray, fractions: Sequence[float], seed: int,
                     characters: Sequence[str] | None = None) -> list[np.ndarray]:
    """Split frames by iterative stratification so that every label is in every split.

    Args:
        labels: multi-hot (n, C).
        fractions: one fraction per split (summing to 1).
        seed: the random state of the tie breaks.
        characters: label names for the messages.

    Returns:
        one sorted index array per split.

    Raises:
        DataError: a label has fewer frames than splits, or (with few frames) the split left a label out of a split;
            the message names the label and its frame count.
    """
    from iterstrat.ml_stratifiers import IterativeStratification
    from sklearn.utils import check_random_state

    labels = np.asarray(labels).astype(bool)
    names = list(characters) if characters is not None else [str(j) for j in range(labels.shape[1])]
    counts = labels.sum(axis=0)
    k = len(fractions)
    few = [j for j in np.argsort(counts, kind="stable") if counts[j] < k]
    if few:
        j = few[0]
        raise DataError(f"character {names[j]!r} has {int(counts[j])} frame(s): it needs at least {k} to be in every "
                        f"split ({', '.join(SPLITS[:k]) if k <= 3 else k}); add frames or leave it out (a misspelt "
                        f"name? list the characters in data.folder.characters to have unknown names refused)")
    folds = IterativeStratification(labels, r=np.asarray(fractions, dtype=float), random_state=check_random_state(seed))
    # Iterative stratification gives a label of a few frames to the largest split only (its desired counts in the
    # small splits round below one); move single frames of it from the split with the most, choosing frames whose
    # other labels stay in every split, until every label is in every split.
    for _ in range(labels.shape[1] * k):
        per_split = np.stack([labels[folds == f].sum(axis=0) for f in range(k)])   # (k, C)
        holes = np.argwhere(per_split == 0)
        if holes.size == 0:
            break
        f, j = holes[0]
        donor = int(np.argmax(per_split[:, j]))
        candidates = np.flatnonzero((folds == donor) & labels[:, j])
        safe = [i for i in candidates if np.all(per_split[donor][labels[i]] > 1)]
        if not safe:
            break
        pick = min(safe, key=lambda i: (labels[i].sum(), i))
        folds[pick] = f
    parts = [np.flatnonzero(folds == f) for f in range(k)]
    for f, part in enumerate(parts):
        missing = np.flatnonzero(labels[part].sum(axis=0) == 0)
        if missing.size:
            j = missing[0]
            raise DataError(f"character {names[j]!r} ({int(counts[j])} frames) is missing from split "
                            f"{SPLITS[f] if f < 3 else f} after iterative stratification; add frames of it")
    return parts
