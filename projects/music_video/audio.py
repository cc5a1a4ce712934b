"""Decoding any common audio file to mono float32 at a chosen sample rate.

WAV, FLAC, OGG/Vorbis (and whatever else libsndfile reads) through ``soundfile``; MP3, AAC, M4A, Opus and the rest,
and any file soundfile cannot read whatever its suffix (AAC data named ``.ogg``, a truncated FLAC), through the
ffmpeg binary that ``imageio-ffmpeg`` ships, decoded to 32-bit float stereo PCM through a pipe (no
temporary file; ffmpeg downmixes more channels to two). The channels are mixed to mono by their mean; the sample
rate is changed with ``librosa.resample`` (soxr, high quality).

A silent file is valid audio here (the analysis finds no beats and the video gets steady motion); a file shorter
than one beat is refused by :func:`projects.music_video.analysis.analyse`.
"""

from __future__ import annotations

import logging
import os
import subprocess
from pathlib import Path

import numpy as np

from shared.io import DataError

__all__ = ["load_audio", "write_wav", "ffmpeg_exe", "SOUNDFILE_SUFFIXES"]

log = logging.getLogger(__name__)

#: read with soundfile (libsndfile); everything else goes through ffmpeg
SOUNDFILE_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".aiff", ".aif")


def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary shipped by imageio-ffmpeg.

    Raises:
        DataError: imageio-ffmpeg is not installed or has no binary for this platform.
    """
    try:
        import imageio_ffmpeg
    except ImportError as exc:  # pragma: no cover - the extra installs it
        raise DataError("imageio-ffmpeg is needed to decode MP3/AAC (pip install imageio-ffmpeg)") from exc
    try:
        return imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError as exc:  # pragma: no cover
        raise DataError(f"no ffmpeg binary: {exc}") from exc


def _read_soundfile(path: Path) -> tuple[np.ndarray, int]:
    import soundfile as sf

    try:
        y, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, sf.LibsndfileError, ValueError) as exc:
        raise DataError(f"{path}: unreadable audio ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"
                        ) from None
    return y, int(sr)


def _read_ffmpeg(path: Path, sr: int) -> tuple[np.ndarray, int]:
    cmd = [ffmpeg_exe(), "-nostdin", "-v", "error", "-i", str(path), "-vn", "-f", "f32le", "-acodec", "pcm_f32le",
           "-ac", "2", "-ar", str(sr), "pipe:1"]
    proc = subprocess.run(cmd, capture_output=True, check=False)
    if proc.returncode != 0:
        msg = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise DataError(f"{path}: unreadable audio (ffmpeg: {msg[-1] if msg else f'exit {proc.returncode}'})")
    y = np.frombuffer(proc.stdout, dtype="<f4").astype(np.float32)
    return y[: len(y) // 2 * 2].reshape(-1, 2), sr   # two channels (mono is copied to both): mixed by the mean


def load_audio(path: str | os.PathLike, sr: int = 22050) -> tuple[np.ndarray, int]:
    """Read an audio file as mono float32 at ``sr``.

    Args:
        path: WAV, FLAC, OGG (soundfile) or MP3, AAC, M4A, ... (ffmpeg).
        sr: the sample rate wanted (Hz).

    Returns:
        (samples float32 (n,), sr).

    Raises:
        DataError: the file is missing, empty, unreadable, holds no samples, or holds NaN/infinite samples
            (one line each).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such audio file")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: empty file (0 bytes)")
    if path.suffix.lower() in SOUNDFILE_SUFFIXES:
        try:
            y, file_sr = _read_soundfile(path)
        except DataError as sf_error:
            # the suffix can lie (AAC data named .ogg): ffmpeg reads by content; its error only when it fails too
            log.debug("%s: soundfile failed (%s); trying ffmpeg", path, sf_error)
            try:
                y, file_sr = _read_ffmpeg(path, sr)
            except DataError:
                raise sf_error from None
    else:
        y, file_sr = _read_ffmpeg(path, sr)
    if y.size == 0 or y.shape[0] == 0:
        raise DataError(f"{path}: holds no samples (zero length)")
    if not np.all(np.isfinite(y)):
        raise DataError(f"{path}: holds NaN or infinite samples")
    mono = y.mean(axis=1, dtype=np.float64).astype(np.float32)
    if file_sr != sr:
        import librosa

        mono = librosa.resample(mono, orig_sr=file_sr, target_sr=sr, res_type="soxr_hq").astype(np.float32)
    log.debug("%s: %d samples at %d Hz (%.2f s)", path, len(mono), sr, len(mono) / sr)
    return mono, sr


def write_wav(path: str | os.PathLike, y: np.ndarray, sr: int) -> Path:
    """Write mono float samples as 16-bit PCM WAV, atomically."""
    import soundfile as sf

    from shared.io import atomic_path

    with atomic_path(path) as tmp:
        sf.write(str(tmp), np.clip(np.asarray(y, np.float32), -1.0, 1.0), sr, subtype="PCM_16")
    return Path(path)
