"""The project's beat tracker on short synthesised songs: tempo octave, beats on time, downbeats, bad input."""

import numpy as np
import pytest

from projects.music_video import analysis, scoring, synth
from shared.io import DataError

SR = 22050
# the fast and the slow end of the range, where librosa's default (prior at 120 BPM) picks the wrong octave
SPECS = [synth.SongSpec(bpm=172.0, duration_s=4.0, seed=1), synth.SongSpec(bpm=74.0, duration_s=5.0, seed=2),
         synth.SongSpec(bpm=128.0, swing=0.5, syncopation=True, duration_s=4.0, seed=3)]


@pytest.fixture(scope="module")
def tracked():
    out = []
    for spec in SPECS:
        song = synth.synthesise(spec, SR)
        out.append((song, analysis.analyse(song.audio, SR, analysis.AnalysisConfig())))
    return out


@pytest.mark.slow
def test_tempo_octave_and_beats_on_time(tracked):
    for song, a in tracked:
        assert scoring.tempo_octave(a.tempo_bpm, song.tempo_bpm)["acc1"], (song.tempo_bpm, a.tempo_bpm)
        s = scoring.score_beats(song.beats_s, a.beats_s, song.tempo_bpm, a.tempo_bpm)
        assert s["f"] >= 0.9, s
        assert s["mean_abs_ms"] <= 15.0, s      # lag compensated (the frame-based beats are 20-25 ms late)


@pytest.mark.slow
def test_features_shapes(tracked):
    song, a = tracked[0]
    t = len(a.times_s)
    assert a.chroma.shape == (12, t) and a.rms.shape == (t,) and a.harmonic_rms.shape == (t,)
    assert a.onset_env.shape == (t,) and a.onset_env.max() == pytest.approx(1.0)
    assert len(a.onsets_s) == len(a.onset_strength) and np.all((a.onset_strength >= 0) & (a.onset_strength <= 1))
    assert a.sections_s[0] == 0.0 and np.all(np.diff(a.sections_s) > 0)
    assert a.meter in (3, 4) and set(np.round(a.downbeats_s, 6)) <= set(np.round(a.beats_s, 6))
    assert a.duration_s == pytest.approx(4.0)


def test_resolve_octave_on_a_low_band_envelope():
    """Kick on 1 and 3, snare body on 2 and 4 at 150 BPM; nothing low on the off-beats (hi-hats are high)."""
    cfg = analysis.AnalysisConfig()
    sr, hop = 22050, 512
    period = 60.0 * sr / hop / 150.0
    env = np.zeros(2000)
    for i, t in enumerate(np.arange(10, 1990, period)):
        env[int(round(t))] = 1.0 if i % 2 == 0 else 0.6
    for first_guess in (75.0, 150.0, 300.0 / 1.0 if cfg.bpm_max >= 300 else 150.0):
        assert analysis.resolve_octave(first_guess, env, sr, hop, cfg) == pytest.approx(150.0)
    # the allowed range wins over the evidence
    narrow = analysis.AnalysisConfig(bpm_min=60.0, bpm_max=140.0)
    assert analysis.resolve_octave(150.0, env, sr, hop, narrow) == pytest.approx(75.0)


def test_silence_and_too_short():
    a = analysis.analyse(np.zeros(3 * SR, np.float32), SR)
    assert len(a.beats_s) == 0 and a.tempo_bpm == 0.0 and a.meter == 0
    with pytest.raises(DataError, match="shorter than one beat"):
        analysis.analyse(np.ones(SR // 4, np.float32), SR)
    bad = np.zeros(2 * SR, np.float32)
    bad[3] = np.nan
    with pytest.raises(DataError, match="NaN"):
        analysis.analyse(bad, SR)


def test_config_from_dict():
    assert analysis.config_from_dict({"bpm_min": 70.0, "bpm_max": 170.0}).bpm_max == 170.0
    from shared.config import ConfigError

    with pytest.raises(ConfigError, match="bmp_min"):
        analysis.config_from_dict({"bmp_min": 70})
    with pytest.raises(ConfigError, match="octave"):
        analysis.config_from_dict({"bpm_min": 100.0, "bpm_max": 150.0})


def test_lag_is_one_shift_per_song_not_per_beat_jitter():
    """Strong clicks 25 ms before each beat, and a weaker decoy click at a random ±60 ms per beat: one lag of
    25 ms (the decoys do not vote), so a global shift keeps the beat intervals exactly as they were."""
    sr = 8000
    rng = np.random.default_rng(0)
    true = np.arange(0.2, 3.0, 0.5)
    y = np.zeros(3 * sr, np.float32)
    for t, d in zip(true, rng.uniform(-0.06, 0.06, len(true)), strict=True):
        for when, amp in ((t, 1.0), (t + 0.025 + d if abs(d) > 0.01 else t + 0.08, 0.05)):
            i = int(round(when * sr))
            y[i:i + 40] += amp * np.sin(np.arange(40) * 0.9)
    lag = analysis.estimate_lag(true + 0.025, y, sr, window_s=0.075)
    assert lag == pytest.approx(0.025, abs=0.002)
    assert analysis.estimate_lag(np.zeros(0), y, sr, 0.075) == 0.0
    with pytest.raises(ValueError, match="tempo_from"):
        analysis.AnalysisConfig(tempo_from="drums")


def test_subframe_offsets_find_the_parabola_peak():
    env = np.array([0.0, 1.0, 3.0, 2.0, 0.0, 0.5, 0.0])
    off = analysis.subframe_offsets(env, np.array([2, 4, 5]))
    assert off[0] == pytest.approx(0.5 * (1.0 - 2.0) / (1.0 - 6.0 + 2.0)) and off[1] == 0.0
    assert off[2] == pytest.approx(0.0)


def test_tail_beats_without_a_hit_are_dropped():
    """Clicks on four beats, then the grid continues over silence: the beat after the last click goes."""
    sr = 8000
    y = np.zeros(3 * sr, np.float32)
    beats = np.array([0.2, 0.7, 1.2, 1.7, 2.2])
    for t in beats[:4]:
        i = int(round(t * sr))
        y[i:i + 40] += np.sin(np.arange(40) * 0.9).astype(np.float32)
    kept = analysis.drop_unsupported_tail(beats, y, sr, window_s=0.05, ratio=0.5)
    assert np.allclose(kept, beats[:4])
    # an inner rest is kept: only trailing beats go
    assert len(analysis.drop_unsupported_tail(beats[[0, 1, 2, 3]], y, sr, 0.05, 0.5)) == 4


def test_meter_periodicity_prefers_the_lag_of_the_bar():
    rng = np.random.default_rng(0)
    sounds = rng.standard_normal((3, 16))                     # kick, snare, other
    three = np.stack([sounds[[0, 1, 1][i % 3]] for i in range(24)]) + 0.1 * rng.standard_normal((24, 16))
    four = np.stack([sounds[[0, 1, 0, 1][i % 4]] for i in range(24)]) + 0.1 * rng.standard_normal((24, 16))
    p3, p4 = analysis.meter_periodicity(three), analysis.meter_periodicity(four)
    assert p3[3] > p3[4] and p4[4] > p4[3]


@pytest.mark.slow
def test_tempo_step_waltz_and_beatless_input():
    """A 100 → 130 BPM step in 3/4 is followed (one tempo per song scored F 0.6-0.7 on such songs), its meter is 3;
    white noise and a steady tone have no steady beat."""
    song = synth.synthesise(synth.SongSpec(bpm=100.0, bpm_end=130.0, step=True, meter=3, duration_s=10.0, seed=4),
                            SR)
    a = analysis.analyse(song.audio, SR)
    assert scoring.beat_f(song.beats_s, a.beats_s) >= 0.9
    assert a.meter == 3
    rng = np.random.default_rng(0)
    noise = (0.3 * rng.standard_normal(4 * SR)).astype(np.float32)
    tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(4 * SR) / SR)).astype(np.float32)
    for y in (noise, tone):
        b = analysis.analyse(y, SR)
        assert len(b.beats_s) == 0 and b.tempo_bpm == 0.0
