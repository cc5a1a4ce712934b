"""Stage ``render``: a music video of one prepared song, and the same video on the baseline's cuts.

The song (``render.song``; empty: the first of ``songs.json``) is analysed with the project's tracker
(``render.analysis``: tempo-octave resolution, lag compensation; :func:`projects.music_video.analysis.analyse`),
its latent trajectory is drawn (``render.style`` preset, ``render.latent`` overrides;
:mod:`projects.music_video.latent`) and decoded by the trained generator (``train.render_model``, or
``render.generator``), and the frames are streamed to ffmpeg at ``render.fps`` and ``render.size``
(:func:`projects.music_video.video.render_song`).

The baseline video uses the same renderer, trajectory settings and seed, with the cuts of the naive schedule:
librosa's default beat tracker (``librosa.beat.beat_track``), each beat truncated to the frame that holds it
(:func:`projects.music_video.schedule.naive_keyframes`). Evaluate scores both from their frames.

Writes ``<out>/song.mp4``, ``<out>/baseline.mp4`` and ``<out>/render.json`` (song, song_wav, fps, size, n_frames,
duration_s, analysis_s, render_s, total_s, realtime_factor = (analysis + render) / duration, analysis_warmup_s:
the one-off JIT warm-up of librosa's numba kernels, measured apart, keyframes,
baseline_keyframes, tempo, beats) and ``<out>/analysis.npz`` (the song's analysis features over time, for the
report), ``<out>/samples.npz`` (generator samples and latent interpolations, for the report).

**Frame effects** (``render.effects``, off by default: the default video is unchanged): ``style`` (the fast
style-transfer network of stage ``train_style``, from ``--style``) and/or ``dream`` (DeepDream on the VAE
encoder's features), applied in the listed order to every frame at ``effect_size`` pixels (the generator's 32 px
frames upscaled bicubically first; ffmpeg upscales the result to ``size``); see :mod:`projects.music_video.effects`.
When ``--style`` holds a trained style network and the VAE is trained, ``<out>/effects.npz`` keeps a few frames of
the song at its first keyframes as ``plain``, ``style`` and ``dream`` (uint8, ``effect_size``) and the
``style_image``, for the report.

    python -m projects.music_video.render --params projects/music_video/params.yaml \
        --data data/music_video/prepared --model data/music_video/model --style data/music_video/style \
        --out data/music_video/render
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from projects.music_video.analysis import AnalysisConfig
from projects.music_video.effects import EFFECTS, DreamConfig
from shared.config import load_section, to_dict
from shared.io import DataError, atomic_dir, load_npz, read_json, save_npz, write_json
from shared.stage import run, stage_parser

__all__ = ["RenderConfig", "pick_song", "warm_up", "render", "main"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RenderConfig:
    """The ``render`` section.

    Raises:
        ValueError: ``fps`` ≤ 0, ``size`` not a positive even number, ``crf`` outside 0-51.
    """

    #: song id in songs.json ("" = the first)
    song: str = ""
    fps: float = 30.0
    #: output side (pixels); the generator's S×S frames are upscaled by ffmpeg
    size: int = 512
    #: latent motion preset: energetic (a cut per beat) | calm (per bar, softer)
    style: str = "energetic"
    #: overrides of the style's latent.LatentConfig values
    latent: dict[str, Any] = field(default_factory=dict)
    #: the project's beat tracker (analysis.AnalysisConfig)
    analysis: AnalysisConfig = field(default_factory=AnalysisConfig)
    #: generator kind (vae | dcgan); "" = train.render_model
    generator: str = ""
    #: also render the baseline's video (librosa default beats, truncated to frames)
    baseline: bool = True
    seed: int = 0
    scaler: str = "bicubic"
    preset: str = "veryfast"
    crf: int = 20
    #: frame effects in order: style | dream ([] = none, the default)
    effects: tuple[str, ...] = ()
    #: side (pixels) at which the effects run; ffmpeg upscales to ``size``
    effect_size: int = 128
    #: blend of the stylised frame with the plain one (1 = stylised only)
    style_strength: float = 1.0
    #: DeepDream settings (effects.DreamConfig)
    dream: DreamConfig = field(default_factory=DreamConfig)

    def __post_init__(self) -> None:
        if self.fps <= 0 or self.size <= 0 or self.size % 2:
            raise ValueError("fps must be > 0 and size a positive even number")
        unknown = [e for e in self.effects if e not in EFFECTS]
        if unknown:
            raise ValueError(f"render.effects: unknown effect {unknown[0]!r}; use {' and/or '.join(EFFECTS)}")
        if self.effect_size < 16 or self.effect_size % 2 or not 0 <= self.style_strength <= 1:
            raise ValueError("render.effect_size must be an even number ≥ 16 and style_strength in [0, 1]")
        if not 0 <= self.crf <= 51:
            raise ValueError("crf must be in 0-51")


def pick_song(prepared: Path, song: str) -> dict:
    """The songs.json entry of ``song`` (``""``: the first).

    Raises:
        DataError: songs.json missing or empty, or no song of that id.
    """
    songs = read_json(Path(prepared) / "songs.json")
    if not songs:
        raise DataError(f"{prepared}/songs.json lists no song")
    if not song:
        return songs[0]
    for entry in songs:
        if entry["id"] == song:
            return entry
    raise DataError(f"render.song {song!r} is not in {prepared}/songs.json ({', '.join(s['id'] for s in songs)})")


def warm_up(cfg: AnalysisConfig, sr: int = 22050) -> float:
    """Analyse 4 s of clicks once, so that numba's JIT compilation of librosa's kernels (tens of seconds on a
    cold start, once per process) is not counted in the measured analysis time; returns its wall seconds."""
    import numpy as np

    from projects.music_video.analysis import analyse

    start = time.perf_counter()
    y = np.zeros(4 * sr, np.float32)
    y[:: sr // 2] = 1.0
    analyse(y, sr, cfg)
    return time.perf_counter() - start


def generator_samples(model_dir: Path, seed: int, n: int = 8) -> dict:
    """Sample rows for the report (so that it needs no TensorFlow): ``<kind>`` uint8 (n, S, S, 3) from z ~ N(0, I)
    for every trained generator, and ``slerp_<i>`` two spherical interpolations of the render generator.

    Raises:
        DataError: a generator cannot be loaded.
    """
    import numpy as np

    from projects.music_video.latent import interpolate
    from projects.music_video.model import load_generator

    info = read_json(Path(model_dir) / "train.json")
    rng = np.random.default_rng(seed)
    out = {}
    for kind in info["models"]:
        gen = load_generator(model_dir, kind)
        out[kind] = gen.decode(rng.standard_normal((n, gen.latent_dim)).astype(np.float32))
        if kind == info["render_model"]:
            for i in range(2):
                z0, z1 = rng.standard_normal((2, gen.latent_dim))
                out[f"slerp_{i + 1}"] = gen.decode(interpolate(z0, z1, n))
    return out


def effect_strip(generator, z, hue, keyframes, effects_: dict, n: int = 4) -> dict:
    """``{"plain": uint8 (k, s, s, 3), "<effect>": ...}``: the frames at the first ``n`` keyframes (k ≤ n) at the
    effect size, plain and through each effect of ``effects_`` (name → FrameEffects)."""
    import numpy as np

    from projects.music_video.effects import FrameEffects
    from projects.music_video.video import shift_hue

    idx = np.asarray(list(keyframes)[:n] or [0], int)
    frames = shift_hue(generator.decode(z[idx]), hue[idx])
    out = {"plain": FrameEffects([], next(iter(effects_.values())).size)(frames)}
    for name, fx in effects_.items():
        out[name] = fx(frames)
    return out


def render(cfg: RenderConfig, prepared: Path, model_dir: Path, out: Path, style_dir: Path | None = None) -> dict:
    """Render the song (and the baseline version) into ``out`` atomically; returns render.json's content.

    ``style_dir``: the ``train_style`` stage's output (needed when ``cfg.effects`` has ``style``; with it and a
    trained VAE, ``effects.npz`` holds a strip of frames plain/style/dream for the report).

    Raises:
        DataError: missing/malformed prepared data or model, unreadable audio, ffmpeg failing, or a network an
            effect needs is missing (the message names the command that trains it).
        ValueError: unknown style or latent key.
    """
    import numpy as np

    from projects.music_video import analysis as an
    from projects.music_video import latent, schedule, video
    from projects.music_video.audio import load_audio
    from projects.music_video.model import load_generator

    entry = pick_song(prepared, cfg.song)
    wav = Path(prepared) / entry["file"]
    generator = load_generator(model_dir, cfg.generator or None)
    latent_cfg = latent.config_for(cfg.style, cfg.latent)
    effect = None
    if cfg.effects:
        from projects.music_video.effects import load_effects

        effect = load_effects(cfg.effects, min(cfg.effect_size, cfg.size), model_dir=model_dir, style_dir=style_dir,
                              style_strength=cfg.style_strength, dream_cfg=cfg.dream)
        log.info("frame effects %s at %d px", ", ".join(cfg.effects), effect.size)
    y, sr = load_audio(wav)
    warm_s = warm_up(cfg.analysis, sr)
    t0 = time.perf_counter()
    analysis = an.analyse(y, sr, cfg.analysis)
    analysis_s = time.perf_counter() - t0
    log.info("%s: %.1f s, %.1f BPM, %d beats, %d sections (analysis %.1f s)", entry["id"], analysis.duration_s,
             analysis.tempo_bpm, len(analysis.beats_s), len(analysis.sections_s), analysis_s)
    with atomic_dir(out) as tmp:
        info = video.render_song(analysis, wav, tmp / "song.mp4", generator, fps=cfg.fps, size=cfg.size,
                                 latent_cfg=latent_cfg, seed=cfg.seed, scaler=cfg.scaler, preset=cfg.preset,
                                 crf=cfg.crf, effect=effect)
        result = {"song": entry["id"], "song_wav": str(wav), "generator": generator.kind, "style": cfg.style,
                  "fps": cfg.fps, "size": cfg.size, "n_frames": info["n_frames"], "duration_s": info["duration_s"],
                  "analysis_s": analysis_s, "analysis_warmup_s": warm_s, "render_s": info["render_s"],
                  "total_s": analysis_s + info["render_s"],
                  "realtime_factor": (analysis_s + info["render_s"]) / info["duration_s"],
                  "render_only_realtime_factor": info["render_s"] / info["duration_s"],
                  "tempo_bpm": analysis.tempo_bpm, "beats_s": np.asarray(analysis.beats_s).tolist(),
                  "per": latent_cfg.per, "keyframes": info["keyframes"], "latent": to_dict(latent_cfg),
                  "config": to_dict(cfg)}
        if cfg.baseline:
            tempo, beats = an.librosa_default(y, sr)
            kf = schedule.naive_keyframes(beats, cfg.fps, info["n_frames"])
            base = video.render_song(analysis, wav, tmp / "baseline.mp4", generator, fps=cfg.fps, size=cfg.size,
                                     latent_cfg=latent_cfg, seed=cfg.seed, keyframes=kf, scaler=cfg.scaler,
                                     preset=cfg.preset, crf=cfg.crf, effect=effect)
            result.update(baseline_tempo_bpm=tempo, baseline_beats_s=np.asarray(beats).tolist(),
                          baseline_keyframes=base["keyframes"], baseline_render_s=base["render_s"])
        result["effects"] = list(cfg.effects)
        strip = _strip(cfg, analysis, generator, latent_cfg, info, model_dir, style_dir)
        if strip:
            save_npz(tmp / "effects.npz", **strip)
        write_json(tmp / "render.json", result)
        save_npz(tmp / "samples.npz", **generator_samples(model_dir, cfg.seed))
        save_npz(tmp / "analysis.npz", times_s=analysis.times_s, onset_env=analysis.onset_env,
                 harmonic_rms=analysis.harmonic_rms, rms=analysis.rms, chroma=analysis.chroma,
                 onsets_s=analysis.onsets_s, onset_strength=analysis.onset_strength, beats_s=analysis.beats_s,
                 downbeats_s=analysis.downbeats_s, sections_s=analysis.sections_s)
    log.info("%s: %d frames %d×%d at %g fps in %.1f s (analysis %.1f s): %.2f× real time", entry["id"],
             result["n_frames"], cfg.size, cfg.size, cfg.fps, result["total_s"], analysis_s,
             result["realtime_factor"])
    return result


def _strip(cfg: RenderConfig, analysis, generator, latent_cfg, info: dict, model_dir: Path,
           style_dir: Path | None) -> dict | None:
    """The report's plain/style/dream strip, or ``None`` (logged) when a network is missing."""
    import numpy as np

    from projects.music_video import latent
    from projects.music_video.effects import load_effects

    if style_dir is None or not (Path(style_dir) / "style_net.keras").is_file() or not (
            Path(model_dir) / "vae" / "encoder.keras").is_file():
        log.info("no effects strip (needs --style with a trained style network and the trained VAE)")
        return None
    size = min(cfg.effect_size, cfg.size)
    n_frames = info["n_frames"]
    z = latent.trajectory(analysis, n_frames, cfg.fps, latent_cfg, cfg.seed, generator.latent_dim,
                          np.asarray(info["keyframes"], int))
    hue = latent.hue_track(analysis, n_frames, cfg.fps, latent_cfg)
    fx = {name: load_effects([name], size, model_dir=model_dir, style_dir=style_dir,
                             style_strength=cfg.style_strength, dream_cfg=cfg.dream) for name in EFFECTS}
    strip = effect_strip(generator, z, hue, info["keyframes"], fx)
    if (Path(style_dir) / "style_image.npz").is_file():
        strip["style_image"] = load_npz(Path(style_dir) / "style_image.npz", required=("image",))["image"]
    return strip


def main(argv: Sequence[str] | None = None) -> int:
    parser = stage_parser(__doc__, inputs=("data", "model"), outputs=("out",))
    parser.add_argument("--style", default=None, help="the train_style stage's output (for the style effect)")
    args = parser.parse_args(argv)
    cfg = load_section(args.params, "render", RenderConfig)
    render(cfg, Path(args.data), Path(args.model), Path(args.out), Path(args.style) if args.style else None)
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main))
