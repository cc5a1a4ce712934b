"""Stage ``rock_ct_data`` (root dvc.yaml): CT phantoms of volcanic rock with exact labels, or a labelled real scan.

``data.source`` chooses the data: ``phantom`` (the embedded default, below) or ``scan`` (a real micro-CT volume with a
label volume of the same shape, :class:`ScanConfig`; the ``scan`` profile of ``profiles.yaml``).

For each split of ``data.splits`` it writes ``<out>/<split>.zarr``, a zarr group (see
:func:`projects.rock_ct.volumes.write_arrays`) with

* ``image``: uint16 simulated CT, (Z, Y, X) for one cube or (N, Z, Y, X) for N cubes;
* ``labels``: uint8, the same shape, 0 vesicle, 1 glass, 2 crystal;
* attributes ``voxel_size_um`` and ``cubes`` (per cube: its geometry and acquisition parameters and the measured
  vesicularity and crystal fraction), ``split``, ``seed``.

Splits choose ``geometry`` (``nominal``: :class:`GenerateConfig.geometry`; ``randomised``: drawn per cube from
``geometry_ranges``) and ``acquisition`` (``nominal``; ``randomised``: drawn per cube from ``acquisition_ranges``;
``shifted``: the fixed acquisition shift ``shifted``). Training and validation use randomised simulations (domain
randomisation); the test volume the nominal scan; the shifted volume another scanner set-up (more noise and blur,
less crystal contrast, stronger rings and cupping, 8 bits), fixed before any training and never used for training or
model choice. What it can teach and what not is said in :mod:`projects.rock_ct.phantom`.

A ``scan`` is read through :func:`projects.rock_ct.volumes.open_volume` (TIFF stack or multi-page TIFF, raw with a
layout or a JSON sidecar, MetaImage .mhd, HDF5, zarr), its labels mapped to 0 vesicle, 1 glass, 2 crystal by
``scan.label_map`` (a scan's own values, e.g. ``{0: 0, 1: 1, 5: 2}``), and cut along Z into contiguous train, val and
test slabs (``scan.split``: fractions). A scan has no acquisition-shifted volume: evaluate then scores val and test.

    python -m projects.rock_ct.data --params projects/rock_ct/params.yaml --out data/rock_ct/phantom
"""

from __future__ import annotations

import dataclasses
import glob
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from projects.rock_ct.phantom import (
    Acquisition,
    AcquisitionRanges,
    Geometry,
    GeometryRanges,
    draw_acquisition,
    draw_geometry,
    make_phantom,
)
from projects.rock_ct.volumes import write_arrays
from shared.config import load_section
from shared.io import atomic_dir
from shared.paths import repo_root
from shared.stage import run, stage_parser

log = logging.getLogger(__name__)

#: the acquisition shift of the ``shifted`` split (issue 13: other noise, blur, contrast and stronger rings)
SHIFTED = Acquisition(mu_vesicle=0.08, mu_glass=0.47, crystal_contrast=0.16, crystal_spread=0.3, texture=0.02,
                      blur_sigma=1.3, cupping=0.12, rings=0.04, ring_count=24, photons=1000.0, noise=0.07, bits=8,
                      window_low=-0.2, window_high=1.2)


@dataclass(frozen=True)
class SplitConfig:
    count: int = 1
    #: cube side, voxels
    size: int = 128
    seed: int = 0
    geometry: str = "nominal"
    acquisition: str = "nominal"

    def __post_init__(self) -> None:
        if self.count < 1 or self.size < 8:
            raise ValueError(f"count must be ≥ 1 and size ≥ 8, got {self.count} and {self.size}")
        if self.geometry not in ("nominal", "randomised"):
            raise ValueError(f"geometry must be nominal or randomised, got {self.geometry!r}")
        if self.acquisition not in ("nominal", "randomised", "shifted"):
            raise ValueError(f"acquisition must be nominal, randomised or shifted, got {self.acquisition!r}")


@dataclass(frozen=True)
class ScanConfig:
    """A real labelled micro-CT scan (``data.source: scan``).

    ``image``/``labels``: paths relative to the repository root (any format of
    :func:`projects.rock_ct.volumes.open_volume`), or a stem whose one ``<stem>.<ext>`` is taken.
    ``raw``: the layout of raw files without a sidecar (dtype, shape (Z, Y, X), byte_order, offset, voxel_size_um).
    ``dataset``: the HDF5 dataset or zarr array inside a group (the same name in both files).
    ``label_map``: the scan's label value → 0 vesicle, 1 glass, 2 crystal (every value present must be mapped).
    ``split``: Z fractions of the train, val and test slabs. ``voxel_size_um``: overrides the file's (µm).
    """

    image: str = "data/rock_ct/external/image"
    labels: str = "data/rock_ct/external/labels"
    raw: dict[str, Any] = field(default_factory=dict)
    dataset: str | None = None
    label_map: dict[int, int] = field(default_factory=lambda: {0: 0, 1: 1, 2: 2})
    split: tuple[float, float, float] = (0.6, 0.2, 0.2)
    voxel_size_um: float | None = None

    def __post_init__(self) -> None:
        if len(self.split) != 3 or min(self.split) <= 0 or abs(sum(self.split) - 1) > 1e-6:
            raise ValueError(f"split must be three positive fractions (train, val, test) summing to 1, "
                             f"got {self.split}")
        bad = {k: v for k, v in self.label_map.items() if v not in (0, 1, 2)}
        if bad:
            raise ValueError(f"label_map must map to 0 vesicle, 1 glass or 2 crystal, got {bad}")


@dataclass(frozen=True)
class GenerateConfig:
    source: str = "phantom"
    scan: ScanConfig = ScanConfig()
    voxel_size_um: float = 5.0
    chunk: int = 64
    splits: dict[str, SplitConfig] = field(default_factory=lambda: {
        "train": SplitConfig(2, 128, 1, "randomised", "randomised"),
        "val": SplitConfig(1, 96, 3, "randomised", "randomised"),
        "test": SplitConfig(1, 128, 2, "nominal", "nominal"),
        "shifted": SplitConfig(1, 128, 4, "nominal", "shifted")})
    geometry: Geometry = Geometry()
    geometry_ranges: GeometryRanges = GeometryRanges()
    acquisition: Acquisition = Acquisition()
    shifted: Acquisition = SHIFTED
    acquisition_ranges: AcquisitionRanges = AcquisitionRanges()

    def __post_init__(self) -> None:
        if self.voxel_size_um <= 0 or self.chunk < 8:
            raise ValueError(f"voxel_size_um must be > 0 and chunk ≥ 8, got {self.voxel_size_um}, {self.chunk}")
        if not self.splits:
            raise ValueError("splits must name at least one split")
        if self.source not in ("phantom", "scan"):
            raise ValueError(f"source must be phantom or scan, got {self.source!r}")


def split_phantoms(cfg: GenerateConfig, name: str):
    """The phantoms of split ``name`` (a generator of :class:`projects.rock_ct.phantom.Phantom`), deterministic."""
    split = cfg.splits[name]
    seq = np.random.SeedSequence(split.seed)
    for cube_seq in seq.spawn(split.count):
        draw_seq, make_seq = cube_seq.spawn(2)
        rng = np.random.default_rng(draw_seq)
        geo = draw_geometry(cfg.geometry_ranges, rng, cfg.geometry) if split.geometry == "randomised" \
            else cfg.geometry
        acq = {"nominal": cfg.acquisition, "shifted": cfg.shifted}.get(split.acquisition) \
            or draw_acquisition(cfg.acquisition_ranges, rng)
        yield make_phantom(split.size, geo, acq, make_seq)


def generate(cfg: GenerateConfig, out: str | Path) -> dict[str, list[dict]]:
    """Write every split into ``out`` (an existing folder).

    Returns:
        split → per-cube attributes (parameters and measured phase fractions).
    """
    from tqdm import tqdm

    summary: dict[str, list[dict]] = {}
    total = sum(s.count for s in cfg.splits.values())
    with tqdm(total=total, desc="phantoms", unit="cube", mininterval=5) as bar:
        for name, split in cfg.splits.items():
            images, labels, cubes = [], [], []
            for ph in split_phantoms(cfg, name):
                images.append(ph.image)
                labels.append(ph.labels)
                cubes.append(ph.attrs)
                bar.update(1)
            stack = (lambda arrays: arrays[0] if len(arrays) == 1 else np.stack(arrays))
            write_arrays(Path(out) / f"{name}.zarr", {"image": stack(images), "labels": stack(labels)},
                         voxel_size_um=cfg.voxel_size_um, chunks=cfg.chunk,
                         attrs={"split": name, "seed": split.seed, "cubes": cubes,
                                "split_config": dataclasses.asdict(split)})
            summary[name] = cubes
            log.info("%s: %d cube(s) of %d³, vesicularity %s, crystal fraction %s", name, split.count, split.size,
                     [round(c["vesicularity"], 3) for c in cubes], [round(c["crystal_fraction"], 3) for c in cubes])
    return summary


def _scan_file(path: Path, name: str) -> Path:
    """``path`` itself, or the one file or folder ``path.<ext>`` (a stem: ``external/image`` finds ``image.raw``).

    Raises:
        DataError: nothing there (naming where to put what), or several candidates.
    """
    from shared.io import DataError

    if path.exists():
        return path
    found = sorted(p for p in path.parent.glob(f"{glob.escape(path.name)}.*")
                   if p.suffix.lower() not in (".json", ".txt", ".md"))
    if len(found) == 1:
        return found[0]
    if found:
        raise DataError(f"several files could be the scan's {name} volume: {', '.join(map(str, found))}; "
                        f"set data.scan.{name} to one of them")
    raise DataError(f"the scan's {name} volume {path}[.<ext>] is missing: put it there (a TIFF stack folder, .tif, "
                    f".raw + .json sidecar, .mhd, .h5 or .zarr) or set data.scan.{name}")


def read_scan(cfg: ScanConfig, root: str | Path = ".") -> tuple[np.ndarray, np.ndarray, float | None]:
    """The image and the mapped labels of a real scan, in memory, and its voxel size (µm).

    Returns:
        image (Z, Y, X) in the file's dtype, labels (Z, Y, X) uint8 in {0 vesicle, 1 glass, 2 crystal}, voxel size.

    Raises:
        DataError: a file is missing (naming where to put it), unreadable, of another shape than the other, holds
            NaN, or the labels hold values that ``label_map`` does not map.
    """
    from projects.rock_ct.labelmap import map_labels
    from projects.rock_ct.volumes import open_labels, open_volume

    paths = {name: _scan_file(Path(root) / getattr(cfg, name), name) for name in ("image", "labels")}
    raw = cfg.raw or None
    image = open_volume(paths["image"], raw=raw, dataset=cfg.dataset)
    labels = open_labels(paths["labels"], like=image, raw=raw, dataset=cfg.dataset)
    mapped = map_labels(labels.array, cfg.label_map, labels.source, "data.scan.label_map")
    voxel = cfg.voxel_size_um or image.voxel_size_um
    return image.read(), mapped, voxel


def split_scan(cfg: GenerateConfig, out: str | Path, root: str | Path = ".") -> dict[str, dict]:
    """Write the train, val and test Z slabs of ``cfg.scan`` as ``<out>/{train,val,test}.zarr``.

    Raises:
        DataError: see :func:`read_scan`; a slab thinner than 8 slices.
    """
    from shared.io import DataError

    image, labels, voxel = read_scan(cfg.scan, root)
    nz = image.shape[0]
    edges = np.round(np.cumsum((0.0,) + tuple(cfg.scan.split)) * nz).astype(int)
    summary = {}
    for name, z0, z1 in zip(("train", "val", "test"), edges[:-1], edges[1:]):
        if z1 - z0 < 8:
            raise DataError(f"the {name} slab of {cfg.scan.image} has {z1 - z0} slices (of {nz}); a scan needs at "
                            f"least 8 per split: change data.scan.split")
        lab = labels[z0:z1]
        attrs = {"vesicularity": float(np.mean(lab == 0)), "crystal_fraction": float(np.mean(lab == 2)),
                 "z_range": [int(z0), int(z1)]}
        write_arrays(Path(out) / f"{name}.zarr", {"image": image[z0:z1], "labels": lab},
                     voxel_size_um=voxel or cfg.voxel_size_um, chunks=cfg.chunk,
                     attrs={"split": name, "source": "scan", "scan": cfg.scan.image, "cubes": [attrs],
                            "voxel_size_known": voxel is not None})
        summary[name] = attrs
        log.info("%s: slices %d-%d of %s, vesicularity %.3f, crystal fraction %.3f", name, z0, z1, cfg.scan.image,
                 attrs["vesicularity"], attrs["crystal_fraction"])
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    args = stage_parser(__doc__, outputs=("out",)).parse_args(argv)
    cfg = load_section(args.params, "data", GenerateConfig)
    with atomic_dir(args.out) as tmp:
        if cfg.source == "scan":
            written = split_scan(cfg, tmp, repo_root())
        else:
            written = generate(cfg, tmp)
    log.info("wrote %s to %s", ", ".join(f"{k}.zarr" for k in written), args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main))
