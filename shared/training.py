"""Training helpers shared by every project: seeding, strategy, and a resumable ``fit``.

``fit`` wraps ``keras.Model.fit`` with the callbacks every project wants:

* :class:`AtomicBackup` in ``workdir/backup``: a killed run resumes at the last finished
  epoch, optimizer state included (each epoch's weights are renamed into place; a backup that does not read
  falls back to the previous epoch);
* :class:`BestWeights`: early stopping with restore of the best weights, whose state
  (best value, patience counter, best weights) lives on disk so that it survives a resume;
* a CSV history that survives resumes (:func:`read_history` de-duplicates epochs);
* ``TerminateOnNaN``, Keras progress bars and, optionally, dvclive logging;
* under a multi-worker strategy, the custom loop of :func:`shared.distributed.distributed_fit`;
* with ``CAPSTONE_DATA_SERVICE=grpc://host:port`` in the environment (``capstone run --data-service``), the
  training ``tf.data`` pipeline is prepared by that external ``tf.data`` service.

Put ``workdir`` outside DVC outputs (DVC deletes outputs before re-running a stage):
the convention is ``data/<project>/work/<stage>/<config hash>``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from shared.io import atomic_dir, atomic_path, write_json

log = logging.getLogger(__name__)

#: environment variable naming an external tf.data service dispatcher (``grpc://host:port``) for training input
DATA_SERVICE_ENV = "CAPSTONE_DATA_SERVICE"


def set_seed(seed: int, deterministic: bool = True) -> None:
    """Seed Python, NumPy, TensorFlow and Keras; optionally make TF ops deterministic."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(int(seed))
    if deterministic:
        tf.config.experimental.enable_op_determinism()


def get_strategy(name: str = "auto"):
    """Return a ``tf.distribute`` strategy.

    ``auto``: ``MirroredStrategy`` over all GPUs when there are several, else the default
    strategy; ``default``; ``mirrored``; ``one_device`` (first GPU, else CPU).
    Multi-worker training comes with its own path (Keras' ``fit`` does not support it).

    Raises:
        ValueError: ``name`` is none of ``auto``, ``default``, ``mirrored``, ``one_device``.
    """
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    if name == "auto":
        name = "mirrored" if len(gpus) > 1 else "default"
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "one_device":
        return tf.distribute.OneDeviceStrategy(gpus[0].name if gpus else "/cpu:0")
    raise ValueError(f"unknown strategy {name!r}; use auto, default, mirrored or one_device")


def config_hash(*configs: Any, length: int = 10) -> str:
    """A short, stable hash of configs (dataclasses or plain data), for work-folder names."""
    from shared.config import to_dict

    blob = json.dumps([to_dict(c) for c in configs], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:length]


def _keras_callbacks():
    import keras

    class BestWeights(keras.callbacks.Callback):
        """Early stopping whose state lives in ``workdir`` so that it survives a resume."""

        def __init__(self, workdir: Path, monitor: str, mode: str = "min", patience: int | None = None,
                     min_delta: float = 0.0, restore: bool = True):
            super().__init__()
            self.workdir = Path(workdir)
            self.monitor, self.mode, self.patience = monitor, mode, patience
            self.min_delta, self.restore = abs(min_delta), restore
            self.state_path = self.workdir / "best.json"
            self.weights_path = self.workdir / "best.weights.h5"
            self.state: dict[str, Any] = {"best": None, "epoch": None, "wait": 0}

        def on_train_begin(self, logs=None):
            if self.state_path.exists():
                self.state = json.loads(self.state_path.read_text())

        def _better(self, value: float) -> bool:
            best = self.state["best"]
            if best is None:
                return True
            return value < best - self.min_delta if self.mode == "min" else value > best + self.min_delta

        def on_epoch_end(self, epoch, logs=None):
            value = (logs or {}).get(self.monitor)
            if value is None:
                log.warning("BestWeights: '%s' not in logs (%s)", self.monitor, sorted(logs or {}))
                return
            if self._better(float(value)):
                self.state.update(best=float(value), epoch=int(epoch), wait=0)
                with atomic_path(self.weights_path) as tmp:
                    self.model.save_weights(tmp)
            else:
                self.state["wait"] += 1
            write_json(self.state_path, self.state)
            if self.patience is not None and self.state["wait"] >= self.patience:
                log.info("early stop at epoch %d: %s has not improved for %d epochs", epoch + 1, self.monitor,
                         self.patience)
                self.model.stop_training = True

        def on_train_end(self, logs=None):
            if self.restore and self.weights_path.exists() and self.state["epoch"] is not None:
                log.info("restoring best weights from epoch %d (%s = %.4g)", self.state["epoch"] + 1,
                         self.monitor, self.state["best"])
                self.model.load_weights(self.weights_path)

    class AtomicBackup(keras.callbacks.BackupAndRestore):
        """Keras' ``BackupAndRestore`` whose backup is never half-written, even under ``kill -9``.

        Keras writes the weights over the last ones, then the epoch number: a kill inside the first write leaves a
        truncated file, and one between the two writes leaves the weights of epoch N labelled N-1 (the resumed run
        then trains one epoch twice, silently). Here each epoch's weights go to their own file by an atomic
        rename, then ``state.json`` (epoch, file, and the previous pair) is replaced atomically; the files of the
        two newest epochs are kept. On resume a weights file that does not read is reported in one log line and
        the previous epoch's is used.
        """

        def _state_path(self) -> Path:
            return Path(self.backup_dir) / "state.json"

        def _save_model(self):
            folder = Path(self.backup_dir)
            folder.mkdir(parents=True, exist_ok=True)
            name = f"epoch-{self._current_epoch}.weights.h5"
            with atomic_path(folder / name) as tmp:
                self.model.save_weights(tmp)
            state = {"epoch": int(self._current_epoch), "weights": name}
            if self._state_path().exists():
                last = json.loads(self._state_path().read_text())
                if last.get("weights") != name:
                    state.update(previous_epoch=last.get("epoch"), previous=last.get("weights"))
            write_json(self._state_path(), state)
            for old in folder.glob("epoch-*.weights.h5"):
                if old.name not in (state["weights"], state.get("previous")):
                    old.unlink(missing_ok=True)

        def _load_model(self):
            if not self._state_path().exists():
                return
            state = json.loads(self._state_path().read_text())
            if self.model.optimizer is not None and not self.model.optimizer.built:
                self.model.optimizer.build(self.model.trainable_variables)
            for epoch, name in ((state.get("epoch"), state.get("weights")),
                                (state.get("previous_epoch"), state.get("previous"))):
                if name is None:
                    continue
                try:
                    self.model.load_weights(Path(self.backup_dir) / name)
                except Exception as exc:  # noqa: BLE001 - h5py/Keras raise several types for a damaged file
                    log.warning("backup %s does not read (%s: %s); falling back to the previous one",
                                Path(self.backup_dir) / name, type(exc).__name__, str(exc).splitlines()[0][:160])
                    continue
                self.model._initial_epoch = int(epoch)  # noqa: SLF001 - what Keras' own callback sets
                return
            log.warning("no backup in %s reads: training starts over", self.backup_dir)

        def on_train_begin(self, logs=None):
            self._load_model()

    from dvclive.keras import DVCLiveCallback

    class LiveHistory(DVCLiveCallback):
        """dvclive's Keras callback with its step pinned to the Keras epoch.

        After a kill, Keras resumes at the last backed-up epoch; pinning the step makes an epoch that was logged
        but not backed up overwrite its own row on resume instead of shifting the curve.
        """

        def on_epoch_end(self, epoch, logs=None):
            self.live.step = int(epoch)
            super().on_epoch_end(epoch, logs)

    return BestWeights, LiveHistory, AtomicBackup


def publish_runs(work: str | os.PathLike, runs: Iterable[str | os.PathLike], out: str | os.PathLike,
                 summary: Mapping[str, Any]) -> Path:
    """Publish the finished runs of a training stage, then drop its resumable state.

    A training stage trains several runs (cells, cases, scales) one after the other and parks each finished one
    in ``work/done/<run>``, so that a killed stage restarts at the first unfinished run. At the end the runs are
    copied together into ``out`` (``out/<run>``, plus ``out/summary.json``) in one atomic step, so ``out`` is
    either the complete old model folder or the complete new one, and ``work`` is removed.
    """
    work, out = Path(work), Path(out)
    with atomic_dir(out) as tmp:
        for run in runs:
            shutil.copytree(work / "done" / run, tmp / run)
        write_json(tmp / "summary.json", summary)
    shutil.rmtree(work, ignore_errors=True)
    return out


def completed_epochs(workdir: str | os.PathLike) -> int:
    """Epochs a killed :func:`fit` in ``workdir`` had finished and backed up (0 for a fresh run).

    The resumed run restarts there, or one epoch earlier if that backup turns out not to read.
    """
    try:
        return int(json.loads((Path(workdir) / "backup" / "state.json").read_text())["epoch"])
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        return 0


def _keras_name(dvclive_name: str) -> str:
    """dvclive's ``train/loss`` / ``eval/loss`` back to Keras' ``loss`` / ``val_loss``."""
    split, _, name = dvclive_name.partition("/")
    if not name:
        return split
    return f"val_{name}" if split == "eval" else name


def read_history(workdir: str | os.PathLike, live_dir: str | os.PathLike | None = None) -> dict[str, list[float]]:
    """The per-epoch history of a run (all epochs, across resumes), as lists by Keras metric name.

    Reads the TSV files that dvclive's Keras callback writes under ``<live_dir>/plots/metrics`` (``live_dir``
    defaults to ``workdir/live``, as in :func:`fit`); a step logged twice (an epoch repeated after a kill)
    keeps its last value.

    Returns:
        ``{"epoch": [0, 1, ...], "loss": [...], "val_loss": [...], ...}``, lists of equal length (``None`` where
        a metric was not logged in an epoch).
    """
    import csv

    base = Path(live_dir or Path(workdir) / "live") / "plots" / "metrics"
    rows: dict[int, dict] = {}
    for tsv in sorted(base.rglob("*.tsv")) if base.exists() else []:
        name = _keras_name(tsv.relative_to(base).with_suffix("").as_posix())
        with open(tsv, encoding="utf-8", newline="") as fh:
            for record in csv.DictReader(fh, delimiter="\t"):
                try:
                    step, value = int(record["step"]), float(record[tsv.stem])
                except (KeyError, TypeError, ValueError):  # a line cut by a kill
                    continue
                rows.setdefault(step, {})[name] = value
    keys = sorted({k for row in rows.values() for k in row})
    epochs = sorted(rows)
    return {"epoch": epochs, **{k: [rows[e].get(k) for e in epochs] for k in keys}}


def _build_optimizer(model) -> None:
    """Create the optimizer's variables before ``fit`` traces the train step.

    Keras 3 creates them inside the first trace of ``train_step``, and TensorFlow then traces the step a second
    time; built beforehand, ``fit`` traces it once (the same numbers; about 10 s less for image_captioning's
    attention LSTM). Skipped where the model has no variables yet or the optimizer is already built.
    """
    optimizer = getattr(model, "optimizer", None)
    variables = list(getattr(model, "trainable_variables", []) or [])
    if optimizer is None or getattr(optimizer, "built", True) or not variables:
        return
    strategy = getattr(model, "distribute_strategy", None)  # the strategy the model was built under
    if strategy is None:
        optimizer.build(variables)
        return
    with strategy.scope():  # mirrored variables need their slots made in the same scope
        optimizer.build(variables)


def _through_data_service(train, workdir: Path):
    """``train`` prepared by the ``tf.data`` service of ``$CAPSTONE_DATA_SERVICE`` when it is set (else unchanged).

    Raises:
        ConfigError: the variable is not ``grpc://host:port``, or is set while ``train`` is not a ``tf.data.Dataset``.
    """
    import tensorflow as tf

    from shared.config import ConfigError

    address = os.environ.get(DATA_SERVICE_ENV, "").strip()
    if not address:
        return train
    if not address.startswith("grpc://") or ":" not in address[len("grpc://"):]:
        raise ConfigError(f"{DATA_SERVICE_ENV}={address!r}: give the dispatcher as grpc://host:port")
    if not isinstance(train, tf.data.Dataset):
        raise ConfigError(f"{DATA_SERVICE_ENV} is set, but this stage trains on in-memory arrays, not a tf.data "
                          "pipeline: unset it for this stage")
    from shared.distributed import through_data_service

    log.info("training input prepared by the tf.data service at %s", address)
    return through_data_service(train, address, job_name=f"capstone-{workdir.name}")


def fit(
    model,
    train,
    *,
    epochs: int,
    workdir: str | os.PathLike,
    validation=None,
    steps_per_epoch: int | None = None,
    validation_steps: int | None = None,
    monitor: str | None = None,
    mode: str = "min",
    patience: int | None = None,
    min_delta: float = 0.0,
    restore_best: bool = True,
    live_dir: str | os.PathLike | None = None,
    verbose: str | int = "auto",
    callbacks: Sequence[Any] = (),
    class_weight: dict | None = None,
    strategy=None,
    batch_size: int | None = None,
) -> dict[str, list[float]]:
    """Train a compiled model with the standard callbacks; returns the full history.

    The callbacks: NaN termination, dvclive's Keras callback (curves in ``live_dir``, default
    ``workdir/live``), best-weights selection with early stopping on ``monitor``, and Keras'
    ``BackupAndRestore`` in ``workdir/backup``, so a killed run resumes at its last epoch.
    Callbacks passed in ``callbacks`` run before the backup is written at the end of an
    epoch, so state they change (resampled points, schedules) is part of the backup.

    ``batch_size``: the batch when ``train`` is in-memory arrays (Keras' default 32 when ``None``); a
    ``tf.data`` pipeline brings its own batches.

    ``strategy``: where the model was built (``shared.distributed.make_strategy``). Under a multi-worker strategy,
    where Keras' ``fit`` fails (keras-team/keras#20585), training goes through
    :func:`shared.distributed.distributed_fit` (``train`` then yields global batches and repeats; per-example
    weights travel in the dataset instead of ``class_weight``; ``callbacks`` run on every worker).

    Returns:
        the history of every epoch, across resumes (see :func:`read_history`).

    Raises:
        ValueError: a multi-worker strategy with ``class_weight`` or without ``steps_per_epoch``.
        ConfigError: a malformed ``$CAPSTONE_DATA_SERVICE``, or one set while ``train`` is not a ``tf.data.Dataset``.
        whatever ``model.fit`` raises; a NaN loss stops training (TerminateOnNaN) without an error.
    """
    import keras
    import tensorflow as tf

    train = _through_data_service(train, Path(workdir))
    if strategy is not None and isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        from shared.distributed import distributed_fit

        if class_weight is not None or steps_per_epoch is None:
            raise ValueError("multi_worker training takes per-example weights in the dataset (not class_weight) "
                             "and an explicit steps_per_epoch")
        return distributed_fit(model, train, strategy=strategy, epochs=epochs, steps_per_epoch=steps_per_epoch,
                               workdir=workdir, validation=validation, validation_steps=validation_steps,
                               monitor=monitor, mode=mode, patience=patience, min_delta=min_delta,
                               restore_best=restore_best, live_dir=live_dir, verbose=verbose not in (0, "0"),
                               callbacks=callbacks, jit_compile=getattr(model, "jit_compile", False) is True)
    from dvclive import Live

    BestWeights, LiveHistory, AtomicBackup = _keras_callbacks()
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    backup = workdir / "backup"
    resuming = backup.exists() and any(backup.iterdir())
    if resuming:
        log.info("resuming the interrupted run in %s", workdir)
    else:
        for name in ("best.json", "best.weights.h5"):
            (workdir / name).unlink(missing_ok=True)
    monitor = monitor or ("val_loss" if validation is not None else "loss")
    # the training curves: dvclive's Keras callback (its TSV files are what read_history returns)
    live_dir = Path(live_dir) if live_dir is not None else workdir / "live"
    live = Live(str(live_dir), save_dvc_exp=False, resume=resuming, report=None, dvcyaml=None)
    cbs: list[Any] = [*callbacks, keras.callbacks.TerminateOnNaN(), LiveHistory(live=live)]
    if patience is not None or restore_best:
        cbs.append(BestWeights(workdir, monitor, mode=mode, patience=patience, min_delta=min_delta,
                               restore=restore_best))
    # Last, so that it saves the state every other callback has updated for this epoch.
    cbs.append(AtomicBackup(str(backup), delete_checkpoint=True))
    _build_optimizer(model)
    model.fit(
        train,
        validation_data=validation,
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        validation_steps=validation_steps,
        callbacks=cbs,
        verbose=verbose,
        class_weight=class_weight,
        batch_size=None if isinstance(train, tf.data.Dataset) else batch_size,
        shuffle=not isinstance(train, tf.data.Dataset),
    )
    history = read_history(workdir, live_dir)
    for name in ("best.json", "best.weights.h5"):
        (workdir / name).unlink(missing_ok=True)
    shutil.rmtree(backup, ignore_errors=True)
    return history
