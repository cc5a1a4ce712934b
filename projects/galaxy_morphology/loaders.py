"""Readers of labelled galaxy images in their official or usual formats.

* :func:`read_galaxy10`: the Galaxy10 DECaLS ``.h5`` (datasets ``images`` (N, 256, 256, 3) uint8
  and ``ans`` (N,)), fetched from Zenodo with its sha256, or placed by hand in
  ``data/galaxy_morphology/external/Galaxy10_DECals.h5``;
* :func:`read_image_folder`: JPEG/PNG cutouts with a labels CSV (the Galaxy Zoo layout: a
  ``filename`` column and a ``class`` column, names or integer indices);
* :func:`read_fits_folder`: FITS cutouts, one cube per object (C×H×W or H×W×C) or one file per
  band (a pattern such as ``{band}/ceers_{band}_{id}.fits``).

Each yields ``(id, image, label, split)`` with the image as the file holds it; colour images
are turned into band order blue → red (as g, r, z), the order of the FITS cubes.
Every problem (missing or corrupt file, unknown class, wrong band count, NaNs) raises
:class:`shared.io.DataError` naming the file.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import shared.io as shared_io
from shared.io import DataError, read_fits, read_image

log = logging.getLogger(__name__)

GALAXY10_URL = "https://zenodo.org/records/10845026/files/Galaxy10_DECals.h5"
GALAXY10_SHA256 = "19aefc477c41bb7f77ff07599a6b82a038dc042f889a111b0d4d98bb755c1571"
GALAXY10_CLASSES: tuple[str, ...] = (
    "disturbed", "merging", "round_smooth", "in_between_round_smooth", "cigar_shaped_smooth", "barred_spiral",
    "unbarred_tight_spiral", "unbarred_loose_spiral", "edge_on_without_bulge", "edge_on_with_bulge")
#: the splits every labelled source has; a ``split`` column may add evaluation-only splits of any name
#: (``shifted``, ``harsher``, ``curve_*``), never used for training or model choice
SPLITS = ("train", "val", "test")
SPLIT_NAME = r"[a-z][a-z0-9_]*"


@dataclass(frozen=True)
class Item:
    id: str
    image: np.ndarray
    label: int
    split: str | None = None


@dataclass(frozen=True)
class LabelRow:
    filename: str
    label: int
    split: str | None


def read_labels(path: str | Path, classes: Sequence[str], *, filename_column: str = "filename",
                class_column: str = "class") -> tuple[list[LabelRow], tuple[str, ...]]:
    """Rows of a labels CSV and the class names.

    ``classes`` empty: the names found in the CSV, sorted. Class values may be names or
    integer indices into ``classes``; an unknown value stops with the row number. A ``split``
    column (train/val/test, or an evaluation-only split such as shifted), when present, fixes the split
    of each row.

    Raises:
        DataError: the file does not exist or is not a readable CSV, lacks ``filename_column`` or
            ``class_column``, a row has an unknown class or a split that is not a name (lower case letters,
            digits, ``_``; the message gives the row number), or it lists no rows.
    """
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise DataError(f"labels file not found: {path} (a CSV with '{filename_column}' and '{class_column}' columns)")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except Exception as exc:
        raise DataError(f"{path} is not a readable CSV: {exc}") from exc
    missing = [c for c in (filename_column, class_column) if c not in frame.columns]
    if missing:
        raise DataError(f"{path} lacks column(s) {missing}; it has {list(frame.columns)}")
    values = [v.strip() for v in frame[class_column]]
    # isdecimal, not isdigit: '²' is a digit that int() refuses
    classes = tuple(classes) or tuple(sorted(set(values), key=lambda v: (not v.isdecimal(), int(v) if v.isdecimal()
                                                                         else 0, v)))
    index = {name: i for i, name in enumerate(classes)}
    rows = []
    has_split = "split" in frame.columns
    for i, (name, value) in enumerate(zip(frame[filename_column], values)):
        if value in index:
            label = index[value]
        elif value.isdecimal() and int(value) < len(classes) and not any(c.isdigit() for c in classes):
            label = int(value)
        else:
            raise DataError(f"{path}, row {i + 2}: unknown class {value!r}; known classes: {', '.join(classes)}")
        split = frame["split"].iloc[i].strip() if has_split else None
        if split is not None and not re.fullmatch(SPLIT_NAME, split):
            raise DataError(f"{path}, row {i + 2}: split {split!r} is not a name; use {', '.join(SPLITS)} or an "
                            "evaluation split such as shifted (lower case letters, digits, _)")
        rows.append(LabelRow(str(name).strip(), label, split))
    if not rows:
        raise DataError(f"{path} lists no images")
    return rows, classes


def colour_to_bands(image: np.ndarray, source: str) -> np.ndarray:
    """An RGB(A) image (H, W, 3|4) as (H, W, 3) in band order blue → red (g, r, z-like); alpha is dropped.

    A grey (H, W) image is returned as it is (the band-count check downstream names the file).

    Raises:
        DataError: a channel count other than 3 or 4 (e.g. grey + alpha).
    """
    if image.ndim == 2:
        return image  # a single band: the band-count check downstream names the file
    if image.shape[-1] == 4:
        image = image[..., :3]
    if image.shape[-1] != 3:
        raise DataError(f"{source}: {image.shape[-1]} channels, expected an RGB image")
    return np.ascontiguousarray(image[..., ::-1])


def read_image_folder(folder: str | Path, labels: str | Path, classes: Sequence[str] = (), *,
                      filename_column: str = "filename", class_column: str = "class"
                      ) -> tuple[Iterator[Item], int, tuple[str, ...]]:
    """JPEG/PNG/TIFF cutouts listed in a labels CSV (paths relative to ``folder``).

    Returns:
        ``(items, count, classes)``: a lazy iterator of :class:`Item` (image (H, W, 3) in band order
        blue → red, as the file's bit depth, or (H, W) for grey), the number of rows, the class names.

    Raises:
        DataError: the labels file is missing, unreadable, lacks a column or names an unknown class or
            split (at once); a listed image is missing or corrupt (when the iterator reaches it).
    """
    folder = Path(folder)
    rows, classes = read_labels(labels, classes, filename_column=filename_column, class_column=class_column)

    def items() -> Iterator[Item]:
        for row in rows:
            path = folder / row.filename
            image = read_image(path)
            yield Item(Path(row.filename).stem, colour_to_bands(image, str(path)), row.label, row.split)

    return items(), len(rows), classes


def read_fits_object(folder: str | Path, name: str, *, layout: str = "cube", bands: Sequence[str] = (),
                     pattern: str = "{band}/{id}.fits", allow_nan: bool = False) -> np.ndarray:
    """One object's image: a cube file as stored ((C, H, W) or (H, W, C)), or the files of its bands
    stacked as (C, H, W), in physical units (BSCALE/BZERO applied by astropy).

    Raises:
        DataError: an unknown layout, no bands for ``per_band``, a missing or corrupt file, a band file
            that is not 2-D, bands of different shapes, or NaN pixels when ``allow_nan`` is false.
    """
    folder = Path(folder)
    if layout == "cube":
        data, _ = read_fits(folder / name, allow_nan=allow_nan)
        return data
    if layout != "per_band":
        raise DataError(f"unknown FITS layout {layout!r}; use cube or per_band")
    if not bands:
        raise DataError("the per_band FITS layout needs the band names (data.source.bands)")
    planes = []
    for band in bands:
        path = folder / pattern.format(band=band, id=name)
        data, _ = read_fits(path, allow_nan=allow_nan)
        if data.ndim != 2:
            raise DataError(f"{path}: one band per file expected, got shape {data.shape}")
        if planes and data.shape != planes[0].shape:
            raise DataError(f"{path} has shape {data.shape}, the other bands {planes[0].shape}")
        planes.append(data)
    return np.stack(planes)


def read_fits_folder(folder: str | Path, labels: str | Path, classes: Sequence[str] = (), *, layout: str = "cube",
                     bands: Sequence[str] = (), pattern: str = "{band}/{id}.fits", allow_nan: bool = False,
                     filename_column: str = "filename", class_column: str = "class"
                     ) -> tuple[Iterator[Item], int, tuple[str, ...]]:
    """FITS cutouts listed in a labels CSV: file names (cube) or object ids (per_band).

    Returns:
        ``(items, count, classes)`` as :func:`read_image_folder`, each image as :func:`read_fits_object`
        returns it.

    Raises:
        DataError: as :func:`read_labels` (at once) and :func:`read_fits_object` (when the iterator
            reaches the file).
    """
    rows, classes = read_labels(labels, classes, filename_column=filename_column, class_column=class_column)

    def items() -> Iterator[Item]:
        for row in rows:
            image = read_fits_object(folder, row.filename, layout=layout, bands=bands, pattern=pattern,
                                     allow_nan=allow_nan)
            yield Item(Path(row.filename).stem, image, row.label, row.split)

    return items(), len(rows), classes


def galaxy10_path(path: str | None = None) -> Path:
    """The Galaxy10 DECaLS file: ``path`` if given, else the hand-placed or downloaded copy (sha256-checked).

    Raises:
        shared.data.FetchError: offline and no copy in ``data/galaxy_morphology/external/`` (the message
            says what to download and where to put it); ChecksumError: a copy with the wrong sha256.
    """
    if path:
        return Path(path)
    from shared.data import fetch
    from shared.paths import data_dir

    return fetch(GALAXY10_URL, GALAXY10_SHA256, data_dir("galaxy_morphology", "raw") / "Galaxy10_DECals.h5",
                 project="galaxy_morphology")


def read_galaxy10(path: str | Path, chunk: int = 512) -> tuple[Iterator[Item], int, tuple[str, ...]]:
    """Galaxy10 DECaLS from its ``.h5``, read in chunks of ``chunk`` images (the full file is 2.7 GB).

    Returns:
        ``(items, count, classes)``: images (256, 256, 3) uint8, the file's RGB (z, r, g) reversed to band
        order g, r, z (blue → red), labels 0-9 of :data:`GALAXY10_CLASSES`.

    Raises:
        DataError: a missing or non-HDF5 file, missing ``images``/``ans`` datasets, wrong shapes, or a label
            outside 0-9 (when the iterator reaches it).
    """
    import h5py

    path = Path(path)
    if not path.is_file():
        raise DataError(f"file not found: {path}")
    try:
        handle = h5py.File(path, "r")
    except OSError as exc:
        raise DataError(f"{path} is not a readable HDF5 file (corrupt or truncated?): {exc}") from exc
    present = sorted(handle)
    missing = [k for k in ("images", "ans") if k not in present]
    if missing:
        handle.close()
        raise DataError(f"{path} lacks dataset(s) {missing} of the Galaxy10 layout; it has {present}")
    images, answers = handle["images"], handle["ans"]
    if images.ndim != 4 or images.shape[-1] != 3 or images.shape[0] != answers.shape[0]:
        shapes = (images.shape, answers.shape)
        handle.close()
        raise DataError(f"{path}: 'images' must be (N, H, W, 3) with one 'ans' per image, got {shapes[0]} "
                        f"and {shapes[1]}")
    n = int(images.shape[0])

    def items() -> Iterator[Item]:
        with handle:
            for start in range(0, n, chunk):
                block = np.asarray(images[start:start + chunk])
                labels = np.asarray(answers[start:start + chunk]).astype(int)
                bad = np.flatnonzero((labels < 0) | (labels >= len(GALAXY10_CLASSES)))
                if bad.size:
                    raise DataError(f"{path}: image {start + bad[0]} has class {labels[bad[0]]}, outside 0-9")
                for j, (image, label) in enumerate(zip(block, labels)):
                    yield Item(f"galaxy10_{start + j:05d}", colour_to_bands(image, str(path)), int(label))

    return items(), n, GALAXY10_CLASSES


#: what :func:`read_any` reads, and so what a folder scan of ``classify`` picks up: every FITS file
#: astropy opens (plain, gzip-compressed, tile-compressed ``.fz``) and every image ``read_image`` reads
FITS_SUFFIXES = (".fits", ".fit", ".fts", ".fz", ".fits.gz", ".fit.gz", ".fts.gz", ".fits.fz")
IMAGE_SUFFIXES = tuple(shared_io.IMAGE_SUFFIXES)


def is_fits(path: str | Path) -> bool:
    """Whether ``path``'s name ends with one of :data:`FITS_SUFFIXES` (case-insensitive)."""
    return Path(path).name.lower().endswith(FITS_SUFFIXES)


def is_readable(path: str | Path) -> bool:
    """Whether :func:`read_any` reads ``path`` (a FITS or image suffix); folder scans use exactly this."""
    return is_fits(path) or Path(path).suffix.lower() in IMAGE_SUFFIXES


def stem(path: str | Path) -> str:
    """The file name without its FITS or image suffix (``a.fits.gz`` → ``a``)."""
    name = Path(path).name
    for suffix in sorted(FITS_SUFFIXES + IMAGE_SUFFIXES, key=len, reverse=True):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return Path(name).stem


def read_any(path: str | Path, *, allow_nan: bool = False) -> np.ndarray:
    """One unlabelled file for inference: a FITS image/cube or a colour or grey image.

    Returns:
        FITS: the array as stored, (H, W) or (C, H, W) (or (H, W, C)), physical units (BSCALE/BZERO
        applied, length-1 axes dropped); images: (H, W, 3) in band order blue → red, or (H, W).

    Raises:
        DataError: an unsupported suffix (the message lists the accepted ones), a missing or corrupt
            file, or NaN pixels when ``allow_nan`` is false.
    """
    path = Path(path)
    if is_fits(path):
        data, _ = read_fits(path, allow_nan=allow_nan)
        return data
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        raise DataError(f"{path}: unsupported file type; classify reads FITS ({', '.join(FITS_SUFFIXES)}) and "
                        f"images ({', '.join(IMAGE_SUFFIXES)})")
    return colour_to_bands(read_image(path), str(path))
