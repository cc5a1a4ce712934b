"""The train stage: augmentation, one training step, the stage main on tiny volumes, resume after a kill, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from projects.rock_ct import train
from projects.rock_ct.model import ModelConfig
from shared.config import ConfigError, replace
from shared.io import DataError

TINY_MODEL = ModelConfig(widths=(4, 8), convs_per_level=1)
TINY = train.TrainConfig(model=TINY_MODEL, epochs=1, steps_per_epoch=2, batch_size=2, patch=16, val_patches=2,
                         verbose=0)


def write_phantom(folder, shape=(24, 24, 24), splits=("train", "val"), seed=0, **changes):
    """Tiny phantom groups ``<split>.zarr`` (image uint16, labels uint8, attrs voxel_size_um), as the generate stage
    writes them: three phases (0 vesicle dark, 1 glass, 2 crystal bright) from a blurred random field, plus noise."""
    import zarr
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    for split in splits:
        field = ndimage.gaussian_filter(rng.normal(size=shape), 1.5)
        labels = np.digitize(field, np.quantile(field, [0.25, 0.85])).astype(np.uint8)
        image = 8_000 + 10_000 * labels.astype(np.float64) + rng.normal(0, 1_500, shape)
        image = image.clip(0, 65535).astype(np.uint16)
        arrays = {"image": image, "labels": labels, **changes}
        group = zarr.open_group(str(folder / f"{split}.zarr"), mode="w")
        for name, value in arrays.items():
            group.create_array(name, data=value, chunks=value.shape)
        group.attrs["voxel_size_um"] = 5.0
    return folder


@pytest.fixture
def phantom_dir(tmp_path):
    return write_phantom(tmp_path / "phantom")


def test_rotate_flip_keeps_image_and_labels_together():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 5, 6)).astype(np.float32)
    y = (x > 0).astype(np.uint8)
    seen = set()
    for _ in range(40):
        xr, yr = train.rotate_flip(x, y, rng)
        assert sorted(xr.shape) == [4, 5, 6]
        np.testing.assert_array_equal(yr, (xr > 0).astype(np.uint8))
        seen.add(xr.shape)
    assert len(seen) > 3


def test_jitter_changes_intensity_not_shape():
    rng = np.random.default_rng(0)
    x = np.linspace(-1, 1, 1000, dtype=np.float32).reshape(10, 10, 10)
    out = train.jitter(x, TINY, rng)
    assert out.shape == x.shape and out.dtype == np.float32 and not np.allclose(out, x)
    assert np.corrcoef(out.ravel(), x.ravel())[0, 1] > 0.8


def test_batches_shapes_and_labels(phantom_dir):
    volumes = train.prepare_volumes(train.load_split(phantom_dir, "train"), TINY, "train")
    x, y = next(train.batches(volumes, TINY, seed=0))
    assert x.shape == (2, 16, 16, 16, 1) and x.dtype == np.float32
    assert y.shape == (2, 16, 16, 16) and y.dtype == np.uint8 and y.max() <= 2


def test_loss_is_low_for_the_right_answer():
    import keras

    loss = train.ce_dice_loss(3)
    y = np.random.default_rng(0).integers(0, 3, (1, 4, 4, 4))
    right = keras.ops.one_hot(y, 3) * 20.0
    wrong = keras.ops.one_hot((y + 1) % 3, 3) * 20.0
    assert float(loss(y, right)) < 0.01 < 2.0 < float(loss(y, wrong))


@pytest.mark.slow
def test_one_training_step_changes_the_weights(phantom_dir):
    from projects.rock_ct.model import build_model

    volumes = train.prepare_volumes(train.load_split(phantom_dir, "train"), TINY, "train")
    net = train.compile_model(build_model(TINY_MODEL), TINY)
    x, y = next(train.batches(volumes, TINY, seed=0))
    before = [w.numpy().copy() for w in net.trainable_weights]
    logs = net.train_on_batch(x, y, return_dict=True)
    assert np.isfinite(logs["loss"]) and 0 <= logs["dice"] <= 1
    assert any(not np.allclose(b, w.numpy()) for b, w in zip(before, net.trainable_weights))


@pytest.mark.slow
def test_killed_training_resumes(phantom_dir, tmp_path, caplog):
    """A run killed after epoch 1 of 3 resumes on the following batches and ends with the weights of an
    uninterrupted run on the same seed."""
    import keras

    from projects.rock_ct.model import load_model

    class Kill(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:  # after the backup of epoch 0
                raise KeyboardInterrupt

    cfg = replace(TINY, epochs=3, steps_per_epoch=1)
    train.train(cfg, phantom_dir, tmp_path / "ref_work", tmp_path / "reference")
    work = tmp_path / "work"
    with pytest.raises(KeyboardInterrupt):
        train.train(cfg, phantom_dir, work, tmp_path / "model", callbacks=[Kill()])
    assert any(work.rglob("backup"))
    assert not (tmp_path / "model").exists()  # nothing half-written
    caplog.set_level("INFO")
    train.train(cfg, phantom_dir, work, tmp_path / "model")
    assert "resuming the interrupted run" in caplog.text
    assert json.loads((tmp_path / "model" / "history.json").read_text())["epoch"] == [0, 1, 2]
    assert not any(work.iterdir())  # resumable state removed once the model is saved
    # the same losses epoch by epoch (the resumed epochs trained on the batches the killed run had not reached) ...
    ref_history = json.loads((tmp_path / "reference" / "history.json").read_text())
    history = json.loads((tmp_path / "model" / "history.json").read_text())
    for key in ("loss", "val_loss"):
        np.testing.assert_allclose(history[key], ref_history[key], rtol=1e-5)
    # ... and the same final weights
    reference = load_model(tmp_path / "reference" / "model.keras")
    resumed = load_model(tmp_path / "model" / "model.keras")
    for a, b in zip(reference.get_weights(), resumed.get_weights()):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("strategy", ["auto", "default", "mirrored", "multi_worker"])
def test_config_accepts_the_four_strategies(strategy):
    assert replace(TINY, strategy=strategy).strategy == strategy


@pytest.mark.parametrize("key, value", [("strategy", "tpu"), ("precision", "float8")])
def test_config_refuses_an_unknown_strategy_or_precision(tiny_params, key, value):
    path = tiny_params("rock_ct", {"train": {key: value}})
    with pytest.raises(ConfigError, match=f"{key} '{value}': use one of") as err:
        train.main(["--params", str(path), "--data", "x", "--work", "w", "--out", "o"])
    assert "\n" not in str(err.value)


@pytest.mark.slow
def test_training_under_a_mirrored_strategy_writes_the_model(phantom_dir, tmp_path):
    """strategy mirrored (one CPU replica here): the network is built in its scope and the stage writes the model."""
    final = train.train(replace(TINY, strategy="mirrored"), phantom_dir, tmp_path / "work", tmp_path / "model")
    assert np.isfinite(final["loss"]) and 0 <= final["dice"] <= 1
    assert (tmp_path / "model" / "model.keras").exists()
    info = json.loads((tmp_path / "model" / "train.json").read_text())
    assert info["config"]["strategy"] == "mirrored" and info["epochs_run"] == 1


def test_unknown_train_key_is_named(tiny_params):
    path = tiny_params("rock_ct", {"train": {"batchsize": 3}})
    with pytest.raises(ConfigError, match="'batchsize'"):
        train.main(["--params", str(path), "--data", "x", "--work", "w", "--out", "o"])


def test_patch_must_fit_the_divisor():
    with pytest.raises(ValueError, match="multiple"):
        train.TrainConfig(model=ModelConfig(widths=(4, 8, 16)), patch=18)


def test_bad_phantom_data_is_reported(tmp_path):
    with pytest.raises(DataError, match="not found"):
        train.train(TINY, tmp_path / "missing", tmp_path / "w", tmp_path / "o")
    other = write_phantom(tmp_path / "shape", labels=np.zeros((24, 24, 20), np.uint8))
    with pytest.raises(DataError, match="labels have shape"):
        train.train(TINY, other, tmp_path / "w", tmp_path / "o")
    high = write_phantom(tmp_path / "high", labels=np.full((24, 24, 24), 5, np.uint8))
    with pytest.raises(DataError, match="labels reach 5"):
        train.train(TINY, high, tmp_path / "w", tmp_path / "o")
    small = write_phantom(tmp_path / "small", shape=(12, 24, 24))
    with pytest.raises(DataError, match="smaller than the training patch"):
        train.train(TINY, small, tmp_path / "w", tmp_path / "o")
    assert not (tmp_path / "o").exists()
