"""Synthesised songs with known beat and downbeat grids: the project's embedded, offline test music.

A song is a drum pattern (kick, snare and hi-hat, each a synthesised hit), a bass line and sustained chords, at a
tempo of 70-180 BPM, in 4/4 or 3/4, optionally with swing (the off-beat eighths delayed towards the triplet), with
syncopation (extra kicks and bass notes on off-beats, ghost snares), with a linear tempo ramp, and with a section
change half way (new chord progression, a denser hi-hat and an added crash on the first downbeat of section two).

The beat is the quarter note: kick and snare hit on every beat of the bar (kick on 1 and 3, snare on 2 and 4 in
4/4; kick on 1, snare on 2 and 3 in 3/4), the hi-hat plays the eighths (sixteenths after the section change in some
songs). Every hit starts at the sample nearest its stated time (error ≤ half a sample), so the true beat times are
exact to 1/(2·sr).

Everything is deterministic by ``SongSpec.seed``.

Sources: the drum voices follow the classic analogue recipes (a pitch-swept sine kick, a noise-plus-tone snare, a
high-passed noise hi-hat; e.g. Gordon Reid, "Synth Secrets", Sound On Sound 2002); swing as the long-short ratio
of off-beat eighths (Friberg & Sundström 2002).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

__all__ = ["SongSpec", "Song", "beat_grid", "synthesise", "song_set"]

#: chord progressions (semitones of the root above A2 = 110 Hz; minor chords marked by a negative sign is not used:
#: each chord is (root, quality) with quality "maj" or "min")
_PROGRESSIONS: tuple[tuple[tuple[int, str], ...], ...] = (
    ((0, "min"), (8, "maj"), (3, "maj"), (10, "maj")),     # i - VI - III - VII
    ((0, "maj"), (7, "maj"), (9, "min"), (5, "maj")),      # I - V - vi - IV
    ((0, "min"), (5, "min"), (7, "maj"), (0, "min")),      # i - iv - V - i
    ((0, "maj"), (5, "maj"), (0, "maj"), (7, "maj")),      # I - IV - I - V
)
_THIRD = {"maj": 4, "min": 3}


@dataclasses.dataclass(frozen=True)
class SongSpec:
    """One synthesised song.

    Attributes:
        bpm: tempo at the start, beats (quarter notes) per minute.
        bpm_end: tempo at the end (a linear ramp in time); ``None`` or equal to ``bpm``: a steady tempo.
        meter: beats per bar, 3 or 4.
        swing: 0 (straight eighths) to 1 (triplet swing: the off-beat eighth at 2/3 of the beat).
        syncopation: extra kicks and bass notes on off-beats, ghost snares.
        section_change: the second half has a new chord progression, a denser hi-hat and a crash.
        duration_s: length in seconds.
        step: the tempo jumps from ``bpm`` to ``bpm_end`` at half the song instead of ramping linearly.
        seed: seeds the noise of the drum hits, the progression and the small velocity variations.
    """

    bpm: float = 120.0
    bpm_end: float | None = None
    meter: int = 4
    swing: float = 0.0
    syncopation: bool = False
    section_change: bool = True
    duration_s: float = 10.0
    seed: int = 0
    step: bool = False

    def __post_init__(self) -> None:
        if not 30.0 <= self.bpm <= 300.0 or (self.bpm_end is not None and not 30.0 <= self.bpm_end <= 300.0):
            raise ValueError(f"bpm must be within 30-300, got {self.bpm} → {self.bpm_end}")
        if self.meter not in (3, 4):
            raise ValueError(f"meter must be 3 or 4, got {self.meter}")
        if not 0.0 <= self.swing <= 1.0:
            raise ValueError(f"swing must be within [0, 1], got {self.swing}")
        if self.duration_s <= 0:
            raise ValueError(f"duration_s must be positive, got {self.duration_s}")


@dataclasses.dataclass(frozen=True)
class Song:
    """A synthesised song and its ground truth.

    Attributes:
        audio: float32 mono samples in [-1, 1], shape (n,).
        sr: sample rate, Hz.
        beats_s: true beat times (s), shape (b,).
        downbeats_s: true downbeat times (first beat of each bar, s).
        tempo_bpm: 60 / median inter-beat interval.
        kicks_s: the start time of every kick (on beats and, with syncopation, off-beats).
        section_s: the time of the section change (s), or ``None``.
        stems: ``{"kick", "snare", "hihat", "bass", "chords"}`` → float32 (n,), before mixing (only with
            ``stems=True``).
    """

    audio: np.ndarray
    sr: int
    beats_s: np.ndarray
    downbeats_s: np.ndarray
    tempo_bpm: float
    kicks_s: np.ndarray
    section_s: float | None
    stems: dict[str, np.ndarray] | None = None


def beat_grid(spec: SongSpec) -> np.ndarray:
    """The true beat times of ``spec`` (s): the first at 0.25 s, then one per period of the local tempo.

    With a ramp the tempo changes linearly in time from ``bpm`` to ``bpm_end``: each inter-beat interval is
    60 / tempo at the beat that starts it (with ``step``, ``bpm`` before half the song and ``bpm_end`` from
    there). Beats stop one beat before the end of the song.
    """
    bpm0 = spec.bpm
    bpm1 = spec.bpm if spec.bpm_end is None else spec.bpm_end
    t, out = 0.25, []
    while True:
        frac = float(t >= spec.duration_s / 2) if spec.step else min(t / spec.duration_s, 1.0)
        period = 60.0 / (bpm0 + (bpm1 - bpm0) * frac)
        if t + period > spec.duration_s:
            break
        out.append(t)
        t += period
    return np.asarray(out, dtype=np.float64)


def _kick(sr: int, rng: np.random.Generator, gain: float) -> np.ndarray:
    n = int(0.35 * sr)
    t = np.arange(n) / sr
    freq = 50.0 + 110.0 * np.exp(-t / 0.03)                    # 160 Hz → 50 Hz pitch sweep
    phase = 2 * np.pi * np.cumsum(freq) / sr - 2 * np.pi * freq[0] / sr   # phase 0 at the first sample
    click = np.exp(-t / 0.002) * rng.standard_normal(n) * 0.15
    return (gain * (np.sin(phase) * np.exp(-t / 0.12) + click)).astype(np.float32)


def _snare(sr: int, rng: np.random.Generator, gain: float) -> np.ndarray:
    n = int(0.2 * sr)
    t = np.arange(n) / sr
    noise = np.diff(rng.standard_normal(n + 1)) * 0.5 * np.exp(-t / 0.06)
    tone = np.sin(2 * np.pi * 185.0 * t) * np.exp(-t / 0.04)
    return (gain * 0.6 * (noise + tone)).astype(np.float32)


def _hihat(sr: int, rng: np.random.Generator, gain: float, decay: float = 0.025) -> np.ndarray:
    n = int(8 * decay * sr)
    t = np.arange(n) / sr
    noise = np.diff(np.diff(rng.standard_normal(n + 2))) / 4.0  # second difference: a high-pass
    return (gain * 0.25 * noise * np.exp(-t / decay)).astype(np.float32)


def _tone(freqs: Sequence[float], n: int, sr: int, attack: float, decay: float) -> np.ndarray:
    t = np.arange(n) / sr
    env = np.minimum(t / attack, 1.0) * np.exp(-t / decay)
    release = np.minimum((n - np.arange(n)) / (0.02 * sr), 1.0)
    sig = sum(np.sin(2 * np.pi * f * t) + 0.3 * np.sin(4 * np.pi * f * t) for f in freqs) / max(len(freqs), 1)
    return (sig * env * release).astype(np.float32)


def _add(track: np.ndarray, hit: np.ndarray, at_s: float, sr: int) -> None:
    i = int(round(at_s * sr))
    if i >= len(track) or i < 0:
        return
    m = min(len(hit), len(track) - i)
    track[i:i + m] += hit[:m]


def synthesise(spec: SongSpec, sr: int = 22050, *, stems: bool = False) -> Song:
    """Render ``spec`` to audio with its true beat grid.

    Args:
        spec: the song.
        sr: sample rate, Hz.
        stems: also return each instrument's track before mixing.

    Returns:
        :class:`Song` (audio float32 mono, peak 0.9; beats, downbeats and kick times in seconds).

    Raises:
        ValueError: the song is shorter than two beats.
    """
    rng = np.random.default_rng(spec.seed)
    n = int(round(spec.duration_s * sr))
    beats = beat_grid(spec)
    if len(beats) < 2:
        raise ValueError(f"a {spec.duration_s} s song at {spec.bpm} BPM holds fewer than two beats")
    periods = np.diff(np.append(beats, beats[-1] + (beats[-1] - beats[-2])))
    downbeats = beats[:: spec.meter]
    section_idx = (len(beats) // spec.meter // 2) * spec.meter if spec.section_change else None
    section_s = float(beats[section_idx]) if section_idx else None
    progs = rng.permutation(len(_PROGRESSIONS))[:2]
    key = int(rng.integers(0, 7))
    tracks = {k: np.zeros(n, np.float32) for k in ("kick", "snare", "hihat", "bass", "chords")}
    kicks: list[float] = []
    off_frac = 0.5 + spec.swing / 6.0                            # swing: the off-beat eighth moves to 2/3
    dense_hats = bool(rng.integers(0, 2))
    for b, (t, p) in enumerate(zip(beats, periods)):
        pos = b % spec.meter
        second = section_idx is not None and b >= section_idx
        vel = 1.0 + 0.05 * rng.standard_normal()
        # drums on the beat: kick on 1 (and 3 in 4/4), snare on the others
        if pos == 0 or (spec.meter == 4 and pos == 2):
            _add(tracks["kick"], _kick(sr, rng, vel), t, sr)
            kicks.append(float(t))
        else:
            _add(tracks["snare"], _snare(sr, rng, 0.9 * vel), t, sr)
        # hi-hat eighths (sixteenths in a dense second section), swung off-beats
        _add(tracks["hihat"], _hihat(sr, rng, 1.0), t, sr)
        _add(tracks["hihat"], _hihat(sr, rng, 0.7), t + off_frac * p, sr)
        if second and dense_hats:
            _add(tracks["hihat"], _hihat(sr, rng, 0.4, 0.015), t + 0.25 * p, sr)
            _add(tracks["hihat"], _hihat(sr, rng, 0.4, 0.015), t + (off_frac + 0.25) * p, sr)
        if section_idx is not None and b == section_idx:
            _add(tracks["hihat"], _hihat(sr, rng, 2.5, 0.4), t, sr)   # crash
        if spec.syncopation:
            if spec.meter == 4 and pos == 1 and rng.random() < 0.7:   # the "and" of 2
                _add(tracks["kick"], _kick(sr, rng, 0.7), t + off_frac * p, sr)
                kicks.append(float(t + off_frac * p))
            if pos == spec.meter - 1 and rng.random() < 0.5:
                _add(tracks["snare"], _snare(sr, rng, 0.3), t + off_frac * p, sr)   # ghost note
        # harmony: one chord per bar
        bar = b // spec.meter
        prog = _PROGRESSIONS[progs[1] if second else progs[0]]
        root, quality = prog[bar % len(prog)]
        f_root = 110.0 * 2 ** ((root + key) / 12.0)
        if pos == 0:
            bar_len = int(round(p * spec.meter * sr))
            chord = [2 * f_root, 2 * f_root * 2 ** (_THIRD[quality] / 12), 2 * f_root * 2 ** (7 / 12)]
            _add(tracks["chords"], 0.25 * _tone(chord, bar_len, sr, 0.06, 3.0), t, sr)
        bass_len = int(round(0.45 * p * sr))
        bass_f = f_root / 2 * (2 ** (7 / 12) if pos == spec.meter - 1 else 1.0)
        _add(tracks["bass"], 0.45 * _tone([bass_f], bass_len, sr, 0.01, 0.3), t, sr)
        if spec.syncopation and pos == 2 % spec.meter:
            _add(tracks["bass"], 0.3 * _tone([f_root], bass_len, sr, 0.01, 0.2), t + off_frac * p, sr)
    mix = sum(tracks.values())
    peak = float(np.max(np.abs(mix))) or 1.0
    audio = (0.9 * mix / peak).astype(np.float32)
    ibi = np.diff(beats)
    return Song(audio=audio, sr=sr, beats_s=beats, downbeats_s=downbeats, tempo_bpm=float(60.0 / np.median(ibi)),
                kicks_s=np.asarray(sorted(kicks)), section_s=section_s,
                stems={k: (0.9 * v / peak).astype(np.float32) for k, v in tracks.items()} if stems else None)


def song_set(count: int, duration_s: float, seed: int, bpm_range: tuple[float, float] = (70.0, 180.0)
             ) -> list[SongSpec]:
    """``count`` songs covering ``bpm_range`` evenly, with swing, syncopation, ramps, 3/4 and section changes.

    Song ``i`` has tempo ``bpm_range`` interpolated at ``i/(count-1)`` (shuffled by ``seed`` so the features do
    not follow tempo), swing 0.5 on every fourth song, syncopation on every third, a ±10 % ramp on every fifth,
    3/4 on every seventh, and a section change in all. Deterministic by ``seed``.
    """
    rng = np.random.default_rng(seed)
    lo, hi = bpm_range
    bpms = np.linspace(lo, hi, count) if count > 1 else np.array([(lo + hi) / 2])
    bpms = rng.permutation(np.round(bpms, 1))
    out = []
    for i, bpm in enumerate(bpms):
        ramp = i % 5 == 3
        end = None
        if ramp:
            end = float(np.clip(bpm * (0.9 if bpm > (lo + hi) / 2 else 1.1), lo, hi))
        out.append(SongSpec(bpm=float(bpm), bpm_end=end, meter=3 if i % 7 == 5 else 4,
                            swing=0.5 if i % 4 == 1 else 0.0, syncopation=i % 3 == 2, section_change=True,
                            duration_s=duration_s, seed=int(seed * 1000 + i)))
    return out


def stress_set(count: int, duration_s: float, seed: int, bpm_range: tuple[float, float] = (80.0, 160.0),
               ramp: float = 0.3) -> list[SongSpec]:
    """``count`` songs that test tempo following and the meter: every song changes its tempo by ``ramp`` (±30 %:
    up on even, down on odd songs, the end tempo kept inside 60-200 BPM; a linear ramp on songs 0, 1, 4, 5, ...,
    a step at half the song on songs 2, 3, 6, 7, ...), songs 4-7 of every eight in 3/4, swing on
    every third, syncopation on every fourth, a section change in all. Deterministic by ``seed``.

    The scored songs of :func:`song_set` ramp by only ±10 % (three of sixteen); these songs make a tracker that
    assumes one tempo per song fail visibly.
    """
    rng = np.random.default_rng(seed)
    lo, hi = bpm_range
    out = []
    for i in range(count):
        bpm = float(np.round(rng.uniform(lo, hi), 1))
        end = float(np.clip(bpm * ((1 + ramp) if i % 2 == 0 else 1 / (1 + ramp)), 60.0, 200.0))
        out.append(SongSpec(bpm=bpm, bpm_end=end, meter=3 if i % 8 >= 4 else 4, swing=0.5 if i % 3 == 1 else 0.0,
                            syncopation=i % 4 == 3, section_change=True, duration_s=duration_s,
                            seed=int(seed * 1000 + i), step=i % 4 >= 2))
    return out
