"""MP4 writing: frames streamed to ffmpeg (imageio-ffmpeg's binary), H.264 (yuv420p) video + AAC audio.

:func:`write_mp4` pushes one frame at a time into ffmpeg's stdin (never the whole video in memory). Frames may be
smaller than the output (the generator's S×S): ffmpeg scales them to ``size``×``size`` with its bicubic or lanczos
scaler, which costs far less than upscaling in numpy before the pipe. The song is muxed from its file as AAC; both
streams start at t = 0 (``-shortest`` ends the file with the shorter stream, so the frame count decides the
length). The file is written under a temporary name beside ``out`` and renamed when ffmpeg succeeded.

Sources: imageio-ffmpeg (``write_frames``), ffmpeg's libx264 and native AAC encoders.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from shared.io import DataError, atomic_path

__all__ = ["write_mp4", "latent_frames", "shift_hue", "render_song"]

log = logging.getLogger(__name__)


def write_mp4(frames: Iterable[np.ndarray], audio_path: str | os.PathLike | None, out: str | os.PathLike,
              fps: float, size: int, *, n_frames: int | None = None, scaler: str = "bicubic",
              preset: str = "veryfast", crf: int = 20, progress_every_s: float = 5.0) -> dict:
    """Encode ``frames`` (uint8 (h, w, 3), all of one shape) to an H.264 + AAC MP4 at ``size``×``size``.

    Args:
        frames: an iterable (e.g. a generator) of RGB frames; consumed one by one.
        audio_path: the song (any format ffmpeg reads), muxed as AAC from t = 0; ``None``: no audio stream.
        out: the MP4 path; its folder must exist.
        fps: frames per second.
        size: output side in pixels (even: yuv420p needs even sides).
        n_frames: the expected number of frames (for the progress lines only).
        scaler: ffmpeg's scaler for the upscaling (``bicubic``, ``lanczos``, ``bilinear``, ``neighbor``).
        preset, crf: libx264 speed preset and constant rate factor (quality; lower is better).
        progress_every_s: a progress log line at most this often (seconds).

    Returns:
        ``{"frames", "seconds", "fps", "size", "path"}``.

    Raises:
        DataError: the output folder does not exist, the audio file is missing, no frame was given, frames
            change shape or are not uint8 RGB, or ffmpeg fails.
        ValueError: ``fps`` ≤ 0 or ``size`` not a positive even number.
    """
    import imageio_ffmpeg

    out = Path(out)
    if fps <= 0 or size <= 0 or size % 2:
        raise ValueError(f"fps must be > 0 and size a positive even number, got fps={fps}, size={size}")
    if not out.parent.is_dir():
        raise DataError(f"output folder does not exist: {out.parent}")
    if audio_path is not None and not Path(audio_path).is_file():
        raise DataError(f"audio file not found: {audio_path}")
    it = iter(frames)
    try:
        first = next(it)
    except StopIteration:
        raise DataError("no frames to write") from None
    first = np.asarray(first)
    if first.dtype != np.uint8 or first.ndim != 3 or first.shape[2] != 3:
        raise DataError(f"frames must be uint8 (h, w, 3), got {first.dtype} {first.shape}")
    h, w = first.shape[:2]
    output_params = ["-vf", f"scale={size}:{size}:flags={scaler}", "-preset", preset, "-crf", str(int(crf)),
                     "-movflags", "+faststart", "-shortest"]
    count, start, last_log = 0, time.perf_counter(), time.perf_counter()
    with atomic_path(out) as tmp:
        writer = imageio_ffmpeg.write_frames(
            str(tmp), (w, h), fps=fps, codec="libx264", pix_fmt_out="yuv420p", quality=None,
            macro_block_size=1, output_params=output_params,
            audio_path=None if audio_path is None else str(audio_path),
            audio_codec=None if audio_path is None else "aac", ffmpeg_log_level="error")
        try:
            writer.send(None)  # start ffmpeg
            frame = first
            while frame is not None:
                frame = np.asarray(frame)
                if frame.shape != first.shape or frame.dtype != np.uint8:
                    raise DataError(f"frame {count} is {frame.dtype} {frame.shape}, the first was uint8 "
                                    f"{first.shape}")
                writer.send(np.ascontiguousarray(frame))
                count += 1
                now = time.perf_counter()
                if now - last_log >= progress_every_s:
                    done = f"{count}/{n_frames}" if n_frames else str(count)
                    log.info("rendering: %s frames (%.1f frames/s)", done, count / (now - start))
                    last_log = now
                frame = next(it, None)
            writer.close()
        except (OSError, RuntimeError, BrokenPipeError) as exc:
            writer.close()
            raise DataError(f"ffmpeg failed while writing {out}: {exc}") from exc
    seconds = time.perf_counter() - start
    log.info("wrote %s: %d frames at %g fps, %d×%d, %.1f s", out, count, fps, size, size, seconds)
    return {"frames": count, "seconds": seconds, "fps": fps, "size": size, "path": str(out)}


def shift_hue(frames: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """Rotate the hue of uint8 frames ``(n, h, w, 3)`` by ``shift (n,)`` (fractions of the colour wheel)."""
    from skimage.color import hsv2rgb, rgb2hsv

    shift = np.asarray(shift, float)
    if not np.any(shift):
        return frames
    hsv = rgb2hsv(frames)
    hsv[..., 0] = np.mod(hsv[..., 0] + shift[:, None, None], 1.0)
    return np.clip(np.rint(hsv2rgb(hsv) * 255), 0, 255).astype(np.uint8)


def latent_frames(generator, z: np.ndarray, hue: np.ndarray | None = None, batch_size: int = 64, effect=None):
    """Yield the generator's frames (uint8 (S, S, 3)) of the latents ``z (n, D)`` one by one, decoding in batches
    of ``batch_size`` (only one batch in memory), hue-rotated by ``hue (n,)`` when given, then passed through
    ``effect`` (uint8 (n, S, S, 3) → uint8 (n, s, s, 3), e.g. :class:`projects.music_video.effects.FrameEffects`)
    when given."""
    for i in range(0, len(z), batch_size):
        frames = generator.decode(z[i:i + batch_size], batch_size=batch_size)
        if hue is not None:
            frames = shift_hue(frames, hue[i:i + batch_size])
        if effect is not None:
            frames = effect(frames)
        yield from frames


def render_song(analysis, audio_path: str | os.PathLike, out: str | os.PathLike, generator, *, fps: float,
                size: int, latent_cfg, seed: int = 0, keyframes: np.ndarray | None = None, scaler: str = "bicubic",
                preset: str = "veryfast", crf: int = 20, effect=None) -> dict:
    """Render a song's video: the latent trajectory of ``analysis``, decoded frame by frame, encoded with the song.

    Args:
        analysis: the song's :class:`~projects.music_video.analysis.Analysis`.
        audio_path: the song file (muxed as AAC).
        out: the MP4 path (its folder must exist).
        generator: a :class:`~projects.music_video.model.Generator`.
        fps, size: frame rate and output side (pixels).
        latent_cfg: a :class:`~projects.music_video.latent.LatentConfig`.
        seed: seed of the trajectory.
        keyframes: frame indices of the cuts; default the beats (or bars, sections: ``latent_cfg.per``) rounded to
            the nearest frame.
        scaler, preset, crf: see :func:`write_mp4`.
        effect: optional frame filter (see :func:`latent_frames`); its output size goes to ffmpeg's scaler.

    Returns:
        ``{"n_frames", "duration_s", "render_s", "keyframes": [...], ...}`` (render_s: trajectory + decoding +
        encoding, wall seconds).

    Raises:
        DataError: see :func:`write_mp4`.
    """
    from projects.music_video import latent, schedule

    start = time.perf_counter()
    n_frames = max(int(round(analysis.duration_s * fps)), 1)
    if keyframes is None:
        keyframes = schedule.keyframes(analysis, fps, n_frames, latent_cfg.per)
    z = latent.trajectory(analysis, n_frames, fps, latent_cfg, seed, generator.latent_dim, keyframes)
    hue = latent.hue_track(analysis, n_frames, fps, latent_cfg)
    frames = latent_frames(generator, z, hue, batch_size=16 if effect is not None else 64, effect=effect)
    info = write_mp4(frames, audio_path, out, fps, size, n_frames=n_frames,
                     scaler=scaler, preset=preset, crf=crf)
    return {"n_frames": info["frames"], "duration_s": n_frames / fps, "render_s": time.perf_counter() - start,
            "keyframes": [int(k) for k in keyframes], "fps": fps, "size": size, "path": str(out)}
