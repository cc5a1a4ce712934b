"""Frame effects on tiny shapes: the style network's training step and safe-mode round trip, DeepDream raising its
layer's activation, renders with effects, the train_style stage (and its resume), and the one-line errors."""

import argparse
import json

import keras
import numpy as np
import pytest

from projects.music_video import cli, effects, latent, scoring, train_style, video
from projects.music_video.model import ModelConfig, build_model, save_generator
from projects.music_video.render import RenderConfig
from shared.io import DataError, save_npz

TINY_NET = effects.StyleNetConfig(filters=2, residual_blocks=1)
TINY_LOSS = effects.StyleLossConfig(filters=(4, 8))


def _frames(n=2, size=16, seed=0):
    """Smooth random colour frames, float32 (n, size, size, 3) in [0, 1]."""
    rng = np.random.default_rng(seed)
    small = rng.random((n, 4, 4, 3)).astype(np.float32)
    return effects.resize_frames(small, size)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("model")
    save_generator(build_model(ModelConfig(latent_dim=4, filters=4), "vae", 8), "vae", 8, 4, out / "vae")
    (out / "train.json").write_text(json.dumps({"models": ["vae"], "render_model": "vae"}))
    return out


@pytest.fixture(scope="module")
def style_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("style")
    effects.save_style_net(effects.build_style_net(TINY_NET), out, {"parameters": 1})
    return out


@pytest.mark.slow
def test_one_training_step_of_the_style_net_is_finite_and_moves_the_weights():
    net, loss_net = effects.build_style_net(TINY_NET), effects.build_loss_net(TINY_LOSS)
    style = effects.style_image("", 16, seed=1)
    grams = [np.asarray(effects.gram(f))[0] for f in loss_net(style[None])]
    assert [g.shape for g in grams] == [(4, 4), (8, 8)]
    trainer = effects.StyleTrainer(net, loss_net, grams, TINY_LOSS)
    trainer.compile(optimizer=keras.optimizers.Adam(1e-2))
    images = np.random.default_rng(0).integers(0, 256, (4, 16, 16, 3), dtype=np.uint8)
    before = [w.copy() for w in net.get_weights()]
    logs = trainer.train_on_batch(images, return_dict=True)
    assert set(logs) >= {"loss", "content", "style", "tv"} and all(np.isfinite(v) for v in logs.values())
    assert any(not np.allclose(a, b) for a, b in zip(before, net.get_weights(), strict=True))
    assert not loss_net.trainable_weights  # the random loss network stays fixed


def test_style_net_round_trips_through_get_config_and_safe_mode(style_dir):
    x = _frames(2, 16)
    loaded = effects.load_style_net(style_dir)
    y = loaded.apply(x)
    assert y.shape == x.shape and y.dtype == np.float32 and y.min() >= 0 and y.max() <= 1
    again = effects.load_style_net(style_dir).apply(x)
    np.testing.assert_allclose(y, again, atol=1e-6)
    norm = next(layer for layer in loaded.model.layers if type(layer).__name__ == "InstanceNorm")
    assert norm.get_config()["epsilon"] == pytest.approx(1e-5)
    np.testing.assert_allclose(loaded.apply(x, strength=0.0), x, atol=1e-6)
    assert effects.build_style_net(TINY_NET)(_frames(1, 24)).shape == (1, 24, 24, 3)  # any even size


def test_deep_dream_raises_the_layer_activation_and_keeps_shape_dtype_range():
    encoder = build_model(ModelConfig(latent_dim=4, filters=4), "vae", 16).encoder
    features = effects.dream_network(encoder, 2)
    x = _frames(2, 32)
    cfg = effects.DreamConfig(octaves=2, steps=4, step_size=0.05, jitter=2, seed=3)
    y = effects.deep_dream(x, features, cfg)
    assert y.shape == x.shape and y.dtype == np.float32 and y.min() >= 0 and y.max() <= 1

    def act(img):
        return float(np.mean(np.square(np.asarray(features(img)))))

    assert act(y) > act(x)
    np.testing.assert_allclose(effects.deep_dream(x, features, cfg), y, atol=1e-5)  # deterministic for a seed
    half = effects.deep_dream(x, features, effects.DreamConfig(octaves=2, steps=4, step_size=0.05, jitter=2,
                                                               seed=3, strength=0.0))
    np.testing.assert_allclose(half, x, atol=1e-6)
    with pytest.raises(DataError, match="layer 5"):
        effects.dream_network(encoder, 5)


def test_a_render_with_style_and_dream_has_the_right_frame_count(model_dir, style_dir, tmp_path):
    from projects.music_video.audio import write_wav
    from projects.music_video.model import load_generator

    sr, dur = 22050, 1.0
    path = write_wav(tmp_path / "s.wav", np.zeros(int(sr * dur), np.float32), sr)
    times = np.arange(0, dur, 512 / sr)
    from types import SimpleNamespace

    analysis = SimpleNamespace(duration_s=dur, beats_s=np.array([0.25, 0.75]), downbeats_s=np.array([0.25]),
                               sections_s=np.array([0.0]), times_s=times, onsets_s=np.array([0.25, 0.75]),
                               onset_strength=np.ones(2), harmonic_rms=np.full(len(times), 0.5),
                               chroma=np.full((12, len(times)), 0.1))
    fx = effects.load_effects(["style", "dream"], 16, model_dir=model_dir, style_dir=style_dir,
                              dream_cfg=effects.DreamConfig(octaves=1, steps=1))
    info = video.render_song(analysis, path, tmp_path / "v.mp4", load_generator(model_dir), fps=10, size=32,
                             latent_cfg=latent.config_for("energetic"), seed=0, effect=fx)
    assert info["n_frames"] == 10
    import imageio_ffmpeg

    assert imageio_ffmpeg.count_frames_and_secs(str(tmp_path / "v.mp4"))[0] == 10
    assert scoring.probe(tmp_path / "v.mp4")["width"] == 32


def test_one_line_errors_missing_network_unknown_effect_bad_style_image(tmp_path, model_dir):
    with pytest.raises(DataError, match="train_style") as info:
        effects.load_effects(["style"], 32, style_dir=tmp_path / "nowhere")
    assert "\n" not in str(info.value)
    with pytest.raises(ValueError, match="unknown effect 'sparkle'") as info:
        effects.load_effects(["sparkle"], 32)
    assert "\n" not in str(info.value)
    with pytest.raises(ValueError, match="sparkle"):
        RenderConfig(effects=("sparkle",))
    (tmp_path / "painting.png").write_text("not an image")
    with pytest.raises(DataError, match="style image") as info:
        effects.style_image(str(tmp_path / "painting.png"), 32)
    assert "\n" not in str(info.value)
    with pytest.raises(DataError, match="style image"):
        effects.style_image(str(tmp_path / "missing.jpg"), 32)
    with pytest.raises(DataError, match="dream"):
        effects.load_effects(["dream"], 32, model_dir=tmp_path)


def test_cli_effect_errors_are_one_line_before_any_work(model_dir, tmp_path, caplog):
    song = tmp_path / "never_read.wav"
    parser = argparse.ArgumentParser()
    cli.register(parser)
    cases = [(["--effect", "sparkle"], "--effect must be one of"),
             (["--effect", "style", "--style-model", str(tmp_path / "none")], "train_style"),
             (["--effect", "dream", "--effect-size", "15"], "--effect-size")]
    for extra, match in cases:
        args = parser.parse_args(["make", str(song), str(tmp_path / "a.mp4"), "--model", str(model_dir), *extra])
        with pytest.raises(DataError, match=match) as info:
            args.func(args)
        assert "\n" not in str(info.value)
    assert "decoding" not in caplog.text


def test_style_image_default_and_user_file(tmp_path):
    from shared.io import write_image

    a = effects.style_image("", 32, seed=7)
    assert a.shape == (32, 32, 3) and a.dtype == np.float32 and np.array_equal(a, effects.style_image("", 32, 7))
    grey = (np.arange(40 * 60).reshape(40, 60) % 256).astype(np.uint8)
    write_image(tmp_path / "g.png", grey)
    b = effects.style_image(str(tmp_path / "g.png"), 16)
    assert b.shape == (16, 16, 3) and np.allclose(b[..., 0], b[..., 1])


def _tiny_cfg(**kw):
    return train_style.StyleConfig(style_size=16, image_size=16, images=24, net=TINY_NET, loss=TINY_LOSS,
                                   batch_size=8, verbose=0, **kw)


@pytest.mark.slow
def test_train_style_main_on_tiny_params_and_resume_after_a_kill(tmp_path, caplog):
    images = np.random.default_rng(0).integers(0, 256, (30, 8, 8, 3), dtype=np.uint8)
    save_npz(tmp_path / "prep" / "images.npz", images=images)

    class Kill(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:  # after the backup of epoch 0
                raise KeyboardInterrupt

    cfg = _tiny_cfg(epochs=3)
    work, out = tmp_path / "work", tmp_path / "style"
    with pytest.raises(KeyboardInterrupt):
        train_style.train_style(cfg, tmp_path / "prep", work, out, callbacks=[Kill()])
    assert any(p.name == "backup" for p in work.rglob("backup")) and not out.exists()
    caplog.set_level("INFO")
    meta = train_style.train_style(cfg, tmp_path / "prep", work, out)
    assert "resuming the interrupted run" in caplog.text
    assert json.loads((out / "history.json").read_text())["epoch"] == [0, 1, 2] and meta["epochs_run"] == 3
    assert sorted(p.name for p in out.iterdir()) == ["history.json", "style.json", "style_image.npz",
                                                    "style_net.keras"]
    assert effects.load_style_net(out).apply(_frames(1, 16)).shape == (1, 16, 16, 3)
    # the stage's main() on a params file
    params = tmp_path / "params.yaml"
    params.write_text("style:\n  style_size: 16\n  image_size: 16\n  images: 24\n  epochs: 1\n  batch_size: 8\n"
                      "  verbose: 0\n  net: {filters: 2, residual_blocks: 1}\n  loss: {filters: [4, 8]}\n")
    assert train_style.main(["--params", str(params), "--data", str(tmp_path / "prep"), "--work",
                             str(tmp_path / "w2"), "--out", str(tmp_path / "s2")]) == 0
    assert json.loads((tmp_path / "s2" / "style.json").read_text())["epochs_run"] == 1


def test_train_style_config_and_data_errors(tmp_path):
    with pytest.raises(ValueError, match="image_size"):
        train_style.StyleConfig(image_size=15)
    with pytest.raises(DataError):
        train_style.content_images(tmp_path / "missing", _tiny_cfg())
