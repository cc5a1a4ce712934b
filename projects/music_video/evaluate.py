"""Stage ``evaluate``: beat trackers, cut schedules and rendered videos against the true beats; generator quality.

1. **Beat-tracker table** on every song with a known grid (``songs.json``): librosa's default tracker (the
   baseline), the project's tracker (:func:`projects.music_video.analysis.analyse`: tempo-octave resolution and lag
   compensation), and madmom's DBN tracker when madmom imports (it does not build here: the row says so). Per song:
   beat F-measure (±70 ms), CMLt/AMLt, mean/95th-percentile |beat − truth| (ms), tempo Acc1/Acc2 and octave class;
   for the project's tracker also the downbeat F-measure and whether a section boundary lies within 0.5 s of the
   song's section change, and whether the meter is right. Scored beside them: ``stress_songs`` tempo-change songs
   (:func:`synth.stress_set`: ±``stress_ramp`` ramps and steps, half in 3/4; ``metrics["tempo_change"]``), and, per
   tracker, ramp and steady songs apart (``f_worst_ramp``, ``f_worst_steady``) and the meter accuracy.
2. **Cut schedules**: every tracker's beats placed on frames at ``fps`` (the nearest frame, or truncated as a naive
   renderer does); cut-vs-beat F and mean |cut − beat| per song. The baseline of the headline is the stronger of
   librosa's default beats truncated or rounded to the nearest frame, chosen on a separate validation set of
   synthesised songs (``val_songs``, seed ``val_seed``), never on the scored songs.
3. **Rendered videos** (``render.json``, ``song.mp4``, ``baseline.mp4`` of the render stage): the cuts found from
   the frames themselves (frame-difference peaks, :func:`projects.music_video.scoring.detect_cuts`), scored against
   the song's true beats; the A/V stream offset; the render's real-time factor.
4. **Generator quality**: each trained generator's samples against held-out images with
   ``quality.score`` (a kernel two-sample statistic), beside the PCA-Gaussian baseline sampler (its number of
   components chosen on one half of the held-out images, reported on the other half, as the generators are); the
   VAE's reconstruction error on the held-out images.

5. **Frame effects** (``effects`` in metrics.json): the cost in seconds per frame of each effect (``style``,
   ``dream``; :mod:`projects.music_video.effects`) at each side of ``effects_sizes``, timed on
   ``effects_frames`` generator frames after one warm-up call on the same frames (graph tracing not counted),
   with the render's DeepDream settings and style strength (``render.json``'s config); the style network's
   parameter count and
   training time (``--style``: the ``train_style`` stage's output; skipped with a log line when missing); and the
   real-time factor of the render with each effect on at the render's ``effect_size`` and at its output size:
   (analysis + plain render + frames × effect cost) / duration. A benchmark on this machine, not a timed test.

Output ``<out>/``: ``metrics.json`` (headline, targets, tables' summaries), ``trackers.csv`` (song × tracker),
``cuts.csv`` (song × schedule).

    python -m projects.music_video.evaluate --params projects/music_video/params.yaml --data data/music_video/prepared \
        --model data/music_video/model --render data/music_video/render --style data/music_video/style \
        --out projects/music_video/results
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from projects.music_video import analysis, audio, schedule, scoring, synth
from shared.config import load_section, to_dict
from shared.io import DataError, load_npz, read_json, write_csv
from shared.metrics import headline, write_metrics
from shared.stage import run, stage_parser

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvaluateConfig:
    #: the project's tracker (the same block as render.analysis)
    analysis: analysis.AnalysisConfig = field(default_factory=analysis.AnalysisConfig)
    #: librosa (baseline), project, madmom (skipped with a logged line when it does not import)
    trackers: tuple[str, ...] = ("librosa", "project", "madmom")
    fps: float = 30.0
    #: validation songs (synthesised here, seed val_seed) on which the baseline schedule is chosen
    val_songs: int = 6
    val_seed: int = 1016
    val_duration_s: float = 8.0
    #: tempo-change songs (synth.stress_set, seed stress_seed): a ±stress_ramp linear ramp or step on every song,
    #: half in 3/4; tempo following and the meter, reported beside the scored songs (0: skipped)
    stress_songs: int = 8
    stress_seed: int = 2016
    stress_duration_s: float = 12.0
    stress_ramp: float = 0.3
    bootstrap: int = 2000
    seed: int = 0
    #: generator samples scored against the held-out images (each half)
    quality_samples: int = 256
    pca_components: tuple[int, ...] = (4, 8, 16, 32)
    target_cut_f: float = 0.95
    target_cut_mean_ms: float = 20.0
    target_av_offset_ms: float = 0.0
    #: |offset| up to this counts as the 0 ms target (a rounding margin, far below one video frame)
    av_tolerance_ms: float = 0.5
    target_tempo_octave: float = 0.9
    target_realtime_factor: float = 2.0
    #: frame-effect benchmark: sides (pixels) and frames timed per effect and side
    effects_sizes: tuple[int, ...] = (128, 256, 512)
    effects_frames: int = 4


# ---------------------------------------------------------------------------------------------------- trackers
def _madmom() -> Callable | None:
    try:
        from madmom.features.beats import DBNBeatTrackingProcessor, RNNBeatProcessor
    except Exception as exc:  # noqa: BLE001 - any import failure means "not available"
        log.info("madmom not importable (%s): its row is skipped", type(exc).__name__)
        return None

    def track(y: np.ndarray, sr: int) -> tuple[float, np.ndarray]:
        import librosa

        act = RNNBeatProcessor()(librosa.resample(y, orig_sr=sr, target_sr=44100))
        beats = DBNBeatTrackingProcessor(fps=100)(act)
        return (float(60.0 / np.median(np.diff(beats))) if len(beats) > 1 else 0.0), np.asarray(beats, float)

    return track


def trackers(cfg: EvaluateConfig) -> dict[str, Callable[[np.ndarray, int], tuple[float, np.ndarray]]]:
    """name → ``track(y, sr) -> (tempo BPM, beat times s[, {"downbeats_s", "sections_s"}])`` for the configured
    trackers that are available."""
    out: dict[str, Callable] = {}
    for name in cfg.trackers:
        if name == "librosa":
            out[name] = analysis.librosa_default
        elif name == "project":
            def project(y, sr, _c=cfg.analysis):
                a = analysis.analyse(y, sr, _c)
                return a.tempo_bpm, a.beats_s, {"downbeats_s": a.downbeats_s, "sections_s": a.sections_s,
                                                "meter": a.meter}
            out[name] = project
        elif name == "madmom":
            track = _madmom()
            if track is not None:
                out[name] = track
        else:
            raise DataError(f"evaluate.trackers: unknown tracker {name!r} (librosa, project, madmom)")
    return out


def _schedules(beats: np.ndarray, duration: float, fps: float) -> dict[str, np.ndarray]:
    n = int(math.ceil(duration * fps))
    return {"nearest": schedule.keyframes(_Beats(beats), fps, n) / fps,
            "truncated": schedule.naive_keyframes(beats, fps, n) / fps}


@dataclass(frozen=True)
class _Beats:
    beats_s: np.ndarray
    downbeats_s: np.ndarray = field(default_factory=lambda: np.zeros(0))
    sections_s: np.ndarray = field(default_factory=lambda: np.zeros(0))


def score_songs(songs: Sequence[dict], load: Callable[[dict], tuple[np.ndarray, int]],
                tracks: dict[str, Callable], fps: float) -> tuple[list[dict], list[dict]]:
    """Track every song with every tracker; score beats and both frame schedules.

    Returns:
        (tracker rows: song, tracker, seconds + :func:`scoring.score_beats`; cut rows: song, tracker, schedule,
        f, mean_abs_ms, p95_abs_ms).
    """
    beat_rows, cut_rows = [], []
    for song in songs:
        y, sr = load(song)
        truth = np.asarray(song["beats_s"], float)
        for name, track in tracks.items():
            t0 = time.perf_counter()
            tempo, beats, *more = track(y, sr)
            secs = time.perf_counter() - t0
            row = {"song": song["id"], "tracker": name, "seconds": secs,
                   **scoring.score_beats(truth, beats, song["bpm"], tempo), "n_beats": len(beats)}
            extra = more[0] if more else {}
            if "downbeats_s" in extra and song.get("downbeats_s") is not None:
                row["downbeat_f"] = scoring.beat_f(song["downbeats_s"], extra["downbeats_s"])
            if "meter" in extra and song.get("meter"):
                row["meter_est"] = int(extra["meter"])
                row["meter_ok"] = bool(int(extra["meter"]) == int(song["meter"]))
            if "sections_s" in extra and song.get("section_s"):
                found = np.asarray(extra["sections_s"], float)[1:]
                row["section_hit_0_5s"] = bool(len(found) and np.min(np.abs(found - song["section_s"])) <= 0.5)
            for k in ("bpm_start", "bpm_end", "step", "swing", "syncopation", "meter"):
                row[k] = song.get(k)
            beat_rows.append(row)
            for sched, cuts in _schedules(beats, song["duration_s"], fps).items():
                off = scoring.offsets_ms(truth, cuts)
                cut_rows.append({"song": song["id"], "tracker": name, "schedule": sched,
                                 "f": scoring.beat_f(truth, cuts), "mean_abs_ms": off["mean_abs_ms"],
                                 "p95_abs_ms": off["p95_abs_ms"]})
            log.info("%s %-8s tempo %6.1f (true %6.1f) F %.3f |d| %5.1f ms (%.1f s)", song["id"], name, tempo,
                     song["bpm"], row["f"], row["mean_abs_ms"], secs)
    return beat_rows, cut_rows


def _mean(rows: Sequence[dict], key: str) -> float:
    vals = [float(r[key]) for r in rows if r[key] is not None and not math.isnan(float(r[key]))]
    return float(np.mean(vals)) if vals else float("nan")


def summarise_trackers(rows: Sequence[dict]) -> dict[str, dict]:
    """Per tracker: mean and worst F, CMLt/AMLt, tempo octave %, mean and worst mean-|beat − truth|."""
    out = {}
    for name in dict.fromkeys(r["tracker"] for r in rows):
        rs = [r for r in rows if r["tracker"] == name]
        worst = min(rs, key=lambda r: r["f"])
        out[name] = {"songs": len(rs), "f_mean": _mean(rs, "f"), "f_worst": worst["f"], "f_worst_song": worst["song"],
                     "cmlt_mean": _mean(rs, "cmlt"), "amlt_mean": _mean(rs, "amlt"),
                     "tempo_octave_correct": float(np.mean([bool(r["acc1"]) for r in rs])),
                     "tempo_acc2": float(np.mean([bool(r["acc2"]) for r in rs])),
                     "octave_errors": {k: int(sum(r["octave"] == k for r in rs))
                                       for k in ("double", "half", "triple", "third", "other", "none")},
                     "mean_abs_ms": _mean(rs, "mean_abs_ms"),
                     "mean_abs_ms_worst": float(np.nanmax([r["mean_abs_ms"] for r in rs])),
                     "mean_signed_ms": _mean(rs, "mean_ms"), "seconds_per_song": _mean(rs, "seconds")}
        if all("downbeat_f" in r for r in rs):
            out[name]["downbeat_f_mean"] = _mean(rs, "downbeat_f")
            out[name]["downbeat_f_worst"] = float(min(r["downbeat_f"] for r in rs))
        if any("meter_ok" in r for r in rs):
            out[name]["meter_accuracy"] = float(np.mean([bool(r["meter_ok"]) for r in rs if "meter_ok" in r]))
            for m in (3, 4):
                sub = [bool(r["meter_ok"]) for r in rs if "meter_ok" in r and r.get("meter") == m]
                if sub:
                    out[name][f"meter_accuracy_{m}_4"] = float(np.mean(sub))
        ramps = [r for r in rs if r.get("bpm_end") is not None]
        steady = [r for r in rs if r.get("bpm_end") is None]
        for label, sub in (("ramp", ramps), ("steady", steady)):
            if sub:
                w = min(sub, key=lambda r: r["f"])
                out[name][f"{label}_songs"] = len(sub)
                out[name][f"f_mean_{label}"] = _mean(sub, "f")
                out[name][f"f_worst_{label}"] = w["f"]
                out[name][f"f_worst_{label}_song"] = w["song"]
        if any("section_hit_0_5s" in r for r in rs):
            hits = [bool(r["section_hit_0_5s"]) for r in rs if "section_hit_0_5s" in r]
            out[name]["section_change_found_0_5s"] = float(np.mean(hits))
    return out


def summarise_cuts(rows: Sequence[dict]) -> dict[str, dict]:
    """Per ``tracker/schedule``: mean and worst cut-vs-beat F and mean |cut − beat| (ms)."""
    out = {}
    for key in dict.fromkeys((r["tracker"], r["schedule"]) for r in rows):
        rs = [r for r in rows if (r["tracker"], r["schedule"]) == key]
        worst = min(rs, key=lambda r: r["f"])
        out[f"{key[0]}/{key[1]}"] = {"f_mean": _mean(rs, "f"), "f_worst": worst["f"], "f_worst_song": worst["song"],
                                     "mean_abs_ms": _mean(rs, "mean_abs_ms"),
                                     "mean_abs_ms_worst": float(np.nanmax([r["mean_abs_ms"] for r in rs])),
                                     "p95_abs_ms_worst": float(np.nanmax([r["p95_abs_ms"] for r in rs]))}
    return out


def stress_songs(cfg: EvaluateConfig, sr: int) -> tuple[list[dict], dict]:
    """The tempo-change songs (:func:`synth.stress_set`, seed ``stress_seed``) as song records, and their audio by
    id."""
    specs = synth.stress_set(cfg.stress_songs, cfg.stress_duration_s, cfg.stress_seed, ramp=cfg.stress_ramp)
    songs, cache = [], {}
    for i, spec in enumerate(specs):
        s = synth.synthesise(spec, sr)
        sid = f"change_{i:02d}"
        cache[sid] = s.audio
        songs.append({"id": sid, "bpm": s.tempo_bpm, "bpm_start": spec.bpm, "bpm_end": spec.bpm_end,
                      "step": spec.step, "swing": spec.swing, "syncopation": spec.syncopation, "meter": spec.meter,
                      "beats_s": s.beats_s.tolist(), "downbeats_s": s.downbeats_s.tolist(),
                      "duration_s": spec.duration_s})
    return songs, cache


def paired_bootstrap(a: np.ndarray, b: np.ndarray, samples: int, seed: int) -> tuple[float, float]:
    """95 % percentile interval of mean(a − b) over cases resampled with replacement."""
    d = np.asarray(a, float) - np.asarray(b, float)
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, len(d), (samples, len(d)))].mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def choose_baseline(cfg: EvaluateConfig, sr: int) -> tuple[str, dict]:
    """The stronger naive schedule of librosa's default beats (truncated or nearest frame), by mean cut F on
    ``val_songs`` synthesised validation songs (seed ``val_seed``; never the scored songs)."""
    specs = synth.song_set(cfg.val_songs, cfg.val_duration_s, cfg.val_seed)
    songs, cache = [], {}
    for i, spec in enumerate(specs):
        s = synth.synthesise(spec, sr)
        sid = f"val_{i:02d}"
        cache[sid] = s.audio
        songs.append({"id": sid, "bpm": s.tempo_bpm, "beats_s": s.beats_s.tolist(), "duration_s": spec.duration_s})
    _, cuts = score_songs(songs, lambda song: (cache[song["id"]], sr), {"librosa": analysis.librosa_default},
                          cfg.fps)
    val = {sched: _mean([r for r in cuts if r["schedule"] == sched], "f") for sched in ("truncated", "nearest")}
    best = max(val, key=lambda k: (val[k], k == "truncated"))
    log.info("baseline schedule on %d validation songs: %s (mean cut F %s)", len(songs), best,
             {k: round(v, 4) for k, v in val.items()})
    return best, val


# ------------------------------------------------------------------------------------------------ rendered videos
def score_render(render_dir: Path, songs: Sequence[dict]) -> dict | None:
    """Cut scores of ``song.mp4`` and ``baseline.mp4`` against their song's true beats, the A/V offset and the
    render's timing (``render.json``); ``None`` when the render folder has no ``render.json``.

    Raises:
        DataError: render.json names a song that is not in songs.json or has no beat grid, or a video is missing.
    """
    meta_path = render_dir / "render.json"
    if not meta_path.is_file():
        log.warning("no %s: rendered videos not scored", meta_path)
        return None
    meta = read_json(meta_path)
    by_id = {s["id"]: s for s in songs}
    song = by_id.get(meta.get("song"))
    if song is None:
        raise DataError(f"{meta_path}: song {meta.get('song')!r} is not in songs.json")
    out: dict = {"song": song["id"], "fps": meta.get("fps"), "size": meta.get("size"),
                 "duration_s": meta.get("duration_s"), "render_s": meta.get("render_s"),
                 "realtime_factor": meta.get("realtime_factor")}
    if song.get("beats_s") is None:
        log.warning("%s has no beat labels: its video's cuts are not scored", song["id"])
        return out
    truth = np.asarray(song["beats_s"], float)
    for name, key in (("project", "keyframes"), ("baseline", "baseline_keyframes")):
        video = render_dir / ("song.mp4" if name == "project" else "baseline.mp4")
        if not video.is_file():
            if name == "baseline":
                log.warning("no %s: the baseline video is not scored", video)
                continue
            raise DataError(f"{video}: the rendered video is missing")
        kf = meta.get(key)
        out[name] = scoring.score_cuts(video, truth, keyframes=None if kf is None else np.asarray(kf, int))
        log.info("video %s: cut F %.3f, mean |cut − beat| %.1f ms, %d cuts, A/V offset %.3f ms", name,
                 out[name]["f"], out[name]["mean_abs_ms"], out[name]["n_cuts"], out[name]["av_offset_ms"])
    return out


# ---------------------------------------------------------------------------------------------- generator quality
def generator_quality(images: np.ndarray, model_dir: Path, cfg: EvaluateConfig, *, model_mod=None,
                      quality_mod=None) -> dict | None:
    """Kernel two-sample scores of each trained generator and of the PCA-Gaussian baseline against held-out
    images; the VAE's reconstruction error. ``None`` when ``model_dir`` has no ``train.json``.

    The held-out rows are ``train.json["val_indices"]`` (else the last 10 %); they are split in two halves by
    ``seed``: the baseline's number of components is chosen on the first, everything is reported on the second.

    Raises:
        DataError: ``val_indices`` do not fit ``images`` (a model trained on other data).
    """
    train_json = model_dir / "train.json"
    if not train_json.is_file():
        log.warning("no %s: generator quality not scored", train_json)
        return None
    if model_mod is None:
        from projects.music_video import model as model_mod
    if quality_mod is None:
        from projects.music_video import quality as quality_mod
    info = read_json(train_json)
    n = len(images)
    held = np.asarray(info.get("val_indices") or np.arange(n - max(n // 10, 2), n), int)
    if held.size and (held.min() < 0 or held.max() >= n):
        raise DataError(f"{train_json}: val_indices reach row {int(held.max())} but images.npz holds {n} images "
                        f"(the model was trained on other data: re-run train)")
    rest = np.setdiff1d(np.arange(n), held)
    rng = np.random.default_rng(cfg.seed)
    held = rng.permutation(held)
    sel, rep = held[: len(held) // 2], held[len(held) // 2:]
    m = cfg.quality_samples
    out: dict = {"reference": f"{len(rep)} held-out images (choices on another {len(sel)})", "samples": m}
    pca = {}
    for k in cfg.pca_components:
        sampler = quality_mod.pca_gaussian_sampler(images[rest], k, cfg.seed)
        pca[k] = quality_mod.score(sampler(m), images[sel], cfg.seed)
    best_k = min(pca, key=lambda k: pca[k]["mmd"])
    sampler = quality_mod.pca_gaussian_sampler(images[rest], best_k, cfg.seed)
    out["pca_gaussian"] = {"components": best_k, "selection_mmd": {str(k): v["mmd"] for k, v in pca.items()},
                           **quality_mod.score(sampler(m), images[rep], cfg.seed)}
    out["train_vs_heldout"] = quality_mod.score(images[rng.choice(rest, min(m, len(rest)), replace=False)],
                                                images[rep], cfg.seed)
    for name in info.get("models", []):
        gen = model_mod.load_generator(model_dir, name)
        z = np.random.default_rng(cfg.seed + 1).standard_normal((m, gen.latent_dim)).astype(np.float32)
        out[name] = quality_mod.score(gen.decode(z), images[rep], cfg.seed)
        if hasattr(gen, "reconstruct"):
            ref = images[rep]
            rec = gen.reconstruct(ref)
            mse = float(np.mean((rec.astype(np.float64) - ref.astype(np.float64)) ** 2) / 255.0 ** 2)
            out[name]["reconstruction_mse"] = mse
            out[name]["reconstruction_psnr_db"] = float(10 * np.log10(1.0 / max(mse, 1e-12)))
        log.info("generator %s: %s", name, {k: round(v, 5) for k, v in out[name].items() if isinstance(v, float)})
    log.info("PCA-Gaussian baseline (%d components): MMD %.5f", best_k, out["pca_gaussian"]["mmd"])
    return out


# ---------------------------------------------------------------------------------------------------- effects
def effects_benchmark(cfg: EvaluateConfig, model_dir: Path, style_dir: Path | None, render_info: dict | None) -> dict:
    """Seconds per frame of each frame effect at each ``cfg.effects_sizes`` side (module doc, part 5).

    Returns:
        ``{"sizes", "frames", "seconds_per_frame": {effect: {size: s}}, "style_net": {...}, "render": {...}}``;
        an effect whose network is missing is left out (logged).

    Raises:
        DataError: a network exists but does not load.
    """

    from projects.music_video import effects as fx
    from projects.music_video.model import load_generator

    rcfg = (render_info or {}).get("config", {})
    dream_cfg = fx.DreamConfig(**rcfg["dream"]) if isinstance(rcfg.get("dream"), dict) else fx.DreamConfig()
    strength = float(rcfg.get("style_strength", 1.0))
    effect_size = int(min(rcfg.get("effect_size", 128), rcfg.get("size", 512)))
    available = []
    if style_dir is not None and (Path(style_dir) / fx.STYLE_MODEL).is_file():
        available.append("style")
    else:
        log.info("no trained style network in %s: the style effect is not benchmarked", style_dir)
    if (Path(model_dir) / "vae" / "encoder.keras").is_file():
        available.append("dream")
    else:
        log.info("no trained VAE encoder: the dream effect is not benchmarked")
    out: dict = {"sizes": list(cfg.effects_sizes), "frames": cfg.effects_frames, "effect_size": effect_size,
                 "dream": to_dict(dream_cfg), "style_strength": strength, "seconds_per_frame": {},
                 "cpu_count": os.cpu_count()}
    if not available:
        return out
    gen = load_generator(model_dir)
    z = np.random.default_rng(cfg.seed).standard_normal((cfg.effects_frames, gen.latent_dim)).astype(np.float32)
    frames = gen.decode(z)
    sizes = sorted(set(cfg.effects_sizes) | {effect_size})
    for name in available:
        row = {}
        for size in sizes:
            effect = fx.load_effects([name], size, model_dir=model_dir, style_dir=style_dir, style_strength=strength,
                                     dream_cfg=dream_cfg)
            effect(frames)  # warm-up on the same shapes: graph tracing (per octave size) not counted
            start = time.perf_counter()
            effect(frames)
            row[str(size)] = (time.perf_counter() - start) / len(frames)
            log.info("effect %s at %d px: %.3f s per frame", name, size, row[str(size)])
        out["seconds_per_frame"][name] = row
    if "style" in available:
        meta = read_json(Path(style_dir) / fx.STYLE_META) if (Path(style_dir) / fx.STYLE_META).is_file() else {}
        out["style_net"] = {k: meta.get(k) for k in ("parameters", "epochs_run", "wall_time_s", "best_val_loss",
                                                        "style_image", "loss_network", "image_size",
                                                        "content_images")}
    if render_info and render_info.get("n_frames"):
        n, dur = int(render_info["n_frames"]), float(render_info["duration_s"])
        base = float(render_info.get("analysis_s", 0.0)) + float(render_info["render_s"])
        rt: dict = {"plain": base / dur, "plain_seconds_per_frame": float(render_info["render_s"]) / n,
                    "fps": render_info.get("fps"), "size": render_info.get("size")}
        for name, row in out["seconds_per_frame"].items():
            rt[f"{name}_at_{effect_size}"] = (base + n * row[str(effect_size)]) / dur
            top = str(max(sizes))
            rt[f"{name}_at_{top}"] = (base + n * row[top]) / dur
        out["realtime_factor"] = rt
    return out


# ---------------------------------------------------------------------------------------------------------- main
def _target(value: float, target: float, higher: bool, **extra) -> dict:
    met = bool(value >= target) if higher else bool(value <= target)
    return {"value": value, "target": target, "met": met if math.isfinite(value) else False, **extra}


def evaluate(cfg: EvaluateConfig, data: Path, model_dir: Path, render_dir: Path, out: Path, *,
             model_mod=None, quality_mod=None, style_dir: Path | None = None) -> dict:
    """Run every part (module doc) and write ``out``; returns the metrics.

    ``style_dir``: the train_style stage's output (the frame-effect benchmark runs only when ``style_dir`` is
    given, so tests with stub models skip it).

    Raises:
        DataError: missing or malformed prepared data or render outputs.
    """
    songs = read_json(data / "songs.json")
    if not songs:
        raise DataError(f"{data / 'songs.json'} lists no song")
    labelled = [s for s in songs if s.get("beats_s") is not None]
    sr = int(read_json(data / "meta.json")["config"]["sr"]) if (data / "meta.json").is_file() else 22050
    metrics: dict = {"protocol": {"fps": cfg.fps, "window_ms": scoring.WINDOW_S * 1000, "songs": len(songs),
                                  "labelled_songs": len(labelled), "config": to_dict(cfg)}}
    tracks = trackers(cfg)
    metrics["trackers_run"] = list(tracks)
    metrics["trackers_skipped"] = [t for t in cfg.trackers if t not in tracks]
    beat_rows, cut_rows = score_songs(labelled, lambda s: audio.load_audio(data / s["file"], sr), tracks, cfg.fps)
    change_rows: list[dict] = []
    if cfg.stress_songs > 0:
        change, cache = stress_songs(cfg, sr)
        change_rows, _ = score_songs(change, lambda s: (cache[s["id"]], sr),
                                     {k: v for k, v in tracks.items() if k != "madmom"}, cfg.fps)
        metrics["tempo_change"] = {
            "songs": len(change), "ramp": cfg.stress_ramp, "seed": cfg.stress_seed,
            "duration_s": cfg.stress_duration_s, "trackers": summarise_trackers(change_rows),
            "data": f"{len(change)} synthesised songs whose tempo changes by ±{100 * cfg.stress_ramp:g} % "
                    f"(linear ramps and steps at half the song), half in 3/4"}
    write_csv(out / "trackers.csv", [{"set": "scored", **r} for r in beat_rows]
              + [{"set": "tempo_change", **r} for r in change_rows], float_format="%.6g")
    write_csv(out / "cuts.csv", cut_rows, float_format="%.6g")
    targets: dict = {}
    heads: list = []
    if labelled:
        metrics["trackers"] = summarise_trackers(beat_rows)
        metrics["cuts"] = summarise_cuts(cut_rows)
        base_sched, val = choose_baseline(cfg, sr)
        metrics["baseline_choice"] = {"schedule": base_sched, "val_cut_f": val, "val_songs": cfg.val_songs}
        model_key, base_key = "project/nearest", f"librosa/{base_sched}"
        per = {k: np.array([r["f"] for r in cut_rows if f"{r['tracker']}/{r['schedule']}" == k])
               for k in (model_key, base_key)}
        lo, hi = paired_bootstrap(per[model_key], per[base_key], cfg.bootstrap, cfg.seed)
        mc, bc = metrics["cuts"][model_key], metrics["cuts"][base_key]
        data_name = (f"{len(labelled)} synthesised songs, 70-180 BPM (swing, syncopation, tempo ramps, 3/4), "
                     f"cuts at {cfg.fps:g} fps")
        main_head = dict(metric="cut-vs-beat F-measure (±70 ms), mean over songs", data=data_name,
                         model="project tracker (tempo octave, lag compensation) + nearest-frame cuts",
                         model_value=mc["f_mean"], baseline=f"librosa beat_track defaults + {base_sched} frames",
                         baseline_value=bc["f_mean"], higher_is_better=True,
                         baseline_rule=f"the stronger rounding of librosa's default beats (truncated vs nearest "
                                       f"frame) by mean cut F on {cfg.val_songs} validation songs of another seed",
                         significance={"test": "paired bootstrap over songs", "low": lo, "high": hi})
        heads.append(headline(metric="worst song's cut-vs-beat F-measure", data=data_name,
                              model="project tracker + nearest-frame cuts", model_value=mc["f_worst"],
                              baseline=f"librosa defaults + {base_sched} frames", baseline_value=bc["f_worst"],
                              higher_is_better=True, baseline_rule="as the main headline"))
        tr = metrics["trackers"]
        ch = metrics.get("tempo_change", {}).get("trackers", {})
        if "project" in ch and "librosa" in ch:
            heads.append(headline(metric="beat F-measure (±70 ms), worst tempo-change song",
                                  data=metrics["tempo_change"]["data"], model="project tracker (local tempo)",
                                  model_value=ch["project"]["f_worst"], baseline="librosa beat_track defaults",
                                  baseline_value=ch["librosa"]["f_worst"], higher_is_better=True,
                                  baseline_rule="librosa's default tracker, the issue's baseline"))
        targets["cut_f_worst_song"] = _target(mc["f_worst"], cfg.target_cut_f, True, song=mc["f_worst_song"],
                                              mean=mc["f_mean"])
        targets["cut_mean_abs_ms_worst_song"] = _target(mc["mean_abs_ms_worst"], cfg.target_cut_mean_ms, False,
                                                        mean=mc["mean_abs_ms"])
        if "project" in tr:
            targets["tempo_octave_correct"] = _target(tr["project"]["tempo_octave_correct"],
                                                      cfg.target_tempo_octave, True)
    render = score_render(render_dir, songs)
    if render is not None:
        metrics["render"] = render
        if render.get("realtime_factor") is not None:
            targets["render_realtime_factor"] = _target(float(render["realtime_factor"]), cfg.target_realtime_factor,
                                                        False, fps=render.get("fps"), size=render.get("size"))
        if "project" in render:
            p = render["project"]
            off = float(p["av_offset_ms"])
            targets["av_offset_ms"] = {"value": off, "target": cfg.target_av_offset_ms,
                                       "met": bool(abs(off - cfg.target_av_offset_ms) <= cfg.av_tolerance_ms),
                                       "tolerance_ms": cfg.av_tolerance_ms}
            targets["video_cut_f"] = _target(p["f"], cfg.target_cut_f, True, song=render["song"])
            targets["video_cut_mean_abs_ms"] = _target(p["mean_abs_ms"], cfg.target_cut_mean_ms, False)
            if "baseline" in render:
                b = render["baseline"]
                heads.append(headline(metric="cut-vs-beat F-measure of cuts detected in the rendered MP4",
                                      data=f"synthesised song {render['song']}, {render.get('fps')} fps",
                                      model="project video", model_value=p["f"], baseline="baseline video "
                                      "(librosa default beats, truncated frames)", baseline_value=b["f"],
                                      higher_is_better=True, baseline_rule="the issue's naive renderer"))
    images_path = data / "images.npz"
    gq = None
    if images_path.is_file() and (model_dir / "train.json").is_file():
        images = load_npz(images_path, required=("images",))["images"]
        gq = generator_quality(images, model_dir, cfg, model_mod=model_mod, quality_mod=quality_mod)
    if gq is not None:
        metrics["generator"] = gq
        for name in [k for k in gq if isinstance(gq[k], dict) and "mmd" in gq[k]
                     and k not in ("pca_gaussian", "train_vs_heldout")]:
            heads.append(headline(metric="MMD² to held-out images (lower is better)", data=gq["reference"],
                                  model=f"{name} generator", model_value=gq[name]["mmd"],
                                  baseline=f"PCA-Gaussian sampler ({gq['pca_gaussian']['components']} components)",
                                  baseline_value=gq["pca_gaussian"]["mmd"], higher_is_better=False,
                                  baseline_rule="number of PCA components chosen by MMD on the other half of the "
                                                "held-out images"))
    if labelled:
        metrics["headline"] = headline(**main_head, also=heads)
    elif heads:
        first = dict(heads[0])
        keep = {k: first[k] for k in ("metric", "data", "model", "model_value", "baseline", "baseline_value",
                                      "higher_is_better", "baseline_rule")}
        metrics["headline"] = headline(**keep, also=heads[1:])
    if style_dir is not None and (model_dir / "train.json").is_file():
        info = read_json(render_dir / "render.json") if (render_dir / "render.json").is_file() else None
        metrics["effects"] = effects_benchmark(cfg, model_dir, style_dir, info)
    metrics["targets"] = targets
    write_metrics(out / "metrics.json", metrics)
    for k, t in targets.items():
        log.info("target %-28s %s (target %s): %s", k, t["value"], t["target"], "met" if t["met"] else "MISSED")
    return metrics


def main(argv: Sequence[str] | None = None) -> int:
    parser = stage_parser(__doc__, inputs=("data", "model", "render"), outputs=("out",))
    parser.add_argument("--style", default=None, help="the train_style stage's output (frame-effect benchmark)")
    args = parser.parse_args(argv)
    cfg = load_section(args.params, "evaluate", EvaluateConfig)
    evaluate(cfg, Path(args.data), Path(args.model), Path(args.render), Path(args.out),
             style_dir=Path(args.style) if args.style else None)
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main))
