"""Decoding WAV, FLAC, OGG and MP3 (each written here) and one-line errors for bad files."""

import subprocess

import numpy as np
import pytest
import soundfile as sf

from projects.music_video import audio
from shared.io import DataError

SR = 22050


@pytest.fixture(scope="module")
def tone():
    t = np.arange(int(0.5 * 44100)) / 44100
    left = 0.5 * np.sin(2 * np.pi * 440 * t)
    return np.stack([left, 0.5 * left], axis=1).astype(np.float32)   # stereo at 44.1 kHz


@pytest.mark.parametrize("fmt", ["wav", "flac", "ogg", "mp3", "m4a"])
def test_formats_mono_resampled(tmp_path, tone, fmt):
    wav = tmp_path / "tone.wav"
    sf.write(wav, tone, 44100)
    path = tmp_path / f"tone.{fmt}"
    if fmt in ("wav",):
        path = wav
    elif fmt in ("flac", "ogg"):
        sf.write(path, tone, 44100)
    else:
        codec = {"mp3": "libmp3lame", "m4a": "aac"}[fmt]
        subprocess.run([audio.ffmpeg_exe(), "-v", "error", "-i", str(wav), "-c:a", codec, "-b:a", "128k", str(path)],
                       check=True)
    y, sr = audio.load_audio(path, SR)
    assert sr == SR and y.dtype == np.float32 and y.ndim == 1
    assert abs(len(y) - SR // 2) <= (0.06 * SR if fmt in ("mp3", "m4a") else 2)   # encoder padding
    mid = y[len(y) // 4: 3 * len(y) // 4]
    assert np.sqrt(np.mean(mid ** 2)) == pytest.approx(0.75 * 0.5 / np.sqrt(2), rel=0.08)   # mean of the channels
    spectrum = np.abs(np.fft.rfft(mid))
    assert np.fft.rfftfreq(len(mid), 1 / SR)[spectrum.argmax()] == pytest.approx(440, abs=5)


def test_silent_file_is_fine(tmp_path):
    path = tmp_path / "silence.wav"
    sf.write(path, np.zeros(SR, np.float32), SR)
    y, _ = audio.load_audio(path, SR)
    assert len(y) == SR and not y.any()


def _one_line(exc: pytest.ExceptionInfo) -> str:
    msg = str(exc.value)
    assert "\n" not in msg
    return msg


def test_bad_inputs_one_line_each(tmp_path):
    with pytest.raises(DataError) as e:
        audio.load_audio(tmp_path / "missing.wav")
    assert "no such audio file" in _one_line(e)
    (tmp_path / "empty.mp3").write_bytes(b"")
    with pytest.raises(DataError) as e:
        audio.load_audio(tmp_path / "empty.mp3")
    assert "empty file" in _one_line(e)
    for name in ("garbage.wav", "garbage.mp3"):
        (tmp_path / name).write_bytes(b"this is not audio" * 20)
        with pytest.raises(DataError) as e:
            audio.load_audio(tmp_path / name)
        assert "unreadable audio" in _one_line(e)
    sf.write(tmp_path / "zero.wav", np.zeros(0, np.float32), SR)
    with pytest.raises(DataError) as e:
        audio.load_audio(tmp_path / "zero.wav")
    assert "zero length" in _one_line(e)
    bad = np.zeros(100, np.float32)
    bad[5] = np.nan
    sf.write(tmp_path / "nan.wav", bad, SR, subtype="FLOAT")
    with pytest.raises(DataError) as e:
        audio.load_audio(tmp_path / "nan.wav")
    assert "NaN" in _one_line(e)


def test_write_wav_round_trip(tmp_path):
    y = (0.5 * np.sin(np.linspace(0, 100, SR))).astype(np.float32)
    audio.write_wav(tmp_path / "x.wav", y, SR)
    back, sr = audio.load_audio(tmp_path / "x.wav", SR)
    assert sr == SR and np.abs(back - y).max() < 1e-4


def test_wrong_suffix_falls_back_to_ffmpeg(tmp_path, tone):
    """AAC data named .ogg: soundfile cannot read it, ffmpeg decodes it by content."""
    wav = tmp_path / "t.wav"
    sf.write(wav, tone, 44100)
    m4a = tmp_path / "t.m4a"
    subprocess.run([audio.ffmpeg_exe(), "-nostdin", "-v", "error", "-i", str(wav), "-c:a", "aac", str(m4a)],
                   check=True)
    liar = tmp_path / "aac.ogg"
    m4a.rename(liar)
    y, sr = audio.load_audio(liar, SR)
    assert sr == SR and abs(len(y) - 0.5 * SR) < 0.1 * SR and np.abs(y).max() > 0.1
