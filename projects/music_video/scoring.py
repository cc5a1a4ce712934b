"""Scores of beats, tempo and cuts against a known beat grid, and of a rendered MP4's streams.

- Beat F-measure: ``mir_eval.beat.f_measure`` (a hit within ±70 ms; Dixon 2007), CMLt/AMLt
  (``mir_eval.beat.continuity``; Hainsworth 2004, Klapuri et al. 2006).
- Offsets: for each estimated beat (or cut), the distance to the nearest true beat; mean and 95th percentile (ms).
- Tempo octave: Acc1-style (within ``tol`` of the true tempo) and Acc2-style (also at ×2, ×1/2, ×3, ×1/3; Gouyon
  et al. 2006), and the octave class (correct / double / half / other).
- Cuts from the frames: the peaks of the mean absolute difference between consecutive frames of the decoded video
  (a keyframe or cut makes the picture jump); frame ``k`` is shown at ``k / fps``.
- A/V offset: the first presentation time of the video and of the audio stream, read from ffmpeg's ``showinfo`` /
  ``ashowinfo`` filters on the decoded streams (ffmpeg applies the MP4 edit list, as a player does; there is no
  ffprobe in imageio-ffmpeg); stream codecs, size, fps and duration from ``ffmpeg -i``.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
from pathlib import Path

import numpy as np

from shared.io import DataError

__all__ = ["beat_f", "continuity", "offsets_ms", "tempo_octave", "frame_differences", "detect_cuts",
           "stream_starts", "probe", "av_offset_ms", "score_beats", "score_cuts"]

WINDOW_S = 0.07


def beat_f(truth_s: np.ndarray, est_s: np.ndarray, window_s: float = WINDOW_S) -> float:
    """F-measure of estimated beats (or cuts) against true beats, each hit within ``±window_s``.

    0 when either list is empty (``mir_eval`` warns and returns 0 too).
    """
    import mir_eval

    truth, est = np.asarray(truth_s, float), np.asarray(est_s, float)
    if len(truth) == 0 or len(est) == 0:
        return 0.0
    return float(mir_eval.beat.f_measure(truth, est, f_measure_threshold=window_s))


def continuity(truth_s: np.ndarray, est_s: np.ndarray) -> dict[str, float]:
    """CMLt and AMLt (``mir_eval.beat.continuity``); zeros when either list has fewer than two beats."""
    import mir_eval

    truth, est = np.asarray(truth_s, float), np.asarray(est_s, float)
    if len(truth) < 2 or len(est) < 2:
        return {"cmlt": 0.0, "amlt": 0.0}
    _, cmlt, _, amlt = mir_eval.beat.continuity(truth, est)
    return {"cmlt": float(cmlt), "amlt": float(amlt)}


def offsets_ms(truth_s: np.ndarray, est_s: np.ndarray) -> dict[str, float]:
    """Distance of each estimated event to the nearest true beat: mean, 95th percentile and max |·|, and the
    mean signed offset (positive: late), in ms; NaN when either list is empty."""
    truth, est = np.sort(np.asarray(truth_s, float)), np.asarray(est_s, float)
    if len(truth) == 0 or len(est) == 0:
        nan = float("nan")
        return {"mean_abs_ms": nan, "p95_abs_ms": nan, "max_abs_ms": nan, "mean_ms": nan}
    idx = np.clip(np.searchsorted(truth, est), 1, max(len(truth) - 1, 1))
    cand = np.stack([truth[idx - 1], truth[np.minimum(idx, len(truth) - 1)]])
    d = est - cand[np.argmin(np.abs(est - cand), axis=0), np.arange(len(est))]
    a = np.abs(d) * 1000
    return {"mean_abs_ms": float(a.mean()), "p95_abs_ms": float(np.percentile(a, 95)), "max_abs_ms": float(a.max()),
            "mean_ms": float(d.mean() * 1000)}


def tempo_octave(est_bpm: float, true_bpm: float, tol: float = 0.08) -> dict:
    """Tempo correctness: ``acc1`` (|est/true − 1| ≤ tol), ``acc2`` (also at ×2, ×1/2, ×3, ×1/3) and the class."""
    if not est_bpm or est_bpm <= 0:
        return {"acc1": False, "acc2": False, "octave": "none", "ratio": 0.0}
    r = est_bpm / true_bpm
    factors = {"correct": 1.0, "double": 2.0, "half": 0.5, "triple": 3.0, "third": 1 / 3}
    cls = next((k for k, f in factors.items() if abs(r / f - 1) <= tol), "other")
    return {"acc1": cls == "correct", "acc2": cls != "other", "octave": cls, "ratio": float(r)}


def score_beats(truth_s: np.ndarray, est_s: np.ndarray, true_bpm: float, est_bpm: float) -> dict:
    """Every beat score of one song: F, CMLt/AMLt, offsets and tempo octave."""
    out = {"f": beat_f(truth_s, est_s), **continuity(truth_s, est_s), **offsets_ms(truth_s, est_s)}
    t = tempo_octave(est_bpm, true_bpm)
    out.update({"tempo_bpm": float(est_bpm), "true_bpm": float(true_bpm), "acc1": t["acc1"], "acc2": t["acc2"],
                "octave": t["octave"]})
    return out


def _existing(path: str | os.PathLike) -> Path:
    path = Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        raise DataError(f"{path}: no such video (or empty)")
    return path


def frame_differences(path: str | os.PathLike, size: int = 64) -> tuple[np.ndarray, float]:
    """Mean absolute difference (0-255) between consecutive frames of a video, decoded at ``size``² pixels.

    Returns:
        (d float (n_frames,), fps) with ``d[0] = 0`` and ``d[k] = mean |F_k − F_{k−1}|``.

    Raises:
        DataError: the file is missing or not a decodable video.
    """
    import imageio_ffmpeg

    path = _existing(path)
    info = probe(path)
    quiet = logging.getLogger("imageio_ffmpeg")
    level = quiet.level
    quiet.setLevel(logging.ERROR)   # it warns that the frames are read at another size, which is asked for here
    try:
        gen = imageio_ffmpeg.read_frames(str(path), output_params=["-vf", f"scale={size}:{size}:flags=area"])
        next(gen)  # metadata
        d, prev = [0.0], None
        for raw in gen:
            f = np.frombuffer(raw, np.uint8).astype(np.int16)
            if prev is not None:
                d.append(float(np.abs(f - prev).mean()))
            prev = f
    except (RuntimeError, OSError, StopIteration) as exc:
        raise DataError(f"{path}: cannot decode the video ({exc})") from None
    finally:
        quiet.setLevel(level)
    return np.asarray(d[: max(len(d), 1)]), float(info["fps"])


def detect_cuts(diffs: np.ndarray, fps: float, rel: float = 3.0, floor: float = 3.0) -> np.ndarray:
    """Cut/keyframe times (s) from frame differences: local maxima above ``rel`` × the running median (of 9
    frames) plus ``floor`` (grey levels, 0-255). Frame ``k`` is shown at ``k / fps``."""
    from scipy.ndimage import median_filter

    d = np.asarray(diffs, float)
    if len(d) < 3:
        return np.zeros(0)
    base = median_filter(d, size=9, mode="nearest")
    peak = (d >= np.roll(d, 1)) & (d >= np.roll(d, -1))
    peak[0] = False
    hit = peak & (d > rel * base + floor)
    return np.flatnonzero(hit) / fps


def _run_ffmpeg(args: list[str]) -> str:
    from projects.music_video.audio import ffmpeg_exe

    proc = subprocess.run([ffmpeg_exe(), "-nostdin", "-hide_banner", *args], capture_output=True, check=False)
    return proc.stderr.decode("utf-8", "replace")


def probe(path: str | os.PathLike) -> dict:
    """Streams of a media file from ``ffmpeg -i``: ``video_codec``, ``audio_codec`` (``None`` when absent),
    ``width``, ``height``, ``fps``, ``pix_fmt`` and the container ``duration_s``.

    Raises:
        DataError: the file is missing or ffmpeg cannot read it.
    """
    path = _existing(path)
    text = _run_ffmpeg(["-i", str(path)])
    dur = re.search(r"Duration: (\d+):(\d+):([\d.]+)", text)
    if not dur:
        raise DataError(f"{path}: not a media file ffmpeg reads ({text.strip().splitlines()[-1] if text else ''})")
    out: dict = {"duration_s": int(dur[1]) * 3600 + int(dur[2]) * 60 + float(dur[3]), "video_codec": None,
                 "audio_codec": None, "width": 0, "height": 0, "fps": 0.0, "pix_fmt": None}
    v = re.search(r"Stream #\S+.*?: Video: (\w+)[^,]*, (\w+)[^,]*(?:\([^)]*\))?, (\d+)x(\d+).*?([\d.]+) fps", text)
    if v:
        out.update(video_codec=v[1], pix_fmt=v[2], width=int(v[3]), height=int(v[4]), fps=float(v[5]))
    a = re.search(r"Stream #\S+.*?: Audio: (\w+)", text)
    if a:
        out["audio_codec"] = a[1]
    return out


def stream_starts(path: str | os.PathLike) -> dict[str, float | None]:
    """First presentation time (s) of the decoded video and audio streams (``None`` for a missing stream)."""
    path = _existing(path)
    out: dict[str, float | None] = {}
    for kind, flt, opt in (("video", "showinfo", "-vf"), ("audio", "ashowinfo", "-af")):
        text = _run_ffmpeg(["-i", str(path), "-map", f"0:{kind[0]}:0", opt, flt, "-frames:" + kind[0], "1",
                            "-f", "null", "-"])
        m = re.search(r"pts_time:\s*(-?[\d.]+)", text)
        out[kind] = float(m[1]) if m else None
    return out


def av_offset_ms(path: str | os.PathLike) -> float:
    """Audio start minus video start (ms) of a rendered video; NaN when a stream is missing."""
    s = stream_starts(path)
    if s["video"] is None or s["audio"] is None:
        return float("nan")
    return (s["audio"] - s["video"]) * 1000.0


def score_cuts(path: str | os.PathLike, truth_s: np.ndarray, *, keyframes: np.ndarray | None = None) -> dict:
    """Cut scores of a rendered video against the true beats.

    The cuts are detected from the frames (:func:`detect_cuts`); ``keyframes`` (frame indices the renderer
    scheduled), when given, are scored too (``sched_*``), and the share of scheduled keyframes the detector found.

    Returns:
        ``f``, ``mean_abs_ms``, ``p95_abs_ms``, ``max_abs_ms``, ``mean_ms``, ``n_cuts``, ``av_offset_ms``,
        ``duration_s``, ``fps`` (+ ``sched_f``, ``sched_mean_abs_ms``, ``detected_of_scheduled``).

    Raises:
        DataError: the video is missing or not decodable.
    """
    d, fps = frame_differences(path)
    cuts = detect_cuts(d, fps)
    info = probe(path)
    truth = np.asarray(truth_s, float)
    truth = truth[truth <= info["duration_s"]]
    out = {"f": beat_f(truth, cuts), **offsets_ms(truth, cuts), "n_cuts": int(len(cuts)),
           "av_offset_ms": av_offset_ms(path), "duration_s": info["duration_s"], "fps": fps}
    if keyframes is not None:
        kf = np.asarray(keyframes, float) / fps
        sched = offsets_ms(truth, kf)
        det = set(np.round(cuts * fps).astype(int).tolist())
        out.update(sched_f=beat_f(truth, kf), sched_mean_abs_ms=sched["mean_abs_ms"],
                   detected_of_scheduled=float(np.mean([int(k) in det for k in keyframes])) if len(kf) else 0.0)
    return out
