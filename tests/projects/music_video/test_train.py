"""The train stage on a tiny image set: a killed run resumes at its last epoch; the published folder loads.
(The DCGAN branch of the stage runs in the pipeline test.)"""

import json

import keras
import numpy as np
import pytest

from projects.music_video import train
from projects.music_video.model import ModelConfig, load_generator
from shared.io import DataError, save_npz


def test_training_resumes_after_an_interruption(tmp_path, caplog):
    images = np.random.default_rng(0).integers(0, 256, (40, 8, 8, 3), dtype=np.uint8)
    save_npz(tmp_path / "prep" / "images.npz", images=images)

    class Kill(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:  # after the backup of epoch 0
                raise KeyboardInterrupt

    cfg = train.TrainConfig(models=("vae",), model=ModelConfig(latent_dim=4, filters=4), vae_epochs=3, batch_size=16,
                            verbose=0)
    work, out = tmp_path / "work", tmp_path / "model"
    with pytest.raises(KeyboardInterrupt):
        train.train(cfg, tmp_path / "prep", work, out, callbacks=[Kill()])
    assert any(p.name == "backup" for p in work.rglob("backup")) and not out.exists()
    caplog.set_level("INFO")
    summary = train.train(cfg, tmp_path / "prep", work, out)
    assert "resuming the interrupted run" in caplog.text
    history = json.loads((out / "vae" / "history.json").read_text())
    assert history["epoch"] == [0, 1, 2] and summary["runs"]["vae"]["epochs_run"] == 3
    info = json.loads((out / "train.json").read_text())
    assert info["render_model"] == "vae" and info["val_images"] == 4 and len(info["val_indices"]) == 4
    assert load_generator(out).kind == "vae" and sorted(p.name for p in out.iterdir()) == ["train.json", "vae"]
    assert not work.exists() or not any(work.iterdir())


def test_bad_images_and_config(tmp_path):
    save_npz(tmp_path / "images.npz", images=np.zeros((4, 10, 10, 3), np.uint8))
    with pytest.raises(DataError, match="multiple of 8"):
        train.load_images(tmp_path)
    with pytest.raises(DataError):
        train.load_images(tmp_path / "missing")
    with pytest.raises(ValueError, match="render_model"):
        train.TrainConfig(models=("dcgan",), render_model="vae")
    tr, va = train.split_indices(10, 0.2, 0)
    assert len(va) == 2 and sorted(np.r_[tr, va].tolist()) == list(range(10))


@pytest.mark.parametrize("strategy", ["auto", "default", "mirrored", "multi_worker"])
def test_config_accepts_the_four_strategies(strategy):
    assert train.TrainConfig(strategy=strategy).strategy == strategy


@pytest.mark.parametrize("key, value", [("strategy", "tpu"), ("precision", "float16")])
def test_config_rejects_an_unknown_strategy_or_precision_in_one_line(key, value):
    from shared.config import ConfigError

    with pytest.raises(ConfigError, match=key) as err:
        train.TrainConfig(**{key: value})
    assert "\n" not in str(err.value)


def test_multi_worker_without_a_cluster_is_a_config_error(tmp_path, monkeypatch):
    from shared.config import ConfigError

    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ConfigError, match="TF_CONFIG"):
        train.train(train.TrainConfig(strategy="multi_worker"), tmp_path, tmp_path / "w", tmp_path / "o")


@pytest.mark.slow
def test_mirrored_strategy_trains_both_generators_and_publishes_them(tmp_path):
    """Both custom train steps (the VAE's, the DCGAN's two optimizers) under MirroredStrategy (one CPU replica)."""
    images = np.random.default_rng(0).integers(0, 256, (40, 8, 8, 3), dtype=np.uint8)
    save_npz(tmp_path / "prep" / "images.npz", images=images)
    cfg = train.TrainConfig(model=ModelConfig(latent_dim=4, filters=4), vae_epochs=1, dcgan_epochs=1, batch_size=16,
                            verbose=0, strategy="mirrored")
    summary = train.train(cfg, tmp_path / "prep", tmp_path / "work", tmp_path / "model")
    assert summary["runs"]["vae"]["epochs_run"] == 1 and summary["runs"]["dcgan"]["epochs_run"] == 1
    assert np.isfinite(summary["runs"]["dcgan"]["final"]["g_loss"])
    for kind in ("vae", "dcgan"):
        frames = load_generator(tmp_path / "model", kind).decode(np.zeros((2, 4), np.float32))
        assert frames.shape == (2, 8, 8, 3) and frames.dtype == np.uint8


def test_per_replica_losses_and_noise_on_one_replica_are_unchanged():
    import keras
    import tensorflow as tf

    from projects.music_video.model import per_replica_loss, replica_normal

    loss = tf.constant(3.0)
    assert float(per_replica_loss(loss)) == 3.0
    a = replica_normal((3, 2), keras.random.SeedGenerator(5))
    b = keras.random.normal((3, 2), seed=keras.random.SeedGenerator(5))
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
