"""The train stage on tiny scenes: resume after a kill, main() and params (a whole training of both decoders runs in
test_pipeline.py)."""

import json

import keras
import numpy as np
import pytest

from projects.image_captioning import train
from projects.image_captioning.data import DataConfig, ScenesConfig, build
from projects.image_captioning.model import EncoderConfig, LSTMConfig, ModelConfig, TransformerConfig
from shared.config import ConfigError
from shared.io import DataError

TINY_MODEL = ModelConfig(encoder=EncoderConfig(widths=(8, 16), dim=16, blocks_per_stage=0),
                         transformer=TransformerConfig(dim=16, heads=2, layers=1, ff_dim=32),
                         lstm=LSTMConfig(embed_dim=16, units=16, attention_dim=8))


def tiny_config(**changes):
    return train.TrainConfig(**{"model": TINY_MODEL, "epochs": 1, "batch_size": 8, "seq_len": 12, "min_count": 1,
                                "verbose": 0, **changes})


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    out = tmp_path_factory.mktemp("prepared")
    build(DataConfig(size=32, scenes=ScenesConfig(count=30)), out)
    return out


def _weights(folder):
    from projects.image_captioning.decoding import load_captioner

    return load_captioner(folder).model.get_weights()


@pytest.mark.slow
def test_training_resumes_after_a_kill_to_the_weights_of_an_uninterrupted_run(prepared, tmp_path, caplog):
    class Kill(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:  # after the backup of epoch 0
                raise KeyboardInterrupt

    # no dropout: Keras keeps the dropout RNG state out of its weights files, so a resumed run draws other masks
    no_dropout = ModelConfig(encoder=EncoderConfig(widths=(8, 16), dim=16, blocks_per_stage=0, dropout=0.0),
                             transformer=TransformerConfig(dim=16, heads=2, layers=1, ff_dim=32, dropout=0.0))
    # killed at the end of epoch 1, before its backup
    cfg = tiny_config(decoders=("transformer",), epochs=2, model=no_dropout)
    train.train(cfg, prepared, tmp_path / "ref_work", tmp_path / "ref")
    work = tmp_path / "work"
    with pytest.raises(KeyboardInterrupt):
        train.train(cfg, prepared, work, tmp_path / "model", callbacks=[Kill()])
    assert any(p.name == "backup" for p in work.rglob("backup"))
    assert not (tmp_path / "model").exists()  # nothing half-written
    caplog.set_level("INFO")
    train.train(cfg, prepared, work, tmp_path / "model")
    assert "resuming the interrupted run" in caplog.text
    history = json.loads((tmp_path / "model" / "transformer" / "history.json").read_text())
    assert history["epoch"] == [0, 1]
    assert not work.exists() or not any(work.iterdir())
    # the resumed run goes on with the batches (and optimizer state) of the uninterrupted one
    for a, b in zip(_weights(tmp_path / "ref" / "transformer"), _weights(tmp_path / "model" / "transformer"),
                    strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_mirrored_strategy_trains_and_writes_the_captioner(prepared, tmp_path):
    from projects.image_captioning.decoding import load_captioner

    cfg = tiny_config(decoders=("transformer",), strategy="mirrored")
    summary = train.train(cfg, prepared, tmp_path / "work", tmp_path / "model")
    assert summary["runs"]["transformer"]["epochs_run"] == 1
    assert np.isfinite(summary["runs"]["transformer"]["best_val_loss"])
    captioner = load_captioner(tmp_path / "model" / "transformer")
    images = np.load(prepared / "images.npy")[:2]
    assert len(captioner.caption(images)) == 2
    assert (tmp_path / "model" / "summary.json").is_file()


@pytest.mark.parametrize("strategy", ["auto", "default", "mirrored", "multi_worker"])
def test_config_accepts_the_four_strategies(strategy):
    assert train.TrainConfig(strategy=strategy).strategy == strategy


@pytest.mark.parametrize("changes, word", [({"strategy": "tpu"}, "strategy"), ({"precision": "float16"}, "precision")])
def test_config_rejects_an_unknown_strategy_or_precision_in_one_line(changes, word):
    with pytest.raises(ConfigError, match=word) as err:
        train.TrainConfig(**changes)
    assert "\n" not in str(err.value)


def test_multi_worker_without_a_cluster_is_a_config_error(prepared, tmp_path, monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ConfigError, match="TF_CONFIG"):
        train.train(tiny_config(strategy="multi_worker"), prepared, tmp_path / "w", tmp_path / "m")


def test_config_and_input_errors(tmp_path, tiny_params, prepared):
    with pytest.raises(ValueError):
        train.TrainConfig(decoders=("gru",))
    with pytest.raises(ValueError):
        train.TrainConfig(epochs=0)
    params = tiny_params("image_captioning", {"train": {"epochs": 1, "no_such_key": 3}})
    with pytest.raises(ConfigError, match="no_such_key"):
        train.main(["--params", str(params), "--data", str(prepared), "--work", str(tmp_path / "w"),
                    "--out", str(tmp_path / "m")])
    with pytest.raises(DataError, match="images.npy"):
        train.train(tiny_config(), tmp_path / "nothing", tmp_path / "w", tmp_path / "m")
