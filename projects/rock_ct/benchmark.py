"""Stage ``benchmark``: speed (Mvox/s) and peak memory (RSS) of the tiled 3D U-Net on a large uint16 volume.

The volume (``size``³ uint16, 512³ in the issue's target) is generated on the fly, chunk by chunk, into a zarr array
on disk (three grey levels of a blurred random field with noise, at the contrast of a CT scan), so that neither the
input nor the output is ever whole in memory. It is then segmented by :meth:`projects.rock_ct.tiled.Segmenter.segment`
from that zarr array into a zarr label array, exactly as ``capstone rock_ct segment`` does with a user's volume.

Measured: the wall time of the segmentation (percentile statistics, every window through the network, the
writes), as input megavoxels per second; the process's peak resident memory (``ru_maxrss``, which includes
TensorFlow's own ~1 GB and the volume generation) and the resident memory before the segmentation. The scratch
volumes are deleted afterwards.

Writes ``<out>`` (JSON): size, tile, halo, seconds, ``mvox_per_s``, ``peak_rss_gb``, ``rss_before_gb``, the targets
(≥ 0.3 Mvox/s, ≤ 4 GB) and whether they are met.

    python -m projects.rock_ct.benchmark --params projects/rock_ct/params.yaml --model data/rock_ct/model \
        --work data/rock_ct/work/benchmark --out projects/rock_ct/results/benchmark.json
"""

from __future__ import annotations

import logging
import os
import resource
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from shared.config import load_section, to_dict
from shared.stage import run, stage_parser

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BenchmarkConfig:
    #: side of the generated cubic uint16 volume, voxels (512: the issue's 4 GB target)
    size: int = 256
    tile: int = 120
    halo: int = 8
    #: zarr chunk side of the scratch input and output volumes
    chunk: int = 64
    seed: int = 0
    target_mvox_per_s: float = 0.3
    target_rss_gb: float = 4.0

    def __post_init__(self) -> None:
        if self.size < 8 or self.tile < 1 or self.halo < 0 or self.chunk < 1:
            raise ValueError("size ≥ 8, tile ≥ 1, halo ≥ 0 and chunk ≥ 1 are required")


def rss_gb() -> float:
    """Resident memory of this process now, GB (from /proc/self/statm; 0 where unavailable)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return 0.0
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e9


def peak_rss_gb() -> float:
    """Peak resident memory of this process so far, GB (``ru_maxrss``, KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9


def generate_volume(path: Path, size: int, chunk: int, seed: int):
    """A ``size``³ uint16 CT-like volume written chunk by chunk into a zarr array at ``path``; returns the array.

    Per chunk: a Gaussian-blurred random field cut into three levels (vesicle 9,000, glass 24,000, crystal 38,000
    grey values at 25 % / 60 % / 15 %), plus Gaussian noise (σ 2,500). Peak memory: a few chunks.
    """
    import zarr
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    array = zarr.create_array(str(path), shape=(size,) * 3, chunks=(chunk,) * 3, dtype="uint16", overwrite=True)
    for z in range(0, size, chunk):
        for y in range(0, size, chunk):
            for x in range(0, size, chunk):
                shape = tuple(min(chunk, size - s) for s in (z, y, x))
                field = ndimage.gaussian_filter(rng.normal(size=shape).astype(np.float32), 3.0)
                levels = np.digitize(field, np.quantile(field, [0.25, 0.85]))
                grey = np.array([9_000, 24_000, 38_000], np.float32)[levels] + rng.normal(0, 2_500, shape)
                array[z:z + shape[0], y:y + shape[1], x:x + shape[2]] = grey.clip(0, 65535).astype(np.uint16)
    return array


def benchmark(cfg: BenchmarkConfig, model_dir: Path, work: Path) -> dict:
    """Generate, segment and time; returns the measurements (see the module doc).

    Raises:
        DataError: the model folder is missing or unreadable.
    """
    from projects.rock_ct.tiled import load_segmenter
    from projects.rock_ct.volumes import create_volume, open_volume

    segmenter = load_segmenter(model_dir)
    work = Path(work)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        log.info("generating a %d³ uint16 volume in %s", cfg.size, work)
        volume = generate_volume(work / "volume.zarr", cfg.size, cfg.chunk, cfg.seed)
        del volume
        # one small window first: the graph is traced outside the timed run
        segmenter.segment(np.full((16, 16, 16), 20_000, np.uint16), tile=16, halo=min(cfg.halo, 8),
                          stats=(9_000.0, 38_000.0), progress=False)
        before = rss_gb()
        start = time.perf_counter()
        # the path of `capstone rock_ct segment`: open the zarr volume, write a zarr label volume slab by slab
        source = open_volume(work / "volume.zarr")
        with create_volume(work / "labels.zarr", source.shape, "uint8", chunks=cfg.chunk) as out:
            segmenter.segment(source.array, out=out, tile=cfg.tile, halo=cfg.halo, progress=True)
        seconds = time.perf_counter() - start
        peak = peak_rss_gb()
        labels = open_volume(work / "labels.zarr", dataset="labels").array
        fractions = np.bincount(np.asarray(labels[::4, ::4, ::4]).ravel(), minlength=3)[:3]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    voxels = cfg.size ** 3
    result = {"config": to_dict(cfg), "voxels": voxels, "seconds": seconds, "mvox_per_s": voxels / seconds / 1e6,
              "peak_rss_gb": peak, "rss_before_gb": before, "cpus": os.cpu_count(),
              "label_fractions": (fractions / max(fractions.sum(), 1)).tolist()}
    result["meets_speed"] = result["mvox_per_s"] >= cfg.target_mvox_per_s
    result["meets_memory"] = peak <= cfg.target_rss_gb
    log.info("%d³ uint16 in %.0f s: %.3f Mvox/s, peak RSS %.2f GB (%.2f GB before the segmentation)", cfg.size,
             seconds, result["mvox_per_s"], peak, before)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    from shared.metrics import write_metrics

    parser = stage_parser(__doc__, inputs=("model",), outputs=("out",), work=True)
    args = parser.parse_args(argv)
    cfg = load_section(args.params, "benchmark", BenchmarkConfig)
    write_metrics(args.out, benchmark(cfg, Path(args.model), Path(args.work)))
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main))
