"""super_resolution tools: upscale images with the trained networks, check the protocol.

    capstone super_resolution upscale photo.png photo_x4.png --scale 4
    capstone super_resolution upscale big.tif big_x2.tif --scale 2 --tile 256 --overlap 16
    capstone super_resolution upscale photos/ photos_x2/ --scale 2          # every image of a folder
    capstone super_resolution protocol --folder data/super_resolution/external/Set5
    capstone super_resolution models
"""

from __future__ import annotations

import argparse
from pathlib import Path

from shared.cli import at_least

DEFAULT_MODELS = "data/super_resolution/model"


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="sr_command", required=True)
    p = sub.add_parser("upscale", help="upscale an image, or every image of a folder, with a trained network")
    p.add_argument("input", help="image file (PNG, JPEG, TIFF, BMP, WebP, GIF; any mode, 8/16 bit) or folder")
    p.add_argument("output", help="output file (format from its suffix) or folder")
    p.add_argument("--scale", type=int, default=2, choices=[2, 3, 4])
    p.add_argument("--model", default="fast", help="fast or espcn (as trained; quality where train.runs has it)")
    p.add_argument("--models", default=DEFAULT_MODELS, help="the train stage's output folder")
    p.add_argument("--tile", type=at_least(1), default=None,
                   help="tile side in input pixels (bounded memory, no seams)")
    p.add_argument("--overlap", type=at_least(0), default=None,
                   help="context around each tile in input pixels (default and minimum: the receptive radius)")
    p.add_argument("--method", default=None, choices=["nearest", "bilinear", "bicubic", "lanczos3"],
                   help="use this classical resampler instead of a network")
    p.set_defaults(func=cmd_upscale)
    p = sub.add_parser("protocol", help="bicubic PSNR-Y of a benchmark folder against the published values")
    p.add_argument("--folder", required=True, help="folder of HR images, e.g. Set5")
    p.add_argument("--scales", type=int, nargs="+", default=[2, 3, 4])
    p.set_defaults(func=cmd_protocol)
    p = sub.add_parser("models", help="list the trained networks")
    p.add_argument("--models", default=DEFAULT_MODELS)
    p.set_defaults(func=cmd_models)


def _pairs(src: Path, dst: Path) -> list[tuple[Path, Path]]:
    from projects.super_resolution.images import list_images

    if src.is_dir():
        # a GIF (palette, 256 colours) would lose the upscaled colours: its output is a PNG
        return [(f, (dst / f.relative_to(src)).with_suffix(".png" if f.suffix.lower() == ".gif" else f.suffix))
                for f in list_images(src)]
    return [(src, dst)]


def cmd_upscale(args: argparse.Namespace) -> int:
    """``upscale INPUT OUTPUT``: a file or every image of a folder, by a network or a classical resampler.

    Every mode ``shared.io.read_image`` opens is read (EXIF orientation applied); the output keeps
    the input's channels (alpha upscaled by bicubic) and bit depth, in the format of its suffix.

    Raises:
        DataError: a missing or unreadable input, a folder written to a file, an output that is an input
            image, an output format that cannot hold the image (alpha or 16 bits in JPEG), an ``--overlap`` below
            the network's receptive radius, or no trained network of that model and scale.
    """
    from tqdm import tqdm

    from projects.super_resolution.images import read_image, write_image
    from projects.super_resolution.resize import imresize
    from shared.io import DataError

    src, dst = Path(args.input), Path(args.output)
    if not src.exists():
        raise DataError(f"input not found: {src}")
    if src.is_dir() and dst.suffix:
        raise DataError(f"{src} is a folder: the output must be a folder too, not {dst}")
    pairs = _pairs(src, dst)
    inputs = {path.resolve() for path, _ in pairs}
    for _, out in pairs:
        if out.resolve() in inputs:
            raise DataError(f"the output {out} is an input image: upscaling would overwrite it; name another output")
    upscaler = None
    if args.method is None:
        from projects.super_resolution.inference import Upscaler

        upscaler = Upscaler.load(args.models, args.model, args.scale)
        if args.overlap is not None and args.overlap < upscaler.radius:
            raise DataError(f"--overlap {args.overlap} is smaller than the receptive radius of {upscaler.name} "
                            f"({upscaler.radius} px): tiles would show seams; use --overlap {upscaler.radius} or more")
    for path, out in tqdm(pairs, unit="image", disable=len(pairs) == 1):
        image = read_image(path)
        if upscaler is None:
            result = imresize(image, args.scale, args.method)
        else:
            result = upscaler.upscale(image, tile=args.tile, overlap=args.overlap)
        write_image(out, result)
        if len(pairs) == 1:
            print(f"{path} ({image.shape[1]}×{image.shape[0]}, {image.dtype}) → {out} "
                  f"({result.shape[1]}×{result.shape[0]}, {upscaler.name if upscaler else args.method})")
    if len(pairs) > 1:
        print(f"upscaled {len(pairs)} images ×{args.scale} into {dst}")
    return 0


def cmd_protocol(args: argparse.Namespace) -> int:
    """``protocol --folder F``: bicubic PSNR-Y (dB) of a benchmark folder against the published values.

    Raises:
        DataError: the folder is missing or holds no image.
    """
    import numpy as np

    from projects.super_resolution.images import list_images, read_image
    from projects.super_resolution.quality import PUBLISHED_BICUBIC, modcrop, score
    from projects.super_resolution.resize import imresize

    folder = Path(args.folder)
    files = list_images(folder)
    published = PUBLISHED_BICUBIC.get(folder.resolve().name, {})
    print(f"{folder.resolve().name}: {len(files)} images, MATLAB bicubic ×s down then up, PSNR-Y with s px shaved")
    for scale in args.scales:
        values = []
        for path in files:
            hr = modcrop(read_image(path), scale)
            values.append(score(imresize(imresize(hr, 1 / scale), scale), hr, scale)["psnr_y"])
        ref = published.get(scale)
        note = f"published {ref:.2f}, difference {np.mean(values) - ref:+.3f} dB" if ref else "no published value"
        print(f"  ×{scale}: {np.mean(values):.3f} dB ({note})")
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    """``models``: the trained runs (model, scale, parameters, training time).

    Raises:
        DataError: the folder holds no ``summary.json`` (the train stage has not run).
    """
    from shared.io import DataError, read_json

    path = Path(args.models) / "summary.json"
    if not path.exists():
        raise DataError(f"no trained models in {args.models}; run `capstone run super_resolution --stage train`")
    for r in read_json(path)["runs"]:
        print(f"{r['run']:<12} {r['model']:<8} ×{r['scale']}  {r['parameters']:>9,} parameters  "
              f"trained {r['wall_time_s']:.0f} s")
    return 0
