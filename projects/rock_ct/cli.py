"""rock_ct tools: segment a CT volume into vesicles, glass and crystals, or measure a label volume.

    capstone rock_ct segment scan.tif labels.zarr                       # multi-page TIFF → zarr labels
    capstone rock_ct segment slices/ labels.tif --format tiff --tile 120 --halo 8
    capstone rock_ct segment scan.raw labels.zarr                       # layout from scan.raw.json or scan.mhd
    capstone rock_ct segment scan.raw out.zarr --raw-dtype uint16 --raw-shape 512,512,512 --raw-byte-order big
    capstone rock_ct measure labels.zarr [--voxel-size 2.5] [--json metrics.json]
    capstone rock_ct measure segmented.raw --raw-dtype uint16 --raw-shape 50,50,50 --label-map 0:0,1:1,5:2

Inputs: a folder of TIFF slices, a (multi-page/OME) TIFF, raw (+ .json sidecar, .mhd header or --raw-*), HDF5
(--dataset) or zarr. ``segment`` reads and writes slab by slab (bounded memory; see projects/rock_ct/tiled.py) and
prints the physical metrics of the result: vesicularity, crystal fraction, vesicle count and equivalent-diameter
percentiles, connectivity. Labels: 0 vesicle, 1 glass, 2 crystal.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from shared.io import DataError

DEFAULT_MODEL = "data/rock_ct/model"

log = logging.getLogger(__name__)


def _shape(text: str) -> list[int]:
    try:
        shape = [int(s) for s in text.replace("x", ",").split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"a shape is Z,Y,X (three integers), got {text!r}") from None
    if len(shape) != 3:
        raise argparse.ArgumentTypeError(f"a shape is Z,Y,X (three integers), got {text!r}")
    return shape


def _add_input_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", default=None, help="HDF5 dataset or zarr array inside a group")
    p.add_argument("--raw-dtype", default=None, help="raw files: dtype (uint8, uint16, int16, float32, ...)")
    p.add_argument("--raw-shape", type=_shape, default=None, metavar="Z,Y,X", help="raw files: shape")
    p.add_argument("--raw-byte-order", default="little", choices=("little", "big"), help="raw files: byte order")
    p.add_argument("--raw-offset", type=int, default=0, help="raw files: header bytes before the data")
    p.add_argument("--voxel-size", type=float, default=None, metavar="UM",
                   help="voxel edge in µm (overrides what the file says)")


def _label_map(text: str) -> dict[int, int]:
    try:
        pairs = dict(tuple(int(v) for v in item.split(":")) for item in text.split(",") if item.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"a label map is VALUE:CLASS pairs, e.g. 0:0,1:1,5:2, got {text!r}") from None
    keys = [item.split(":")[0].strip() for item in text.split(",") if item.strip()]
    if len(keys) != len(set(keys)):
        raise argparse.ArgumentTypeError(f"a label map names each value once, got {text!r}")
    if not pairs or any(c not in (0, 1, 2) for c in pairs.values()):
        raise argparse.ArgumentTypeError(f"a label map sends values to 0 vesicle, 1 glass or 2 crystal, got {text!r}")
    return pairs


def warn_if_binary(array, source: str = "labels") -> bool:
    """Warn when a label volume holds only the values 0 and 1: another tool's pore/solid mask reads here as
    vesicle/glass, so a tool that marks pores 1 gets the porosity inverted. Returns whether it warned."""
    import numpy as np

    step = max(1, int(round((np.prod(array.shape) / 2e6) ** (1 / 3))))
    values = set(np.unique(np.asarray(array[::step, ::step, ::step])).tolist())
    if values == {0, 1}:
        log.warning("%s holds only the values 0 and 1, read as 0 vesicle and 1 glass; if 1 marks the pores, pass "
                    "--label-map 1:0,0:1", source)
        return True
    return False


def _raw_layout(args: argparse.Namespace) -> dict | None:
    if args.voxel_size is not None and not args.voxel_size > 0:
        raise DataError(f"--voxel-size must be a positive length in µm, got {args.voxel_size}")
    if args.raw_dtype is None and args.raw_shape is None:
        return None
    if args.raw_dtype is None or args.raw_shape is None:
        raise DataError("a raw layout needs both --raw-dtype and --raw-shape")
    layout = {"dtype": args.raw_dtype, "shape": args.raw_shape, "byte_order": args.raw_byte_order,
              "offset": args.raw_offset}
    if args.voxel_size:
        layout["voxel_size_um"] = args.voxel_size
    return layout


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="rock_ct_command", required=True)
    p = sub.add_parser("segment", help="segment a CT volume (tiled 3D U-Net) and print its physical metrics")
    p.add_argument("volume", help="TIFF folder, .tif, .raw/.mhd, .h5 or .zarr")
    p.add_argument("out", help="label volume to write (.zarr folder or .tif)")
    p.add_argument("--format", choices=("zarr", "tiff"), default=None,
                   help="output format; must agree with OUT's suffix (.zarr or .tif/.tiff)")
    p.add_argument("--tile", type=int, default=120, help="core side of a window, voxels")
    p.add_argument("--halo", type=int, default=8, help="context voxels on each side of a window (even)")
    p.add_argument("--model", default=DEFAULT_MODEL, help="trained model folder (the train stage's output)")
    p.add_argument("--json", default=None, metavar="PATH", help="also write the metrics as JSON")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output volume")
    _add_input_options(p)
    p.set_defaults(func=cmd_segment)
    p = sub.add_parser("measure", help="physical metrics of a label volume (0 vesicle, 1 glass, 2 crystal)")
    p.add_argument("labels", help="label volume: TIFF folder, .tif, .raw/.mhd, .h5 or .zarr")
    p.add_argument("--label-map", type=_label_map, default=None, metavar="V:C,...",
                   help="your label values → 0 vesicle, 1 glass, 2 crystal, e.g. 0:0,1:1,5:2 (every value present)")
    p.add_argument("--json", default=None, metavar="PATH", help="also write the metrics as JSON")
    _add_input_options(p)
    p.set_defaults(func=cmd_measure)


def format_metrics(metrics: dict[str, Any]) -> str:
    """The physical metrics of :func:`projects.rock_ct.physics.measure` as a few readable lines."""
    unit = metrics.get("unit", "µm")
    d = metrics.get("diameter") or {}

    def num(value, fmt):
        return "n/a" if value is None or value != value else format(value, fmt)

    lines = [
        f"vesicularity      {100 * metrics['vesicularity']:.2f} %",
        f"glass             {100 * metrics['glass_fraction']:.2f} %",
        f"crystal fraction  {100 * metrics['crystal_fraction']:.2f} %",
        f"vesicles          {metrics['vesicle_count']} (equivalent diameter d10 {num(d.get('d10'), '.1f')}, "
        f"d50 {num(d.get('d50'), '.1f')}, d90 {num(d.get('d90'), '.1f')} {unit})",
        f"connectivity      {num(metrics.get('connected_fraction'), '.3f')} of the vesicle volume touches a face; "
        f"largest vesicle {num(metrics.get('largest_fraction'), '.3f')}; Euler number {metrics.get('euler_number')}",
    ]
    return "\n".join(lines)


def _measure_and_print(labels_array, voxel_size_um: float | None, json_path: str | None) -> dict:
    from projects.rock_ct.physics import measure
    from shared.io import write_json

    metrics = measure(labels_array, voxel_size_um)
    print(format_metrics(metrics))
    if json_path:
        write_json(json_path, metrics)
    return metrics


def check_output(args: argparse.Namespace) -> Path:
    """The output path of ``segment``, refused before any work when it would lose data or mislead.

    Raises:
        DataError: a suffix other than .zarr/.tif/.tiff (or one that contradicts --format), the input itself, an
            existing path without --overwrite (or an existing folder that is not a zarr group), a parent that is a
            file.
    """
    out = Path(args.out)
    suffix = out.suffix.lower()
    if suffix not in (".zarr", ".tif", ".tiff"):
        raise DataError(f"{out}: the labels are written as .zarr (a folder) or .tif/.tiff; name the output so")
    if args.format and args.format != ("tiff" if suffix in (".tif", ".tiff") else "zarr"):
        raise DataError(f"--format {args.format} contradicts the suffix of {out}")
    source = Path(args.volume)
    if out.resolve() == source.resolve() or (source.is_dir() and source.resolve() in out.resolve().parents):
        raise DataError(f"{out} is the input volume (or inside it): write the labels elsewhere")
    if out.exists():
        zarr_group = out.is_dir() and ((out / "zarr.json").exists() or (out / ".zgroup").exists())
        if out.is_dir() and not zarr_group:
            raise DataError(f"{out} is an existing folder that is not a zarr volume: it would be replaced")
        if not args.overwrite:
            raise DataError(f"{out} exists: pass --overwrite to replace it")
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                raise DataError(f"cannot write {out}: {parent} is a file")
            break
    return out


def cmd_segment(args: argparse.Namespace) -> int:
    """Segment ``args.volume`` into ``args.out`` and print the physical metrics.

    Raises:
        DataError: an unreadable or malformed input, no trained model, a bad raw layout.
    """
    from projects.rock_ct.tiled import load_segmenter
    from projects.rock_ct.volumes import create_volume, open_volume

    out = check_output(args)
    if args.halo < 0 or args.halo % 2 or args.tile < 1 or args.halo > 2 * args.tile:
        raise DataError(f"--tile must be ≥ 1 and --halo even, ≥ 0 and at most twice the tile, got {args.tile} and "
                        f"{args.halo}")
    volume = open_volume(args.volume, raw=_raw_layout(args), dataset=args.dataset)
    voxel = args.voxel_size or volume.voxel_size_um
    segmenter = load_segmenter(args.model)
    if voxel and segmenter.voxel_size_um and abs(voxel / segmenter.voxel_size_um - 1) > 0.25:
        log.warning("the volume's voxels (%.3g µm) differ from the training voxels (%.3g µm): sizes in voxels "
                    "differ from what the network learnt", voxel, segmenter.voxel_size_um)
    fmt = "tiff" if out.suffix.lower() in (".tif", ".tiff") else "zarr"
    with create_volume(out, volume.shape, "uint8", voxel_size_um=voxel, format=fmt) as writer:
        segmenter.segment(volume.array, out=writer, tile=args.tile, halo=args.halo, progress=not args.no_progress)
    if out.is_file():
        out.chmod(0o644)  # the temporary file behind the atomic write was 0600: the labels are for colleagues too
    labels = open_volume(out, dataset="labels" if fmt == "zarr" else None, check=False)
    shape = "x".join(str(s) for s in volume.shape)
    print(f"{out}: {shape} labels (0 vesicle, 1 glass, 2 crystal), {fmt}"
          + (f", voxel {voxel:g} µm" if voxel else ""))
    _measure_and_print(labels.array, voxel, args.json)
    return 0


def cmd_measure(args: argparse.Namespace) -> int:
    """Print the physical metrics of a label volume.

    Raises:
        DataError: an unreadable volume, or labels outside 0..2.
    """
    from projects.rock_ct.volumes import open_volume

    labels = open_volume(args.labels, raw=_raw_layout(args), dataset=args.dataset, check=False)
    if labels.dtype.kind not in "iu":
        raise DataError(f"{labels.source} holds {labels.dtype} values; labels are integers 0 vesicle, 1 glass, "
                        f"2 crystal")
    from projects.rock_ct.labelmap import map_labels

    array = labels.array if args.label_map is None else map_labels(labels.array, args.label_map, labels.source,
                                                                     "--label-map")
    if args.label_map is None:
        warn_if_binary(array, labels.source)
    _measure_and_print(array, args.voxel_size or labels.voxel_size_um, args.json)
    return 0
