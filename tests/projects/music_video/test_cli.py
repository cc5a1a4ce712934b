"""The CLI on a tiny untrained generator: make and beats, and each bad input as one line."""

import argparse

import numpy as np
import pytest

from projects.music_video import cli, scoring
from projects.music_video.audio import write_wav
from projects.music_video.model import ModelConfig, build_model, save_generator
from shared.io import DataError

SR = 22050


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("model")
    save_generator(build_model(ModelConfig(latent_dim=4, filters=4), "vae", 8), "vae", 8, 4, out / "vae")
    return out


def _clicks(path, seconds, bpm=120.0):
    y = np.zeros(int(SR * seconds), np.float32)
    for t in np.arange(0.1, seconds, 60 / bpm):
        i = int(t * SR)
        y[i:i + 300] += np.exp(-np.arange(300) / 60) * np.sin(np.arange(300) * 0.5)
    return write_wav(path, y, SR)


def _run(*argv):
    parser = argparse.ArgumentParser()
    cli.register(parser)
    args = parser.parse_args([str(a) for a in argv])
    return args.func(args)


def test_make_and_beats(model_dir, tmp_path, capsys, caplog):
    song = _clicks(tmp_path / "song.wav", 3.0)
    assert _run("make", song, tmp_path / "v.mp4", "--size", 32, "--fps", 15, "--model", model_dir) == 0
    out = capsys.readouterr().out
    assert "BPM" in out and "rendered in" in out and "45 frames" in out
    assert "analysis:" in caplog.text and "wrote" in caplog.text     # progress lines by default
    meta = scoring.probe(tmp_path / "v.mp4")
    assert meta["video_codec"] == "h264" and meta["audio_codec"] == "aac" and meta["width"] == 32
    assert _run("beats", song, "--out", tmp_path / "b.csv") == 0
    lines = (tmp_path / "b.csv").read_text().splitlines()
    assert lines[0] == "beat,time_s,downbeat" and len(lines) >= 4


def test_silent_file_gives_steady_video_with_a_warning(model_dir, tmp_path, caplog, capsys):
    song = write_wav(tmp_path / "silence.wav", np.zeros(3 * SR, np.float32), SR)
    assert _run("make", song, tmp_path / "s.mp4", "--size", 32, "--fps", 10, "--model", model_dir) == 0
    assert caplog.text.count("no steady beat found") == 1 and "0 cuts" in capsys.readouterr().out
    assert scoring.probe(tmp_path / "s.mp4")["duration_s"] == pytest.approx(3.0, abs=0.1)


def test_bad_inputs_are_one_line_errors(model_dir, tmp_path):
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "text.mp3").write_text("not audio")
    short = _clicks(tmp_path / "short.wav", 0.2)
    ok = _clicks(tmp_path / "ok.wav", 2.0)
    cases = [(tmp_path / "empty.wav", tmp_path / "a.mp4"), (tmp_path / "text.mp3", tmp_path / "a.mp4"),
             (short, tmp_path / "a.mp4"), (ok, tmp_path / "missing" / "a.mp4")]
    for song, out in cases:
        with pytest.raises((DataError, FileNotFoundError)) as info:
            _run("make", song, out, "--size", 32, "--model", model_dir)
        assert "\n" not in str(info.value)
    with pytest.raises((DataError, FileNotFoundError)):
        _run("beats", tmp_path / "nothing.wav")


def test_bad_arguments_are_one_line_errors_before_any_work(model_dir, tmp_path, caplog):
    """Output names, folders, seeds, frame rates and a missing --params file: one line each, before the song is
    even decoded (the song here does not exist, so any work would fail differently)."""
    song = tmp_path / "never_read.wav"
    (tmp_path / "dir").mkdir()
    cases = [((tmp_path / "noext",), "must be a .mp4"), ((tmp_path / "out.wav",), "must be a .mp4"),
             ((tmp_path / "dir",), "is a directory"), ((tmp_path / "a.mp4", "--seed", -1), "--seed"),
             ((tmp_path / "a.mp4", "--fps", "nan"), "finite"), ((tmp_path / "a.mp4", "--fps", "inf"), "finite"),
             ((tmp_path / "a.mp4", "--params", tmp_path / "nope.yaml"), "params file not found")]
    for extra, match in cases:
        with pytest.raises(DataError, match=match) as info:
            _run("make", song, *extra, "--model", model_dir)
        assert "\n" not in str(info.value)
    with pytest.raises(DataError, match="is a directory"):
        _run("beats", song, "--out", tmp_path / "dir")
    with pytest.raises(DataError, match="params file not found"):
        _run("beats", song, "--params", tmp_path / "nope.yaml")
    assert "decoding" not in caplog.text
