"""clothing_segmentation tools: segment a garment from clicks, or open the web page.

    capstone clothing_segmentation segment photo.jpg --click 120,200 --click 130,260 --negative 90,150 --out mask.png
    capstone clothing_segmentation segment photo.jpg --click 120,200 --out mask.png --rle mask.json
    capstone clothing_segmentation app [--host 127.0.0.1] [--port 7860] [--out-dir data/clothing_segmentation/app]

Clicks are X,Y pixel coordinates (column, row) of the image, given in the order a person would click them.
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


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="clothing_command", required=True)
    p = sub.add_parser("segment", help="the mask of the garment under the clicks, as PNG (and COCO RLE JSON)")
    p.add_argument("image", help="a photo (JPEG, PNG, TIFF, ...)")
    p.add_argument("--click", "-c", dest="clicks", type=parse_point, action=_ClickAction, metavar="X,Y",
                   help="a positive click (on the garment); repeat for more")
    p.add_argument("--negative", "-n", dest="clicks", type=parse_point, action=_ClickAction, metavar="X,Y",
                   help="a negative click (not the garment); repeat for more")
    p.add_argument("--out", required=True, help="mask PNG to write (255 on the garment, 0 elsewhere)")
    p.add_argument("--rle", default=None, metavar="JSON", help="also write the mask as COCO RLE JSON")
    p.add_argument("--model", default=DEFAULT_MODEL, help="trained model folder (the train stage's output)")
    p.add_argument("--no-zoom", action="store_true", help="switch the zoom-in off")
    p.add_argument("--max-pixels", type=int, default=None, help="refuse larger images (default 40 million)")
    p.set_defaults(func=cmd_segment)
    p = sub.add_parser("app", help="the interactive web page (gradio), bound to 127.0.0.1 unless --host says otherwise")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (0.0.0.0 exposes it on the network)")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--model", default=DEFAULT_MODEL, help="trained model folder (the train stage's output)")
    p.add_argument("--out-dir", default=DEFAULT_OUT, help="the only folder the page writes to (exports)")
    p.add_argument("--examples", default=None, help="a folder of example images (default: a few generated ones)")
    p.add_argument("--max-pixels", type=int, default=None, help="refuse larger uploads (default 40 million)")
    p.set_defaults(func=cmd_app)


def cmd_segment(args: argparse.Namespace) -> int:
    """Segment the garment under the clicks and write the mask.

    Raises:
        DataError: no positive click first, a click outside the image, an unreadable or too large image, or no
            trained model.
    """
    from projects.clothing_segmentation.clicks import Click
    from projects.clothing_segmentation.predictor import MAX_PIXELS, coco_annotation, load_rgb, load_segmenter, mask_png
    from shared.io import write_image, write_json

    clicks = args.clicks or []
    if not clicks:
        raise DataError("give at least one --click X,Y on the garment")
    if not clicks[0][2]:
        raise DataError("the first click must be positive (--click X,Y on the garment)")
    image = load_rgb(args.image, args.max_pixels or MAX_PIXELS)
    segmenter = load_segmenter(args.model, zoom_in=not args.no_zoom)
    prob = segmenter.segment(image, [Click(y, x, positive) for x, y, positive in clicks])
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
    """Serve the web page until interrupted."""
    from projects.clothing_segmentation.app import serve
    from projects.clothing_segmentation.predictor import MAX_PIXELS

    serve(model=args.model, host=args.host, port=args.port, out_dir=args.out_dir, examples=args.examples,
          max_pixels=args.max_pixels or MAX_PIXELS)
    return 0
