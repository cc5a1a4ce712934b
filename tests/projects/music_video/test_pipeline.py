"""`dvc repro` of the whole music_video pipeline on tiny params, in a temporary copy of the repo (once for the
module): data → train, train_style → render → evaluate → report; then what each stage wrote."""

import json

import numpy as np
import pytest

from projects.music_video import scoring

#: params for a pipeline that runs in seconds: two 4-second songs, 64 images of 16 px, one epoch per generator
TINY = {
    "data": {"songs": 2, "duration_s": 4.0, "image_count": 64, "image_size": 16},
    "train": {"model": {"latent_dim": 8, "filters": 4}, "vae_epochs": 1, "dcgan_epochs": 1, "batch_size": 32,
              "verbose": 0},
    "style": {"style_size": 16, "image_size": 16, "images": 32, "epochs": 1, "batch_size": 16, "verbose": 0,
              "net": {"filters": 2, "residual_blocks": 1}, "loss": {"filters": [4, 8]}},
    "render": {"size": 64},
    "evaluate": {"val_songs": 1, "val_duration_s": 4.0, "quality_samples": 16, "pca_components": [2, 4],
                 "bootstrap": 50, "effects_sizes": [32], "effects_frames": 2},
    "report": {"gif_seconds": 1.0, "gif_size": 32, "samples": 3},
}


@pytest.fixture(scope="module")
def pipeline(module_repo_copy):
    module_repo_copy.set_params("music_video", TINY)
    metrics = module_repo_copy.check_pipeline("music_video", "video_cut_f", report_bytes=20_000)
    root = module_repo_copy.root
    return {"metrics": metrics, "root": root, "prepared": root / "data" / "music_video" / "prepared",
            "model": root / "data" / "music_video" / "model", "render": root / "data" / "music_video" / "render"}


@pytest.mark.slow
def test_dvc_repro_on_tiny_params(pipeline):
    songs = json.loads((pipeline["prepared"] / "songs.json").read_text())
    assert len(songs) == 2
    assert sorted(p.name for p in pipeline["model"].iterdir()) == ["dcgan", "train.json", "vae"]
    info = json.loads((pipeline["render"] / "render.json").read_text())
    assert info["song"] == songs[0]["id"] and info["size"] == 64 and info["n_frames"] == round(4.0 * info["fps"])
    assert info["keyframes"] and info["baseline_keyframes"] and info["realtime_factor"] > 0
    meta = scoring.probe(pipeline["render"] / "song.mp4")
    assert (meta["video_codec"], meta["audio_codec"], meta["width"]) == ("h264", "aac", 64)
    assert np.load(pipeline["render"] / "analysis.npz")["chroma"].shape[0] == 12
    metrics = pipeline["metrics"]
    assert {"av_offset_ms", "render_realtime_factor", "video_cut_f"} <= set(metrics["targets"])
    assert {"vae", "dcgan", "pca_gaussian"} <= set(metrics["generator"])
    assert metrics["targets"]["av_offset_ms"]["met"]
    style = pipeline["root"] / "data" / "music_video" / "style"
    assert (style / "style_net.keras").is_file() and info["effects"] == []
    strip = np.load(pipeline["render"] / "effects.npz")
    assert {"plain", "style", "dream", "style_image"} <= set(strip.files) and strip["style"].shape[1] == 64
    sec = metrics["effects"]["seconds_per_frame"]
    assert set(sec) == {"style", "dream"} and all(v > 0 for row in sec.values() for v in row.values())
    assert metrics["effects"]["style_net"]["parameters"] > 0 and "style_at_64" in metrics["effects"]["realtime_factor"]
