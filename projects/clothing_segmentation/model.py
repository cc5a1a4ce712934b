"""The click-conditioned segmenter: a pure ``build_model(cfg)`` factory (Keras 3, trained from scratch).

A small MobileNet-style U-Net for 2 CPU cores, in the spirit of RITM (Sofiiuk et al. 2022):

* **inputs** ``image`` (S, S, 3) uint8-range RGB, ``clicks`` (S, S, 2) disk maps (channel 0 positive,
  channel 1 negative; :func:`projects.clothing_segmentation.clicks.encode_clicks`) and ``prev_mask``
  (S, S, 1), the previous prediction as a probability (zeros before the first click);
* **fusion** as RITM's "Conv1S": the image stem and a stem on the clicks and previous mask are added, so the
  click information enters at the first layer without changing the image branch;
* **click colour similarity** (:class:`ClickColourSimilarity`): for the positive and for the negative clicks, a
  Gaussian of each pixel's colour distance to the mean colour under those clicks, two more channels of the click
  stem (the cue GrabCut is built on, which a small convolutional network trained for minutes learns only slowly);
* **encoder**: inverted-residual blocks (MobileNetV2: 1×1 expansion, 3×3 depthwise, 1×1 projection), one
  stage per width, each after the first halving the resolution (the stem halves it once more);
* **decoder**: bilinear up-sampling, the encoder's skip connection, a separable 3×3 convolution; mask logits
  at half resolution, up-sampled bilinearly to the input size;
* **class head**: the garment class of the selected object, from the bottleneck features pooled under the
  predicted mask (:class:`MaskPooling`, gradient stopped at the mask so the class loss does not shape it)
  beside their global average.

The model is fully convolutional (spatial size ``None``); sizes must be multiples of ``2 ** len(widths)``.
Outputs: ``{"mask": logits (S, S, 1), "class": logits (K,)}``.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
from keras import layers, ops

PACKAGE = "clothing_segmentation"


@dataclass(frozen=True)
class ModelConfig:
    #: channels of the encoder stages; stage i works at 1/2^(i+1) of the input size
    widths: tuple[int, ...] = (16, 24, 40, 64)
    #: inverted-residual blocks per stage
    blocks_per_stage: int = 1
    #: expansion factor of the inverted-residual blocks
    expansion: int = 2
    #: channels of every decoder level
    decoder_width: int = 24
    #: hidden units of the class head
    class_hidden: int = 64
    dropout: float = 0.2
    bn_momentum: float = 0.9
    #: width (in the [-1, 1] colour scale) of the click colour-similarity maps (:class:`ClickColourSimilarity`)
    colour_sigma: float = 0.25
    #: number of garment classes (the train stage sets it from the prepared data's meta.json)
    n_classes: int = 12

    def __post_init__(self) -> None:
        if len(self.widths) < 2 or min(self.widths) < 1 or self.blocks_per_stage < 1 or self.expansion < 1:
            raise ValueError("at least two positive widths, blocks_per_stage ≥ 1 and expansion ≥ 1 are required")
        if self.decoder_width < 1 or self.class_hidden < 1 or self.n_classes < 1:
            raise ValueError("decoder_width, class_hidden and n_classes must be positive")
        if not 0 <= self.dropout < 1 or not 0 < self.bn_momentum < 1 or self.colour_sigma <= 0:
            raise ValueError("0 ≤ dropout < 1, 0 < bn_momentum < 1 and colour_sigma > 0 are required")

    @property
    def divisor(self) -> int:
        """Input sizes must be multiples of this."""
        return 2 ** len(self.widths)


@keras.saving.register_keras_serializable(package=PACKAGE)
class MaskPooling(layers.Layer):
    """Average of ``features`` (B, h, w, C) weighted by a mask probability (B, h, w, 1), beside their plain mean.

    The weights are ``sigmoid(logits)`` with the gradient stopped, so a loss on the pooled features does not
    move the mask. Output: (B, 2C), the masked mean then the global mean.
    """

    def __init__(self, epsilon: float = 1e-3, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)

    def call(self, features, mask_logits):
        weights = ops.sigmoid(ops.stop_gradient(ops.cast(mask_logits, features.dtype)))
        masked = ops.sum(features * weights, axis=(1, 2)) / (ops.sum(weights, axis=(1, 2)) + self.epsilon)
        return ops.concatenate([masked, ops.mean(features, axis=(1, 2))], axis=-1)

    def compute_output_shape(self, features_shape, mask_logits_shape):
        return (features_shape[0], 2 * features_shape[-1])

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package=PACKAGE)
class ImageScaling(layers.Layer):
    """uint8-range RGB → [-1, 1] (the image input takes raw pixel values, as the predictor and app hold them)."""

    def call(self, image):
        return ops.cast(image, self.compute_dtype) / 127.5 - 1.0

    def get_config(self):
        return super().get_config()


@keras.saving.register_keras_serializable(package=PACKAGE)
class ClickColourSimilarity(layers.Layer):
    """How close each pixel's colour is to the mean colour under the positive and under the negative clicks.

    Inputs: ``image`` (B, H, W, 3) scaled to [-1, 1] and ``clicks`` (B, H, W, 2) disk maps (positive, negative).
    Output (B, H, W, 2): ``exp(-|x - mu_k|^2 / (2 sigma^2))`` for k = positive, negative, where ``mu_k`` is the
    image's mean colour under the disks of kind k; zero where there is no click of that kind. A convolution
    learns "the same colour as the clicked point" only slowly, because it must carry the click's colour across
    the garment; this hands it over at the first layer (the colour cue GrabCut is built on).
    """

    def __init__(self, sigma: float = 0.25, **kwargs):
        super().__init__(**kwargs)
        self.sigma = float(sigma)

    def call(self, image, clicks):
        image = ops.cast(image, self.compute_dtype)
        clicks = ops.cast(clicks, self.compute_dtype)
        weight = ops.sum(clicks, axis=(1, 2))  # (B, 2)
        mean = ops.einsum("bhwc,bhwk->bkc", image, clicks) / (weight[..., None] + 1e-6)  # (B, 2, 3)
        d2 = ops.sum(ops.square(image[:, :, :, None, :] - mean[:, None, None, :, :]), axis=-1)  # (B, H, W, 2)
        present = ops.cast(weight > 0, self.compute_dtype)[:, None, None, :]
        return ops.exp(-d2 / (2.0 * self.sigma ** 2)) * present

    def compute_output_shape(self, image_shape, clicks_shape):
        return (*image_shape[:3], 2)

    def get_config(self):
        return {**super().get_config(), "sigma": self.sigma}


def _bn(cfg: ModelConfig, name: str) -> layers.Layer:
    return layers.BatchNormalization(momentum=cfg.bn_momentum, name=name)


def _inverted_residual(x, filters: int, stride: int, cfg: ModelConfig, name: str):
    inputs = x
    channels = x.shape[-1]
    y = layers.Conv2D(channels * cfg.expansion, 1, use_bias=False, name=f"{name}_expand")(x)
    y = layers.ReLU(6.0, name=f"{name}_expand_relu")(_bn(cfg, f"{name}_expand_bn")(y))
    y = layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False, name=f"{name}_dw")(y)
    y = layers.ReLU(6.0, name=f"{name}_dw_relu")(_bn(cfg, f"{name}_dw_bn")(y))
    y = layers.Conv2D(filters, 1, use_bias=False, name=f"{name}_project")(y)
    y = _bn(cfg, f"{name}_project_bn")(y)
    if stride == 1 and channels == filters:
        y = layers.Add(name=f"{name}_add")([inputs, y])
    return y


def _decoder_level(x, skip, cfg: ModelConfig, name: str):
    x = layers.UpSampling2D(2, interpolation="bilinear", name=f"{name}_up")(x)
    x = layers.Concatenate(name=f"{name}_concat")([x, skip])
    x = layers.SeparableConv2D(cfg.decoder_width, 3, padding="same", use_bias=False, name=f"{name}_conv")(x)
    return layers.ReLU(name=f"{name}_relu")(_bn(cfg, f"{name}_bn")(x))


def build_model(cfg: ModelConfig) -> keras.Model:
    """The segmenter: inputs ``image``, ``clicks``, ``prev_mask``; outputs ``mask`` and ``class`` logits.

    Pure: the same config gives the same architecture (weights are initialised from Keras' global seed).
    """
    image = keras.Input(shape=(None, None, 3), name="image")
    clicks = keras.Input(shape=(None, None, 2), name="clicks")
    prev_mask = keras.Input(shape=(None, None, 1), name="prev_mask")
    w0 = cfg.widths[0]
    scaled = ImageScaling(name="scale")(image)
    x = layers.Conv2D(w0, 3, strides=2, padding="same", use_bias=False, name="stem_image")(scaled)
    similarity = ClickColourSimilarity(cfg.colour_sigma, name="click_colour")(scaled, clicks)
    aux = layers.Concatenate(name="aux_concat")([clicks, prev_mask, similarity])
    aux = layers.Conv2D(w0, 3, strides=2, padding="same", use_bias=False, name="stem_aux")(aux)
    x = layers.Add(name="stem_fuse")([x, aux])
    x = layers.ReLU(6.0, name="stem_relu")(_bn(cfg, "stem_bn")(x))
    skips = []
    for s, width in enumerate(cfg.widths):
        for b in range(cfg.blocks_per_stage):
            stride = 2 if (s > 0 and b == 0) else 1
            x = _inverted_residual(x, width, stride, cfg, f"stage{s + 1}_block{b + 1}")
        skips.append(x)
    bottleneck = x
    for level in range(len(cfg.widths) - 2, -1, -1):
        x = _decoder_level(x, skips[level], cfg, f"decoder{level + 1}")
    half_logits = layers.Conv2D(1, 1, name="mask_half")(x)
    mask = layers.UpSampling2D(2, interpolation="bilinear", name="mask_up")(half_logits)
    mask = layers.Activation("linear", dtype="float32", name="mask")(mask)
    # the mask at the bottleneck's resolution (1/2 → 1/2^len(widths))
    pool = 2 ** (len(cfg.widths) - 1)
    low = layers.AveragePooling2D(pool, name="mask_low")(half_logits)
    h = MaskPooling(name="mask_pooling")(bottleneck, low)
    h = layers.Dense(cfg.class_hidden, activation="relu", name="class_hidden")(h)
    h = layers.Dropout(cfg.dropout, name="class_dropout")(h)
    cls = layers.Dense(cfg.n_classes, name="class_logits")(h)
    cls = layers.Activation("linear", dtype="float32", name="class")(cls)
    return keras.Model({"image": image, "clicks": clicks, "prev_mask": prev_mask}, {"mask": mask, "class": cls},
                       name="click_segmenter")


def load_model(path) -> keras.Model:
    """Load a saved segmenter (``model.keras``); the custom layers are registered by importing this module.

    Raises:
        DataError: the file is missing or cannot be loaded.
    """
    from pathlib import Path

    from shared.io import DataError

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} not found; run the train stage first")
    try:
        return keras.saving.load_model(path, compile=False)
    except Exception as exc:
        raise DataError(f"{path} cannot be loaded (corrupt?): {exc}") from exc
