"""Both generators build, take a training step, survive a get_config round trip, save and load for rendering."""

import numpy as np
import pytest

from projects.music_video import model as M
from shared.io import DataError

CFG = M.ModelConfig(latent_dim=4, filters=4)


def _images(n=8, size=8):
    return np.random.default_rng(0).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


@pytest.mark.parametrize("kind", M.KINDS)
def test_build_train_step_round_trip_and_generator(kind, tmp_path):
    import keras

    m = M.build_model(CFG, kind, 8, seed=1)
    if kind == "vae":
        m.compile(optimizer=keras.optimizers.Adam(1e-3))
    else:
        m.compile()
    logs = m.train_on_batch(_images(), return_dict=True)
    assert all(np.isfinite(v) for v in logs.values())
    assert ({"loss", "reconstruction", "kl"} if kind == "vae" else {"d_loss", "g_loss"}) <= set(logs)
    clone = type(m).from_config(m.get_config())
    assert type(clone) is type(m) and clone.get_config()["name"] == m.get_config()["name"]
    M.save_generator(m, kind, 8, CFG.latent_dim, tmp_path / kind)
    gen = M.load_generator(tmp_path, kind)
    z = np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32)
    out = gen.decode(z)
    assert out.shape == (3, 8, 8, 3) and out.dtype == np.uint8 and gen.latent_dim == 4 and gen.size == 8
    decoder = m.decoder if kind == "vae" else m.generator
    ref = np.asarray(decoder(z))
    ref = (ref + 1) / 2 if kind == "dcgan" else ref
    assert np.abs(out.astype(float) - ref * 255).max() <= 1.0
    if kind == "vae":
        assert gen.reconstruct(_images(2)).shape == (2, 8, 8, 3)
    else:
        assert not hasattr(gen, "encode") and not hasattr(gen, "reconstruct")
    with pytest.raises(ValueError, match="z must be"):
        gen.decode(np.zeros((2, 5)))


def test_sampling_layer_config_and_errors(tmp_path):
    _, Sampling, _, _ = M._keras()
    layer = Sampling(seed=3, name="s")
    assert Sampling.from_config(layer.get_config()).seed == 3
    with pytest.raises(ValueError, match="multiple of 8"):
        M.build_model(CFG, "vae", 12)
    with pytest.raises(ValueError, match="unknown generator"):
        M.build_model(CFG, "gan2", 8)
    with pytest.raises(ValueError):
        M.ModelConfig(label_smoothing=0.6)
    with pytest.raises(DataError, match="not found"):
        M.load_generator(tmp_path / "none")
