"""The latent trajectory: cuts on the keyframe frames, steady motion without beats, deterministic."""

from types import SimpleNamespace

import numpy as np
import pytest

from projects.music_video import latent


def _analysis(beats, onsets=(), duration=4.0, silent=False):
    times = np.arange(0, duration, 512 / 22050)
    rng = np.random.default_rng(0)
    return SimpleNamespace(
        duration_s=duration, beats_s=np.asarray(beats, float), downbeats_s=np.asarray(beats, float)[::4],
        sections_s=np.array([0.0]), times_s=times, onsets_s=np.asarray(onsets, float),
        onset_strength=np.ones(len(onsets)), harmonic_rms=np.zeros(len(times)) if silent else rng.random(len(times)),
        chroma=np.zeros((12, len(times))) if silent else rng.random((12, len(times))))


@pytest.mark.parametrize("style", ["energetic", "calm"])
def test_biggest_steps_on_the_keyframes(style):
    fps, n = 30, 120
    beats = np.arange(0.25, 4.0, 0.5)
    a = _analysis(beats, onsets=beats)
    cfg = latent.config_for(style)
    keys = np.floor(beats * fps + 0.5).astype(int) if cfg.per == "beat" else np.floor(beats[::4] * fps + 0.5)
    z = latent.trajectory(a, n, fps, cfg, seed=0, latent_dim=16)
    assert z.shape == (n, 16) and z.dtype == np.float32
    step = np.r_[0, np.linalg.norm(np.diff(z, axis=0), axis=1)]
    for k in keys.astype(int):
        window = step[max(k - 4, 0):k + 5]
        assert step[k] == window.max() and step[k] > 3 * np.median(window)
    assert np.array_equal(z, latent.trajectory(a, n, fps, cfg, seed=0, latent_dim=16))
    assert not np.array_equal(z, latent.trajectory(a, n, fps, cfg, seed=1, latent_dim=16))


def test_silence_gives_steady_motion_without_cuts():
    fps, n = 30, 90
    a = _analysis([], silent=True, duration=3.0)
    z = latent.trajectory(a, n, fps, latent.config_for("energetic"), seed=0, latent_dim=8)
    step = np.linalg.norm(np.diff(z, axis=0), axis=1)
    assert np.all(step > 0)                                  # it moves ...
    assert step.max() < 3 * np.median(step)                 # ... steadily, no cut
    assert np.all(latent.hue_track(a, n, fps, latent.config_for("energetic")) == 0)


def test_explicit_keyframes_hue_interpolation_and_errors():
    a = _analysis(np.arange(0.25, 4.0, 0.5))
    z = latent.trajectory(a, 120, 30, latent.LatentConfig(pulse=0.0), 0, 8, keyframes=np.array([10, 50]))
    step = np.linalg.norm(np.diff(z, axis=0), axis=1)
    assert set(np.argsort(step)[-2:] + 1) == {10, 50}
    hue = latent.hue_track(a, 120, 30, latent.LatentConfig(hue=0.2))
    assert hue.shape == (120,) and np.abs(hue).max() <= 0.2
    path = latent.interpolate(np.ones(4), -np.ones(4) + 0.1, 5)
    assert path.shape == (5, 4) and np.allclose(path[0], 1) and np.allclose(path[-1], -np.ones(4) + 0.1)
    with pytest.raises(ValueError, match="unknown style"):
        latent.config_for("sleepy")
    with pytest.raises(ValueError, match="unknown latent key"):
        latent.config_for("calm", {"wobble": 1})
    with pytest.raises(ValueError, match="per must"):
        latent.LatentConfig(per="minute")
    with pytest.raises(ValueError, match="n_frames"):
        latent.trajectory(a, 0, 30, latent.LatentConfig(), 0, 8)
