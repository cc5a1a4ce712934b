"""galaxy_morphology tools: classify FITS or JPEG/PNG cutouts, render a simulated galaxy.

    capstone galaxy_morphology classify image.fits cutouts/ [--gradcam out/] [--mc-samples 30]
    capstone galaxy_morphology classify ceers/ --bands f150w f277w f444w --pattern "{band}/ceers_{band}_{id}.fits"
    capstone galaxy_morphology simulate --class barred_spiral --seed 3 --out galaxy.fits
    capstone galaxy_morphology classes
"""

from __future__ import annotations

import argparse
from pathlib import Path

from shared.cli import at_least

DEFAULT_MODEL = "data/galaxy_morphology/model"


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="galaxy_command", required=True)
    p = sub.add_parser("classify", help="class, calibrated probability and uncertainty of each image")
    p.add_argument("paths", nargs="+", help="FITS cubes, JPEG/PNG files or folders of them")
    p.add_argument("--model", default=DEFAULT_MODEL, help="trained model folder (the train stage's output)")
    p.add_argument("--bands", nargs="*", default=None,
                   help="per-band FITS files: the band names, blue to red (then PATH is a folder)")
    p.add_argument("--pattern", default="{band}/{id}.fits", help="per-band FITS file pattern under the folder")
    p.add_argument("--crop-fraction", type=_fraction, default=None,
                   help="centre crop before resizing (default: as trained)")
    p.add_argument("--nan-policy", choices=("error", "mask"), default=None,
                   help="NaN/inf pixels (mosaic edges): stop, or fill them with the background as the data stage "
                        "does with data.preprocess.nan_policy: mask (default: as trained)")
    p.add_argument("--mc-samples", type=at_least(1), default=30,
                   help="Monte-Carlo dropout samples for the uncertainty")
    p.add_argument("--gradcam", default=None, metavar="DIR", help="write a Grad-CAM overlay PNG per image here")
    p.set_defaults(func=cmd_classify)
    p = sub.add_parser("simulate", help="render one GalSim galaxy as a FITS cube")
    p.add_argument("--class", dest="cls", required=True, help="class name (see `classes`)")
    p.add_argument("--seed", type=at_least(0), default=0, help="random seed of the galaxy, PSF and noise")
    p.add_argument("--shifted", action="store_true", help="use the shifted acquisition conditions of params.yaml")
    p.add_argument("--split", default=None, help="use the acquisition conditions of this split of params.yaml")
    p.add_argument("--params", default="projects/galaxy_morphology/params.yaml")
    p.add_argument("--out", required=True, help="FITS file to write")
    p.set_defaults(func=cmd_simulate)
    p = sub.add_parser("classes", help="the simulated classes")
    p.set_defaults(func=cmd_classes)


def _fraction(text: str) -> float:
    """An argparse type: a number in (0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must lie in (0, 1] (the share of the image kept), got {value:g}")
    return value


def cmd_classes(args: argparse.Namespace) -> int:
    """``classes``: the simulated classes with their label index."""
    from projects.galaxy_morphology.simulate import CLASSES

    for i, name in enumerate(CLASSES):
        print(f"{i}  {name}")
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    """``simulate``: render one GalSim galaxy of a class and write it as a FITS cube.

    The cube is ``(3, stamp, stamp)`` in ADU (bands g, r, z), stored as int16 with BSCALE/BZERO, with
    ``pixel_scale`` arcsec per pixel, under the conditions of ``--split`` (default ``test``; ``--shifted``:
    ``shifted``).

    Raises:
        ConfigError: ``--class`` is not a simulated class, the split is not in the ``simulate`` section,
            ``--out`` is not a FITS name, or ``--params`` is missing or its ``simulate`` section is invalid.
    """
    from projects.galaxy_morphology.simulate import (
        CLASSES,
        SimulateConfig,
        fits_header,
        render,
        write_cube,
    )
    from shared.config import ConfigError, load_section

    if args.cls not in CLASSES:
        raise ConfigError(f"unknown class {args.cls!r}; classes: {', '.join(CLASSES)}")
    cfg = load_section(args.params, "simulate", SimulateConfig)
    split = args.split or ("shifted" if args.shifted else "test")
    if split not in cfg.splits:
        raise ConfigError(f"no split {split!r} in {args.params}; splits: {', '.join(cfg.splits)}")
    cond = cfg.splits[split]
    if Path(args.out).suffix.lower() not in (".fits", ".fit", ".fts"):
        raise ConfigError(f"--out {args.out}: the cube is written as an uncompressed FITS file; name it .fits")
    cube, info = render(args.cls, args.seed, cond, cfg.stamp, cfg.pixel_scale)
    write_cube(args.out, cube, fits_header(args.cls, args.seed, "cli", info, cfg.pixel_scale))
    print(f"{args.out}: {args.cls}, seed {args.seed}, PSF FWHM {info['psf_fwhm']:.2f}\", shape {cube.shape}")
    return 0


def _collect(paths: list[str], per_band: bool) -> list[tuple[str, Path]]:
    """``(name, path)`` of every input; a folder yields the files that ``read_any`` reads (FITS, also
    ``.fz`` and ``.fits.gz``, and images), or, per band, its object ids.

    Raises:
        FileNotFoundError: a path does not exist.
    """
    from projects.galaxy_morphology.loaders import is_readable

    found: list[tuple[str, Path]] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise FileNotFoundError(f"no such file or folder: {path}")
        if per_band:
            found.append(("", path))
        elif path.is_dir():
            found += [(p.relative_to(path).as_posix(), p) for p in sorted(path.rglob("*"))
                      if p.is_file() and is_readable(p)]
        else:
            found.append((path.name, path))
    # names tell the inputs apart (the table, the Grad-CAM files): equal ones become the paths as given
    counts: dict[str, int] = {}
    for name, _ in found:
        counts[name] = counts.get(name, 0) + 1
    return [(path.as_posix() if counts[name] > 1 and name else name, path) for name, path in found]


def _flat(name: str, base: str) -> str:
    """``base`` prefixed by the folders of ``name`` (``"a/b/x.fits"``, ``"x"`` → ``"a_b_x"``): one file per input."""
    parts = [p for p in Path(name).parent.parts if p not in ("/", ".", "..")]
    return "_".join([*parts, base])


def _per_band_ids(folder: Path, bands: list[str], pattern: str) -> tuple[list[str], dict[str, list[str]]]:
    """Object ids present in every band of a per-band folder, and the others with the bands they lack."""
    import re

    escaped = re.escape(pattern)
    for key, group in (("band", "[^/]+"), ("id", ".+")):  # the first use captures, later ones must repeat it
        escaped = escaped.replace(re.escape(f"{{{key}}}"), f"(?P<{key}>{group})", 1)
        escaped = escaped.replace(re.escape(f"{{{key}}}"), f"(?P={key})")
    regex = re.compile(f"^{escaped}$")
    ids: dict[str, set[str]] = {}
    for path in folder.rglob("*"):
        match = regex.match(path.relative_to(folder).as_posix())
        if match and match.group("band") in bands:
            ids.setdefault(match.group("id"), set()).add(match.group("band"))
    complete = sorted(i for i, b in ids.items() if b == set(bands))
    partial = {i: [band for band in bands if band not in b] for i, b in sorted(ids.items()) if b != set(bands)}
    return complete, partial


def cmd_classify(args: argparse.Namespace) -> int:
    """Print class, calibrated probability, MC-dropout entropy and runner-up for every input.

    Inputs: FITS cubes (C, H, W) or (H, W, C) in any layout ``read_fits`` reads, JPEG/PNG/TIFF colour
    images, folders of them, or per-band FITS folders (``--bands``); each is preprocessed as in
    training (background, noise units, crop, resize, stretch) with the trained ``nan_policy`` unless
    ``--nan-policy`` overrides it.

    Raises:
        DataError: no readable input, a blank image (one value everywhere), a wrong band count, NaN pixels
            under ``nan_policy: error`` (the message names ``--nan-policy mask``), or a corrupt file or model
            folder.
    """
    import numpy as np

    from projects.galaxy_morphology.loaders import IMAGE_SUFFIXES, read_any, read_fits_object, stem
    from projects.galaxy_morphology.model import grad_cam, load_trained, mc_dropout, predict_logits, softmax
    from projects.galaxy_morphology.preprocess import PreprocessConfig, network_input, prepare_image
    from projects.galaxy_morphology.simulate import CLASSES
    from shared import config as config_lib
    from shared.io import DataError

    model, info, calib = load_trained(args.model)
    pre = config_lib.from_mapping(PreprocessConfig, info["preprocess"], where=f"{args.model}/train.json")
    if args.crop_fraction is not None:
        pre = config_lib.replace(pre, crop_fraction=args.crop_fraction)
    if args.nan_policy is not None:
        pre = config_lib.replace(pre, nan_policy=args.nan_policy)
    hint = "; classify with --nan-policy mask to fill them with the background"
    classes, n_bands, temperature = info["classes"], len(info["bands"]), float(calib["temperature"])
    names, images, photos = [], [], 0
    for name, path in _collect(args.paths, bool(args.bands)):
        if args.bands:
            if len(args.bands) != n_bands:
                raise DataError(f"the model takes {n_bands} bands ({', '.join(info['bands'])}), got {args.bands}")
            ids, partial = _per_band_ids(path, args.bands, args.pattern)
            if partial:
                listed = "; ".join(f"{i} (no {', '.join(b)})" for i, b in list(partial.items())[:5])
                print(f"note: {len(partial)} object(s) in {path} skipped for a missing band: {listed}"
                      f"{' ...' if len(partial) > 5 else ''}")
            if not ids:
                raise DataError(f"no object in {path} has a file for every band {', '.join(args.bands)} under the "
                                f"pattern {args.pattern!r} (--pattern; e.g. '{{id}}_{{band}}.fits' for "
                                "'obj1_g.fits')")
            for obj in ids:
                raw = read_fits_object(path, obj, layout="per_band", bands=args.bands, pattern=args.pattern,
                                       allow_nan=True)
                names.append(obj)
                images.append(prepare_image(raw, pre, n_bands, f"{path}:{obj}", nan_hint=hint)[0])
        else:
            raw = read_any(path, allow_nan=True)  # NaNs are judged by nan_policy in prepare_image
            finite = raw[np.isfinite(raw)]
            if finite.size and finite.min() == finite.max():
                raise DataError(f"{path} is blank (every finite pixel {finite.min():g}): there is no galaxy to "
                                "classify")
            photos += path.name.lower().endswith(IMAGE_SUFFIXES)
            names.append(name)
            images.append(prepare_image(raw, pre, n_bands, str(path), nan_hint=hint)[0])
    if not images:
        raise DataError(f"no images found in {', '.join(args.paths)}")
    x = network_input(np.stack(images), pre.stretch, pre.asinh_softening)
    probs = softmax(predict_logits(model, x), temperature)
    _, entropy = mc_dropout(model, x, args.mc_samples, temperature)
    width = max(len(n) for n in names)
    print(f"{'image':<{width}}  {'class':<18} {'prob':>6} {'entropy':>8}  runner-up")
    for i, name in enumerate(names):
        order = np.argsort(probs[i])[::-1]
        print(f"{name:<{width}}  {classes[order[0]]:<18} {probs[i, order[0]]:6.3f} {entropy[i]:8.3f}  "
              f"{classes[order[1]]} ({probs[i, order[1]]:.3f})")
    if photos and list(classes) == list(CLASSES):
        print(f"note: {photos} input(s) are photographs (JPEG/PNG/TIFF), and this model learned the simulator's "
              "classes from GalSim images; its probabilities say nothing calibrated about survey photos. Train "
              "on the survey's own labelled images first (README, 'Real data'; e.g. the gz1 profile).")
    if args.gradcam:
        from projects.galaxy_morphology.plots import gradcam_figure
        from shared.plots import savefig, use_agg

        use_agg()
        cams = grad_cam(model, x)
        out = Path(args.gradcam)
        used: set[str] = set()
        for i, name in enumerate(names):
            fig = gradcam_figure(images[i], cams[i], f"{name}: {classes[int(probs[i].argmax())]} "
                                                     f"({probs[i].max():.2f})")
            base = candidate = _flat(name, stem(name) or "image")
            for k in range(2, len(names) + 2):  # a/x.fits and a_x.fits flatten alike: number the later one
                if candidate not in used:
                    break
                candidate = f"{base}_{k}"
            used.add(candidate)
            savefig(fig, out / f"{candidate}_gradcam.png")
        print(f"Grad-CAM overlays written to {out}/")
    return 0
