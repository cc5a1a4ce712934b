"""The evaluate stage on tiny prepared songs, a small rendered MP4 and stub generators (trained ones are tested
by B's tests)."""

import json

import numpy as np
import pytest
import soundfile as sf

from projects.music_video import evaluate
from projects.music_video.analysis import AnalysisConfig
from projects.music_video.data import DataConfig, build
from shared.metrics import validate_headline


class StubGenerator:
    latent_dim, size = 4, 8

    def __init__(self, kind):
        self.kind = kind

    def decode(self, z):
        level = np.clip(128 + 40 * z[:, :1], 0, 255).astype(np.uint8)
        return np.broadcast_to(level[:, :, None, None], (len(z), 8, 8, 3)).copy()

    def reconstruct(self, images):
        return images


class StubModel:
    @staticmethod
    def load_generator(model_dir, kind=None):
        return StubGenerator(kind)


class StubQuality:
    @staticmethod
    def score(samples, reference, seed=0):
        return {"mmd": float(abs(samples.mean() - reference.mean()) / 255)}

    @staticmethod
    def pca_gaussian_sampler(images, k, seed=0):
        def sample(n):
            return np.full((n, *images.shape[1:]), int(images.mean()) + 32 // k, np.uint8)
        return sample


def _video(path, wav, fps, n, cuts):
    import imageio_ffmpeg

    w = imageio_ffmpeg.write_frames(str(path), (32, 32), fps=fps, codec="libx264", pix_fmt_out="yuv420p",
                                    audio_path=str(wav), audio_codec="aac", macro_block_size=16,
                                    output_params=["-shortest"])
    w.send(None)
    level = 40
    for k in range(n):
        if k in cuts:
            level = 240 - level
        w.send(np.full((32, 32, 3), level, np.uint8).tobytes())
    w.close()


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval")
    prepared = root / "prepared"
    build(DataConfig(songs=2, duration_s=3.0, bpm_min=90.0, bpm_max=150.0, image_count=40, image_size=8,
                     image_sources=("abstract",)), prepared)
    songs = json.loads((prepared / "songs.json").read_text())
    render = root / "render"
    render.mkdir()
    fps, song = 30, songs[0]
    n = int(song["duration_s"] * fps)
    good = [int(np.floor(b * fps + 0.5)) for b in song["beats_s"]]
    bad = [int(b * fps) + 4 for b in song["beats_s"]]            # 100-133 ms late at 30 fps
    _video(render / "song.mp4", prepared / song["file"], fps, n, set(good))
    _video(render / "baseline.mp4", prepared / song["file"], fps, n, set(bad))
    (render / "render.json").write_text(json.dumps({"song": song["id"], "fps": fps, "size": 32, "duration_s": 3.0,
                                                    "render_s": 1.5, "realtime_factor": 0.5, "keyframes": good,
                                                    "baseline_keyframes": bad}))
    model = root / "model"
    model.mkdir()
    (model / "train.json").write_text(json.dumps({"models": ["vae", "dcgan"], "val_indices": list(range(20, 40))}))
    return prepared, model, render, songs


@pytest.mark.slow
def test_evaluate_tables_headline_targets(inputs, tmp_path):
    prepared, model, render, songs = inputs
    cfg = evaluate.EvaluateConfig(analysis=AnalysisConfig(), trackers=("librosa", "project", "madmom"), val_songs=2,
                                  val_duration_s=3.0, bootstrap=100, quality_samples=16, pca_components=(2, 4),
                                  stress_songs=2, stress_duration_s=5.0)
    m = evaluate.evaluate(cfg, prepared, model, render, tmp_path, model_mod=StubModel, quality_mod=StubQuality)
    validate_headline(m["headline"])
    assert set(m["trackers"]) == {"librosa", "project"}                 # madmom does not import here
    assert m["trackers_skipped"] == ["madmom"]
    assert m["trackers"]["project"]["songs"] == 2
    assert 0 <= m["trackers"]["project"]["downbeat_f_mean"] <= 1 and "downbeat_f_mean" not in m["trackers"]["librosa"]
    assert set(m["cuts"]) == {f"{t}/{s}" for t in ("librosa", "project") for s in ("nearest", "truncated")}
    assert m["baseline_choice"]["schedule"] in ("nearest", "truncated")
    # the rendered videos: the cuts on the nearest frames score; the late ones do not
    assert m["render"]["project"]["f"] == 1.0 and m["render"]["project"]["mean_abs_ms"] <= 1000 / 60
    assert m["render"]["baseline"]["f"] == 0.0
    assert m["targets"]["av_offset_ms"]["met"] and m["targets"]["render_realtime_factor"]["met"]
    assert m["targets"]["video_cut_f"]["met"]
    for key in ("cut_f_worst_song", "cut_mean_abs_ms_worst_song", "tempo_octave_correct"):
        assert set(m["targets"][key]) >= {"value", "target", "met"}
    gen = m["generator"]
    assert gen["pca_gaussian"]["components"] in (2, 4) and gen["vae"]["reconstruction_mse"] == 0.0
    assert len(m["headline"]["also"]) == 1 + 1 + 1 + 2   # worst song, tempo changes, rendered video, generators
    change = m["tempo_change"]["trackers"]["project"]
    assert change["songs"] == 2 and change["ramp_songs"] == 2 and 0 <= change["f_worst_ramp"] <= 1
    assert 0 <= m["trackers"]["project"]["meter_accuracy"] <= 1 and "meter_accuracy" in change
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["headline"]["model_value"] == pytest.approx(m["headline"]["model_value"], abs=1e-5)
    rows = (tmp_path / "trackers.csv").read_text().splitlines()
    assert len(rows) == 1 + 2 * 2 + 2 * 2 and (tmp_path / "cuts.csv").is_file()   # scored + tempo-change songs


def test_unlabelled_songs_and_missing_render(tmp_path):
    prepared = tmp_path / "prepared"
    (prepared / "songs").mkdir(parents=True)
    sf.write(prepared / "songs" / "mine.wav", np.zeros(22050, np.float32), 22050)
    (prepared / "songs.json").write_text(json.dumps([{"id": "mine", "file": "songs/mine.wav", "beats_s": None,
                                                      "duration_s": 1.0}]))
    m = evaluate.evaluate(evaluate.EvaluateConfig(trackers=("librosa",), stress_songs=0), prepared, tmp_path / "model",
                          tmp_path / "render", tmp_path / "out")
    assert "headline" not in m and m["targets"] == {} and m["protocol"]["labelled_songs"] == 0
