"""One worker of the multi-worker test (tests/shared/test_distributed.py): trains a tiny regression with
``shared.distributed.distributed_fit`` under the cluster of TF_CONFIG (set by the test), and saves the weights.

    python tests/shared/mw_worker.py WORKDIR OUT.npz [--die-at-step STEP] [--batch-norm]

``--die-at-step`` kills this process (SIGKILL, no clean-up) right after that step (0-based, over the run).
``--batch-norm`` adds a batch normalisation layer, and every worker (not only the chief) saves its
non-trainable variables to ``OUT-<worker>.npz``.
"""

import argparse
import logging
import os
import signal

import numpy as np

GLOBAL_BATCH, STEPS, EPOCHS = 16, 4, 4


def dataset():
    import tensorflow as tf

    rng = np.random.default_rng(0)
    x = rng.normal(size=(GLOBAL_BATCH * STEPS, 5)).astype("float32")
    y = (x @ np.arange(1.0, 6.0, dtype="float32") + 1.0)[:, None]
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(GLOBAL_BATCH).repeat()


def model(strategy, batch_norm=False):
    import keras

    with strategy.scope():
        keras.utils.set_random_seed(0)
        norm = [keras.layers.BatchNormalization()] if batch_norm else []
        net = keras.Sequential([keras.Input((5,)), keras.layers.Dense(8, activation="relu"), *norm,
                                keras.layers.Dense(1)])
        net.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse", metrics=["mae"])
    return net


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("workdir")
    parser.add_argument("out")
    parser.add_argument("--die-at-step", type=int)
    parser.add_argument("--batch-norm", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    from shared.distributed import distributed_fit, is_chief, make_strategy, worker_id

    strategy = make_strategy("multi_worker")

    def die(step):
        if step == args.die_at_step:
            os.kill(os.getpid(), signal.SIGKILL)

    net = model(strategy, batch_norm=args.batch_norm)
    distributed_fit(net, dataset(), strategy=strategy, epochs=EPOCHS, steps_per_epoch=STEPS, workdir=args.workdir,
                    verbose=False, restore_best=False, on_step_end=die)
    if is_chief():
        np.savez(args.out, *net.get_weights())
    if args.batch_norm:
        np.savez(args.out.replace(".npz", f"-{worker_id()}.npz"), *[v.numpy() for v in net.non_trainable_variables])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
