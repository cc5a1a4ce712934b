"""Readers of real captioned photos: Flickr8k in its two common layouts, and COCO captions through tfds.

**Flickr8k** (Hodosh, Young & Hockenmaier 2013, https://hockenmaier.cs.illinois.edu/8k-pictures.html), in a folder
(``data.path``, default ``data/image_captioning/external/flickr8k``):

- the *Kaggle* layout (https://www.kaggle.com/datasets/adityajn105/flickr8k): ``captions.txt``, a CSV file with
  the header ``image,caption`` and five rows per photo, plus the photos in ``Images/`` (or ``images/``);
- the *original* layout: ``Flickr8k.token.txt`` (lines ``<image>#<n><TAB><caption>``, often inside
  ``Flickr8k_text/``), the photos in ``Flicker8k_Dataset/`` (sic), ``Flickr8k_Dataset/``, ``Images/`` or
  ``images/``, and the official split lists ``Flickr_8k.trainImages.txt``, ``Flickr_8k.devImages.txt``,
  ``Flickr_8k.testImages.txt`` (6000/1000/1000 photos).

The split, in order of preference: the official lists when all three are present (photos on no list are not
used, e.g. the token file's stray ``2258277193_586949ec62.jpg.1``); else Karpathy's ``dataset_flickr8k.json``
(Karpathy & Fei-Fei 2015; ``restval`` joins train) when it lies in the folder; else a seeded split **by photo**
(``data.split_fractions``). Captions always come from the caption file; the JSON then only supplies the split.

**COCO captions** (Chen et al. 2015) are read through TensorFlow Datasets (``coco_captions``, Karpathy splits:
``train`` + ``restval`` → train, ``val``, ``test``) from a ``data_dir`` that already holds the prepared dataset
(``tfds build coco_captions --data_dir DIR`` on a machine with the data); nothing is downloaded here.

Every problem with the input is a :class:`shared.io.DataError` whose one-line message names the file: a missing
caption file (and what to place where), an empty one, wrong columns, a malformed line, a photo listed but missing,
an unreadable photo.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from shared.images import to_rgb8
from shared.io import DataError, read_image

log = logging.getLogger(__name__)

__all__ = ["Flickr8k", "read_flickr8k", "load_photo", "to_rgb8", "iter_coco", "SPLIT_LISTS", "EXTERNAL_HINT"]

SPLIT_LISTS = {"train": "Flickr_8k.trainImages.txt", "val": "Flickr_8k.devImages.txt",
               "test": "Flickr_8k.testImages.txt"}
IMAGE_DIRS = ("Images", "images", "Flicker8k_Dataset", "Flickr8k_Dataset")
EXTERNAL_HINT = ("put the Kaggle Flickr8k folder (captions.txt + Images/) or the original one (Flickr8k.token.txt, "
                 "Flickr_8k.*Images.txt, Flicker8k_Dataset/) at {folder}")


@dataclasses.dataclass(frozen=True)
class Flickr8k:
    """A Flickr8k folder as read: ``captions`` photo name → raw captions (file order), ``images`` the photo folder,
    ``splits`` photo name → ``train``/``val``/``test`` (``None``: no split given), ``layout`` and ``split_rule``
    in words."""

    captions: dict[str, list[str]]
    images: Path
    splits: dict[str, str] | None
    layout: str
    split_rule: str


def _find(folder: Path, name: str) -> Path | None:
    direct = folder / name
    if direct.is_file():
        return direct
    found = sorted(p for p in folder.rglob(name) if p.is_file())
    return found[0] if found else None


def _text(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path} is not UTF-8 text: {exc}") from exc
    if not text.strip():
        raise DataError(f"{path} is empty: no captions")
    return text


def read_kaggle_captions(path: Path) -> dict[str, list[str]]:
    """Read Kaggle's ``captions.txt``: header ``image,caption``, then one ``image,caption`` row per caption.

    A caption holding commas may be quoted or not (everything after the first comma is the caption).

    Raises:
        DataError: the file is empty, its header is not ``image,caption``, or a row has no caption.
    """
    rows = list(csv.reader(io.StringIO(_text(path))))
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        raise DataError(f"{path} holds only blank cells: no 'image,caption' header, no captions")
    header = [c.strip().lower() for c in rows[0]]
    if header != ["image", "caption"]:
        raise DataError(f"{path}: expected the columns 'image,caption', got {','.join(rows[0])!r}")
    if len(rows) == 1:
        raise DataError(f"{path} is empty: a header and no captions")
    captions: dict[str, list[str]] = {}
    for line, row in enumerate(rows[1:], start=2):
        caption = ",".join(row[1:]).strip()
        if len(row) < 2 or not row[0].strip() or not caption:
            raise DataError(f"{path}, row {line}: expected 'image,caption', got {','.join(row)!r}")
        captions.setdefault(row[0].strip(), []).append(caption)
    return captions


def read_token_file(path: Path) -> dict[str, list[str]]:
    """Read the original ``Flickr8k.token.txt``: lines ``<image>#<n><TAB><caption>``.

    Raises:
        DataError: the file is empty or a line lacks the tab or the ``#n`` suffix.
    """
    captions: dict[str, list[str]] = {}
    for line_no, line in enumerate(_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        key, tab, caption = line.partition("\t")
        name, hash_, number = key.rpartition("#")
        if not tab or not hash_ or not number.strip().isdigit() or not name or not caption.strip():
            raise DataError(f"{path}, line {line_no}: expected '<image>#<n><TAB><caption>', got {line[:80]!r}")
        captions.setdefault(name.strip(), []).append(caption.strip())
    return captions


def _read_list(path: Path) -> list[str]:
    try:
        names = [line.strip() for line in path.read_text(encoding="utf-8-sig").splitlines() if line.strip()]
    except UnicodeDecodeError as exc:
        raise DataError(f"{path} is not UTF-8 text: {exc}") from exc
    if not names:
        raise DataError(f"{path} is empty: no image names")
    return names


def _karpathy_splits(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        entries = data["images"]
        splits = {e["filename"]: {"restval": "train"}.get(e["split"], e["split"]) for e in entries}
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in splits.items()):
            raise TypeError("filename and split must be strings")
        return splits
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as exc:
        raise DataError(f"{path} is not Karpathy's split file (a JSON with images[].filename/split): {exc}") from exc


def read_flickr8k(folder: str | Path) -> Flickr8k:
    """Read the captions and split of a Flickr8k folder in either layout (see the module docstring).

    Photos are not opened here (see :func:`load_photo`), but every photo that will be used must exist.

    Raises:
        DataError: the folder or its caption file is missing (the message says what to put where), the caption
            file, a split list or Karpathy's JSON is malformed (or not UTF-8), a split list names a photo without
            captions, Karpathy's JSON names none of them, or a photo with captions is missing from the photo folder.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"no Flickr8k folder at {folder}: " + EXTERNAL_HINT.format(folder=folder))
    kaggle, token = _find(folder, "captions.txt"), _find(folder, "Flickr8k.token.txt")
    if kaggle is not None:
        captions, layout = read_kaggle_captions(kaggle), f"Kaggle ({kaggle.relative_to(folder)})"
    elif token is not None:
        captions, layout = read_token_file(token), f"original ({token.relative_to(folder)})"
    else:
        raise DataError(f"{folder} holds neither captions.txt nor Flickr8k.token.txt: "
                        + EXTERNAL_HINT.format(folder=folder))
    image_dir = next((folder / d for d in IMAGE_DIRS if (folder / d).is_dir()), None)
    if image_dir is None:
        found = [p for d in IMAGE_DIRS for p in folder.rglob(d) if p.is_dir()]
        if not found:
            raise DataError(f"{folder} has no photo folder (one of {', '.join(IMAGE_DIRS)}) next to its captions")
        image_dir = sorted(found)[0]
    lists = {split: _find(folder, name) for split, name in SPLIT_LISTS.items()}
    karpathy = _find(folder, "dataset_flickr8k.json")
    splits: dict[str, str] | None = None
    if all(lists.values()):
        splits = {}
        for split, path in lists.items():
            for name in _read_list(path):
                if name not in captions:
                    raise DataError(f"{path} lists {name}, which has no caption in the caption file")
                splits[name] = split
        rule = "official Flickr_8k.{train,dev,test}Images.txt lists"
    elif karpathy is not None:
        splits = {k: v for k, v in _karpathy_splits(karpathy).items() if k in captions}
        if not splits:
            raise DataError(f"{karpathy} names none of the photos of the caption file")
        rule = f"Karpathy's split ({karpathy.name}; restval joins train)"
    else:
        if any(lists.values()):
            log.warning("only some official split lists lie in %s; splitting by photo instead", folder)
        rule = "seeded split by photo"
    used = sorted(splits) if splits is not None else sorted(captions)
    for name in used:
        if not (image_dir / name).is_file():
            raise DataError(f"{image_dir / name} is missing: the caption file lists {name} but the photo folder "
                            f"{image_dir} does not hold it")
    if splits is not None:
        captions = {k: captions[k] for k in used}
    return Flickr8k(captions=captions, images=image_dir, splits=splits, layout=layout, split_rule=rule)


def fit_square(image: np.ndarray, size: int, mode: str = "letterbox") -> np.ndarray:
    """Resize an RGB uint8 photo to ``size`` × ``size``.

    ``letterbox`` keeps the whole photo (long side → ``size``, Pillow's antialiased bicubic resampling) and pads the
    rest with black, centred; ``crop`` takes the central square first (losing the ends of the long side).

    Raises:
        ValueError: ``mode`` is neither ``letterbox`` nor ``crop``.
    """
    from PIL import Image

    h, w = image.shape[:2]
    if mode == "crop":
        side = min(h, w)
        r0, c0 = (h - side) // 2, (w - side) // 2
        return np.asarray(Image.fromarray(image[r0:r0 + side, c0:c0 + side]).resize((size, size), Image.BICUBIC))
    if mode != "letterbox":
        raise ValueError(f"resize mode must be 'letterbox' or 'crop', got {mode!r}")
    scale = size / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    small = np.asarray(Image.fromarray(image).resize((nw, nh), Image.BICUBIC))
    out = np.zeros((size, size, 3), np.uint8)
    r0, c0 = (size - nh) // 2, (size - nw) // 2
    out[r0:r0 + nh, c0:c0 + nw] = small
    return out


def load_photo(path: str | Path, size: int, mode: str = "letterbox") -> np.ndarray:
    """Read one photo (any format :func:`shared.io.read_image` reads, EXIF orientation applied) as uint8
    (size, size, 3) RGB.

    Raises:
        DataError: the photo is missing, empty, corrupt or not an image (the message names the file).
    """
    return fit_square(to_rgb8(read_image(path), str(path)), size, mode)


def load_photos(paths: Sequence[Path], size: int, mode: str = "letterbox", workers: int = 2) -> np.ndarray:
    """:func:`load_photo` over ``paths`` (threads: Pillow decodes without the GIL) → uint8 (N, size, size, 3)."""
    from concurrent.futures import ThreadPoolExecutor

    out = np.empty((len(paths), size, size, 3), np.uint8)
    with ThreadPoolExecutor(max(1, workers)) as pool:
        for i, img in enumerate(pool.map(lambda p: load_photo(p, size, mode), paths)):
            out[i] = img
            if (i + 1) % 1000 == 0:
                log.info("read %d / %d photos", i + 1, len(paths))
    return out


def iter_coco(data_dir: str | Path, split: str, size: int, mode: str = "letterbox",
              limit: int = 0) -> Iterator[tuple[str, np.ndarray, list[str]]]:
    """``(file name, uint8 (size, size, 3), raw captions)`` of one split of TFDS ``coco_captions``.

    ``split`` is ``train`` (TFDS ``train+restval``), ``val`` or ``test`` (Karpathy's 5000 each); ``limit`` > 0
    stops after that many photos. Reads only what is prepared in ``data_dir`` (``download=False``).

    Raises:
        DataError: tensorflow-datasets is not installed, or ``data_dir`` does not hold a prepared ``coco_captions``.
    """
    try:
        import tensorflow_datasets as tfds
    except ImportError as exc:
        raise DataError("data.source 'coco' needs tensorflow-datasets: pip install tensorflow-datasets") from exc
    tfds_split = {"train": "train+restval", "val": "val", "test": "test"}[split]
    try:
        ds = tfds.load("coco_captions", split=tfds_split, data_dir=str(data_dir), download=False)
    except Exception as exc:  # AssertionError / DatasetNotFoundError: not prepared there
        raise DataError(f"no prepared coco_captions in {data_dir} ({type(exc).__name__}); on a machine with the "
                        f"COCO 2014 images run `tfds build coco_captions --data_dir {data_dir}` and copy the folder "
                        f"here") from exc
    for n, example in enumerate(tfds.as_numpy(ds)):
        if limit and n >= limit:
            break
        name = example["image/filename"].decode()
        texts = [t.decode() for t in example["captions"]["text"]]
        yield name, fit_square(to_rgb8(example["image"]), size, mode), texts
