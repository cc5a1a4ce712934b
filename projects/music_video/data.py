"""Stage ``data`` (root DVC stage ``music_video_data``): the songs to analyse and render, and the generator's
training images.

Songs (``data.source``):

- ``synth`` (default, offline): ``data.songs`` synthesised songs of ``data.duration_s`` seconds with known beat and
  downbeat grids (:mod:`projects.music_video.synth`): 70-180 BPM, swing, syncopation, tempo ramps, 3/4, a section
  change in each;
- ``folder``: every audio file in ``data.folder`` (WAV, FLAC, OGG, MP3, M4A, ...), decoded and written as WAV at
  ``data.sr``; they have no beat labels (``beats_s`` null), so evaluate scores only what needs none.

Images (``data.image_source``): ``art`` (embedded: :func:`projects.music_video.art.make_images` with
``data.image_sources``) or ``folder`` (every image in ``data.image_folder``, centre-cropped to a square and resized
to ``data.image_size``).

Output ``<out>/``: ``songs/<id>.wav`` (16-bit PCM mono), ``songs.json`` (per song: ``id``, ``file``, ``bpm``,
``bpm_end``, ``swing``, ``syncopation``, ``ramp``, ``meter``, ``section_s``, ``duration_s``, ``beats_s``,
``downbeats_s``; null where unknown), ``images.npz`` (``images`` uint8 (n, S, S, 3)), ``meta.json``.

    python -m projects.music_video.data --params projects/music_video/params.yaml --out data/music_video/prepared
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from projects.music_video import art, audio, synth
from shared.config import load_section, to_dict
from shared.io import DataError, atomic_dir, save_npz, write_json
from shared.paths import repo_root
from shared.stage import run, stage_parser

log = logging.getLogger(__name__)

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".mp3", ".m4a", ".aac", ".opus", ".aiff", ".aif", ".wma")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp", ".gif")


@dataclass(frozen=True)
class DataConfig:
    source: Literal["synth", "folder"] = "synth"
    folder: str = "data/music_video/external"
    sr: int = 22050
    songs: int = 16
    duration_s: float = 12.0
    bpm_min: float = 70.0
    bpm_max: float = 180.0
    seed: int = 16
    image_source: Literal["art", "folder"] = "art"
    image_folder: str = "data/music_video/external/images"
    image_sources: tuple[str, ...] = ("abstract", "photos")
    image_count: int = 2048
    image_size: int = 32

    def __post_init__(self) -> None:
        if self.songs < 1 or self.duration_s < 2.0:
            raise ValueError(f"need songs ≥ 1 and duration_s ≥ 2, got {self.songs}, {self.duration_s}")
        if not 0 < self.bpm_min < self.bpm_max:
            raise ValueError(f"need 0 < bpm_min < bpm_max, got {self.bpm_min}, {self.bpm_max}")
        if self.image_count < 1 or self.image_size < 8:
            raise ValueError(f"need image_count ≥ 1 and image_size ≥ 8, got {self.image_count}, {self.image_size}")


def _resolve(path: str) -> Path:
    p = Path(path)
    return p if p.is_absolute() else repo_root() / p


def synth_songs(cfg: DataConfig, out: Path) -> list[dict]:
    """Synthesise the song set into ``out/songs``; returns the songs.json entries."""
    entries = []
    for i, spec in enumerate(synth.song_set(cfg.songs, cfg.duration_s, cfg.seed, (cfg.bpm_min, cfg.bpm_max))):
        song = synth.synthesise(spec, cfg.sr)
        sid = f"song_{i:02d}"
        audio.write_wav(out / "songs" / f"{sid}.wav", song.audio, cfg.sr)
        entries.append({"id": sid, "file": f"songs/{sid}.wav", "bpm": song.tempo_bpm, "bpm_start": spec.bpm,
                        "bpm_end": spec.bpm_end, "ramp": spec.bpm_end is not None, "swing": spec.swing,
                        "syncopation": spec.syncopation, "meter": spec.meter, "section_s": song.section_s,
                        "duration_s": len(song.audio) / cfg.sr, "beats_s": song.beats_s.tolist(),
                        "downbeats_s": song.downbeats_s.tolist()})
        log.info("%s: %.1f BPM%s, %d/4, swing %.1f%s, %d beats", sid, song.tempo_bpm,
                 f" (ramp {spec.bpm:.0f}→{spec.bpm_end:.0f})" if spec.bpm_end else "", spec.meter, spec.swing,
                 ", syncopated" if spec.syncopation else "", len(song.beats_s))
    return entries


def folder_songs(cfg: DataConfig, out: Path) -> list[dict]:
    """Decode every audio file of ``cfg.folder`` to ``out/songs/<id>.wav``; no beat labels.

    Raises:
        DataError: the folder is missing or holds no audio file; a file is unreadable (one line).
    """
    folder = _resolve(cfg.folder)
    if not folder.is_dir():
        raise DataError(f"data.folder {folder} does not exist: put your songs there")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
    if not files:
        raise DataError(f"no audio file ({', '.join(AUDIO_SUFFIXES)}) in {folder}")
    entries, seen = [], set()
    for p in files:
        y, sr = audio.load_audio(p, cfg.sr)
        sid = re.sub(r"[^A-Za-z0-9_-]+", "_", p.stem)[:60] or "song"
        while sid in seen:
            sid += "_"
        seen.add(sid)
        audio.write_wav(out / "songs" / f"{sid}.wav", y, sr)
        entries.append({"id": sid, "file": f"songs/{sid}.wav", "source_file": p.name, "bpm": None,
                        "bpm_start": None, "bpm_end": None, "ramp": None, "swing": None, "syncopation": None,
                        "meter": None, "section_s": None, "duration_s": len(y) / sr, "beats_s": None,
                        "downbeats_s": None})
        log.info("%s: %s, %.1f s", sid, p.name, len(y) / sr)
    return entries


def folder_images(cfg: DataConfig) -> np.ndarray:
    """Every image of ``cfg.image_folder``, centre-cropped square and resized to ``image_size`` (uint8 RGB).

    Raises:
        DataError: the folder is missing or holds no readable image.
    """
    from skimage.transform import resize

    from shared.images import to_rgb8
    from shared.io import read_image

    folder = _resolve(cfg.image_folder)
    if not folder.is_dir():
        raise DataError(f"data.image_folder {folder} does not exist: put your images there")
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise DataError(f"no image ({', '.join(IMAGE_SUFFIXES)}) in {folder}")
    out = []
    for p in files[: cfg.image_count]:
        img = to_rgb8(read_image(p), str(p))
        h, w = img.shape[:2]
        s = min(h, w)
        img = img[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
        img = resize(img, (cfg.image_size, cfg.image_size), anti_aliasing=True, preserve_range=True)
        out.append(np.clip(np.round(img), 0, 255).astype(np.uint8))
    return np.stack(out)


def build(cfg: DataConfig, out: Path) -> dict:
    """Write the songs and the images into ``out``; returns the meta.

    Raises:
        DataError: a folder source is missing, empty or holds an unreadable file.
    """
    entries = synth_songs(cfg, out) if cfg.source == "synth" else folder_songs(cfg, out)
    write_json(out / "songs.json", entries)
    if cfg.image_source == "art":
        images = art.make_images(cfg.image_count, cfg.image_size, cfg.seed, tuple(cfg.image_sources))
    else:
        images = folder_images(cfg)
    save_npz(out / "images.npz", images=np.ascontiguousarray(images, dtype=np.uint8))
    meta = {"songs": len(entries), "images": int(len(images)), "image_size": cfg.image_size,
            "song_seconds": float(sum(e["duration_s"] for e in entries)), "config": to_dict(cfg)}
    write_json(out / "meta.json", meta)
    log.info("%d songs (%.0f s of audio), %d images of %d px", len(entries), meta["song_seconds"], len(images),
             cfg.image_size)
    return meta


def main(argv: Sequence[str] | None = None) -> int:
    args = stage_parser(__doc__, outputs=("out",)).parse_args(argv)
    cfg = load_section(args.params, "data", DataConfig)
    with atomic_dir(args.out) as tmp:
        build(cfg, Path(tmp))
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main))
