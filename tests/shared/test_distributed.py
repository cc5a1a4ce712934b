"""shared.distributed: configuration checks, the custom loop on one device (resume, truncated checkpoint, best
epoch), the tf.data service, and two worker processes on loopback ports against a single-process run."""

import importlib.util
import json
import os
import random
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from shared.config import ConfigError
from shared.distributed import (
    DistributeConfig,
    distributed_fit,
    global_batch_size,
    is_chief,
    make_strategy,
    scaled_learning_rate,
    tf_config,
    through_data_service,
    worker_id,
)

HERE = Path(__file__).parent
_spec = importlib.util.spec_from_file_location("mw_worker", HERE / "mw_worker.py")
mw_worker = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mw_worker)


def _cluster(n, ports, index, kind="worker", chief=False):
    cluster = {"worker": [f"localhost:{p}" for p in ports[:n]]}
    if chief:
        cluster["chief"] = ["localhost:1"]
    return {"TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": kind, "index": index}})}


def test_config_and_cluster_checks():
    assert DistributeConfig().strategy == "auto"
    for bad in ({"strategy": "horovod"}, {"precision": "float16"}, {"data_service": "localhost:5000"}):
        with pytest.raises(ConfigError):
            DistributeConfig(**bad)
    assert tf_config({}) is None and is_chief({}) and worker_id({}) == "chief"
    assert is_chief(_cluster(2, [1, 2], 0)) and not is_chief(_cluster(2, [1, 2], 1))
    assert worker_id(_cluster(2, [1, 2], 1)) == "worker-1"
    assert not is_chief(_cluster(2, [1, 2], 0, chief=True)) and is_chief(_cluster(2, [1, 2], 0, "chief", True))
    for raw in ("{not json", json.dumps({"task": {}}), json.dumps({"cluster": {"worker": ["a:1"]},
                                                                   "task": {"type": "worker", "index": 3}})):
        with pytest.raises(ConfigError):
            tf_config({"TF_CONFIG": raw})
    with pytest.raises(ConfigError, match="TF_CONFIG"):
        if "TF_CONFIG" in os.environ:
            raise ConfigError("TF_CONFIG set in the environment of the test")
        make_strategy("multi_worker")
    with pytest.raises(ConfigError):
        make_strategy("tpu")
    assert global_batch_size(8, tf.distribute.get_strategy()) == 8
    assert scaled_learning_rate(0.1, 256, 1024) == pytest.approx(0.4)
    with pytest.raises(ValueError):
        scaled_learning_rate(0.1, 0, 8)


def _fit(workdir, **kwargs):
    strategy = tf.distribute.get_strategy()
    net = mw_worker.model(strategy)
    history = distributed_fit(net, mw_worker.dataset(), strategy=strategy, epochs=mw_worker.EPOCHS,
                              steps_per_epoch=mw_worker.STEPS, workdir=workdir, verbose=False, **kwargs)
    return net, history


class Killed(Exception):
    pass


def test_resume_after_a_kill_and_from_a_truncated_checkpoint_gives_the_same_weights(tmp_path, caplog):
    ref, history = _fit(tmp_path / "ref", restore_best=False)
    assert history["epoch"] == [0, 1, 2, 3] and history["loss"][-1] < history["loss"][0]
    assert {"loss", "mae"} <= set(history)

    def kill_after(n):
        def hook(epoch, logs):
            if epoch + 1 == n:
                raise Killed
        return hook

    work = tmp_path / "work"
    with pytest.raises(Killed):
        _fit(work, restore_best=False, on_epoch_end=kill_after(3))
    # the newest checkpoint is damaged (a crash while it was written): training falls back to the one before
    data = sorted((work / "checkpoints").glob("epoch-3.data-*"))
    assert data
    data[0].write_bytes(data[0].read_bytes()[:20])
    caplog.set_level("INFO")
    net, history = _fit(work, restore_best=False)
    assert "does not read" in caplog.text and "resuming the interrupted run at epoch 3" in caplog.text
    assert history["epoch"] == [0, 1, 2, 3]
    for a, b in zip(ref.get_weights(), net.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_best_epoch_is_restored(tmp_path):
    net, history = _fit(tmp_path / "w", monitor="loss", restore_best=True)
    best = int(np.argmin(history["loss"]))
    assert best == len(history["loss"]) - 1 or history["loss"][best] < history["loss"][-1]


def test_the_data_service_serves_every_element():
    from tensorflow.data.experimental.service import DispatchServer, WorkerConfig, WorkerServer

    dispatcher = DispatchServer()
    address = dispatcher.target.split("://")[1]
    workers = [WorkerServer(WorkerConfig(dispatcher_address=address)) for _ in range(2)]
    served = through_data_service(tf.data.Dataset.range(10).map(lambda x: x * x), dispatcher.target, "test")
    values = sorted(int(v) for v in served)
    # parallel_epochs: each of the two service workers produces the whole dataset once
    assert values == sorted([i * i for i in range(10)] * 2)
    del workers


def _launch(tmp_path, cluster, die_at_step=None, batch_norm=False):
    def argv(i):
        cmd = [str(HERE / "mw_worker.py"), str(tmp_path / "work"), str(tmp_path / "multi.npz")]
        if die_at_step is not None and i == 1:
            cmd += ["--die-at-step", str(die_at_step)]
        return cmd + (["--batch-norm"] if batch_norm else [])

    return cluster.start(argv)


@pytest.mark.slow
def test_two_workers_match_one_process_and_resume_after_a_worker_is_killed(tmp_path, loopback_cluster):
    ref, _ = _fit(tmp_path / "ref", restore_best=False)
    # worker 1 is killed (SIGKILL) at a random step past the first epoch (4 epochs of 4 steps); the chief then
    # blocks in the next all-reduce and is killed too
    step = random.Random(os.environ.get("PYTEST_SEED", "17")).randrange(5, 15)
    chief, worker = _launch(tmp_path, loopback_cluster(), die_at_step=step)
    assert worker.wait(timeout=240) == -9, worker.stdout.read()[-3000:]
    time.sleep(2)  # the chief may still be writing the checkpoint of the epoch it finished
    chief.kill()
    chief.wait(timeout=60)
    assert not (tmp_path / "multi.npz").exists()
    # both restarted: they agree on the newest epoch both hold, resume there and finish the run
    procs = _launch(tmp_path, loopback_cluster())
    outputs = [p.communicate(timeout=240)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], "\n".join(o[-3000:] for o in outputs)
    assert "resuming the interrupted run at epoch" in outputs[0], (step, outputs[0][-3000:])
    multi = np.load(tmp_path / "multi.npz")
    for i, a in enumerate(ref.get_weights()):
        np.testing.assert_allclose(multi[f"arr_{i}"], a, rtol=1e-5, atol=1e-6)
    assert not (tmp_path / "work" / "worker-1").exists()


@pytest.mark.slow
def test_batch_norm_statistics_are_the_same_on_every_worker(tmp_path, loopback_cluster):
    """Keras updates the moving statistics on each worker from its own half of the batch; the loop averages them
    at each epoch end, so both workers (and the chief's saved model) hold the same ones."""
    procs = _launch(tmp_path, loopback_cluster(), batch_norm=True)
    outputs = [p.communicate(timeout=240)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], "\n".join(o[-3000:] for o in outputs)
    chief, worker = (np.load(tmp_path / f"multi-{name}.npz") for name in ("chief", "worker-1"))
    assert len(chief.files) >= 2
    for name in chief.files:
        np.testing.assert_allclose(chief[name], worker[name], rtol=1e-6)
    assert not np.allclose(chief["arr_0"], 0.0)  # the moving mean moved


def test_early_stopping_with_patience(tmp_path):
    import keras

    strategy = tf.distribute.get_strategy()
    with strategy.scope():
        net = keras.Sequential([keras.Input((5,)), keras.layers.Dense(1)])
        net.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse")  # a rate of 0: the loss never improves
    history = distributed_fit(net, mw_worker.dataset(), strategy=strategy, epochs=10, steps_per_epoch=4,
                              workdir=tmp_path, verbose=False, monitor="loss", patience=2)
    assert history["epoch"] == [0, 1, 2]


def test_keras_callbacks_are_called_and_can_stop_training(tmp_path):
    import keras

    seen = []

    class Probe(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            seen.append("begin")

        def on_epoch_end(self, epoch, logs=None):
            seen.append((epoch, round(logs["loss"], 6)))
            if epoch == 1:
                self.model.stop_training = True

    _, history = _fit(tmp_path, restore_best=False, callbacks=[Probe()])
    assert seen[0] == "begin" and [e for e, _ in seen[1:]] == [0, 1] and history["epoch"] == [0, 1]
    assert seen[1][1] == round(history["loss"][0], 6)
