"""The train stage: the variants design, batches, one training step, resume after a kill (finished variants
skipped) and the published model folder (the chosen variant, every variant, val predictions), bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from projects.cartoon_characters import train
from projects.cartoon_characters.model import ModelConfig
from shared.config import ConfigError, from_mapping, load_section, replace
from shared.io import DataError

#: train params for tests: a tiny network, 16-px frames, 2 variants, 2 steps, no final training (the pipeline
#: test trains one)
TINY_TRAIN = {"epochs": 1, "steps_per_epoch": 2, "batch_size": 8, "verbose": 0, "jit_compile": False, "final": None,
              "vary": {"head": ["gap"], "loss": [], "imbalance": []},
              "model": {"widths": [4, 8], "convs_per_stage": 1, "attention_dim": 8}}
TINY = from_mapping(train.TrainConfig, TINY_TRAIN)


def test_one_factor_at_a_time_variants():
    names = [v.name for v in train.variants(train.TrainConfig())]
    assert names == ["attention-asl-none", "gap-asl-none", "gmp-asl-none", "attention-bce-none",
                     "attention-focal-none", "attention-asl-class_weights", "attention-asl-oversample",
                     "attention-asl-undersample"]
    assert [v.name for v in train.variants(TINY)] == ["attention-asl-none", "gap-asl-none"]


def test_batches_draw_from_the_indices_with_flips(prepared_dir):
    split = train.load_prepared(prepared_dir, "train")
    gen = train.batches(split["images"], split["labels"], np.array([3, 5]), batch_size=4, flip=True, seed=0)
    x, y = next(gen)
    assert x.shape == (4, 16, 16, 3) and x.dtype == np.uint8 and y.dtype == np.float32
    for frame, labels in zip(x, y):
        i = next(i for i in (3, 5) if np.array_equal(frame, split["images"][i])
                 or np.array_equal(frame, split["images"][i][:, ::-1]))
        np.testing.assert_array_equal(labels, split["labels"][i])


def test_one_training_step_changes_the_weights(prepared_dir):
    split = train.load_prepared(prepared_dir, "train")
    net, _, _ = train.compile_variant(train.Variant(imbalance="class_weights"), TINY, split["labels"], 4, 16)
    x, y = next(train.batches(split["images"], split["labels"], np.arange(48), 8, True, 0))
    before = [w.numpy().copy() for w in net.trainable_weights]
    logs = net.train_on_batch(x, y, return_dict=True)
    assert np.isfinite(logs["loss"])
    assert any(not np.allclose(b, w.numpy()) for b, w in zip(before, net.trainable_weights))


@pytest.mark.slow
def test_killed_training_resumes_and_publishes_the_model_folder(tiny_params, prepared_dir, tmp_path, caplog):
    import keras

    from projects.cartoon_characters.predict import load_predictor, variant_names

    class Kill(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1 and self.model.name == "cartoon_gap":  # in the second variant, after epoch 0's backup
                raise KeyboardInterrupt

    # no dropout: Keras keeps the dropout RNG state out of its weights files, so a resumed run would draw other masks
    path = tiny_params("cartoon_characters", {"train": {**TINY_TRAIN, "epochs": 2, "steps_per_epoch": 1,
                                                        "model": {**TINY_TRAIN["model"], "dropout": 0.0}}})
    cfg = load_section(path, "train", train.TrainConfig)
    train.train(cfg, prepared_dir, tmp_path / "ref_work", tmp_path / "ref")  # the uninterrupted run
    work, out = tmp_path / "work", tmp_path / "model"
    with pytest.raises(KeyboardInterrupt):
        train.train(cfg, prepared_dir, work, out, callbacks=[Kill()])
    assert any(work.rglob("backup")) and any(work.rglob("done/record.json"))
    assert not out.exists()  # nothing half-written
    caplog.set_level("INFO")
    assert train.main(["--params", str(path), "--data", str(prepared_dir), "--work", str(work),
                       "--out", str(out)]) == 0
    assert "attention-asl-none: already trained" in caplog.text and "resuming the interrupted run" in caplog.text
    assert json.loads((out / "history.json").read_text())["gap-asl-none"]["epoch"] == [0, 1]
    assert not any(work.iterdir())  # resumable state removed once the model folder is published
    # the model folder
    table = json.loads((out / "variants.json").read_text())
    rows = {v["name"]: v for v in table["variants"]}
    assert list(rows) == variant_names(out) == ["attention-asl-none", "gap-asl-none"]
    best = max(rows.values(), key=lambda r: r["val_map"])
    assert table["chosen"] == best["name"] and best["chosen"] and 0 <= best["val_map"] <= 1
    assert all(r["steps"] == 2 and r["seconds"] > 0 and r["params"] > 0 for r in rows.values())
    val = np.load(out / "predictions" / "val.npz")
    assert val["logits"].shape == (24, 4) and val["logits"].dtype == np.float32 and val["labels"].shape == (24, 4)
    predictor = load_predictor(out)
    assert predictor.characters == ["red", "green", "blue", "rare"] and predictor.name == table["chosen"]
    frames = np.load(prepared_dir / "val.npz")["images"]
    np.testing.assert_allclose(predictor.logits(frames), val["logits"], rtol=1e-4, atol=1e-4)
    other = load_predictor(out, "gap-asl-none")
    assert other.logits(frames[:2]).shape == (2, 4) and other.num_params > 0
    with pytest.raises(DataError, match="unknown variant"):
        load_predictor(out, "nope")
    with pytest.raises(DataError, match="uint8"):
        predictor.logits(frames[:, :8, :8])
    # the resumed variant went on with the batches and optimizer state of the uninterrupted run
    for name in rows:
        ref = keras.saving.load_model(tmp_path / "ref" / "variants" / f"{name}.keras", compile=False)
        resumed = keras.saving.load_model(out / "variants" / f"{name}.keras", compile=False)
        for a, b in zip(ref.get_weights(), resumed.get_weights(), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_resumed_batches_continue_the_stream(prepared_dir):
    split = train.load_prepared(prepared_dir, "train")
    stream = train.batches(split["images"], split["labels"], np.arange(48), 8, True, 0)
    expected = [next(stream) for _ in range(9)][7:]
    resumed = train.batches(split["images"], split["labels"], np.arange(48), 8, True, 0, skip=7)
    for (x, y), (ex, ey) in zip([next(resumed), next(resumed)], expected):
        np.testing.assert_array_equal(x, ex)
        np.testing.assert_array_equal(y, ey)


@pytest.mark.parametrize("strategy", ["auto", "default", "mirrored", "multi_worker"])
def test_config_accepts_the_four_strategies(strategy):
    assert from_mapping(train.TrainConfig, {"strategy": strategy}).strategy == strategy


@pytest.mark.parametrize("key, value", [("strategy", "parameter_server"), ("precision", "float16")])
def test_config_rejects_an_unknown_strategy_or_precision_in_one_line(key, value):
    with pytest.raises(ConfigError, match=key) as err:
        train.TrainConfig(**{key: value})
    assert "\n" not in str(err.value)


def test_multi_worker_without_a_cluster_is_a_config_error(prepared_dir, tmp_path, monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ConfigError, match="TF_CONFIG"):
        train.train(replace(TINY, strategy="multi_worker"), prepared_dir, tmp_path / "w",
                    tmp_path / "o")


@pytest.mark.slow
def test_mirrored_strategy_trains_and_publishes_the_model_folder(prepared_dir, tmp_path):
    from projects.cartoon_characters.predict import load_predictor

    cfg = replace(TINY, strategy="mirrored", vary=train.Vary(head=(), loss=(), imbalance=()))
    table = train.train(cfg, prepared_dir, tmp_path / "work", tmp_path / "model")
    assert table["chosen"] == "attention-asl-none"
    assert load_predictor(tmp_path / "model").logits(np.load(prepared_dir / "val.npz")["images"][:2]).shape == (2, 4)
    assert (tmp_path / "model" / "predictions" / "val.npz").is_file()


@pytest.mark.slow
def test_two_workers_on_loopback_train_and_the_chief_publishes(tiny_params, prepared_dir, tmp_path, loopback_cluster):
    """The train stage's command in two processes, a cluster in TF_CONFIG (multi_worker): the chief (worker 0)
    writes the model folder, the other worker nothing."""

    from projects.cartoon_characters.predict import load_predictor

    path = tiny_params("cartoon_characters", {"train": {**TINY_TRAIN, "strategy": "multi_worker", "batch_size": 4,
                                                        "vary": {"head": [], "loss": [], "imbalance": []}}})
    loopback_cluster().run(lambda i: ["-m", "projects.cartoon_characters.train", "--params", str(path), "--data",
                                      str(prepared_dir), "--work", str(tmp_path / "work"),
                                      "--out", str(tmp_path / f"model{i}")], timeout=240)
    assert not (tmp_path / "model1").exists()  # the worker writes nothing
    table = json.loads((tmp_path / "model0" / "variants.json").read_text())
    assert table["chosen"] == "attention-asl-none" and table["variants"][0]["steps"] == 2
    frames = np.load(prepared_dir / "val.npz")["images"]
    assert load_predictor(tmp_path / "model0").logits(frames[:2]).shape == (2, 4)


def test_unknown_key_and_bad_data_are_named(tiny_params, tmp_path, prepared_dir):
    path = tiny_params("cartoon_characters", {"train": {"batchsize": 3}})
    with pytest.raises(ConfigError, match="'batchsize'"):
        train.main(["--params", str(path), "--data", "x", "--work", "w", "--out", "o"])
    with pytest.raises(ConfigError, match="head"):
        from_mapping(train.TrainConfig, {"base": {"head": "avg"}})
    with pytest.raises(DataError, match="not found"):
        train.train(TINY, tmp_path / "missing", tmp_path / "w", tmp_path / "o")
    arrays = dict(np.load(prepared_dir / "val.npz"))
    np.savez(prepared_dir / "val.npz", **{**arrays, "labels": arrays["labels"] * 2})
    with pytest.raises(DataError, match="0/1"):
        train.train(TINY, prepared_dir, tmp_path / "w", tmp_path / "o")
    assert not (tmp_path / "o").exists()
    assert ModelConfig().feature_size == 8
