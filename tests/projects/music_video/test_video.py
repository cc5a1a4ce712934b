"""A 3-second render at small size: H.264 + AAC, the right duration and frame count, zero stream offset, and
the scheduled cuts are what evaluate's frame-difference detector finds."""

from types import SimpleNamespace

import numpy as np
import pytest

from projects.music_video import latent, scoring, video
from projects.music_video.audio import write_wav
from shared.io import DataError


class StubGenerator:
    """A fixed random projection of z to 8×8 colour images (stands in for a trained decoder)."""

    kind, latent_dim, size = "stub", 8, 8

    def __init__(self):
        self.w = np.random.default_rng(0).normal(size=(8, 8 * 8 * 3)) / np.sqrt(8)

    def decode(self, z, batch_size=64):
        x = 1 / (1 + np.exp(-2 * np.asarray(z) @ self.w))
        return np.rint(x * 255).astype(np.uint8).reshape(len(z), 8, 8, 3)


@pytest.fixture
def song(tmp_path):
    sr, dur = 22050, 3.0
    beats = np.arange(0.25, dur, 0.5)
    y = np.zeros(int(sr * dur), np.float32)
    for b in beats:
        i = int(b * sr)
        y[i:i + 400] += np.exp(-np.arange(400) / 80) * np.sin(np.arange(400) * 0.3)
    path = write_wav(tmp_path / "song.wav", y, sr)
    times = np.arange(0, dur, 512 / sr)
    analysis = SimpleNamespace(duration_s=dur, beats_s=beats, downbeats_s=beats[::4], sections_s=np.array([0.0]),
                               times_s=times, onsets_s=beats, onset_strength=np.ones(len(beats)),
                               harmonic_rms=np.full(len(times), 0.5), chroma=np.full((12, len(times)), 0.1))
    return path, analysis


def test_three_second_render_streams_and_cuts(song, tmp_path):
    path, analysis = song
    info = video.render_song(analysis, path, tmp_path / "v.mp4", StubGenerator(), fps=20, size=64,
                             latent_cfg=latent.config_for("energetic"), seed=0)
    assert info["n_frames"] == 60 and info["keyframes"] == [5, 15, 25, 35, 45, 55]
    meta = scoring.probe(tmp_path / "v.mp4")
    assert (meta["video_codec"], meta["audio_codec"], meta["width"], meta["pix_fmt"]) == ("h264", "aac", 64,
                                                                                         "yuv420p")
    assert meta["duration_s"] == pytest.approx(3.0, abs=0.05) and meta["fps"] == 20
    import imageio_ffmpeg

    assert imageio_ffmpeg.count_frames_and_secs(str(tmp_path / "v.mp4"))[0] == 60
    assert scoring.av_offset_ms(tmp_path / "v.mp4") == 0.0
    cuts = scoring.score_cuts(tmp_path / "v.mp4", analysis.beats_s, keyframes=np.array(info["keyframes"]))
    assert cuts["detected_of_scheduled"] == 1.0 and cuts["f"] == 1.0
    assert not list(tmp_path.glob(".*tmp*"))  # atomic: no temporary left


def test_bad_inputs_one_line(song, tmp_path):
    path, _ = song
    frames = [np.zeros((8, 8, 3), np.uint8)] * 3
    with pytest.raises(DataError, match="output folder does not exist"):
        video.write_mp4(frames, path, tmp_path / "no" / "v.mp4", 10, 16)
    with pytest.raises(DataError, match="audio file not found"):
        video.write_mp4(frames, tmp_path / "none.wav", tmp_path / "v.mp4", 10, 16)
    with pytest.raises(DataError, match="no frames"):
        video.write_mp4([], path, tmp_path / "v.mp4", 10, 16)
    with pytest.raises(DataError, match="frame 1"):
        video.write_mp4([frames[0], np.zeros((4, 4, 3), np.uint8)], path, tmp_path / "v.mp4", 10, 16)
    with pytest.raises(ValueError, match="even"):
        video.write_mp4(frames, path, tmp_path / "v.mp4", 10, 15)
    assert not (tmp_path / "v.mp4").exists()
    info = video.write_mp4(frames, None, tmp_path / "silent.mp4", 10, 16)
    assert info["frames"] == 3 and scoring.probe(tmp_path / "silent.mp4")["audio_codec"] is None
