"""clothing_segmentation tools: segment a garment from clicks, or open the web page.

    capstone clothing_segmentation segment photo.jpg --click 120,200 --click 130,260 --negative 90,150 --out mask.png
    capstone clothing_segmentation segment photo.jpg --click 120,200 --out mask.png --rle mask.json
    capstone clothing_segmentation app [--host 127.0.0.1] [--port 7860] [--out-dir data/clothing_segmentation/app]

Clicks are X,Y pixel coordinates (column, row) of the image, given in the order a person would click them; the
first must be positive. A negative coordinate needs the ``=`` form (``--click=-5,10``), as for any argparse option.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from shared.io import DataError

DEFAULT_MODEL = "data/clothing_segmentation/model"
DEFAULT_OUT = "data/clothing_segmentation/app"

log = logging.getLogger(__name__)


def parse_point(text: str) -> tuple[int, int]:
    """``"X,Y"`` → (x, y) integers.

    Raises:
        argparse.ArgumentTypeError: not two integers separated by a comma.
    """
    parts = text.replace(" ", "").split(",")
    try:
        x, y = (int(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a click is X,Y in pixels (two integers), got {text!r}") from None
    return x, y


class _ClickAction(argparse.Action):
    """Appends ``(x, y, positive)`` to one list, so positive and negative clicks keep the order given."""

    def __call__(self, parser, namespace, values, option_string=None):
        clicks = list(getattr(namespace, self.dest, None) or [])
        clicks.append((*values, option_string in ("--click", "-c")))
        setattr(namespace, self.dest, clicks)


def resolve_default(path: str, default: str) -> Path:
    """``path`` as given; the default folder is looked up in the repository when it is not under the current one."""
    from shared.paths import repo_root

    given = Path(path)
    if path == default and not given.exists() and (repo_root() / default).exists():
        return repo_root() / default
    return given


def check_outputs(image: str, out: str, rle: str | None) -> None:
    """Refuse output paths that would lose data or fail half-way, before anything is computed or written.

    Raises:
        DataError: ``--out`` is not a ``.png`` file name, ``--rle`` not a ``.json`` one (so they never name the
            same file), an output is the input image, an output is an existing folder, or an output's parent is a
            file.
    """
    if Path(out).suffix.lower() != ".png":
        raise DataError(f"--out must name a .png file (the mask is a lossless PNG, 255 on the garment), got {out!r}")
    if rle is not None and Path(rle).suffix.lower() != ".json":
        raise DataError(f"--rle must name a .json file (COCO RLE), got {rle!r}")
    source = Path(image).resolve()
    named = [("--out", Path(out))] + ([("--rle", Path(rle))] if rle is not None else [])
    for flag, path in named:
        if path.resolve() == source:
            raise DataError(f"{flag} {path} is the input image; give another file name")
        if path.is_dir():
            raise DataError(f"{flag} {path} is a folder; give a file name")
        parent = next((q for q in path.resolve().parents if q.exists()), None)
        if parent is not None and not parent.is_dir():
            raise DataError(f"{flag} {path}: {parent} is a file, not a folder")


def check_max_pixels(value: int | None) -> int:
    """The pixel limit to use: the default when not given.

    Raises:
        DataError: a limit of zero or below.
    """
    from projects.clothing_segmentation.predictor import MAX_PIXELS

    if value is None:
        return MAX_PIXELS
    if value <= 0:
        raise DataError(f"--max-pixels must be a positive number of pixels, got {value}")
    return value


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="clothing_command", required=True)
    p = sub.add_parser("segment", help="the mask of the garment under the clicks, as PNG (and COCO RLE JSON)")
    p.add_argument("image", help="a photo (JPEG, PNG, TIFF, ...)")
    p.add_argument("--click", "-c", dest="clicks", type=parse_point, action=_ClickAction, metavar="X,Y",
                   help="a positive click on the garment, X the column and Y the row in pixels; the first click must "
                        "be one; repeat for more")
    p.add_argument("--negative", "-n", dest="clicks", type=parse_point, action=_ClickAction, metavar="X,Y",
                   help="a negative click (not the garment); repeat for more")
    p.add_argument("--out", required=True, help="mask PNG to write (255 on the garment, 0 elsewhere)")
    p.add_argument("--rle", default=None, metavar="JSON", help="also write the mask as COCO RLE JSON")
    p.add_argument("--model", default=DEFAULT_MODEL,
                   help=f"trained model folder, the train stage's output (default {DEFAULT_MODEL} of the repository)")
    p.add_argument("--no-zoom", action="store_true", help="switch the zoom-in off")
    p.add_argument("--max-pixels", type=int, default=None, help="refuse larger images (default 40 million)")
    p.set_defaults(func=cmd_segment)
    p = sub.add_parser("app", help="the interactive web page (gradio), bound to 127.0.0.1 unless --host says otherwise")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (0.0.0.0 exposes it on the network)")
    p.add_argument("--port", type=int, default=7860, help="port to listen on (default 7860)")
    p.add_argument("--model", default=DEFAULT_MODEL, help="trained model folder (the train stage's output)")
    p.add_argument("--out-dir", default=DEFAULT_OUT, help="the only folder the page writes to (exports)")
    p.add_argument("--examples", default=None, help="a folder of example images (default: a few generated ones)")
    p.add_argument("--max-pixels", type=int, default=None, help="refuse larger uploads (default 40 million)")
    p.set_defaults(func=cmd_app)


def cmd_segment(args: argparse.Namespace) -> int:
    """Segment the garment under the clicks and write the mask.

    Raises:
        DataError: no positive click first, a click outside the image, an unreadable or too large image, an output
            path that would overwrite the input or cannot be written, or no trained model.
    """
    from projects.clothing_segmentation.clicks import Click, check_click
    from projects.clothing_segmentation.predictor import coco_annotation, load_rgb, load_segmenter, mask_png
    from shared.io import write_image, write_json

    clicks = args.clicks or []
    if not clicks:
        raise DataError("give at least one --click X,Y on the garment")
    if not clicks[0][2]:
        raise DataError("the first click must be positive (--click X,Y on the garment)")
    check_outputs(args.image, args.out, args.rle)
    image = load_rgb(args.image, check_max_pixels(args.max_pixels))
    points = [Click(y, x, positive) for x, y, positive in clicks]
    for point in points:  # before the network loads
        check_click(point, image.shape[:2])
    segmenter = load_segmenter(resolve_default(args.model, DEFAULT_MODEL), zoom_in=not args.no_zoom)
    prob = segmenter.segment(image, points)
    mask = mask_png(prob)
    write_image(args.out, mask)
    name, p = segmenter.predicted_class()
    area = int((mask > 0).sum())
    if args.rle:
        write_json(args.rle, coco_annotation(mask, category=name, image_name=Path(args.image).name,
                                             classes=segmenter.classes))
    print(f"{args.out}: {area} pixels ({100 * area / mask.size:.1f}% of {image.shape[1]}x{image.shape[0]}), "
          f"class {name} ({p:.2f}), {len(clicks)} click(s)")
    return 0


def cmd_app(args: argparse.Namespace) -> int:
    """Serve the web page until interrupted.

    Raises:
        DataError: no trained model, or a pixel limit of zero or below.
    """
    from projects.clothing_segmentation.app import serve

    limit = check_max_pixels(args.max_pixels)
    serve(model=str(resolve_default(args.model, DEFAULT_MODEL)), host=args.host, port=args.port,
          out_dir=args.out_dir, examples=args.examples, max_pixels=limit)
    return 0
