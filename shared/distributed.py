"""Data-parallel training on one or several machines with ``tf.distribute``, and the ``tf.data`` service.

Keras 3's ``Model.fit`` fails under ``MultiWorkerMirroredStrategy`` (keras-team/keras#20585). :func:`distributed_fit`
is the training loop that works there: every step runs the model's own ``train_step`` on each replica through
``strategy.run``, on batches that ``strategy.experimental_distribute_dataset`` cuts from the global batch, so a model
(with a custom ``train_step`` or not) trains the same way as under ``fit``: Keras scales the loss by the number of
replicas and the gradients are summed across them (an all-reduce), so one step on N replicas equals one step of a
single process on the same global batch, within float tolerance (tested).

What it keeps of :func:`shared.training.fit`: a progress bar, the history of every epoch (``workdir/history.json``,
dvclive curves on the chief), resume after a kill at the last finished epoch (optimizer state and data position
included), and selection of the best epoch on a monitored metric.

Conventions (tf.distribute's multi-worker guide):

* The cluster comes from ``TF_CONFIG`` (JSON: ``{"cluster": {"chief": [...], "worker": ["host:port", ...]},
  "task": {"type": "worker", "index": 0}}``), as a Kubernetes TFJob or a Slurm launcher sets it. The chief is the
  ``chief`` task, else worker 0. Only the chief writes artefacts; every worker keeps its own checkpoints (the chief
  in ``workdir/checkpoints``, worker i in ``workdir/worker-i``), so no shared filesystem is needed, and the workers
  agree on the newest epoch all of them hold before resuming.
* Batches: the input dataset yields GLOBAL batches (``global batch = per-replica batch x replicas``, see
  :func:`global_batch_size`) and repeats; it is sharded by DATA (each worker keeps its part of every global batch),
  since the embedded datasets are in-memory arrays, not file lists. For a resumed run to equal an uninterrupted one
  the pipeline must be deterministic (seeded shuffles): the loop skips the batches already consumed.
* Learning rate: with a larger global batch, scale the rate linearly (Goyal et al. 2017, "Accurate, Large
  Minibatch SGD", arXiv:1706.02677), :func:`scaled_learning_rate`, with a warm-up for large factors.
* Mixed precision and XLA (GPU machines): :func:`set_precision` before building the model (``mixed_float16``;
  Keras' ``compile`` then wraps the optimizer in a ``LossScaleOptimizer``, the loss scaling that float16 needs), and
  ``jit_compile=True`` for the step function.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.config import ConfigError
from shared.io import write_json

log = logging.getLogger(__name__)

STRATEGIES = ("auto", "default", "mirrored", "multi_worker")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")


@dataclass(frozen=True)
class DistributeConfig:
    """How a train stage runs: strategy, numeric precision, XLA, and an optional ``tf.data`` service.

    Attributes:
        strategy: ``auto`` (MirroredStrategy over several GPUs, else one device), ``default`` (one device),
            ``mirrored`` (all local GPUs, or the CPU), ``multi_worker`` (the cluster of ``TF_CONFIG``).
        precision: ``float32``, ``mixed_float16`` (GPU; loss scaling applied) or ``mixed_bfloat16``.
        jit_compile: compile the training step with XLA.
        data_service: address of an external ``tf.data`` service dispatcher (``grpc://host:port``) that prepares the
            input batches, or ``None`` to prepare them in the training process.
    """

    strategy: str = "auto"
    precision: str = "float32"
    jit_compile: bool = False
    data_service: str | None = None

    def __post_init__(self):
        if self.strategy not in STRATEGIES:
            raise ConfigError(f"strategy {self.strategy!r}: use one of {', '.join(STRATEGIES)}")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"precision {self.precision!r}: use one of {', '.join(PRECISIONS)}")
        if self.data_service is not None and "://" not in self.data_service:
            raise ConfigError(f"data_service {self.data_service!r}: give the dispatcher as grpc://host:port")


def tf_config(environ: Mapping[str, str] | None = None) -> dict | None:
    """The parsed ``TF_CONFIG`` of the environment, checked; ``None`` when it is not set.

    Raises:
        ConfigError: ``TF_CONFIG`` is not JSON, has no ``cluster`` or ``task``, or its task is not in the cluster.
    """
    raw = (os.environ if environ is None else environ).get("TF_CONFIG")
    if not raw:
        return None
    try:
        config = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"TF_CONFIG is not JSON ({exc.msg} at character {exc.pos})") from None
    if not isinstance(config, dict) or not isinstance(config.get("cluster"), dict) \
            or not isinstance(config.get("task"), dict):
        raise ConfigError('TF_CONFIG needs {"cluster": {...}, "task": {"type": ..., "index": ...}}')
    kind, index = config["task"].get("type"), config["task"].get("index", 0)
    members = config["cluster"].get(kind)
    if not isinstance(members, list) or not isinstance(index, int) or not 0 <= index < len(members):
        raise ConfigError(f"TF_CONFIG task {kind}:{index} is not in its cluster ({sorted(config['cluster'])})")
    return config


def is_chief(environ: Mapping[str, str] | None = None) -> bool:
    """Whether this process writes the artefacts: no cluster, the ``chief`` task, or worker 0 of a cluster
    without a chief.

    Raises:
        ConfigError: a malformed ``TF_CONFIG`` (see :func:`tf_config`).
    """
    config = tf_config(environ)
    if config is None:
        return True
    task = config["task"]
    if task["type"] == "chief":
        return True
    return task["type"] == "worker" and task.get("index", 0) == 0 and "chief" not in config["cluster"]


def worker_id(environ: Mapping[str, str] | None = None) -> str:
    """``chief`` for the chief, else ``<type>-<index>`` (names a worker's private checkpoint folder)."""
    config = tf_config(environ)
    if config is None or is_chief(environ):
        return "chief"
    return f"{config['task']['type']}-{config['task'].get('index', 0)}"


def make_strategy(name: str = "auto"):
    """The ``tf.distribute`` strategy called ``name`` (see :class:`DistributeConfig`).

    Create it before any other TensorFlow work: a multi-worker strategy must start its servers first.

    Raises:
        ConfigError: an unknown name, or ``multi_worker`` without a ``TF_CONFIG`` cluster.
    """
    import tensorflow as tf

    if name not in STRATEGIES:
        raise ConfigError(f"strategy {name!r}: use one of {', '.join(STRATEGIES)}")
    if name == "multi_worker":
        if tf_config() is None:
            raise ConfigError("strategy multi_worker needs the cluster in the TF_CONFIG environment variable "
                              '({"cluster": {"worker": ["host:port", ...]}, "task": {"type": "worker", "index": i}})')
        tf.get_logger().setLevel(logging.WARNING)  # one INFO line per collective otherwise
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = tf.config.list_logical_devices("GPU")
    if name == "auto":
        name = "mirrored" if len(gpus) > 1 else "default"
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def global_batch_size(per_replica: int, strategy) -> int:
    """``per_replica x replicas``: the batch the input pipeline must yield."""
    return int(per_replica) * int(strategy.num_replicas_in_sync)


def scaled_learning_rate(base: float, base_batch: int, global_batch: int) -> float:
    """The linear scaling rule (Goyal et al. 2017): the rate grows with the global batch.

    ``base`` was tuned at ``base_batch``; returns ``base * global_batch / base_batch``.

    Raises:
        ValueError: a batch size below 1.
    """
    if base_batch < 1 or global_batch < 1:
        raise ValueError(f"batch sizes must be positive (base {base_batch}, global {global_batch})")
    return float(base) * global_batch / base_batch


def set_precision(precision: str) -> None:
    """Set Keras' global dtype policy (``float32``, ``mixed_float16``, ``mixed_bfloat16``); call it before building
    the model. Under ``mixed_float16``, ``model.compile`` wraps the optimizer in a ``LossScaleOptimizer``.

    Raises:
        ConfigError: an unknown precision.
    """
    import keras

    if precision not in PRECISIONS:
        raise ConfigError(f"precision {precision!r}: use one of {', '.join(PRECISIONS)}")
    keras.config.set_dtype_policy(precision)


def through_data_service(dataset, dispatcher: str, job_name: str):
    """Let a ``tf.data`` service (dispatcher ``grpc://host:port`` and its workers) prepare ``dataset``'s elements.

    ``processing_mode="parallel_epochs"``: each service worker produces the whole dataset, the way a single-process
    pipeline would (use it for preparation that is expensive per element). ``job_name`` lets several consumers
    share one job.
    """
    import tensorflow as tf

    return dataset.apply(tf.data.experimental.service.distribute(
        processing_mode="parallel_epochs", service=dispatcher, job_name=job_name))


def distribute(dataset, strategy):
    """``dataset`` (global batches) spread over the replicas of ``strategy``, sharded by DATA."""
    import tensorflow as tf

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return strategy.experimental_distribute_dataset(dataset.with_options(options))


class _Checkpoints:
    """This worker's checkpoints: one per finished epoch (numbered by epoch), the newest ``keep`` kept."""

    def __init__(self, folder: Path, model, epoch_var, keep: int):
        import tensorflow as tf

        self.folder = folder
        self.checkpoint = tf.train.Checkpoint(model=model, optimizer=model.optimizer, epoch=epoch_var)
        self.manager = tf.train.CheckpointManager(self.checkpoint, str(folder), max_to_keep=keep,
                                                  checkpoint_name="epoch")

    def epochs(self) -> list[int]:
        return sorted(int(p.rsplit("-", 1)[1]) for p in self.manager.checkpoints)

    def restore_newest_readable(self) -> int:
        """Restore the newest checkpoint that reads; returns its epoch (0 when none). A checkpoint that does not
        read (truncated, corrupt) is reported and skipped."""
        for epoch in reversed(self.epochs()):
            if self.restore(epoch):
                return epoch
        return 0

    def restore(self, epoch: int) -> bool:
        path = str(self.folder / f"epoch-{epoch}")
        try:
            self.checkpoint.restore(path).expect_partial()
        except Exception as exc:  # noqa: BLE001 - TF raises several error types for a damaged file
            log.warning("checkpoint %s does not read (%s: %s); falling back to the previous one", path,
                        type(exc).__name__, str(exc).splitlines()[0][:200])
            return False
        return True

    def save(self, epoch: int) -> None:
        self.manager.save(checkpoint_number=epoch)


def average_statistics(strategy, model) -> int:
    """Set each floating-point non-trainable variable of ``model`` (batch-norm moving means and variances) to its
    mean over the workers of a multi-worker strategy; returns how many were averaged (0 elsewhere).

    Keras updates those variables on each worker from its own share of the batch and does not all-reduce them, so
    the workers' copies drift apart; averaged at each epoch end, the chief's saved model and every worker's
    validation use the same statistics (one collective per epoch). With several GPUs per worker, each worker's
    first replica stands for the worker.
    """
    import numpy as np
    import tensorflow as tf

    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return 0
    variables = [v for v in model.non_trainable_variables if tf.as_dtype(v.dtype).is_floating]
    if not variables:
        return 0
    flat = tf.concat([tf.reshape(tf.cast(v.value, tf.float32), [-1]) for v in variables], axis=0)
    per_worker = strategy.experimental_distribute_values_from_function(lambda _: flat[None])
    mean = tf.reduce_mean(strategy.gather(per_worker, axis=0), axis=0)
    offset = 0
    for v in variables:
        size = int(np.prod(v.shape))
        v.assign(tf.cast(tf.reshape(mean[offset:offset + size], v.shape), v.dtype))
        offset += size
    return len(variables)


def agree_min(strategy, value: int) -> int:
    """The smallest ``value`` over all workers (one collective; a single process returns ``value``): e.g. the
    newest epoch every worker holds, or whether every worker finished a run (0/1)."""
    import tensorflow as tf

    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return int(value)
    per_replica = strategy.experimental_distribute_values_from_function(lambda _: tf.constant([value], tf.int64))
    return int(tf.reduce_min(strategy.gather(per_replica, axis=0)))


def distributed_fit(
    model,
    train,
    *,
    strategy,
    epochs: int,
    steps_per_epoch: int,
    workdir: str | os.PathLike,
    validation=None,
    validation_steps: int | None = None,
    monitor: str | None = None,
    mode: str = "min",
    patience: int | None = None,
    min_delta: float = 0.0,
    restore_best: bool = True,
    keep: int = 2,
    jit_compile: bool = False,
    verbose: bool = True,
    live_dir: str | os.PathLike | None = None,
    on_epoch_end: Callable[[int, dict], None] | None = None,
    on_step_end: Callable[[int], None] | None = None,
    callbacks: Sequence[Any] = (),
) -> dict[str, list[float]]:
    """Train ``model`` (compiled inside ``strategy.scope()``) on ``train`` with ``strategy``, resumably.

    Args:
        model: a compiled ``keras.Model`` built in ``strategy.scope()``; its ``train_step``/``test_step`` run as is.
        train: a ``tf.data.Dataset`` of GLOBAL batches that repeats (at least ``epochs x steps_per_epoch`` batches),
            deterministic if a resumed run must equal an uninterrupted one.
        strategy: from :func:`make_strategy`.
        epochs, steps_per_epoch: length of training (steps of one global batch).
        workdir: resumable state (checkpoints, history); removed by the caller after publishing the model.
        validation, validation_steps: a dataset of global batches and how many of them make one evaluation.
        monitor, mode: the metric that picks the best epoch (default ``val_loss`` with validation, else ``loss``);
            with ``restore_best`` its weights are restored at the end.
        patience, min_delta: early stopping after ``patience`` epochs without an improvement of ``min_delta``.
        keep: checkpoints kept per worker (at least 2, so that workers one epoch apart after a kill can agree).
        jit_compile: XLA for the step functions.
        live_dir: dvclive folder for the curves (chief only); ``None``: no dvclive.
        on_epoch_end: called as ``on_epoch_end(epoch, logs)`` after each epoch's checkpoint.
        on_step_end: called as ``on_step_end(step)`` after each step (0-based, counted over the whole run).
        callbacks: Keras callbacks, called as ``fit`` calls them (train begin/end, epoch begin/end with the logs,
            train batch begin/end); ``model.stop_training`` set by one ends the run after that epoch. They run on
            every worker, before the epoch's checkpoint is written.

    Returns:
        the history of every epoch (across resumes): ``{"epoch": [0, 1, ...], "loss": [...], ...}``.

    Raises:
        ValueError: non-positive ``epochs``/``steps_per_epoch``, ``keep`` < 2, or a model without an optimizer.
        whatever the model's steps raise; a NaN loss stops training after that epoch with an error log.
    """
    import keras
    import numpy as np
    import tensorflow as tf

    if epochs < 1 or steps_per_epoch < 1 or keep < 2:
        raise ValueError(f"epochs ({epochs}) and steps_per_epoch ({steps_per_epoch}) must be >= 1, keep >= 2")
    if getattr(model, "optimizer", None) is None:
        raise ValueError("compile the model (with an optimizer) inside strategy.scope() first")
    workdir = Path(workdir)
    chief = is_chief()
    own = workdir / ("checkpoints" if chief else worker_id())
    own.mkdir(parents=True, exist_ok=True)
    monitor = monitor or ("val_loss" if validation is not None else "loss")
    better = (lambda a, b: a < b) if mode == "min" else (lambda a, b: a > b)

    with strategy.scope():
        if not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        epoch_var = tf.Variable(0, dtype=tf.int64, trainable=False, name="finished_epochs")
    checkpoints = _Checkpoints(own, model, epoch_var, keep)
    best = _Checkpoints(own / "best", model, epoch_var, 1)

    # resume: the newest epoch every worker holds
    newest = checkpoints.restore_newest_readable()
    start = agree_min(strategy, newest)
    if start != newest and not checkpoints.restore(start):
        raise RuntimeError(f"worker {worker_id()} has no readable checkpoint of epoch {start} in {own}")
    history_path = own / "history.json"
    history: list[dict] = json.loads(history_path.read_text())[:start] if start and history_path.exists() else []
    if start:
        log.info("resuming the interrupted run at epoch %d of %d (%s)", start + 1, epochs, own)

    train_iter = iter(distribute(train.skip(start * steps_per_epoch), strategy))

    def reduce(outputs):
        return {k: strategy.reduce(tf.distribute.ReduceOp.MEAN, v, axis=None) for k, v in outputs.items()}

    # XLA compiles the per-replica step (the iterator's next() cannot be compiled), as Keras' fit does
    replica_train, replica_test = model.train_step, model.test_step
    if jit_compile:
        replica_train = tf.function(replica_train, jit_compile=True)
        replica_test = tf.function(replica_test, jit_compile=True)

    @tf.function
    def train_step(iterator):
        return reduce(strategy.run(replica_train, args=(next(iterator),)))

    @tf.function
    def test_step(iterator):
        return reduce(strategy.run(replica_test, args=(next(iterator),)))

    live = None
    if chief and live_dir is not None:
        from dvclive import Live

        live = Live(str(live_dir), save_dvc_exp=False, resume=bool(start), report=None, dvcyaml=None)
    best_value = min((h[monitor] for h in history if monitor in h), default=None) if mode == "min" else \
        max((h[monitor] for h in history if monitor in h), default=None)
    hooks = keras.callbacks.CallbackList(list(callbacks), model=model, epochs=epochs, steps=steps_per_epoch,
                                         verbose=0)
    model.stop_training = False
    hooks.on_train_begin()
    for epoch in range(start, epochs):
        for metric in model.metrics:
            metric.reset_state()
        hooks.on_epoch_begin(epoch)
        bar = keras.utils.Progbar(steps_per_epoch, verbose=1 if (verbose and chief) else 0)
        for step in range(steps_per_epoch):
            hooks.on_train_batch_begin(step)
            logs = train_step(train_iter)
            hooks.on_train_batch_end(step, logs)
            bar.update(step + 1, [(k, float(v)) for k, v in logs.items()])
            if on_step_end is not None:
                on_step_end(epoch * steps_per_epoch + step)
        logs = {k: float(v) for k, v in logs.items()}
        average_statistics(strategy, model)
        if validation is not None:
            for metric in model.metrics:
                metric.reset_state()
            val_iter = iter(distribute(validation, strategy))
            for _ in range(validation_steps or 1):
                val = test_step(val_iter)
            logs.update({f"val_{k}": float(v) for k, v in val.items()})
        hooks.on_epoch_end(epoch, logs)
        history.append({"epoch": epoch, **logs})
        epoch_var.assign(epoch + 1)
        value = logs.get(monitor)
        improved = value is not None and np.isfinite(value) and (
            best_value is None or better(value, best_value + (-min_delta if mode == "min" else min_delta)))
        if improved:
            best_value = value
            best.save(epoch + 1)
        checkpoints.save(epoch + 1)
        write_json(history_path, history)
        if live is not None:
            live.step = epoch
            for name, v in logs.items():
                live.log_metric(name if not name.startswith("val_") else f"eval/{name[4:]}", v)
            live.next_step()
        if verbose and chief:
            log.info("epoch %d/%d: %s", epoch + 1, epochs, ", ".join(f"{k} {v:.4g}" for k, v in logs.items()))
        if on_epoch_end is not None:
            on_epoch_end(epoch, logs)
        if not math.isfinite(logs.get("loss", 0.0)):
            log.error("the loss is %s at epoch %d: training stopped", logs.get("loss"), epoch + 1)
            break
        if patience is not None and best.epochs() and epoch + 1 - best.epochs()[-1] >= patience:
            log.info("early stop at epoch %d: %s has not improved for %d epochs", epoch + 1, monitor, patience)
            break
        if model.stop_training:
            log.info("a callback stopped training at epoch %d", epoch + 1)
            break
    hooks.on_train_end(history[-1] if history else None)
    if live is not None:
        live.end()
    if restore_best and best.epochs():
        best.restore(best.epochs()[-1])
        log.info("restored the weights of the best epoch %d (%s = %.4g)", best.epochs()[-1], monitor, best_value)
    keys = sorted({k for h in history for k in h} - {"epoch"})
    if not chief:  # a worker's private state has served its purpose once the run is complete
        shutil.rmtree(own, ignore_errors=True)
    return {"epoch": [h["epoch"] for h in history], **{k: [h.get(k) for h in history] for k in keys}}


# ---- throughput benchmark: samples/s of one process against N worker processes on this machine ----------------

def _bench_worker(args) -> int:
    """One worker of :func:`main`'s ``bench``: a small CNN on fixed 32x32 images, timed after a warm-up."""
    import time

    import keras
    import numpy as np
    import tensorflow as tf

    strategy = make_strategy("multi_worker" if tf_config() else "default")
    global_batch = global_batch_size(args.batch, strategy)
    rng = np.random.default_rng(0)
    x = rng.random((global_batch * 8, 32, 32, 3), dtype=np.float32)
    y = rng.integers(0, 10, len(x))
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(global_batch).repeat()
    with strategy.scope():
        keras.utils.set_random_seed(0)
        net = keras.Sequential([keras.Input((32, 32, 3)),
                                keras.layers.Conv2D(32, 3, activation="relu"), keras.layers.MaxPooling2D(),
                                keras.layers.Conv2D(64, 3, activation="relu"), keras.layers.MaxPooling2D(),
                                keras.layers.Flatten(), keras.layers.Dense(10)])
        net.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        net.optimizer.build(net.trainable_variables)
    iterator = iter(distribute(data, strategy))

    @tf.function
    def step(it):
        return strategy.run(net.train_step, args=(next(it),))

    for _ in range(args.warmup):
        step(iterator)
    start = time.perf_counter()
    for _ in range(args.steps):
        out = step(iterator)
    float(strategy.reduce("MEAN", out["loss"], axis=None))
    seconds = time.perf_counter() - start
    if is_chief():
        write_json(args.out, {"workers": len((tf_config() or {"cluster": {"worker": [0]}})["cluster"]["worker"]),
                              "global_batch": global_batch, "steps": args.steps, "seconds": seconds,
                              "samples_per_s": global_batch * args.steps / seconds})
    return 0


def bench(workers: list[int], *, batch: int, steps: int, warmup: int, out: Path) -> list[dict]:
    """Samples per second of the same model and per-worker batch on 1..N worker processes (loopback ports).

    Each configuration runs alone; worker processes share this machine's cores, so on a 2-core machine two
    workers compete for the same cores: the figure measures the overhead of the all-reduce, not a speed-up a
    cluster of separate machines would give.
    """
    import socket
    import subprocess
    import sys

    results = []
    for n in workers:
        sockets = [socket.socket() for _ in range(n)]
        for s in sockets:
            s.bind(("localhost", 0))
        ports = [s.getsockname()[1] for s in sockets]
        for s in sockets:
            s.close()
        result = out.with_name(f"{out.stem}-{n}.json")
        procs = []
        for i in range(n):
            env = dict(os.environ)
            env.pop("TF_CONFIG", None)
            if n > 1:
                env["TF_CONFIG"] = json.dumps({"cluster": {"worker": [f"localhost:{p}" for p in ports]},
                                               "task": {"type": "worker", "index": i}})
            procs.append(subprocess.Popen([sys.executable, "-m", "shared.distributed", "worker", "--batch", str(batch),
                                           "--steps", str(steps), "--warmup", str(warmup), "--out", str(result)],
                                          env=env))
        codes = [p.wait() for p in procs]
        if any(codes):
            raise RuntimeError(f"a benchmark worker failed (exit codes {codes})")
        results.append(json.loads(result.read_text()))
        result.unlink()
        log.info("%d worker(s): %.0f samples/s", n, results[-1]["samples_per_s"])
    write_json(out, {"per_worker_batch": batch, "runs": results, "cpu_count": os.cpu_count()})
    return results


def main(argv=None) -> int:
    """``python -m shared.distributed bench --workers 1 2 --out results/scaling.json``: the throughput figures of
    docs/scaling.md."""
    import argparse

    from shared.log import setup_logging

    parser = argparse.ArgumentParser(description="data-parallel throughput on worker processes of this machine")
    parser.add_argument("command", choices=("bench", "worker"))
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--batch", type=int, default=64, help="per-worker batch")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("scaling.json"))
    args = parser.parse_args(argv)
    setup_logging()
    if args.command == "worker":
        return _bench_worker(args)
    bench(args.workers, batch=args.batch, steps=args.steps, warmup=args.warmup, out=args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
