"""cartoon_characters tools: which characters appear in cartoon frames, with a probability per character.

    capstone cartoon_characters detect frame.png more/*.jpg                 # calibrated probabilities, tuned thresholds
    capstone cartoon_characters detect frame.png --threshold 0.5            # the plain 0.5 cut instead
    capstone cartoon_characters detect frame.png --cam cams/                # + a Grad-CAM PNG per predicted character
    capstone cartoon_characters characters                                  # the characters the model knows

Every image mode is read (grey, grey+alpha, palette, RGB, RGBA, CMYK, 16-bit; alpha composited over white) and
letterboxed to the trained frame size, as the data stage does with real frames. Probabilities are calibrated
(per-label temperature or Platt scaling of the calibrate stage) when ``calibration.json`` exists; ``tuned``
thresholds are the per-character F1-maximising thresholds chosen on validation.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

DEFAULT_MODEL = "data/cartoon_characters/model"
DEFAULT_CALIBRATION = "data/cartoon_characters/calibration/calibration.json"

log = logging.getLogger(__name__)


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="cartoon_command", required=True)
    p = sub.add_parser("detect", help="the probability of each character and the predicted set, per frame")
    p.add_argument("images", nargs="+", help="image files (PNG, JPEG, TIFF, BMP, GIF, WebP, ...) or folders of them")
    p.add_argument("--threshold", default="tuned", metavar="tuned|P",
                   help="tuned: the per-character thresholds chosen on validation (default); or one probability "
                        "in (0, 1), e.g. 0.5")
    p.add_argument("--cam", default=None, metavar="DIR",
                   help="write a Grad-CAM overlay PNG per predicted character here (<image>_<character>.png, at "
                        "the model's input size: the letterboxed frame)")
    p.add_argument("--model", default=DEFAULT_MODEL, help="trained model folder (the train stage's output)")
    p.add_argument("--calibration", default=None,
                   help=f"calibration.json of the calibrate stage (default {DEFAULT_CALIBRATION}; when the default "
                        "is missing: raw probabilities and threshold 0.5, with a warning; a given file must exist)")
    p.set_defaults(func=cmd_detect)
    p = sub.add_parser("characters", help="the characters of the trained model, in column order")
    p.add_argument("--model", default=DEFAULT_MODEL, help="trained model folder")
    p.set_defaults(func=cmd_characters)


def parse_threshold(text: str) -> float | None:
    """``tuned`` → None; else a probability strictly between 0 and 1.

    Raises:
        ConfigError: neither ``tuned`` nor a number in (0, 1).
    """
    from shared.config import ConfigError

    if text == "tuned":
        return None
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"--threshold takes 'tuned' or a probability in (0, 1), got {text!r}") from None
    if not 0 < value < 1:
        raise ConfigError(f"--threshold takes 'tuned' or a probability in (0, 1), got {text!r}")
    return value


def expand_images(paths: list[str]) -> list[Path]:
    """The image files of ``paths``: a file as given, a folder as its image files (recursively, sorted).

    Raises:
        DataError: a folder holds no image file.
    """
    from shared.io import IMAGE_SUFFIXES, DataError

    out: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(f for f in path.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise DataError(f"{path} is a folder without image files ({', '.join(IMAGE_SUFFIXES[:6])}, ...)")
            out += found
        else:
            out.append(path)
    return out


def cam_folder(path: str) -> Path:
    """The ``--cam`` folder, created before any work.

    Raises:
        DataError: the path is a file, or the folder cannot be created or written.
    """
    import os

    from shared.io import DataError

    out = Path(path)
    if out.exists() and not out.is_dir():
        raise DataError(f"--cam {out} is a file; give a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"--cam {out}: cannot create the folder ({exc.strerror or exc})") from None
    if not os.access(out, os.W_OK):
        raise DataError(f"--cam {out}: the folder is not writable")
    return out


def cmd_characters(args: argparse.Namespace) -> int:
    """``characters``: the character names of the trained model.

    Raises:
        DataError: the model folder has no ``train.json``.
    """
    from shared.io import read_json

    for i, name in enumerate(read_json(Path(args.model) / "train.json")["characters"]):
        print(f"{i}  {name}")
    return 0


def cmd_detect(args: argparse.Namespace) -> int:
    """``detect``: print per frame the probability of every character and the predicted set; ``--cam`` writes a
    Grad-CAM overlay per predicted character.

    Raises:
        ConfigError: a bad ``--threshold``.
        DataError: an image is missing, unreadable or not an image, or a folder holds none; the model folder holds
            no model; a given ``--calibration`` is missing, or the calibration does not match the model's
            characters; the ``--cam`` folder is a file or cannot be created or written.
    """
    import numpy as np

    from projects.cartoon_characters.predict import load_predictor
    from projects.cartoon_characters.readers import load_frame
    from shared.io import DataError

    threshold = parse_threshold(args.threshold)
    paths = expand_images(args.images)
    cam_dir = cam_folder(args.cam) if args.cam else None  # before any work: a bad folder costs nothing
    calibration_path = Path(args.calibration or DEFAULT_CALIBRATION)
    if args.calibration is not None and not calibration_path.is_file():
        raise DataError(f"--calibration {calibration_path} not found (the calibrate stage writes "
                        f"{DEFAULT_CALIBRATION})")
    predictor = load_predictor(args.model)
    frames = np.stack([load_frame(p, predictor.size) for p in paths])  # each bad file: one line naming it
    logits = predictor.logits(frames)
    calibration = None
    if calibration_path.exists():
        from projects.cartoon_characters.calibration import load

        calibration = load(calibration_path)
        if list(calibration.characters) != predictor.characters:
            raise DataError(f"{calibration_path} is for the characters {calibration.characters}, the model in "
                            f"{args.model} predicts {predictor.characters}; re-run the calibrate stage")
        probs = calibration.probabilities(logits)
    else:
        log.warning("no %s: raw (uncalibrated) probabilities; run the calibrate stage for calibrated ones",
                    calibration_path)
        from projects.cartoon_characters.calibration import sigmoid

        probs = sigmoid(logits)
    if threshold is not None:
        cuts, rule = np.full(len(predictor.characters), threshold), f"threshold {threshold:g}"
    elif calibration is not None:
        cuts, rule = np.asarray(calibration.thresholds, float), "tuned thresholds (F1 on validation)"
    else:
        cuts, rule = np.full(len(predictor.characters), 0.5), "threshold 0.5 (no tuned thresholds without calibration)"
    predicted = probs >= cuts
    kind = f"calibrated ({calibration.method})" if calibration is not None else "raw"
    print(f"model {predictor.name}; {kind} probabilities; {rule}")
    width = max(len(c) for c in predictor.characters)
    for path, p, pred in zip(paths, probs, predicted):
        names = [c for c, on in zip(predictor.characters, pred) if on]
        print(f"{path}: {', '.join(names) if names else '(no character)'}")
        for c, value, cut, on in zip(predictor.characters, p, cuts, pred):
            print(f"  {c:<{width}}  {value:6.3f}  (threshold {cut:.3f}){'  *' if on else ''}")
    if cam_dir is not None:
        from projects.cartoon_characters.gradcam import grad_cam_sets, overlay
        from shared.io import write_image

        out = cam_dir
        written, unique = 0, len({p.stem for p in paths}) == len(paths)
        for i, (path, frame, cams) in enumerate(zip(paths, frames, grad_cam_sets(predictor.model, frames, predicted))):
            stem = path.stem if unique else f"{i}_{path.stem}"  # the same name in two folders
            for c, cam in cams.items():
                write_image(out / f"{stem}_{predictor.characters[c]}.png", overlay(frame, cam))
                written += 1
        print(f"{written} Grad-CAM overlay(s) written to {out}/")
    return 0
