import json

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


KILL_SCRIPT = '''
import sys, time
import keras, numpy as np, tensorflow as tf
from shared.training import fit, set_seed

class Slow(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        time.sleep(0.1)  # spreads the run so that a kill lands anywhere in it, mid-write included

set_seed(0)
rng = np.random.default_rng(0)
x = rng.normal(size=(64, 3)).astype("float32")
y = (x @ np.array([1.0, -2.0, 0.5], "float32"))[:, None]
model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="tanh"), keras.layers.Dense(1)])
model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
fit(model, tf.data.Dataset.from_tensor_slices((x, y)).batch(16), epochs=int(sys.argv[2]), workdir=sys.argv[1],
    verbose=0, restore_best=False, callbacks=[Slow()])
np.savez(sys.argv[3], *model.get_weights())
print("DONE", flush=True)
'''


@pytest.mark.slow
def test_fit_killed_with_sigkill_at_a_random_moment_resumes_to_the_same_weights(tmp_path):
    """kill -9 anywhere in a run (mid-epoch, mid-backup), then a rerun: the weights of an uninterrupted run."""
    import os
    import random
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": root, "TF_CPP_MIN_LOG_LEVEL": "3"}
    script = tmp_path / "run.py"
    script.write_text(KILL_SCRIPT)
    epochs = 16

    def start(work, out):
        return subprocess.Popen([sys.executable, str(script), str(work), str(epochs), str(out)], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    # the uninterrupted run, here: the script's own lines
    namespace = {"__name__": "reference"}
    saved_argv = sys.argv
    try:
        sys.argv = ["run.py", str(tmp_path / "ref"), str(epochs), str(tmp_path / "ref.npz")]
        exec(compile(KILL_SCRIPT.replace("time.sleep(0.1)", "pass"), "reference", "exec"), namespace)  # noqa: S102
    finally:
        sys.argv = saved_argv
    run = start(tmp_path / "work", tmp_path / "run.npz")
    backup = tmp_path / "work" / "backup"
    while not (backup / "state.json").exists() and run.poll() is None:  # training has started
        time.sleep(0.05)
    time.sleep(random.Random(os.environ.get("PYTEST_SEED", "5")).uniform(0.0, 0.1 * epochs / 2))
    run.send_signal(signal.SIGKILL)
    run.wait(timeout=60)
    killed_at = json.loads((backup / "state.json").read_text())["epoch"] if (backup / "state.json").exists() else 0
    assert killed_at < epochs, "the run finished before the kill: lengthen it"
    rerun = start(tmp_path / "work", tmp_path / "run.npz")
    assert "DONE" in rerun.communicate(timeout=300)[0]
    a, b = np.load(tmp_path / "ref.npz"), np.load(tmp_path / "run.npz")
    for key in a:
        np.testing.assert_allclose(a[key], b[key], rtol=1e-6, atol=1e-7)


def test_a_backup_that_does_not_read_falls_back_to_the_previous_epoch(tmp_path, data, caplog):
    _, _, ds = data
    set_seed(0)
    ref = _model()
    fit(ref, ds, epochs=4, workdir=tmp_path / "ref", verbose=0, restore_best=False)
    set_seed(0)
    model = _model()
    with pytest.raises(KeyboardInterrupt):
        fit(model, ds, epochs=4, workdir=tmp_path / "w", verbose=0, restore_best=False, callbacks=[Kill(2)])
    from shared.training import completed_epochs

    assert completed_epochs(tmp_path / "w") == 2
    newest = tmp_path / "w" / "backup" / "epoch-2.weights.h5"
    newest.write_bytes(newest.read_bytes()[:100])  # truncated
    caplog.set_level("INFO")
    set_seed(0)
    model = _model()
    hist = fit(model, ds, epochs=4, workdir=tmp_path / "w", verbose=0, restore_best=False)
    assert "does not read" in caplog.text and hist["epoch"] == [0, 1, 2, 3]
    for a, b in zip(ref.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_fit_reads_its_batches_from_a_data_service_named_in_the_environment(tmp_path, data, monkeypatch, caplog):
    from tensorflow.data.experimental.service import DispatchServer, WorkerConfig, WorkerServer

    from shared.config import ConfigError
    from shared.training import DATA_SERVICE_ENV

    _, _, ds = data
    dispatcher = DispatchServer()
    workers = [WorkerServer(WorkerConfig(dispatcher_address=dispatcher.target.split("://")[1])) for _ in range(2)]
    monkeypatch.setenv(DATA_SERVICE_ENV, dispatcher.target)
    set_seed(0)
    model = _model()
    before = [w.copy() for w in model.get_weights()]
    # parallel_epochs: each service worker makes the whole dataset, so an epoch of 4 steps reads 4 of its 8 batches
    with caplog.at_level("INFO", logger="shared.training"):
        history = fit(model, ds.repeat(), epochs=2, steps_per_epoch=4, workdir=tmp_path / "run", verbose=0)
    assert "tf.data service at grpc://" in caplog.text
    assert history["epoch"] == [0, 1] and np.isfinite(history["loss"]).all()
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    monkeypatch.setenv(DATA_SERVICE_ENV, "localhost:5050")
    with pytest.raises(ConfigError, match="grpc://host:port"):
        fit(_model(), ds, epochs=1, workdir=tmp_path / "bad", verbose=0)
    monkeypatch.setenv(DATA_SERVICE_ENV, dispatcher.target)
    x, y, _ = data
    with pytest.raises(ConfigError, match="in-memory arrays"):
        fit(_model(), x, epochs=1, workdir=tmp_path / "arrays", verbose=0)
    del workers


def test_fit_under_a_mirrored_strategy_builds_the_optimizer_in_its_scope(tmp_path, data):
    _, _, ds = data
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    with strategy.scope():
        model = _model()  # the optimizer's slots are made by fit, which must enter the model's scope for them
    history = fit(model, ds, epochs=2, workdir=tmp_path / "run", verbose=0, strategy=strategy)
    assert history["epoch"] == [0, 1] and np.isfinite(history["loss"]).all()
