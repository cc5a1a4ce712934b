import keras
import numpy as np
import pytest
import tensorflow as tf

from shared.stage import stage_parser
from shared.training import config_hash, fit, publish_runs, read_history, set_seed


def _model():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="tanh"), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    return model


class Kill(keras.callbacks.Callback):
    def __init__(self, at):
        super().__init__()
        self.at = at

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.at:
            raise KeyboardInterrupt


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3)).astype("float32")
    y = (x @ np.array([1.0, -2.0, 0.5], "float32"))[:, None]
    return x, y, tf.data.Dataset.from_tensor_slices((x, y)).batch(16)


def test_fit_resumes_after_kill_with_identical_result(tmp_path, data):
    _, _, ds = data
    set_seed(0)
    ref = _model()
    hist = fit(ref, ds, epochs=5, workdir=tmp_path / "ref", verbose=0)
    assert hist["epoch"] == [0, 1, 2, 3, 4]

    set_seed(0)
    model = _model()
    with pytest.raises(KeyboardInterrupt):
        fit(model, ds, epochs=5, workdir=tmp_path / "run", verbose=0, callbacks=[Kill(2)])
    assert (tmp_path / "run" / "backup").exists()
    set_seed(0)
    model = _model()
    resumed = fit(model, ds, epochs=5, workdir=tmp_path / "run", verbose=0)
    assert resumed["epoch"] == [0, 1, 2, 3, 4]  # the history spans the kill
    for a, b in zip(ref.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert not (tmp_path / "run" / "backup").exists()


def test_early_stopping_restores_best(tmp_path, data):
    x, y, ds = data
    set_seed(0)
    model = _model()
    # min_delta so large that no epoch after the first counts as an improvement: stop after 1 + patience
    hist = fit(model, ds, epochs=30, validation=(x, y), workdir=tmp_path, patience=2, min_delta=1e6, verbose=0)
    assert len(hist["epoch"]) == 3
    assert read_history(tmp_path)["val_loss"] == hist["val_loss"]


def test_config_hash_is_stable():
    assert config_hash({"a": 1}) == config_hash({"a": 1}) != config_hash({"a": 2})


def test_publish_runs_copies_done_runs_atomically_and_drops_work(tmp_path):
    work, out = tmp_path / "work" / "abc123", tmp_path / "model"
    for run in ("a", "b/seed0"):
        (work / "done" / run).mkdir(parents=True)
        (work / "done" / run / "weights.txt").write_text(run)
    (work / "progress").mkdir()
    out.mkdir()
    (out / "stale.txt").write_text("old model")
    publish_runs(work, ["a", "b/seed0"], out, {"runs": 2})
    assert (out / "b" / "seed0" / "weights.txt").read_text() == "b/seed0"
    assert not (out / "stale.txt").exists() and not work.exists()
    assert "runs" in (out / "summary.json").read_text()


def test_stage_parser_work_option():
    args = stage_parser("doc", inputs=("data",), outputs=("out",), work=True).parse_args(
        ["--params", "p.yaml", "--data", "d", "--out", "o", "--work", "w"])
    assert args.work == "w"
    with pytest.raises(SystemExit):
        stage_parser("doc", outputs=("out",), work=True).parse_args(["--params", "p.yaml", "--out", "o"])
