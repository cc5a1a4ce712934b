"""The generators' own train steps under ``strategy.run`` on two replicas (two logical CPUs, in a subprocess): one
step on a global batch split over the replicas gives the weights of one step of a single process on that batch,
for the VAE and for the DCGAN's two optimizers (losses divided by the replicas, noise sliced per replica).

The check runs without the DCGAN's batch norm and dropout: batch statistics and dropout masks are per replica in
data-parallel training (no synchronised batch norm), so with them the two runs differ by design."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = r'''
import numpy as np
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras

from projects.music_video.model import ModelConfig, build_model

images = np.random.default_rng(0).integers(0, 256, (8, 8, 8, 3), dtype=np.uint8)
cfg = ModelConfig(latent_dim=4, filters=4, dropout=0.0, gan_batch_norm=False, generator_steps=2)


def one_step(kind, strategy):
    with strategy.scope():
        keras.utils.set_random_seed(0)
        model = build_model(cfg, kind, 8, seed=0)
        if kind == "vae":
            model.compile(optimizer=keras.optimizers.Adam(1e-2))
            model(images[:1])
        else:
            model.compile(d_optimizer=keras.optimizers.Adam(1e-2, beta_1=0.5),
                          g_optimizer=keras.optimizers.Adam(1e-2, beta_1=0.5))
            model(np.zeros((1, 4), np.float32))
            model.d_optimizer.build(model.discriminator.trainable_variables)
            model.g_optimizer.build(model.generator.trainable_variables)
        model.optimizer.build(model.trainable_variables)
    data = iter(strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensor_slices(images).batch(8)))

    @tf.function
    def step(iterator):
        return strategy.run(model.train_step, args=(next(iterator),))

    step(data)
    return model.get_weights()


for kind in ("vae", "dcgan"):
    single = one_step(kind, tf.distribute.OneDeviceStrategy("/cpu:0"))
    # gradients summed through one device: with MirroredStrategy's default collective all-reduce on two local CPUs,
    # the DCGAN's step (three all-reduces: its two optimizers) aborted with a shape mismatch between the replicas'
    # collectives (observed with TF 2.21; the VAE's single all-reduce works)
    two = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"], cross_device_ops=tf.distribute.ReductionToOneDevice())
    assert two.num_replicas_in_sync == 2
    double = one_step(kind, two)
    for a, b in zip(single, double, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    print(kind, "equal")
'''


@pytest.mark.slow
def test_one_step_on_two_replicas_equals_one_step_of_one_process_on_the_global_batch(tmp_path):
    root = Path(__file__).resolve().parents[3]
    script = tmp_path / "replicas.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(root), "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert "vae equal" in done.stdout and "dcgan equal" in done.stdout
