"""Stage ``rock_ct_generate`` (root dvc.yaml): CT phantoms of volcanic rock with exact labels.

For each split of ``generate.splits`` it writes ``<out>/<split>.zarr``, a zarr group (see
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

    python -m projects.rock_ct.generate --params projects/rock_ct/params.yaml --out data/rock_ct/phantom
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

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
class GenerateConfig:
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


def main(argv: Sequence[str] | None = None) -> int:
    args = stage_parser(__doc__, outputs=("out",)).parse_args(argv)
    cfg = load_section(args.params, "generate", GenerateConfig)
    with atomic_dir(args.out) as tmp:
        generate(cfg, tmp)
    log.info("wrote %s to %s", ", ".join(f"{k}.zarr" for k in cfg.splits), args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main))
