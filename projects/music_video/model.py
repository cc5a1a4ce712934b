"""The project's generators: a convolutional VAE and a small DCGAN, as pure factories, and the render-time interface.

- **VAE** (Kingma & Welling 2014, "Auto-Encoding Variational Bayes"): a strided-convolution encoder to the mean and
  log-variance of a diagonal Gaussian posterior, the reparameterisation trick (:class:`Sampling`), a
  transposed-convolution decoder with a sigmoid output; loss = per-image sum of binary cross-entropy over pixels
  + ``beta`` × KL(q(z|x) ‖ N(0, I)) (β-VAE, Higgins et al. 2017, with ``beta`` a param).
- **DCGAN** (Radford et al. 2016, "Unsupervised Representation Learning with Deep Convolutional GANs"): generator
  = dense → reshape → transposed convolutions with batch norm and ReLU → tanh; discriminator = strided convolutions
  with LeakyReLU (0.2) and dropout → one logit; the non-saturating GAN loss (Goodfellow et al. 2014), Adam
  (lr 2e-4, β₁ 0.5) as in the paper, one-sided label smoothing (Salimans et al. 2016) as a param.

Both train through ``keras.Model.fit`` with their own ``train_step`` (so ``shared.training.fit``'s resume,
dvclive logging and NaN termination apply). Images go in as uint8 and are scaled inside the models.

Data-parallel (``tf.distribute``): the steps run per replica under ``strategy.run`` and each optimizer sums the
gradients of the replicas (an all-reduce), so every loss whose gradient is taken is divided by the number of
replicas (:func:`per_replica_loss`, Keras' own rule; nothing changes on one replica): the summed gradient is that of
the mean over the global batch. The random draws (the VAE's ε, the GAN's z) are this replica's slice of the draws
for the whole global batch (:func:`replica_normal`), so replicas never share noise, and a step on N replicas draws
what a single process draws for the same global batch. Under ``mixed_float16`` every loss goes through its
optimizer's ``scale_loss`` (a ``LossScaleOptimizer`` then scales it) and is computed in float32.

At render time only a decoder is needed: :func:`save_generator` writes it as a plain functional Keras model
plus ``<name>.json`` (kind, latent_dim, size); :func:`load_generator` gives a :class:`Generator` with
``decode(z) -> uint8 (n, S, S, 3)`` (and, for the VAE, ``encode``/``reconstruct`` from the saved encoder).
"""

from __future__ import annotations

import functools
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from shared.io import DataError, atomic_path, write_json

__all__ = ["KINDS", "ModelConfig", "build_model", "Generator", "VAEGenerator", "save_generator", "load_generator",
           "per_replica_loss", "replica_normal"]

log = logging.getLogger(__name__)

#: generator kinds
KINDS = ("vae", "dcgan")


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of both generators (``train.model``).

    Raises:
        ValueError: ``latent_dim``/``filters`` < 1, ``beta`` < 0, ``label_smoothing`` not in [0, 0.5),
            ``dropout`` not in [0, 1).
    """

    #: dimension of the latent space z
    latent_dim: int = 32
    #: filters of the first (finest) convolution; doubled at each of the three down/up-sampling steps
    filters: int = 16
    #: VAE: weight of the KL term (β-VAE; 1 = the plain VAE)
    beta: float = 1.0
    #: DCGAN: real labels are 1 − label_smoothing for the discriminator
    label_smoothing: float = 0.1
    #: DCGAN: dropout in the discriminator
    dropout: float = 0.3
    #: DCGAN: batch normalisation in the generator (as Radford et al.)
    gan_batch_norm: bool = True
    #: DCGAN: generator updates per discriminator update
    generator_steps: int = 1

    def __post_init__(self) -> None:
        if self.latent_dim < 1 or self.filters < 1 or self.beta < 0 or self.generator_steps < 1:
            raise ValueError("latent_dim, filters and generator_steps must be ≥ 1, beta ≥ 0")
        if not 0 <= self.label_smoothing < 0.5 or not 0 <= self.dropout < 1:
            raise ValueError("label_smoothing must be in [0, 0.5) and dropout in [0, 1)")


def _check_size(size: int) -> int:
    if size < 8 or size % 8:
        raise ValueError(f"image size must be a multiple of 8 and ≥ 8 (three 2× up/down-samplings), got {size}")
    return int(size)


def per_replica_loss(loss):
    """``loss`` / replicas in sync (inside ``strategy.run``), so that the all-reduced (summed) gradients are those
    of the global-batch mean; ``loss`` itself on one replica."""
    import tensorflow as tf

    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    return loss / replicas if replicas > 1 else loss


def replica_normal(shape, seed):
    """Standard normal draws of ``shape`` (rows first) for this replica: its slice of the draws for the rows of all
    replicas (``keras.random.normal(shape)`` itself on one replica)."""
    import keras
    import tensorflow as tf

    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    context = tf.distribute.get_replica_context()
    if replicas == 1 or context is None:
        return keras.random.normal(shape, seed=seed)
    n = shape[0]
    draws = keras.random.normal((n * replicas, *shape[1:]), seed=seed)
    start = context.replica_id_in_sync_group * n
    return draws[start:start + n]


@functools.cache
def _keras():
    """Keras and the custom classes, defined once (on first use: no TensorFlow import at module import)."""
    import keras

    @keras.saving.register_keras_serializable(package="music_video")
    class Sampling(keras.layers.Layer):
        """The reparameterisation trick: ``z = mean + exp(logvar / 2) · ε``, ε ~ N(0, I). Inputs ``[mean, logvar]``."""

        def __init__(self, seed: int | None = None, **kwargs):
            super().__init__(**kwargs)
            self.seed = seed
            self.seed_generator = keras.random.SeedGenerator(seed)

        def call(self, inputs):
            mean, logvar = inputs
            eps = replica_normal(keras.ops.shape(mean), self.seed_generator)
            return mean + keras.ops.exp(0.5 * logvar) * eps

        def get_config(self):
            return {**super().get_config(), "seed": self.seed}

    @keras.saving.register_keras_serializable(package="music_video")
    class VAE(keras.Model):
        """Encoder + decoder with the ELBO loss in ``train_step``/``test_step``; input uint8 images (B, S, S, 3)."""

        def __init__(self, encoder, decoder, beta: float = 1.0, **kwargs):
            super().__init__(**kwargs)
            self.encoder, self.decoder, self.beta = encoder, decoder, float(beta)
            self.sampling = Sampling(name="sampling")
            self.loss_tracker = keras.metrics.Mean(name="loss")
            self.rec_tracker = keras.metrics.Mean(name="reconstruction")
            self.kl_tracker = keras.metrics.Mean(name="kl")

        @property
        def metrics(self):
            return [self.loss_tracker, self.rec_tracker, self.kl_tracker]

        def build(self, input_shape=None):
            self.built = True  # encoder and decoder are functional models, built at construction

        def call(self, images, training=False):
            mean, logvar = self.encoder(images, training=training)
            z = self.sampling([mean, logvar]) if training else mean
            return self.decoder(z, training=training)

        def _elbo(self, images, training):
            from keras import ops

            x = ops.cast(images, "float32") / 255.0
            mean, logvar = self.encoder(images, training=training)
            mean, logvar = ops.cast(mean, "float32"), ops.cast(logvar, "float32")
            z = self.sampling([mean, logvar])
            x_hat = ops.clip(ops.cast(self.decoder(z, training=training), "float32"), 1e-6, 1 - 1e-6)
            bce = -(x * ops.log(x_hat) + (1 - x) * ops.log(1 - x_hat))
            rec = ops.mean(ops.sum(bce, axis=(1, 2, 3)))
            kl = ops.mean(-0.5 * ops.sum(1 + logvar - ops.square(mean) - ops.exp(logvar), axis=1))
            return rec + self.beta * kl, rec, kl

        def _update(self, total, rec, kl):
            self.loss_tracker.update_state(total)
            self.rec_tracker.update_state(rec)
            self.kl_tracker.update_state(kl)
            return {m.name: m.result() for m in self.metrics}

        def train_step(self, data):
            import tensorflow as tf

            images = data[0] if isinstance(data, tuple) else data
            with tf.GradientTape() as tape:
                total, rec, kl = self._elbo(images, True)
                scaled = self.optimizer.scale_loss(per_replica_loss(total))
            weights = self.trainable_weights
            self.optimizer.apply_gradients(zip(tape.gradient(scaled, weights), weights, strict=True))
            return self._update(total, rec, kl)

        def test_step(self, data):
            images = data[0] if isinstance(data, tuple) else data
            return self._update(*self._elbo(images, False))

        def get_config(self):
            return {**super().get_config(), "beta": self.beta,
                    "encoder": keras.saving.serialize_keras_object(self.encoder),
                    "decoder": keras.saving.serialize_keras_object(self.decoder)}

        @classmethod
        def from_config(cls, config):
            config = dict(config)
            encoder = keras.saving.deserialize_keras_object(config.pop("encoder"))
            decoder = keras.saving.deserialize_keras_object(config.pop("decoder"))
            return cls(encoder, decoder, **config)

    @keras.saving.register_keras_serializable(package="music_video")
    class DCGAN(keras.Model):
        """Generator + discriminator; ``train_step`` does one discriminator and one generator update per batch."""

        def __init__(self, generator, discriminator, latent_dim: int, label_smoothing: float = 0.1,
                     seed: int | None = None, generator_steps: int = 1, **kwargs):
            super().__init__(**kwargs)
            self.generator_steps = int(generator_steps)
            self.generator, self.discriminator = generator, discriminator
            self.latent_dim, self.label_smoothing, self.seed = int(latent_dim), float(label_smoothing), seed
            self.seed_generator = keras.random.SeedGenerator(seed)
            self.d_tracker = keras.metrics.Mean(name="d_loss")
            self.g_tracker = keras.metrics.Mean(name="g_loss")
            self.real_tracker = keras.metrics.Mean(name="d_real_accuracy")
            self.fake_tracker = keras.metrics.Mean(name="d_fake_accuracy")

        @property
        def metrics(self):
            return [self.d_tracker, self.g_tracker, self.real_tracker, self.fake_tracker]

        def build(self, input_shape=None):
            self.built = True  # generator and discriminator are functional models, built at construction

        def compile(self, d_optimizer=None, g_optimizer=None, **kwargs):
            super().compile(**kwargs)
            self.d_optimizer = d_optimizer or keras.optimizers.Adam(2e-4, beta_1=0.5)
            self.g_optimizer = g_optimizer or keras.optimizers.Adam(2e-4, beta_1=0.5)

        def call(self, z, training=False):
            return self.generator(z, training=training)

        def _bce(self, labels, logits):
            logits = keras.ops.cast(logits, "float32")
            return keras.ops.mean(keras.losses.binary_crossentropy(labels, logits, from_logits=True))

        def train_step(self, data):
            import tensorflow as tf
            from keras import ops

            images = data[0] if isinstance(data, tuple) else data
            real = ops.cast(images, "float32") / 127.5 - 1.0
            n = ops.shape(real)[0]
            z = replica_normal((n, self.latent_dim), self.seed_generator)
            with tf.GradientTape() as tape:
                fake = self.generator(z, training=True)
                real_logits = self.discriminator(real, training=True)
                fake_logits = self.discriminator(fake, training=True)
                d_loss = (self._bce(ops.ones_like(real_logits) * (1 - self.label_smoothing), real_logits)
                          + self._bce(ops.zeros_like(fake_logits), fake_logits))
                scaled = self.d_optimizer.scale_loss(per_replica_loss(d_loss))
            dw = self.discriminator.trainable_weights
            self.d_optimizer.apply_gradients(zip(tape.gradient(scaled, dw), dw, strict=True))
            gw = self.generator.trainable_weights
            for _ in range(self.generator_steps):
                z = replica_normal((n, self.latent_dim), self.seed_generator)
                with tf.GradientTape() as tape:
                    fake_logits2 = self.discriminator(self.generator(z, training=True), training=True)
                    g_loss = self._bce(ops.ones_like(fake_logits2), fake_logits2)
                    scaled = self.g_optimizer.scale_loss(per_replica_loss(g_loss))
                self.g_optimizer.apply_gradients(zip(tape.gradient(scaled, gw), gw, strict=True))
            self.d_tracker.update_state(d_loss)
            self.g_tracker.update_state(g_loss)
            self.real_tracker.update_state(ops.mean(ops.cast(real_logits > 0, "float32")))
            self.fake_tracker.update_state(ops.mean(ops.cast(fake_logits < 0, "float32")))
            return {m.name: m.result() for m in self.metrics}

        def get_config(self):
            return {**super().get_config(), "latent_dim": self.latent_dim, "label_smoothing": self.label_smoothing,
                    "seed": self.seed, "generator_steps": self.generator_steps,
                    "generator": keras.saving.serialize_keras_object(self.generator),
                    "discriminator": keras.saving.serialize_keras_object(self.discriminator)}

        @classmethod
        def from_config(cls, config):
            config = dict(config)
            generator = keras.saving.deserialize_keras_object(config.pop("generator"))
            discriminator = keras.saving.deserialize_keras_object(config.pop("discriminator"))
            return cls(generator, discriminator, **config)

    return keras, Sampling, VAE, DCGAN


def _decoder(cfg: ModelConfig, size: int, out_activation: str, batch_norm: bool, name: str):
    keras, *_ = _keras()
    from keras import layers

    s0, f = size // 8, cfg.filters
    z = keras.Input((cfg.latent_dim,), name="z")
    x = layers.Dense(s0 * s0 * f * 4, use_bias=not batch_norm)(z)
    if batch_norm:
        x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    x = layers.Reshape((s0, s0, f * 4))(x)
    for filters in (f * 4, f * 2, f):
        x = layers.Conv2DTranspose(filters, 4, strides=2, padding="same", use_bias=not batch_norm)(x)
        if batch_norm:
            x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
    out = layers.Conv2D(3, 3, padding="same", activation=out_activation, name="image")(x)
    return keras.Model(z, out, name=name)


def _encoder_trunk(cfg: ModelConfig, size: int, x, dropout: float, leaky: bool):
    from keras import layers

    for filters in (cfg.filters, cfg.filters * 2, cfg.filters * 4):
        x = layers.Conv2D(filters, 4, strides=2, padding="same")(x)
        x = layers.LeakyReLU(0.2)(x) if leaky else layers.ReLU()(x)
        if dropout:
            x = layers.Dropout(dropout)(x)
    return layers.Flatten()(x)


def build_model(cfg: ModelConfig, kind: str, size: int, seed: int = 0):
    """Build an uncompiled generator model of ``kind`` for square RGB images of side ``size``.

    Args:
        cfg: architecture.
        kind: ``vae`` or ``dcgan``.
        size: image side in pixels (multiple of 8).
        seed: seed of the model's own random draws (VAE sampling, GAN latent draws).

    Returns:
        a ``VAE`` (attributes ``encoder``: uint8 images → [mean, logvar], ``decoder``: z → float images in [0, 1])
        or a ``DCGAN`` (``generator``: z → images in [-1, 1], ``discriminator``: images in [-1, 1] → logit).
        Compile the VAE with ``compile(optimizer=...)``, the DCGAN with ``compile(d_optimizer, g_optimizer)``.

    Raises:
        ValueError: unknown ``kind``, or ``size`` not a multiple of 8.
    """
    keras, _, VAE, DCGAN = _keras()
    from keras import layers

    size = _check_size(size)
    if kind == "vae":
        images = keras.Input((size, size, 3), name="images")
        x = layers.Rescaling(1 / 255.0)(images)
        h = _encoder_trunk(cfg, size, x, 0.0, leaky=False)
        mean = layers.Dense(cfg.latent_dim, name="mean")(h)
        logvar = layers.Dense(cfg.latent_dim, name="logvar")(h)
        encoder = keras.Model(images, [mean, logvar], name="encoder")
        decoder = _decoder(cfg, size, "sigmoid", batch_norm=False, name="decoder")
        model = VAE(encoder, decoder, beta=cfg.beta, name="vae")
        model.sampling.seed_generator = keras.random.SeedGenerator(seed)
        return model
    if kind == "dcgan":
        generator = _decoder(cfg, size, "tanh", batch_norm=cfg.gan_batch_norm, name="generator")
        images = keras.Input((size, size, 3), name="images")
        h = _encoder_trunk(cfg, size, images, cfg.dropout, leaky=True)
        discriminator = keras.Model(images, layers.Dense(1, name="logit")(h), name="discriminator")
        return DCGAN(generator, discriminator, cfg.latent_dim, cfg.label_smoothing, seed=seed,
                     generator_steps=cfg.generator_steps, name="dcgan")
    raise ValueError(f"unknown generator kind {kind!r}; use one of {KINDS}")


# --------------------------------------------------------------------------- render-time interface
class Generator:
    """A trained decoder: ``decode(z (n, latent_dim)) -> uint8 (n, S, S, 3)`` (the VAE's: :class:`VAEGenerator`).

    Attributes: ``kind`` (vae|dcgan), ``latent_dim``, ``size`` (S).
    """

    def __init__(self, decoder, kind: str, latent_dim: int, size: int, encoder=None):
        self.decoder, self.encoder = decoder, encoder
        self.kind, self.latent_dim, self.size = kind, int(latent_dim), int(size)

    def decode(self, z: np.ndarray, batch_size: int = 64) -> np.ndarray:
        """Images of latent vectors ``z (n, latent_dim)`` as uint8 ``(n, S, S, 3)``.

        Raises:
            ValueError: ``z`` is not ``(n, latent_dim)``.
        """
        z = np.asarray(z, np.float32)
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"z must be (n, {self.latent_dim}), got {z.shape}")
        out = np.zeros((len(z), self.size, self.size, 3), np.uint8)
        for i in range(0, len(z), batch_size):
            x = np.asarray(self.decoder(z[i:i + batch_size], training=False))
            x = (x + 1.0) / 2.0 if self.kind == "dcgan" else x
            out[i:i + batch_size] = np.clip(np.rint(x * 255.0), 0, 255).astype(np.uint8)
        return out


class VAEGenerator(Generator):
    """A VAE's decoder with its encoder: also ``encode`` (posterior means) and ``reconstruct``."""

    def encode(self, images: np.ndarray, batch_size: int = 64) -> np.ndarray:
        """Posterior means ``(n, latent_dim)`` of uint8 images ``(n, S, S, 3)``."""
        images = np.asarray(images)
        parts = [np.asarray(self.encoder(images[i:i + batch_size], training=False)[0])
                 for i in range(0, len(images), batch_size)]
        return np.concatenate(parts) if parts else np.zeros((0, self.latent_dim), np.float32)

    def reconstruct(self, images: np.ndarray) -> np.ndarray:
        """``decode(encode(images))``: uint8 reconstructions."""
        return self.decode(self.encode(images))


def save_generator(model, kind: str, size: int, latent_dim: int, out_dir: str | Path) -> Path:
    """Save the render-time part of a trained ``model`` into ``out_dir``: ``decoder.keras`` (plus
    ``encoder.keras`` for the VAE) and ``generator.json`` (kind, latent_dim, size). Atomic per file.

    Raises:
        ValueError: unknown ``kind``.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown generator kind {kind!r}")
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    decoder = model.decoder if kind == "vae" else model.generator
    with atomic_path(folder / "decoder.keras") as tmp:
        decoder.save(tmp)
    if kind == "vae":
        with atomic_path(folder / "encoder.keras") as tmp:
            model.encoder.save(tmp)
    write_json(folder / "generator.json", {"kind": kind, "latent_dim": int(latent_dim), "size": int(size)})
    return folder


def load_generator(model_dir: str | Path, kind: str | None = None) -> Generator:
    """Load a :class:`Generator` from the train stage's output folder.

    Args:
        model_dir: ``data/music_video/model`` (holds ``<kind>/`` folders and ``train.json`` naming the default) or
            one ``<kind>/`` folder itself.
        kind: ``vae`` or ``dcgan``; ``None`` = the render default recorded in ``train.json`` (else the only one).

    Raises:
        DataError: the folder, the requested generator or its files are missing or unreadable.
    """
    import keras

    _keras()  # registers the custom objects
    model_dir = Path(model_dir)
    if (model_dir / "generator.json").is_file() and kind in (None, json.loads(
            (model_dir / "generator.json").read_text())["kind"]):
        folder = model_dir
    else:
        if not model_dir.is_dir():
            raise DataError(f"model folder not found: {model_dir} (run the train stage first)")
        if kind is None:
            info = model_dir / "train.json"
            kinds = [p.parent.name for p in sorted(model_dir.glob("*/generator.json"))]
            kind = json.loads(info.read_text()).get("render_model") if info.is_file() else None
            kind = kind or (kinds[0] if kinds else None)
            if kind is None:
                raise DataError(f"{model_dir}: no trained generator (no */generator.json)")
        folder = model_dir / kind
    try:
        meta = json.loads((folder / "generator.json").read_text())
        decoder = keras.saving.load_model(folder / "decoder.keras", compile=False)
        encoder = (keras.saving.load_model(folder / "encoder.keras", compile=False)
                   if (folder / "encoder.keras").is_file() else None)
    except (OSError, ValueError, KeyError) as exc:
        raise DataError(f"{folder}: cannot load the generator ({exc})") from exc
    cls = VAEGenerator if encoder is not None else Generator
    return cls(decoder, meta["kind"], meta["latent_dim"], meta["size"], encoder)
