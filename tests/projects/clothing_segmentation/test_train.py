"""The train stage: one iterative training step, the stage main on tiny params, resume after a kill, bad input."""

import json

import keras
import numpy as np
import pytest

from projects.clothing_segmentation import train
from shared.config import ConfigError
from shared.io import DataError, save_npz, write_json


@pytest.mark.slow
def test_one_iterative_training_step_changes_the_weights(tiny_prepared, tiny_train_config):
    from projects.clothing_segmentation.model import build_model
    from shared.config import replace

    cfg = tiny_train_config
    data = train.load_instances(tiny_prepared, "train")
    net = build_model(replace(cfg.model, n_classes=12))
    trainer = train.build_trainer(net, cfg, size=32)
    batch = next(iter(train.make_dataset(data, cfg, training=True)))
    assert tuple(batch["image"].shape) == (4, 32, 32, 3) and tuple(batch["mask"].shape) == (4, 32, 32)
    before = [w.numpy().copy() for w in net.trainable_weights]
    logs = trainer.train_step(batch)
    assert np.isfinite(float(logs["loss"])) and 1 <= float(logs["clicks"]) <= 1 + cfg.max_extra_clicks
    assert any(not np.allclose(b, w.numpy()) for b, w in zip(before, net.trainable_weights))
    logs = trainer.test_step(batch)  # validation replays 1 + max_extra_clicks clicks
    assert 0 <= float(logs["iou_1"]) <= 1 and float(logs["clicks"]) <= 1 + cfg.max_extra_clicks


def test_zoom_crop_keeps_the_object():
    import tensorflow as tf

    image = np.zeros((32, 32, 3), np.float32)
    mask = np.zeros((32, 32), np.uint8)
    mask[20:24, 4:10] = 1
    tf.random.set_seed(0)
    crop_image, crop_mask = train._zoom_crop(tf.constant(image), tf.constant(mask), 32, (1.4, 2.0))
    assert crop_image.shape == (32, 32, 3)
    assert 4 * 6 < int(tf.reduce_sum(tf.cast(crop_mask, tf.int32))) < 32 * 32  # enlarged, still inside


@pytest.mark.slow
def test_killed_training_resumes(tiny_prepared, tiny_train_config, tmp_path, caplog):
    from shared.config import replace

    class Kill(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:  # after the backup of epoch 0
                raise KeyboardInterrupt

    cfg = replace(tiny_train_config, epochs=3, steps_per_epoch=1)
    work = tmp_path / "work"
    with pytest.raises(KeyboardInterrupt):
        train.train(cfg, tiny_prepared, work, tmp_path / "model", callbacks=[Kill()])
    assert any(work.rglob("backup"))
    assert not (tmp_path / "model").exists()  # nothing half-written
    caplog.set_level("INFO")
    train.train(cfg, tiny_prepared, work, tmp_path / "model")
    assert "resuming the interrupted run" in caplog.text
    assert json.loads((tmp_path / "model" / "history.json").read_text())["epoch"] == [0, 1, 2]
    assert not any(work.iterdir())  # resumable state removed once the model is saved


@pytest.mark.parametrize("strategy", ["auto", "default", "mirrored", "multi_worker"])
def test_config_accepts_the_four_strategies(strategy):
    assert train.TrainConfig(strategy=strategy).strategy == strategy


@pytest.mark.parametrize("key, value", [("strategy", "tpu"), ("precision", "float8")])
def test_config_refuses_an_unknown_strategy_or_precision(tiny_params, key, value):
    path = tiny_params("clothing_segmentation", {"train": {key: value}})
    with pytest.raises(ConfigError, match=f"{key} '{value}': use one of") as err:
        train.main(["--params", str(path), "--data", "x", "--work", "w", "--out", "o"])
    assert "\n" not in str(err.value)


@pytest.mark.slow
def test_training_under_a_mirrored_strategy_writes_the_model(tiny_prepared, tiny_train_config, tmp_path):
    """strategy mirrored (one CPU replica here): the trainer is built in its scope and the stage writes the model."""
    from shared.config import replace

    final = train.train(replace(tiny_train_config, strategy="mirrored", epochs=1), tiny_prepared, tmp_path / "work",
                        tmp_path / "model")
    assert 0 <= final["iou"] <= 1
    assert (tmp_path / "model" / "model.keras").exists()
    info = json.loads((tmp_path / "model" / "train.json").read_text())
    assert info["config"]["strategy"] == "mirrored" and info["epochs_run"] == 1


def test_unknown_train_key_is_named(tiny_params):
    path = tiny_params("clothing_segmentation", {"train": {"max_extra_click": 3}})
    with pytest.raises(ConfigError, match="'max_extra_click'"):
        train.main(["--params", str(path), "--data", "x", "--work", "w", "--out", "o"])


def test_bad_prepared_data_is_reported(tmp_path, tiny_prepared, tiny_train_config, make_split):
    def prepared(name, size=32, **changes):
        folder = tmp_path / name
        folder.mkdir()
        for split in ("train", "val"):
            arrays = make_split(4, size, 0)
            arrays.update(changes)
            save_npz(folder / f"{split}.npz", **arrays)
        write_json(folder / "meta.json", {"classes": ["background", "skin_hair", "top", "outerwear", "dress",
                                                      "skirt"]})
        return folder

    def run(folder):
        train.train(tiny_train_config, folder, tmp_path / "work", tmp_path / "out")

    with pytest.raises(DataError, match="multiple of 4"):
        run(prepared("odd", size=30))
    with pytest.raises(DataError, match="labels reach 9"):
        run(prepared("labels", labels=np.array([9, 2, 3, 4, 5, 2], np.int32)))
    with pytest.raises(DataError, match="masks"):
        run(prepared("masks", masks=np.zeros((6, 16, 16), np.uint8)))
    with pytest.raises(DataError, match="outside the 4 images"):
        run(prepared("index", image_index=np.array([0, 1, 7, 2, 3, 3], np.int32)))
    with pytest.raises(DataError, match="no instance with a non-empty mask"):
        run(prepared("empty", masks=np.zeros((6, 32, 32), np.uint8)))
    folder = prepared("nometa")
    (folder / "meta.json").unlink()
    with pytest.raises(DataError, match="meta.json"):
        run(folder)
    assert not (tmp_path / "out").exists()
