"""The captioning networks: shapes, causality, the doubly stochastic loss, save/load of the custom layers."""

import keras
import numpy as np
import pytest

from projects.image_captioning.model import EncoderConfig, LSTMConfig, ModelConfig, TransformerConfig, build_model

TINY = ModelConfig(encoder=EncoderConfig(widths=(8, 16), dim=16),
                   transformer=TransformerConfig(dim=16, heads=2, layers=1, ff_dim=32),
                   lstm=LSTMConfig(embed_dim=16, units=16, attention_dim=8))


def _inputs(b=2, c=3, t=7, v=20, seed=0):
    rng = np.random.default_rng(seed)
    tokens = rng.integers(2, v, (b, c, t)).astype(np.int32)
    tokens[:, -1] = 0  # an all-padding caption row
    return {"image": rng.integers(0, 256, (b, 32, 32, 3), dtype=np.uint8), "tokens": tokens}


@pytest.mark.parametrize("decoder", ["transformer", "lstm"])
def test_shapes_causality_and_round_trip(decoder, tmp_path):
    model = build_model(TINY, decoder, 32, 20, 7)
    x = _inputs()
    logits = np.asarray(model(x))
    assert logits.shape == (2, 3, 7, 20) and np.isfinite(logits).all()
    assert model.get_layer("encoder").output.shape[1:] == (64, 16)  # 32 px, two stride-2 stages: 8 × 8 positions
    # teacher forcing is causal: changing token 4 leaves the logits of positions 0-3 unchanged
    y = {**x, "tokens": x["tokens"].copy()}
    y["tokens"][:, :, 4] = 1
    changed = np.asarray(model(y))
    np.testing.assert_allclose(changed[:, :, :4], logits[:, :, :4], atol=1e-5)
    assert not np.allclose(changed[:, :2, 4:], logits[:, :2, 4:])
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", compile=False)
    np.testing.assert_allclose(np.asarray(loaded(x)), logits, atol=1e-6)


def test_lstm_adds_the_doubly_stochastic_loss_only_when_asked():
    model = build_model(TINY, "lstm", 32, 20, 7)
    model(_inputs(), training=True)
    assert len(model.losses) == 1 and float(model.losses[0]) > 0
    off = build_model(ModelConfig(encoder=TINY.encoder, lstm=LSTMConfig(embed_dim=16, units=16, attention_dim=8,
                                                                        doubly_stochastic=0.0)), "lstm", 32, 20, 7)
    off(_inputs(), training=True)
    assert not off.losses


def test_bad_configs():
    with pytest.raises(ValueError, match="decoder"):
        build_model(TINY, "gru", 32, 20, 7)
    with pytest.raises(ValueError):
        TransformerConfig(dim=10, heads=3)
    with pytest.raises(FileNotFoundError, match="pretrained_weights"):
        build_model(ModelConfig(encoder=EncoderConfig(backbone="mobilenet_v2", pretrained_weights="no/such.h5")),
                    "lstm", 32, 20, 7)
