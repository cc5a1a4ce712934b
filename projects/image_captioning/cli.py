"""image_captioning tools: caption photos with a trained decoder (greedy or beam search).

    capstone image_captioning caption photo.jpg more/*.png [--beam 3] [--beams] [--decoder lstm]
    capstone image_captioning caption photo.jpg --attention maps/      # a PNG per photo: attention per word
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

DEFAULT_MODEL = "data/image_captioning/model"
METRICS = "projects/image_captioning/results/metrics.json"
DECODERS = ("transformer", "lstm")


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="captioning_command", required=True)
    p = sub.add_parser("caption", help="a caption per image (and the top beams with --beams)")
    p.add_argument("paths", nargs="+", help="image files (any format Pillow reads; EXIF orientation applied)")
    p.add_argument("--model", default=DEFAULT_MODEL,
                   help="the train stage's output folder (with transformer/ and lstm/), or one decoder's folder")
    p.add_argument("--decoder", choices=("best", *DECODERS), default="best",
                   help="best: the decoder the evaluate stage chose on validation (transformer if not evaluated)")
    p.add_argument("--beam", type=int, default=1, help="beam width (1: greedy)")
    p.add_argument("--beams", action="store_true", help="print every finished beam with its length-normalised "
                                                        "log-probability (beam width --beam, at least 3)")
    p.add_argument("--max-len", type=int, default=None, help="most tokens per caption (default: as trained)")
    p.add_argument("--attention", default=None, metavar="DIR",
                   help="write a PNG per image: the attention over the image for each generated word")
    p.set_defaults(func=cmd_caption)


def model_folder(model: str | Path, decoder: str, root: Path | None = None) -> Path:
    """The folder of one saved decoder: ``model`` itself if it holds ``captioner.json``, else ``model/<decoder>``;
    ``best`` reads the decoder of the evaluate stage's choice (``choices.model`` in results/metrics.json).

    Raises:
        FileNotFoundError: the folder holds no saved captioner.
    """
    from shared.paths import repo_root

    root = root or repo_root()
    model = Path(model)
    if not model.is_absolute() and not model.exists():
        model = root / model
    if (model / "captioner.json").is_file():
        return model
    if decoder == "best":
        decoder = "transformer"
        metrics = root / METRICS
        if metrics.is_file():
            chosen = (json.loads(metrics.read_text()).get("choices") or {}).get("model") or ""
            decoder = next((d for d in DECODERS if chosen.startswith(d)), decoder)
    folder = model / decoder
    if not (folder / "captioner.json").is_file():
        raise FileNotFoundError(f"no trained {decoder} captioner in {folder}; run `capstone run image_captioning "
                                "--stage train` first, or pass --model")
    return folder


def cmd_caption(args: argparse.Namespace) -> int:
    """``caption``: read each image, fit it to the model's input square as the data stage does, caption it.

    Raises:
        FileNotFoundError: no trained model (see :func:`model_folder`) or an image path does not exist.
        DataError: an image cannot be read (the message names the file).
        ConfigError: ``--beam`` < 1 or ``--max-len`` < 1.
    """
    import numpy as np

    from projects.image_captioning.decoding import load_captioner
    from projects.image_captioning.readers import load_photo
    from shared.config import ConfigError

    if args.beam < 1 or (args.max_len is not None and args.max_len < 1):
        raise ConfigError("--beam and --max-len must be ≥ 1")
    paths = [Path(p) for p in args.paths]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"image not found: {', '.join(missing)}")
    captioner = load_captioner(model_folder(args.model, args.decoder))
    size, mode = captioner.image_size, captioner.info.get("resize", "letterbox")
    images = np.stack([load_photo(p, size, mode) for p in paths])
    if args.beams:
        width = max(args.beam, 3)
        results = captioner.beam_search(images, width, args.max_len)
        best = [r[0] for r in results]
    else:
        results = None
        best = captioner.decode(images, beam=args.beam, max_len=args.max_len)
    for k, (path, decoded) in enumerate(zip(paths, best)):
        print(f"{path}\t{decoded.text}")
        if results is not None:
            for rank, d in enumerate(results[k], 1):
                print(f"  {rank}. {d.score:8.4f}  {d.text}")
    if args.attention:
        from projects.image_captioning.plots import attention_figure
        from shared.plots import savefig, use_agg

        use_agg()
        out = Path(args.attention)
        out.mkdir(parents=True, exist_ok=True)
        for path, image, decoded in zip(paths, images, best):
            fig = attention_figure(image, decoded, max_words=captioner.seq_len + 1)
            savefig(fig, out / f"{path.stem}_attention.png")
            print(f"wrote {out / f'{path.stem}_attention.png'}", file=sys.stderr)
    return 0
