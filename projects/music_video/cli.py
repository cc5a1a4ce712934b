"""music_video tools: make a music video of any song with the trained generator; print a song's beats.

    capstone music_video make song.mp3 out.mp4 [--fps 30 --size 512 --style calm|energetic --seed 0]
        [--effect style|dream ... --effect-size 128]
    capstone music_video beats song.ogg [--out beats.csv]

Every bad input ends with one line (exit status 2), before any work where it can be checked up front: a missing,
unreadable or empty audio file, a file shorter than one beat, an output folder that does not exist, an output that
is a folder or not a .mp4/.mov/.mkv file, a negative seed, a frame rate that is not a finite number > 0, a
``--params`` file that does not exist. A silent or beatless file (a steady tone, noise) gives a video with steady
motion and one warning line, "no steady beat found". Progress
lines (decoding, analysis, rendering) are logged at INFO by default (``capstone --log-level WARNING`` hides them).
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import time
from pathlib import Path

DEFAULT_MODEL = "data/music_video/model"
DEFAULT_STYLE_MODEL = "data/music_video/style"
DEFAULT_PARAMS = "projects/music_video/params.yaml"
VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv")

log = logging.getLogger(__name__)


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="music_video_command", required=True)
    p = sub.add_parser("make", help="an MP4 of a song: the generator's latent walk, cut on the beats")
    p.add_argument("song", help="audio file (WAV, FLAC, OGG, MP3, M4A, ...)")
    p.add_argument("out", help="MP4 file to write (its folder must exist)")
    p.add_argument("--fps", type=float, default=30.0)
    p.add_argument("--size", type=int, default=512, help="side of the square video (even number of pixels)")
    p.add_argument("--style", choices=("energetic", "calm"), default="energetic",
                   help="energetic: a cut per beat and pulses on drum hits; calm: a softer cut per bar")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--model", default=DEFAULT_MODEL, help="the train stage's output folder")
    p.add_argument("--generator", choices=("vae", "dcgan"), default=None,
                   help="which trained generator (default: the one the train stage chose for rendering)")
    p.add_argument("--params", default=None,
                   help=f"params.yaml whose render.analysis sets the tracker (default: {DEFAULT_PARAMS})")
    p.add_argument("--effect", action="append", default=[], metavar="style|dream",
                   help="frame effect, repeatable, applied in order: style (the train_style network), dream "
                        "(DeepDream on the VAE encoder); slow: see the README's cost per frame")
    p.add_argument("--effect-size", type=int, default=128,
                   help="side (pixels) at which the effects run; ffmpeg upscales to --size (default 128)")
    p.add_argument("--style-model", default=DEFAULT_STYLE_MODEL, help="the train_style stage's output folder")
    p.set_defaults(func=cmd_make)
    p = sub.add_parser("beats", help="tempo and beat times of a song (CSV with --out)")
    p.add_argument("song", help="audio file")
    p.add_argument("--out", default=None, help="CSV file to write (beat, time_s, downbeat)")
    p.add_argument("--params", default=None,
                   help=f"params.yaml whose render.analysis sets the tracker (default: {DEFAULT_PARAMS})")
    p.set_defaults(func=cmd_beats)


def _resolve(path: str) -> Path:
    from shared.paths import repo_root

    p = Path(path)
    if p.is_absolute() or p.exists():
        return p
    return repo_root() / p


def _progress(args: argparse.Namespace) -> None:
    """Progress lines by default: the project's loggers at INFO unless ``capstone --log-level`` was given."""
    if getattr(args, "log_level", None) is None:
        logging.getLogger("projects.music_video").setLevel(logging.INFO)


def _analysis_config(params: str | None):
    """The tracker settings of ``params`` (``render.analysis``); ``None``: the project's params.yaml when it
    exists, else the defaults.

    Raises:
        DataError: a ``--params`` file named by the user does not exist.
    """
    from projects.music_video.analysis import AnalysisConfig
    from projects.music_video.render import RenderConfig
    from shared.config import load_section
    from shared.io import DataError

    path = _resolve(params or DEFAULT_PARAMS)
    if not path.is_file():
        if params is not None:
            raise DataError(f"params file not found: {params}")
        return AnalysisConfig()
    return load_section(path, "render", RenderConfig).analysis


def _analyse(song: str, params: str | None):
    """Decode and analyse a song (progress lines at INFO); warns (no error) when it has no beats."""
    from projects.music_video.analysis import analyse
    from projects.music_video.audio import load_audio

    cfg = _analysis_config(params)
    start = time.perf_counter()
    log.info("decoding %s", song)
    y, sr = load_audio(song)
    log.info("analysing %.1f s of audio (beats, onsets, chroma, sections; the first analysis in a process also "
             "compiles librosa's kernels)", len(y) / sr)
    analysis = analyse(y, sr, cfg)
    log.info("analysis: %.1f BPM, %d beats, meter %s (%.1f s)", analysis.tempo_bpm, len(analysis.beats_s),
             analysis.meter or "?", time.perf_counter() - start)
    if len(analysis.beats_s) == 0:
        log.warning("%s: no steady beat found (silent, or no regular pulse): the video moves steadily, without cuts",
                    song)
    return analysis


def _check_out(out: Path, flag: str, suffixes: tuple[str, ...] = ()) -> None:
    """One-line errors for an output path, before any work.

    Raises:
        DataError: ``out`` is a folder, its folder does not exist, or its suffix is not one of ``suffixes``.
    """
    from shared.io import DataError

    if out.is_dir():
        raise DataError(f"{flag} is a directory, not a file: {out}")
    if not out.parent.is_dir():
        raise DataError(f"output folder does not exist: {out.parent}")
    if suffixes and out.suffix.lower() not in suffixes:
        raise DataError(f"{flag} must be a {'/'.join(suffixes)} file path, got {str(out)!r}")


def cmd_make(args: argparse.Namespace) -> int:
    """``make``: analyse, draw the latent walk, decode and encode; one summary line.

    Raises:
        DataError: unreadable/empty audio, shorter than one beat, an output that is a folder, not a video file
            name or in a missing folder, ``--fps`` not a finite number > 0, ``--size`` not a positive even
            number, ``--seed`` < 0, a missing ``--params`` file, no trained generator, an unknown ``--effect``,
            ``--effect-size`` not an even number ≥ 16, a network an effect needs not trained (the message names
            the command that trains it).
        FileNotFoundError: the song does not exist.
    """
    from projects.music_video.effects import EFFECTS, TRAIN_STYLE_CMD
    from shared.io import DataError

    out = Path(args.out)
    _check_out(out, "OUT", VIDEO_SUFFIXES)
    if not (math.isfinite(args.fps) and args.fps > 0):
        raise DataError(f"--fps must be a finite number > 0, got {args.fps}")
    if args.size <= 0 or args.size % 2:
        raise DataError(f"--size must be a positive even number, got {args.size}")
    if args.seed < 0:
        raise DataError(f"--seed must be >= 0, got {args.seed}")
    if not _resolve(args.model).is_dir():
        raise DataError(f"model folder not found: {args.model} (run the train stage first)")
    effects = list(getattr(args, "effect", None) or [])
    for name in effects:
        if name not in EFFECTS:
            raise DataError(f"--effect must be one of {', '.join(EFFECTS)}, got {name!r}")
    effect_size = getattr(args, "effect_size", 128)
    if effects and (effect_size < 16 or effect_size % 2):
        raise DataError(f"--effect-size must be an even number >= 16, got {effect_size}")
    style_dir = _resolve(getattr(args, "style_model", None) or DEFAULT_STYLE_MODEL)
    if "style" in effects and not (style_dir / "style_net.keras").is_file():
        raise DataError(f"--effect style: no trained style network in {style_dir} (train it: {TRAIN_STYLE_CMD})")
    if "dream" in effects and not (_resolve(args.model) / "vae" / "encoder.keras").is_file():
        raise DataError(f"--effect dream needs the trained VAE's encoder ({args.model}/vae/encoder.keras; run the "
                        "train stage with train.models including vae)")
    _analysis_config(args.params)                       # a missing --params file: before any work
    _progress(args)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's CUDA probing is noise on a CPU machine
    from projects.music_video import latent, video
    from projects.music_video.model import load_generator

    start = time.perf_counter()
    analysis = _analyse(args.song, args.params)
    generator = load_generator(_resolve(args.model), args.generator)
    effect = None
    if effects:
        from projects.music_video.effects import DreamConfig, load_effects

        dream, strength = DreamConfig(), 1.0
        path = _resolve(args.params or DEFAULT_PARAMS)
        if path.is_file():
            from projects.music_video.render import RenderConfig
            from shared.config import load_section

            rcfg = load_section(path, "render", RenderConfig)
            dream, strength = rcfg.dream, rcfg.style_strength
        effect = load_effects(effects, min(effect_size, args.size), model_dir=_resolve(args.model),
                              style_dir=style_dir, style_strength=strength, dream_cfg=dream)
    info = video.render_song(analysis, args.song, out, generator, fps=args.fps, size=args.size,
                             latent_cfg=latent.config_for(args.style), seed=args.seed, effect=effect)
    wall = time.perf_counter() - start
    tempo = f"{analysis.tempo_bpm:.1f} BPM" if len(analysis.beats_s) else "no steady beat"
    print(f"{out}: {tempo}, {len(analysis.beats_s)} beats, {len(info['keyframes'])} cuts, "
          f"{info['duration_s']:.1f} s of video ({info['n_frames']} frames, {args.size}×{args.size} at "
          f"{args.fps:g} fps, {generator.kind}{', effects ' + '+'.join(effects) if effects else ''}), rendered in "
          f"{wall:.1f} s")
    return 0


def cmd_beats(args: argparse.Namespace) -> int:
    """``beats``: the tempo and beat times (downbeats marked); a CSV with ``--out``.

    Raises:
        DataError: unreadable/empty audio, shorter than one beat, ``--out`` a folder or in a missing folder, a
            missing ``--params`` file.
        FileNotFoundError: the song does not exist.
    """
    import numpy as np
    import pandas as pd

    from shared.io import write_csv

    if args.out is not None:
        _check_out(Path(args.out), "--out")
    _analysis_config(args.params)
    _progress(args)
    analysis = _analyse(args.song, args.params)
    beats = np.asarray(analysis.beats_s, float)
    down = np.isin(np.round(beats, 4), np.round(np.asarray(analysis.downbeats_s, float), 4))
    table = pd.DataFrame({"beat": np.arange(1, len(beats) + 1), "time_s": beats.round(4), "downbeat": down})
    if len(beats):
        print(f"{args.song}: {analysis.tempo_bpm:.1f} BPM, {len(beats)} beats, meter {analysis.meter or '?'}")
    else:
        print(f"{args.song}: no steady beat found, 0 beats")
    if args.out:
        write_csv(args.out, table, float_format="%.4f")
        print(f"wrote {args.out}")
    else:
        print(table.to_csv(index=False, float_format="%.4f"), end="")
    return 0
