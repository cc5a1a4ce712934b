"""The train stage on tiny scenes: resume after a kill, main() and params (a whole training of both decoders runs in
test_pipeline.py)."""

import json

import keras
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


@pytest.mark.slow
def test_training_resumes_after_a_kill(prepared, tmp_path, caplog):
    class Kill(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:  # after the backup of epoch 0
                raise KeyboardInterrupt

    cfg = tiny_config(decoders=("lstm",), epochs=2)  # killed at the end of epoch 1, before its backup
    work = tmp_path / "work"
    with pytest.raises(KeyboardInterrupt):
        train.train(cfg, prepared, work, tmp_path / "model", callbacks=[Kill()])
    assert any(p.name == "backup" for p in work.rglob("backup"))
    assert not (tmp_path / "model").exists()  # nothing half-written
    caplog.set_level("INFO")
    train.train(cfg, prepared, work, tmp_path / "model")
    assert "resuming the interrupted run" in caplog.text
    history = json.loads((tmp_path / "model" / "lstm" / "history.json").read_text())
    assert history["epoch"] == [0, 1]
    assert not work.exists() or not any(work.iterdir())


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
