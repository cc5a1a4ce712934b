"""Stage ``data``: read a labelled source, preprocess every image, split, write ``prepared/``.

Sources (``data.source.kind``):

* ``fits``: a folder of FITS cutouts with a labels CSV; the default is the GalSim simulation
  written by the ``simulate`` stage (cubes, with a ``split`` column that keeps its
  evaluation-only splits apart: shifted, harsher and the robustness-curve splits);
* ``images``: a folder of JPEG/PNG cutouts with a labels CSV (Galaxy Zoo layout);
* ``galaxy10``: the Galaxy10 DECaLS ``.h5`` (fetched with its sha256, or hand-placed in
  ``data/galaxy_morphology/external/``).

Every image goes through :func:`projects.galaxy_morphology.preprocess.prepare_image`
(sigma-clipped background, noise units, centre crop, resize). Rows without a ``split``
column are split per class (stratified) by ``split_fractions``. Output:
``<out>/<split>.npz`` with ``x`` (N, S, S, C) float16, ``y``, ``ids``, ``noise`` (the per-band
background noise that ``x`` is divided by), and ``manifest.json`` (classes, bands, preprocessing,
chirality pairs, counts, and the median acquisition conditions per split when the labels CSV has them).

    python -m projects.galaxy_morphology.data --params projects/galaxy_morphology/params.yaml \
        --out data/galaxy_morphology/prepared
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from projects.galaxy_morphology.loaders import (
    SPLITS,
    Item,
    galaxy10_path,
    read_fits_folder,
    read_galaxy10,
    read_image_folder,
)
from projects.galaxy_morphology.preprocess import PreprocessConfig, prepare_image
from shared.config import load_section, to_dict
from shared.data import split_indices
from shared.io import DataError, atomic_dir, save_npz, write_json
from shared.stage import run, stage_parser

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SourceConfig:
    kind: Literal["fits", "images", "galaxy10"] = "fits"
    #: folder of the cutouts (fits, images) or the .h5 file (galaxy10; empty: fetch it)
    path: str = "data/galaxy_morphology/raw/simulated"
    #: labels CSV, relative to ``path`` unless absolute
    labels: str = "labels.csv"
    filename_column: str = "filename"
    class_column: str = "class"
    #: class names in label order; empty: as the source defines them (sorted CSV names)
    classes: tuple[str, ...] = ()
    #: FITS: one cube per object, or one file per band found through ``pattern``
    fits_layout: Literal["cube", "per_band"] = "cube"
    pattern: str = "{band}/{id}.fits"
    #: band names, blue to red; their number is the number of input channels
    bands: tuple[str, ...] = ("g", "r", "z")
    #: pairs of classes that are mirror images of each other (clockwise and anticlockwise spirals):
    #: a mirror flip in augmentation or test-time averaging swaps their labels
    chirality_pairs: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class DataConfig:
    """The ``data`` section: the source, its preprocessing and the split.

    Raises:
        ValueError: ``split_fractions`` has a negative entry or does not sum to 1; ``source.bands`` is empty.
    """

    source: SourceConfig = field(default_factory=SourceConfig)
    preprocess: PreprocessConfig = field(default_factory=PreprocessConfig)
    #: train/val/test fractions for sources without a split column (stratified per class)
    split_fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
    split_seed: int = 0
    workers: int = 2

    def __post_init__(self) -> None:
        if not np.isclose(sum(self.split_fractions), 1.0) or min(self.split_fractions) < 0:
            raise ValueError(f"split_fractions must be non-negative and sum to 1, got {self.split_fractions}")
        if not self.source.bands:
            raise ValueError("source.bands must name at least one band")


def open_source(cfg: DataConfig):
    """``(items, count, classes)`` of the configured source."""
    src = cfg.source
    allow_nan = True  # NaN pixels are judged by preprocess.nan_policy (handle_nan), with the params key in the message
    if src.kind == "galaxy10":
        return read_galaxy10(galaxy10_path(src.path or None))
    folder = Path(src.path)
    labels = Path(src.labels) if Path(src.labels).is_absolute() else folder / src.labels
    if src.kind == "images":
        return read_image_folder(folder, labels, src.classes, filename_column=src.filename_column,
                                 class_column=src.class_column)
    return read_fits_folder(folder, labels, src.classes, layout=src.fits_layout, bands=src.bands,
                            pattern=src.pattern, allow_nan=allow_nan, filename_column=src.filename_column,
                            class_column=src.class_column)


def _prepare(args: tuple[Item, PreprocessConfig, int]) -> tuple[str, np.ndarray, np.ndarray, int, str | None]:
    item, pcfg, bands = args
    image, noise = prepare_image(item.image, pcfg, bands, item.id)
    return item.id, image, noise, item.label, item.split


def stratified_split(labels: np.ndarray, fractions: Sequence[float], seed: int) -> list[np.ndarray]:
    """``split_indices`` within each class, so that every split keeps the class proportions."""
    parts: list[list[np.ndarray]] = [[] for _ in fractions]
    for k in np.unique(labels):
        members = np.flatnonzero(labels == k)
        for i, idx in enumerate(split_indices(members.size, fractions, seed + int(k))):
            parts[i].append(members[idx])
    return [np.sort(np.concatenate(p)) for p in parts]


def split_conditions(cfg: DataConfig) -> dict[str, dict[str, float]]:
    """Median acquisition conditions per split from the labels CSV's ``psf_fwhm``, ``sky_level``,
    ``size_scale`` and ``flux`` columns (the simulator writes them); empty for other sources."""
    import pandas as pd

    src = cfg.source
    if src.kind == "galaxy10":
        return {}
    labels = Path(src.labels) if Path(src.labels).is_absolute() else Path(src.path) / src.labels
    try:
        frame = pd.read_csv(labels)
    except Exception:  # read_labels already reported a broken file
        return {}
    columns = [c for c in ("psf_fwhm", "sky_level", "size_scale", "flux") if c in frame.columns]
    if "split" not in frame.columns or not columns:
        return {}
    medians = frame.groupby("split")[columns].median()
    return {str(split): {c: float(row[c]) for c in columns} for split, row in medians.iterrows()}


def build(cfg: DataConfig, out: Path) -> dict:
    """Read, preprocess and split the source into ``out``; returns the manifest.

    Raises:
        DataError: the source cannot be read (see :mod:`projects.galaxy_morphology.loaders`), an image has the
            wrong band count or NaN pixels under ``nan_policy: error``, a preprocessed image exceeds the float16
            range, the labels CSV gives a split for some rows only, ``train``, ``val`` or ``test`` is empty, or
            ``source.chirality_pairs`` names a class the source does not have.
    """
    from tqdm.auto import tqdm

    items, count, classes = open_source(cfg)
    bands = len(cfg.source.bands)
    tasks = ((item, cfg.preprocess, bands) for item in items)
    if cfg.workers > 1:
        import multiprocessing as mp

        with mp.get_context("spawn").Pool(cfg.workers) as pool:
            results = list(tqdm(pool.imap(_prepare, tasks, chunksize=64), total=count, desc="prepare", mininterval=5))
    else:
        results = [_prepare(t) for t in tqdm(tasks, total=count, desc="prepare", mininterval=5)]
    ids = np.array([r[0] for r in results])
    x = np.stack([r[1] for r in results]).astype(np.float16)
    noise = np.stack([r[2] for r in results]).astype(np.float32)
    y = np.array([r[3] for r in results], dtype=np.int16)
    given = [r[4] for r in results]
    if np.abs(x).max() >= np.finfo(np.float16).max:
        raise DataError("a preprocessed image exceeds the float16 range; check the background estimate")
    if all(s is not None for s in given):
        order = list(SPLITS) + [s for s in dict.fromkeys(given) if s not in SPLITS]  # as the labels CSV lists them
        splits = {s: np.flatnonzero(np.array(given) == s) for s in order if s in given}
    elif any(s is not None for s in given):
        raise DataError("the labels CSV gives a split for some rows only")
    else:
        splits = dict(zip(("train", "val", "test"), stratified_split(y, cfg.split_fractions, cfg.split_seed)))
    for name in ("train", "val", "test"):
        if name not in splits or splits[name].size == 0:
            raise DataError(f"split {name!r} is empty; give more images or change split_fractions")
    missing = sorted({c for pair in cfg.source.chirality_pairs for c in pair} - set(classes))
    if missing:
        raise DataError(f"data.source.chirality_pairs names {missing}, not classes of the source "
                        f"({', '.join(classes)})")
    manifest = {"classes": list(classes), "bands": list(cfg.source.bands), "source": to_dict(cfg.source),
                "preprocess": to_dict(cfg.preprocess),
                "chirality_pairs": [list(p) for p in cfg.source.chirality_pairs], "counts": {},
                "conditions": split_conditions(cfg)}
    for name, idx in splits.items():
        save_npz(out / f"{name}.npz", x=x[idx], y=y[idx], ids=ids[idx], noise=noise[idx])
        manifest["counts"][name] = {classes[k]: int(np.sum(y[idx] == k)) for k in range(len(classes))}
        log.info("%s: %d images", name, idx.size)
    write_json(out / "manifest.json", manifest)
    return manifest


def main(argv: Sequence[str] | None = None) -> int:
    args = stage_parser(__doc__, outputs=("out",)).parse_args(argv)
    cfg = load_section(args.params, "data", DataConfig)
    with atomic_dir(args.out) as tmp:
        manifest = build(cfg, tmp)
    log.info("wrote %s: %s", args.out, {k: sum(v.values()) for k, v in manifest["counts"].items()})
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main))
