"""Beat, tempo and cut scores; cuts found from the frames of an MP4 written here; its A/V offset."""

import numpy as np
import pytest
import soundfile as sf

from projects.music_video import scoring
from shared.io import DataError


def test_beat_scores():
    truth = np.arange(0.5, 10, 0.5)
    assert scoring.beat_f(truth, truth + 0.03) == 1.0
    assert scoring.beat_f(truth, truth + 0.08) == 0.0
    assert scoring.beat_f(truth, np.arange(0.5, 10, 0.25)) == pytest.approx(2 * 0.5 * 1 / 1.5)   # double tempo
    assert scoring.beat_f(truth, []) == 0.0
    off = scoring.offsets_ms(truth, truth[::2] + 0.01)
    assert off["mean_abs_ms"] == pytest.approx(10) and off["mean_ms"] == pytest.approx(10)
    assert np.isnan(scoring.offsets_ms([], truth)["mean_abs_ms"])
    s = scoring.score_beats(truth, truth, 120.0, 121.0)
    assert s["f"] == 1.0 and s["cmlt"] == 1.0 and s["acc1"] and s["octave"] == "correct"


def test_tempo_octave():
    assert scoring.tempo_octave(240, 120)["octave"] == "double"
    assert scoring.tempo_octave(61, 120) == {"acc1": False, "acc2": True, "octave": "half", "ratio": 61 / 120}
    assert scoring.tempo_octave(180, 120)["octave"] == "other"
    assert not scoring.tempo_octave(0, 120)["acc2"]


def test_detect_cuts_from_differences():
    d = np.full(90, 0.5)
    d[[10, 40, 70]] = 30.0
    d[41] = 20.0   # a slower fade after a cut is not a second cut
    assert np.allclose(scoring.detect_cuts(d, 30.0), np.array([10, 40, 70]) / 30.0)


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    import imageio_ffmpeg

    folder = tmp_path_factory.mktemp("video")
    sr, fps, n = 22050, 30, 60
    wav = folder / "a.wav"
    sf.write(wav, (0.3 * np.sin(2 * np.pi * 220 * np.arange(2 * sr) / sr)).astype(np.float32), sr)
    out = folder / "v.mp4"
    w = imageio_ffmpeg.write_frames(str(out), (32, 32), fps=fps, codec="libx264", pix_fmt_out="yuv420p",
                                    audio_path=str(wav), audio_codec="aac", macro_block_size=16,
                                    output_params=["-shortest"])
    w.send(None)
    cuts = {15, 30, 45}
    level = 40
    for k in range(n):
        if k in cuts:
            level = 240 - level
        w.send(np.full((32, 32, 3), level + (k % 3), np.uint8).tobytes())
    w.close()
    return out, np.array(sorted(cuts)) / fps


def test_video_cuts_offset_probe(video):
    path, cut_times = video
    info = scoring.probe(path)
    assert info["video_codec"] == "h264" and info["audio_codec"] == "aac" and info["fps"] == 30.0
    assert info["width"] == 32 and info["pix_fmt"] == "yuv420p"
    assert scoring.av_offset_ms(path) == pytest.approx(0.0, abs=1e-6)
    truth = np.concatenate([cut_times, [1.8]])           # one beat without a cut
    s = scoring.score_cuts(path, truth, keyframes=np.array([15, 30, 45]))
    assert s["n_cuts"] == 3 and s["mean_abs_ms"] == pytest.approx(0.0, abs=1e-6)
    assert s["f"] == pytest.approx(2 * 3 / 7) and s["detected_of_scheduled"] == 1.0
    assert s["av_offset_ms"] == pytest.approx(0.0, abs=1e-6)


def test_bad_video(tmp_path):
    with pytest.raises(DataError, match="no such video"):
        scoring.probe(tmp_path / "none.mp4")
    (tmp_path / "bad.mp4").write_bytes(b"not a video" * 10)
    with pytest.raises(DataError, match="not a media file"):
        scoring.probe(tmp_path / "bad.mp4")
