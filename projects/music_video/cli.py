"""music_video tools: make a music video of any song with the trained generator; print a song's beats.

    capstone music_video make song.mp3 out.mp4 [--fps 30 --size 512 --style calm|energetic --seed 0]
    capstone music_video beats song.ogg [--out beats.csv]

Every bad input ends with one line (exit status 2): a missing, unreadable or empty audio file, a file shorter than
one beat, an output folder that does not exist. A silent file gives a video with steady motion and a warning.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

DEFAULT_MODEL = "data/music_video/model"
DEFAULT_PARAMS = "projects/music_video/params.yaml"

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
    p.add_argument("--params", default=DEFAULT_PARAMS, help="params.yaml whose render.analysis sets the tracker")
    p.set_defaults(func=cmd_make)
    p = sub.add_parser("beats", help="tempo and beat times of a song (CSV with --out)")
    p.add_argument("song", help="audio file")
    p.add_argument("--out", default=None, help="CSV file to write (beat, time_s, downbeat)")
    p.add_argument("--params", default=DEFAULT_PARAMS, help="params.yaml whose render.analysis sets the tracker")
    p.set_defaults(func=cmd_beats)


def _resolve(path: str) -> Path:
    from shared.paths import repo_root

    p = Path(path)
    if p.is_absolute() or p.exists():
        return p
    return repo_root() / p


def _analysis_config(params: str):
    from projects.music_video.analysis import AnalysisConfig
    from projects.music_video.render import RenderConfig
    from shared.config import load_section

    path = _resolve(params)
    if not path.is_file():
        return AnalysisConfig()
    return load_section(path, "render", RenderConfig).analysis


def _analyse(song: str, params: str):
    """Decode and analyse a song; warns (no error) when it has no beats."""
    from projects.music_video.analysis import analyse
    from projects.music_video.audio import load_audio

    y, sr = load_audio(song)
    analysis = analyse(y, sr, _analysis_config(params))
    if len(analysis.beats_s) == 0:
        log.warning("%s: no beats found (silent or beatless audio): the video moves steadily, without cuts", song)
    return analysis


def cmd_make(args: argparse.Namespace) -> int:
    """``make``: analyse, draw the latent walk, decode and encode; one summary line.

    Raises:
        DataError: unreadable/empty audio, shorter than one beat, missing output folder, no trained generator.
        FileNotFoundError: the song does not exist.
        ValueError: ``--fps`` ≤ 0 or ``--size`` not a positive even number.
    """
    from projects.music_video import latent, video
    from projects.music_video.model import load_generator
    from shared.io import DataError

    out = Path(args.out)
    if not out.parent.is_dir():
        raise DataError(f"output folder does not exist: {out.parent}")
    if args.fps <= 0 or args.size <= 0 or args.size % 2:
        raise DataError(f"--fps must be > 0 and --size a positive even number, got {args.fps}, {args.size}")
    start = time.perf_counter()
    generator = load_generator(_resolve(args.model), args.generator)
    analysis = _analyse(args.song, args.params)
    info = video.render_song(analysis, args.song, out, generator, fps=args.fps, size=args.size,
                             latent_cfg=latent.config_for(args.style), seed=args.seed)
    wall = time.perf_counter() - start
    print(f"{out}: {analysis.tempo_bpm:.1f} BPM, {len(analysis.beats_s)} beats, {len(info['keyframes'])} cuts, "
          f"{info['duration_s']:.1f} s of video ({info['n_frames']} frames, {args.size}×{args.size} at "
          f"{args.fps:g} fps, {generator.kind}), rendered in {wall:.1f} s")
    return 0


def cmd_beats(args: argparse.Namespace) -> int:
    """``beats``: the tempo and beat times (downbeats marked); a CSV with ``--out``.

    Raises:
        DataError: unreadable/empty audio, shorter than one beat, or the CSV's folder does not exist.
        FileNotFoundError: the song does not exist.
    """
    import numpy as np
    import pandas as pd

    from shared.io import DataError, write_csv

    if args.out is not None and not Path(args.out).parent.is_dir():
        raise DataError(f"output folder does not exist: {Path(args.out).parent}")
    analysis = _analyse(args.song, args.params)
    beats = np.asarray(analysis.beats_s, float)
    down = np.isin(np.round(beats, 4), np.round(np.asarray(analysis.downbeats_s, float), 4))
    table = pd.DataFrame({"beat": np.arange(1, len(beats) + 1), "time_s": beats.round(4), "downbeat": down})
    print(f"{args.song}: {analysis.tempo_bpm:.1f} BPM, {len(beats)} beats, meter {analysis.meter or '?'}")
    if args.out:
        write_csv(args.out, table, float_format="%.4f")
        print(f"wrote {args.out}")
    else:
        print(table.to_csv(index=False, float_format="%.4f"), end="")
    return 0
