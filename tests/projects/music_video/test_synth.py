"""The song synthesiser: its beats are where it says they are."""

import numpy as np
import pytest

from projects.music_video import synth

SR = 22050


def _onsets(x: np.ndarray, sr: int, times: np.ndarray, thresh: float = 0.1) -> np.ndarray:
    """First sample at or after ``t − 20 ms`` where the sample-to-sample change |x[n] − x[n−1]| exceeds
    ``thresh`` × its peak (s): the attack of a hit, not the low, slowly changing tail of the one before."""
    dx = np.abs(np.diff(x, prepend=x[:1]))
    level = thresh * dx.max()
    out = []
    for t in times:
        lo = int((t - 0.02) * sr)
        j = np.flatnonzero(dx[lo:lo + int(0.05 * sr)] > level)
        out.append((lo + j[0]) / sr if len(j) else np.nan)
    return np.asarray(out)


@pytest.mark.parametrize("spec", [
    synth.SongSpec(bpm=97.0, duration_s=4.0, seed=1),
    synth.SongSpec(bpm=150.0, bpm_end=170.0, swing=0.5, syncopation=True, duration_s=4.0, seed=2),
    synth.SongSpec(bpm=72.0, meter=3, duration_s=5.0, seed=3),
])
def test_each_kick_starts_within_1ms_of_its_time(spec):
    song = synth.synthesise(spec, SR, stems=True)
    kick = song.stems["kick"]
    found = _onsets(kick, SR, song.kicks_s)
    assert np.all(np.abs(found - song.kicks_s) <= 0.001), np.abs(found - song.kicks_s).max()
    # kicks on the beat: on every downbeat
    assert np.isin(np.round(song.downbeats_s, 6), np.round(song.kicks_s, 6)).all()
    # nothing sounds before the first beat
    assert np.abs(song.audio[: int(song.beats_s[0] * SR) - 1]).max() == 0.0


def test_grid_tempo_meter_and_ramp():
    steady = synth.synthesise(synth.SongSpec(bpm=120.0, duration_s=4.0, seed=0), SR)
    assert np.allclose(np.diff(steady.beats_s), 0.5)
    assert steady.tempo_bpm == pytest.approx(120.0)
    assert steady.audio.dtype == np.float32 and steady.audio.ndim == 1 and len(steady.audio) == 4 * SR
    assert np.abs(steady.audio).max() == pytest.approx(0.9, abs=1e-3)
    assert np.allclose(steady.downbeats_s, steady.beats_s[::4])
    ramp = synth.SongSpec(bpm=100.0, bpm_end=140.0, duration_s=6.0)
    ibi = np.diff(synth.beat_grid(ramp))
    assert np.all(np.diff(ibi) < 0) and 60 / ibi[0] == pytest.approx(100, rel=0.05)
    waltz = synth.synthesise(synth.SongSpec(bpm=90.0, meter=3, duration_s=4.0), SR)
    assert np.allclose(waltz.downbeats_s, waltz.beats_s[::3])


def test_deterministic_and_song_set_covers_the_range():
    a = synth.synthesise(synth.SongSpec(seed=5, duration_s=3.0), SR).audio
    b = synth.synthesise(synth.SongSpec(seed=5, duration_s=3.0), SR).audio
    assert np.array_equal(a, b)
    specs = synth.song_set(12, 10.0, 0)
    bpms = sorted(s.bpm for s in specs)
    assert bpms[0] == 70.0 and bpms[-1] == 180.0
    assert any(s.swing > 0 for s in specs) and any(s.syncopation for s in specs)
    assert any(s.bpm_end for s in specs) and any(s.meter == 3 for s in specs)
    assert synth.song_set(12, 10.0, 0) == specs


def test_bad_specs():
    with pytest.raises(ValueError, match="meter"):
        synth.SongSpec(meter=5)
    with pytest.raises(ValueError, match="bpm"):
        synth.SongSpec(bpm=10)
    with pytest.raises(ValueError, match="fewer than two beats"):
        synth.synthesise(synth.SongSpec(bpm=60.0, duration_s=1.0), SR)


def test_step_and_stress_set():
    grid = synth.beat_grid(synth.SongSpec(bpm=100.0, bpm_end=150.0, step=True, duration_s=8.0))
    ibi = np.diff(grid)
    assert np.allclose(ibi[grid[:-1] < 4.0], 0.6) and np.allclose(ibi[grid[:-1] >= 4.0], 0.4)
    specs = synth.stress_set(8, 12.0, 0)
    assert [s.step for s in specs] == [False, False, True, True] * 2
    assert [s.meter for s in specs] == [4] * 4 + [3] * 4
    assert all(s.bpm_end == pytest.approx(s.bpm * (1.3 if i % 2 == 0 else 1 / 1.3)) for i, s in enumerate(specs)
               if 60.0 < s.bpm_end < 200.0)
