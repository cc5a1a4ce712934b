"""Optional frame effects: DeepDream on the VAE encoder's features and a fast neural style transfer network.

Both work on batches of frames ``(N, H, W, 3)`` float32 in [0, 1] and return the same shape and dtype;
:class:`FrameEffects` chains them for the renderer on uint8 generator frames, first resized to an *effect size*
(the generator renders 32 px; an effect at 32 px is nearly invisible, at the 512 px output it costs 16× more
than at 128 px; ffmpeg upscales what comes out).

**DeepDream** (Mordvintsev, Olah & Tyka 2015, "Inceptionism: Going Deeper into Neural Networks", Google Research
blog, and their ``deepdream`` notebook): gradient ascent on the image to increase the mean activation of one layer,
each step's gradient normalised by its mean absolute value, over ``octaves`` scales from coarse to fine with the
detail carried up (the notebook's octave loop), with optional random jitter (a seeded roll). The network is the
**encoder of the project's VAE** (the generator's own features): its strided ReLU convolutions (16, 32, 64
filters) were trained on the same images the generator draws, so the patterns it amplifies are the generator's
own strokes, gradients and edges. The DCGAN's discriminator would do as well, but the train stage saves only the
render-time parts (the VAE's encoder and decoder, the DCGAN's generator). The convolutions are re-applied to an
input of any size (they are fully convolutional; the encoder's flatten/dense head is dropped); layer 2 (stride 4,
32 filters) gives visible blob-and-stroke structure at 128 px, layer 1 is little more than edge sharpening,
layer 3 is coarse.

**Fast style transfer** (Johnson, Alahi & Fei-Fei 2016, "Perceptual Losses for Real-Time Style Transfer and
Super-Resolution"): a feed-forward transform network (9×9 conv, one strided conv, residual blocks, nearest
upsampling + conv as Odena et al. 2016 to avoid checkerboards, 9×9 conv, sigmoid) with **instance normalisation**
(Ulyanov, Vedaldi & Lempitsky 2016, "Instance Normalization: The Missing Ingredient for Fast Stylization"),
trained with a perceptual loss: content (feature distance) + style (Gram-matrix distance, Gatys et al. 2016) +
total variation. ImageNet VGG weights cannot be downloaded here, so the loss network is a **fixed random-weight**
convolutional network (three 3×3 conv + ReLU layers of 32/64/128 filters with 2× average pooling between them,
He-normal weights from a fixed seed): random features give usable Gram statistics for texture synthesis and style
(He, Wang & Hopcroft 2016, "A Powerful Generative Model Using Random Weights for the Deep Image Representation";
Ustyuzhaninov et al. 2017, "What does it take to generate natural textures?"). The VAE encoder was not used for
the loss: it has few channels (16-64) and a stride of 2 at its first layer, too coarse for Gram statistics of a
painting's brush texture, and it would tie the style network to one generator run.

Sources: the papers above; the TensorFlow DeepDream and style-transfer tutorials for the Keras patterns.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from shared.io import DataError, atomic_path, write_json

__all__ = ["EFFECTS", "DreamConfig", "StyleNetConfig", "StyleLossConfig", "build_style_net", "build_loss_net",
           "gram", "StyleTrainer", "style_image", "dream_network", "deep_dream", "StyleNet", "save_style_net",
           "load_style_net", "resize_frames", "FrameEffects", "load_effects"]

log = logging.getLogger(__name__)

#: effect names the renderer and the CLI accept
EFFECTS = ("style", "dream")
#: files of a trained style network folder
STYLE_MODEL, STYLE_META = "style_net.keras", "style.json"
#: the command that trains the style network (for error messages)
TRAIN_STYLE_CMD = ("python -m projects.music_video.train_style --params projects/music_video/params.yaml "
                   "--data data/music_video/prepared --work data/music_video/work/train_style "
                   "--out data/music_video/style")


@dataclass(frozen=True)
class DreamConfig:
    """DeepDream settings (``render.dream``).

    Raises:
        ValueError: ``layer`` not 1-3, ``octaves``/``steps`` < 1, ``octave_scale`` ≤ 1, ``step_size`` ≤ 0,
            ``strength`` not in [0, 1], ``jitter`` < 0.
    """

    #: which ReLU convolution of the VAE encoder (1: stride 2, 16 filters; 2: stride 4, 32; 3: stride 8, 64)
    layer: int = 2
    #: scales, each ``octave_scale`` smaller than the next (coarse to fine)
    octaves: int = 3
    octave_scale: float = 1.4
    #: gradient-ascent steps per octave
    steps: int = 8
    #: step on the [0, 1] image per unit of the mean-|g|-normalised gradient
    step_size: float = 0.01
    #: blend of the dreamed frame with the plain one (1 = dreamed only)
    strength: float = 1.0
    #: random roll of up to ± jitter pixels before each step (breaks the strided convolutions' grid; the same
    #: seeded rolls for every batch, so no flicker between frames)
    jitter: int = 4
    #: Gaussian smoothing (σ, pixels) of each step's gradient (0 = none): suppresses the stride-2 checkerboard
    blur: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.layer not in (1, 2, 3) or self.octaves < 1 or self.steps < 1:
            raise ValueError("dream.layer must be 1, 2 or 3 and octaves, steps ≥ 1")
        if (self.octave_scale <= 1 or self.step_size <= 0 or not 0 <= self.strength <= 1 or self.jitter < 0
                or self.blur < 0):
            raise ValueError("dream.octave_scale must be > 1, step_size > 0, strength in [0, 1], jitter and "
                             "blur ≥ 0")


@dataclass(frozen=True)
class StyleNetConfig:
    """Architecture of the style transform network (``style.net``).

    Raises:
        ValueError: ``filters`` < 1 or ``residual_blocks`` < 0.
    """

    #: filters of the full-resolution convolutions (the strided part has twice as many)
    filters: int = 8
    residual_blocks: int = 2

    def __post_init__(self) -> None:
        if self.filters < 1 or self.residual_blocks < 0:
            raise ValueError("style.net.filters must be ≥ 1 and residual_blocks ≥ 0")


@dataclass(frozen=True)
class StyleLossConfig:
    """The perceptual loss (``style.loss``): weights of the relative content, style and total-variation terms and
    the random loss network.

    Raises:
        ValueError: a negative weight, or no filters.
    """

    content_weight: float = 1.0
    style_weight: float = 1.0
    tv_weight: float = 2.0
    #: filters of the random loss network's three layers
    filters: tuple[int, ...] = (32, 64, 128)
    #: the content term uses this layer (1-based)
    content_layer: int = 2
    #: seed of the random loss network's weights
    seed: int = 0

    def __post_init__(self) -> None:
        if min(self.content_weight, self.style_weight, self.tv_weight) < 0 or not self.filters:
            raise ValueError("style.loss weights must be ≥ 0 and filters non-empty")
        if not 1 <= self.content_layer <= len(self.filters):
            raise ValueError(f"style.loss.content_layer must be in 1..{len(self.filters)}")


@functools.cache
def _keras():
    """Keras and the custom classes, defined once (on first use: no TensorFlow import at module import)."""
    import keras

    @keras.saving.register_keras_serializable(package="music_video")
    class InstanceNorm(keras.layers.Layer):
        """Instance normalisation (Ulyanov et al. 2016): each image's channels to zero mean, unit variance over
        (H, W), then a learnt per-channel scale and offset. Input/output ``(N, H, W, C)``."""

        def __init__(self, epsilon: float = 1e-5, **kwargs):
            super().__init__(**kwargs)
            self.epsilon = float(epsilon)

        def build(self, input_shape):
            c = int(input_shape[-1])
            self.gamma = self.add_weight(shape=(c,), initializer="ones", name="gamma")
            self.beta = self.add_weight(shape=(c,), initializer="zeros", name="beta")

        def call(self, x):
            from keras import ops

            mean = ops.mean(x, axis=(1, 2), keepdims=True)
            var = ops.var(x, axis=(1, 2), keepdims=True)
            return (x - mean) * ops.rsqrt(var + self.epsilon) * self.gamma + self.beta

        def get_config(self):
            return {**super().get_config(), "epsilon": self.epsilon}

    @keras.saving.register_keras_serializable(package="music_video")
    class StyleTrainer(keras.Model):
        """The transform network trained with the perceptual loss; input uint8 content images ``(B, S, S, 3)``.

        ``style_grams``: the style image's Gram matrices, one ``(C_l, C_l)`` per loss layer (constants).
        Metrics: loss, content, style, tv (each term before its weight).
        """

        def __init__(self, net, loss_net, style_grams: Sequence[np.ndarray], loss_cfg: StyleLossConfig, **kwargs):
            super().__init__(**kwargs)
            self.net, self.loss_net, self.loss_cfg = net, loss_net, loss_cfg
            self.style_grams = [np.asarray(g, np.float32) for g in style_grams]
            self.trackers = [keras.metrics.Mean(name=n) for n in ("loss", "content", "style", "tv")]

        @property
        def metrics(self):
            return self.trackers

        def build(self, input_shape=None):
            self.built = True  # functional parts, built at construction

        def call(self, images, training=False):
            return self.net(keras.ops.cast(images, "float32") / 255.0, training=training)

        def losses_of(self, images, training):
            from keras import ops

            x = ops.cast(images, "float32") / 255.0
            y = self.net(x, training=training)
            fx, fy = self.loss_net(x), self.loss_net(y)
            c = self.loss_cfg.content_layer - 1
            content = ops.mean(ops.square(fy[c] - fx[c])) / (ops.mean(ops.square(fx[c])) + 1e-8)
            style = 0.0
            for f, target in zip(fy, self.style_grams, strict=True):
                t = ops.convert_to_tensor(target)
                style = style + ops.mean(ops.square(gram(f) - t[None])) / (ops.mean(ops.square(t)) + 1e-12)
            style = style / len(self.style_grams)
            tv = (ops.mean(ops.square(y[:, 1:, :, :] - y[:, :-1, :, :]))
                  + ops.mean(ops.square(y[:, :, 1:, :] - y[:, :, :-1, :])))
            cfg = self.loss_cfg
            total = cfg.content_weight * content + cfg.style_weight * style + cfg.tv_weight * tv
            return total, content, style, tv

        def _update(self, values):
            for tracker, v in zip(self.trackers, values, strict=True):
                tracker.update_state(v)
            return {m.name: m.result() for m in self.trackers}

        def train_step(self, data):
            import tensorflow as tf

            images = data[0] if isinstance(data, tuple) else data
            with tf.GradientTape() as tape:
                values = self.losses_of(images, True)
            weights = self.net.trainable_weights
            self.optimizer.apply_gradients(zip(tape.gradient(values[0], weights), weights, strict=True))
            return self._update(values)

        def test_step(self, data):
            images = data[0] if isinstance(data, tuple) else data
            return self._update(self.losses_of(images, False))

    return keras, InstanceNorm, StyleTrainer


def gram(features):
    """Gram matrices of ``features (N, H, W, C)``: ``(N, C, C)``, ``Σ_hw f_c f_d / (H·W)`` (Gatys et al. 2016)."""
    from keras import ops

    shape = ops.shape(features)
    flat = ops.reshape(features, (shape[0], -1, shape[3]))
    hw = ops.cast(ops.shape(flat)[1], features.dtype)
    return ops.einsum("nic,nid->ncd", flat, flat) / hw


def build_style_net(cfg: StyleNetConfig):
    """The transform network (Johnson et al. 2016, reduced): float images ``(N, H, W, 3)`` in [0, 1] with H, W
    even → stylised images of the same shape in [0, 1] (sigmoid). Fully convolutional: trained at one size, it
    runs at any even size. Pure: same config, same architecture (weights Keras-initialised)."""
    keras, InstanceNorm, _ = _keras()
    from keras import layers

    f = cfg.filters

    def conv(x, filters, kernel, stride=1, act=True):
        x = layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False)(x)
        x = InstanceNorm()(x)
        return layers.ReLU()(x) if act else x

    inp = keras.Input((None, None, 3), name="frames")
    x = layers.Rescaling(2.0, offset=-1.0)(inp)
    x = conv(x, f, 9)
    x = conv(x, 2 * f, 3, stride=2)
    for _ in range(cfg.residual_blocks):
        x = layers.Add()([x, conv(conv(x, 2 * f, 3), 2 * f, 3, act=False)])
    x = layers.UpSampling2D(2, interpolation="nearest")(x)
    x = conv(x, f, 3)
    out = layers.Conv2D(3, 9, padding="same", activation="sigmoid", name="stylised")(x)
    return keras.Model(inp, out, name="style_net")


def build_loss_net(cfg: StyleLossConfig):
    """The fixed random-weight loss network: float images ``(N, H, W, 3)`` in [0, 1] → a list of ReLU feature maps,
    layer ``l`` at ``1/2^(l-1)`` of the input side with ``cfg.filters[l-1]`` channels. Not trainable; the weights
    are He-normal draws of ``cfg.seed`` (He et al. 2016: random features suffice for Gram statistics)."""
    keras, *_ = _keras()
    from keras import layers

    inp = keras.Input((None, None, 3))
    x = layers.Rescaling(2.0, offset=-1.0)(inp)
    outs = []
    for i, filters in enumerate(cfg.filters):
        if i:
            x = layers.AveragePooling2D(2)(x)
        x = layers.Conv2D(filters, 3, padding="same", activation="relu",
                          kernel_initializer=keras.initializers.HeNormal(seed=cfg.seed + i),
                          bias_initializer="zeros")(x)
        outs.append(x)
    model = keras.Model(inp, outs, name="loss_net")
    model.trainable = False
    return model


def StyleTrainer(net, loss_net, style_grams, loss_cfg: StyleLossConfig):  # noqa: N802 - a class factory
    """A :class:`keras.Model` training ``net`` with the perceptual loss of ``loss_net`` features against the style
    image's ``style_grams``; compile with ``compile(optimizer=...)``, fit on uint8 content images."""
    _, _, cls = _keras()
    return cls(net, loss_net, style_grams, loss_cfg, name="style_trainer")


def style_image(path: str | os.PathLike | None, size: int, seed: int = 0) -> np.ndarray:
    """The style image as float32 ``(size, size, 3)`` in [0, 1]: the file at ``path`` (any format
    ``shared.io.read_image`` reads; grey is repeated to RGB, alpha dropped; centre-cropped to a square, resized),
    or for ``""``/``None`` the embedded default: a procedural abstract painting of :mod:`projects.music_video.art`
    at ``seed`` (made offline).

    Raises:
        DataError: the file is missing, unreadable or not an image (one line).
        ValueError: ``size`` < 8.
    """
    from skimage.transform import resize

    if size < 8:
        raise ValueError(f"style image size must be ≥ 8, got {size}")
    if not path:
        from projects.music_video.art import abstract_images

        img = abstract_images(1, 256, np.random.default_rng(seed))[0]
    else:
        from shared.io import read_image

        try:
            img = read_image(path)
        except DataError as exc:
            raise DataError(f"style image {path}: {str(exc).splitlines()[0]}") from None
        if img.ndim == 2:
            img = img[..., None]
        img = img[..., :3] if img.shape[-1] >= 3 else np.repeat(img[..., :1], 3, axis=-1)
    img = img.astype(np.float32) / (65535.0 if img.dtype == np.uint16 else 255.0 if img.dtype == np.uint8 else 1.0)
    h, w = img.shape[:2]
    s = min(h, w)
    img = img[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
    return np.clip(resize(img, (size, size), anti_aliasing=True), 0, 1).astype(np.float32)


def resize_frames(frames: np.ndarray, size: int) -> np.ndarray:
    """Frames ``(N, h, w, 3)`` (uint8 or float in [0, 1]) → float32 ``(N, size, size, 3)`` in [0, 1] (bicubic,
    clipped); unchanged values when already that size."""
    import tensorflow as tf

    x = np.asarray(frames)
    x = x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32)
    if x.shape[1:3] == (size, size):
        return x
    return np.clip(tf.image.resize(x, (size, size), method="bicubic").numpy(), 0, 1).astype(np.float32)


# ------------------------------------------------------------------------------------------------------ DeepDream
def dream_network(encoder, layer: int):
    """The ReLU output of the ``layer``-th convolution (1-based) of a VAE ``encoder`` as a fully convolutional
    model: float images ``(N, H, W, 3)`` in [0, 1] → ``(N, H/2^layer, W/2^layer, C)``. The encoder's own layers
    (shared weights); its rescaling of uint8 input and its dense head are left out.

    Raises:
        DataError: the encoder has fewer than ``layer`` convolutions.
    """
    keras, *_ = _keras()
    from keras import layers

    inp = keras.Input((None, None, 3), name="frames")
    x, n = inp, 0
    for lay in encoder.layers:
        if isinstance(lay, layers.Conv2D):
            x, n = lay(x), n + 1
        elif isinstance(lay, layers.ReLU | layers.LeakyReLU) and n:
            x = lay(x)
            if n == layer:
                return keras.Model(inp, x, name=f"dream_layer{layer}")
    raise DataError(f"the encoder has {n} convolutions; dream.layer {layer} is not one of them")


def _gaussian_kernel(sigma: float) -> np.ndarray:
    """A depthwise (k, k, 3, 1) Gaussian kernel of ``sigma`` pixels (k = 2·ceil(2σ) + 1)."""
    r = max(int(np.ceil(2 * sigma)), 1)
    g = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k = np.outer(g, g) / np.outer(g, g).sum()
    return np.repeat(k[:, :, None, None], 3, axis=2).astype(np.float32)


@functools.cache
def _dream_step(features, blur: float):
    import tensorflow as tf

    kernel = tf.constant(_gaussian_kernel(blur)) if blur > 0 else None

    @tf.function(reduce_retracing=True)
    def step(x, step_size):
        with tf.GradientTape() as tape:
            tape.watch(x)
            act = features(x, training=False)
            # the notebook's L2 objective, per image (each image gets its own gradient)
            loss = tf.reduce_sum(tf.reduce_mean(tf.square(act), axis=[1, 2, 3]))
        g = tape.gradient(loss, x)
        if kernel is not None:
            g = tf.nn.depthwise_conv2d(g, kernel, [1, 1, 1, 1], "SAME")
        g = g - tf.reduce_mean(g, axis=[1, 2], keepdims=True)  # structure, not a colour cast
        g = g / (tf.reduce_mean(tf.abs(g), axis=[1, 2, 3], keepdims=True) + 1e-8)
        return tf.clip_by_value(x + step_size * g, 0.0, 1.0)

    return step


def deep_dream(frames: np.ndarray, features, cfg: DreamConfig) -> np.ndarray:
    """DeepDream of a batch: gradient ascent on the mean squared activation (the notebook's L2 objective) of
    ``features`` (:func:`dream_network`),
    octave by octave from ``octave_scale^(octaves-1)`` smaller to full size, the detail added so far carried up
    each octave (Mordvintsev et al.'s notebook), then blended with the input by ``cfg.strength``.

    Args:
        frames: float32 ``(N, H, W, 3)`` in [0, 1] (H, W ≥ 8; octaves smaller than 16 px are skipped).
        features: a model from :func:`dream_network`.
        cfg: steps, step size, octaves, strength, jitter and its seed.

    Returns:
        float32 ``(N, H, W, 3)`` in [0, 1]; deterministic for a seed (the jitter's rolls are drawn from it).

    Raises:
        ValueError: ``frames`` not ``(N, H, W, 3)``.
    """
    import tensorflow as tf

    x0 = np.asarray(frames, np.float32)
    if x0.ndim != 4 or x0.shape[-1] != 3:
        raise ValueError(f"frames must be (N, H, W, 3), got {x0.shape}")
    pad = max(4, min(x0.shape[1:3]) // 8)  # reflect-padded: the convolutions' zero padding would grow the edges
    x0_pad = np.pad(x0, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="reflect")
    h, w = x0_pad.shape[1:3]
    shapes = [(h, w)]
    for i in range(1, cfg.octaves):
        s = (int(round(h / cfg.octave_scale ** i)), int(round(w / cfg.octave_scale ** i)))
        if min(s) < 16:
            break
        shapes.append(s)
    step = _dream_step(features, float(cfg.blur))
    rng = np.random.default_rng(cfg.seed)
    step_size = tf.constant(cfg.step_size, tf.float32)
    base_full = tf.constant(x0_pad)
    detail = None
    x = base_full
    for shape in reversed(shapes):
        base = base_full if shape == (h, w) else tf.image.resize(base_full, shape, method="bilinear")
        detail = tf.zeros_like(base) if detail is None else tf.image.resize(detail, shape, method="bilinear")
        x = base + detail
        for _ in range(cfg.steps):
            if cfg.jitter:
                dy, dx = (int(v) for v in rng.integers(-cfg.jitter, cfg.jitter + 1, 2))
                x = tf.roll(step(tf.roll(x, (dy, dx), (1, 2)), step_size), (-dy, -dx), (1, 2))
            else:
                x = step(x, step_size)
        detail = x - base
    x = np.asarray(x)[:, pad:h - pad, pad:w - pad]
    out = (1.0 - cfg.strength) * x0 + cfg.strength * x
    return np.clip(out, 0.0, 1.0).astype(np.float32)


# ------------------------------------------------------------------------------------------------ style network
class StyleNet:
    """A trained style transform network: ``apply(frames float32 (N, H, W, 3) in [0, 1], H and W even) →`` the
    same shape and dtype, blended with the input by ``strength``. Attributes: ``model``, ``meta`` (style.json)."""

    def __init__(self, model, meta: dict | None = None):
        self.model, self.meta = model, dict(meta or {})

    def apply(self, frames: np.ndarray, strength: float = 1.0, batch_size: int = 16) -> np.ndarray:
        """Stylise ``frames`` in batches of ``batch_size``.

        Raises:
            ValueError: not ``(N, H, W, 3)`` with even H, W, or ``strength`` outside [0, 1].
        """
        x = np.asarray(frames, np.float32)
        if x.ndim != 4 or x.shape[-1] != 3 or x.shape[1] % 2 or x.shape[2] % 2:
            raise ValueError(f"frames must be (N, H, W, 3) with even H, W, got {x.shape}")
        if not 0 <= strength <= 1:
            raise ValueError(f"style strength must be in [0, 1], got {strength}")
        out = np.empty_like(x)
        for i in range(0, len(x), batch_size):
            out[i:i + batch_size] = np.asarray(self.model(x[i:i + batch_size], training=False))
        return np.clip((1.0 - strength) * x + strength * out, 0.0, 1.0).astype(np.float32)


def save_style_net(net, out_dir: str | os.PathLike, meta: dict) -> Path:
    """Write ``style_net.keras`` and ``style.json`` (``meta``) into ``out_dir`` (atomic per file)."""
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(folder / STYLE_MODEL) as tmp:
        net.save(tmp)
    write_json(folder / STYLE_META, meta)
    return folder


def load_style_net(folder: str | os.PathLike) -> StyleNet:
    """Load a trained :class:`StyleNet` (Keras ``safe_mode``: no code is deserialised, only registered layers).

    Raises:
        DataError: the folder or its files are missing or unreadable; the message names the command that trains
            the style network.
    """
    import json

    import keras

    _keras()  # registers InstanceNorm
    folder = Path(folder)
    path = folder / STYLE_MODEL
    if not path.is_file():
        raise DataError(f"style network not found: {path} (train it first: {TRAIN_STYLE_CMD}, or "
                        f"`capstone run music_video`)")
    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
        meta = json.loads((folder / STYLE_META).read_text()) if (folder / STYLE_META).is_file() else {}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(f"{path}: cannot load the style network ({str(exc).splitlines()[0][:200]})") from exc
    return StyleNet(model, meta)


# ------------------------------------------------------------------------------------------------ the renderer's
class FrameEffects:
    """The renderer's frame filter: uint8 frames ``(n, S, S, 3)`` → uint8 ``(n, size, size, 3)``, resized to
    ``size`` (bicubic) and passed through ``effects`` in order.

    Args:
        effects: names from :data:`EFFECTS` (an empty list only resizes).
        size: the effect size (pixels, even).
        style: a :class:`StyleNet` (needed for ``style``), ``style_strength`` its blend.
        dream: a :func:`dream_network` model (needed for ``dream``), ``dream_cfg`` its settings.
        batch_size: frames per effect call (memory: at 512 px a DeepDream batch of 8 needs ~1 GB).

    Raises:
        ValueError: an unknown effect, a missing network for a requested effect, or an odd/too small size.
    """

    def __init__(self, effects: Sequence[str], size: int, *, style: StyleNet | None = None,
                 style_strength: float = 1.0, dream=None, dream_cfg: DreamConfig | None = None,
                 batch_size: int = 8):
        unknown = [e for e in effects if e not in EFFECTS]
        if unknown:
            raise ValueError(f"unknown effect {unknown[0]!r}; use one of {', '.join(EFFECTS)}")
        if size < 16 or size % 2:
            raise ValueError(f"effect size must be an even number ≥ 16, got {size}")
        if "style" in effects and style is None:
            raise ValueError("the style effect needs a trained style network")
        if "dream" in effects and dream is None:
            raise ValueError("the dream effect needs the VAE encoder's dream network")
        self.effects, self.size, self.batch_size = tuple(effects), int(size), int(batch_size)
        self.style, self.style_strength = style, float(style_strength)
        self.dream, self.dream_cfg = dream, dream_cfg or DreamConfig()

    def apply_float(self, frames: np.ndarray) -> np.ndarray:
        """float32 ``(n, size, size, 3)`` in [0, 1] through every effect (no resizing)."""
        x = frames
        for name in self.effects:
            if name == "style":
                x = self.style.apply(x, self.style_strength, self.batch_size)
            else:
                x = np.concatenate([deep_dream(x[i:i + self.batch_size], self.dream, self.dream_cfg)
                                    for i in range(0, len(x), self.batch_size)]) if len(x) else x
        return x

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        x = self.apply_float(resize_frames(frames, self.size))
        return np.clip(np.rint(x * 255.0), 0, 255).astype(np.uint8)


def load_effects(effects: Sequence[str], size: int, *, model_dir: str | os.PathLike | None = None,
                 style_dir: str | os.PathLike | None = None, style_strength: float = 1.0,
                 dream_cfg: DreamConfig | None = None, batch_size: int = 8) -> FrameEffects:
    """A :class:`FrameEffects` with only the networks ``effects`` need loaded: the style network from
    ``style_dir`` (``style``), the VAE encoder of ``model_dir`` (``dream``).

    Raises:
        ValueError: an unknown effect name (one line, the known names).
        DataError: a needed network is missing (the message says which command trains it) or unreadable.
    """
    unknown = [e for e in effects if e not in EFFECTS]
    if unknown:
        raise ValueError(f"unknown effect {unknown[0]!r}; use one of {', '.join(EFFECTS)}")
    dream_cfg = dream_cfg or DreamConfig()
    style = dream = None
    if "style" in effects:
        if style_dir is None:
            raise DataError(f"the style effect needs a trained style network (train it: {TRAIN_STYLE_CMD})")
        style = load_style_net(style_dir)
    if "dream" in effects:
        from projects.music_video.model import load_generator

        if model_dir is None or not (Path(model_dir) / "vae" / "encoder.keras").is_file() and not (
                Path(model_dir) / "encoder.keras").is_file():
            raise DataError(f"the dream effect needs the trained VAE's encoder ({model_dir}/vae/encoder.keras; "
                            "train it with the train stage, train.models including vae)")
        dream = dream_network(load_generator(model_dir, "vae").encoder, dream_cfg.layer)
    return FrameEffects(effects, size, style=style, style_strength=style_strength, dream=dream,
                        dream_cfg=dream_cfg, batch_size=batch_size)
