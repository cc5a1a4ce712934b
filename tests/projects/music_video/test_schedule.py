"""Keyframes land on the frame nearest each beat."""

from types import SimpleNamespace

import numpy as np
import pytest

from projects.music_video import schedule


@pytest.mark.parametrize("fps", [24, 25, 30, 60])
def test_nearest_frame_at_common_rates(fps):
    rng = np.random.default_rng(fps)
    beats = np.sort(rng.uniform(0, 9.9, 200))
    a = SimpleNamespace(beats_s=beats, downbeats_s=beats[::4], sections_s=np.array([0.0, 5.0]))
    n = int(10 * fps)
    k = schedule.keyframes(a, fps, n, per="beat")
    assert k.dtype == np.int64 and np.all(np.diff(k) > 0) and k.min() >= 0 and k.max() < n
    # every beat has a keyframe within half a frame, and every keyframe is the nearest frame of a beat
    err = np.abs(k[:, None] / fps - beats[None, :]).min(axis=0)
    assert np.all(err <= 0.5 / fps + 1e-12)
    assert set(k.tolist()) == set(np.floor(beats * fps + 0.5).astype(int).tolist())
    naive = schedule.naive_keyframes(beats, fps, n)
    assert np.abs(naive[:, None] / fps - beats[None, :]).min(axis=0).max() > 0.5 / fps   # truncation is worse
    bars = schedule.keyframes(a, fps, n, per="bar")
    assert len(bars) <= len(np.unique(np.floor(beats[::4] * fps + 0.5)))
    assert schedule.keyframes(a, fps, n, per="section").tolist() == [0, 5 * fps]


def test_exact_halves_edges_and_errors():
    a = SimpleNamespace(beats_s=np.array([0.0, 1 / 60, 0.5, 0.98, 0.999, 5.0]), downbeats_s=np.zeros(0),
                        sections_s=np.array([0.0]))
    # 1/60 s: half a frame, rounds up; 0.999 s → frame 30, past the end
    assert schedule.keyframes(a, 30, 30).tolist() == [0, 1, 15, 29]
    assert schedule.keyframes(a, 30, 30, per="bar").tolist() == []
    with pytest.raises(ValueError, match="fps"):
        schedule.keyframes(a, 0, 30)
    with pytest.raises(ValueError, match="per"):
        schedule.keyframes(a, 30, 30, per="song")
