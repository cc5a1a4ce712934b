"""The CNN: each head builds with logits (n, C); get_config round trips; save/load keeps the outputs."""

import keras
import numpy as np
import pytest

from projects.cartoon_characters.model import HEADS, ClassQueryAttentionHead, GlobalPoolHead, ModelConfig, build_model

TINY = dict(widths=(4, 8), convs_per_stage=1, attention_dim=8, n_classes=3, size=16)


@pytest.mark.parametrize("head", HEADS)
def test_each_head_builds_and_round_trips(head, tmp_path):
    net = build_model(ModelConfig(head=head, **TINY))
    frames = np.random.default_rng(0).integers(0, 256, (2, 16, 16, 3), dtype=np.uint8)
    logits = net.predict(frames, verbose=0)
    assert logits.shape == (2, 3) and np.isfinite(logits).all()
    assert net.get_layer("features").output.shape[1:3] == (2, 2)  # stem 4 (stride 2 + pooling), one 2×2 pooling
    net.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras", compile=False)
    np.testing.assert_allclose(again.predict(frames, verbose=0), logits, rtol=1e-5, atol=1e-5)


def test_head_layers_get_config_round_trip():
    for layer in (GlobalPoolHead(5, pool="max", dropout=0.2), ClassQueryAttentionHead(5, dim=6, dropout=0.1)):
        clone = type(layer).from_config(layer.get_config())
        assert clone.get_config() == layer.get_config()
    features = np.random.default_rng(0).normal(size=(2, 3, 3, 7)).astype("float32")
    head = ClassQueryAttentionHead(5, dim=6)
    assert head(features).shape == (2, 5)
    attn = np.asarray(head.attention(features))
    assert attn.shape == (2, 5, 3, 3)
    np.testing.assert_allclose(attn.sum(axis=(2, 3)), 1.0, rtol=1e-5)  # a softmax over the positions


def test_bad_model_config_is_refused():
    with pytest.raises(ValueError, match="head"):
        ModelConfig(head="avg")
    with pytest.raises(ValueError, match="multiple"):
        ModelConfig(size=18, widths=(4, 8))
