"""The audio-driven latent trajectory: one latent vector per video frame, from the song's :class:`Analysis`.

After Lucid Sonic Dreams (Mikael Alafriz, 2021: pulse from percussion, motion from harmony, class from chroma) and
deep-music-visualizer (Matt Siegelman, 2019), for a generator trained here. Per frame k (time ``k / fps``) the
latent is the sum of:

- **keyframe targets**: a new random target (``N(0, target_scale²)``) at every keyframe (beats, bars or sections,
  rounded to the nearest frame by :func:`projects.music_video.schedule.keyframes`); the trajectory moves to it with
  time constant ``cut_tau_s`` (0: a hard cut on the keyframe frame). The biggest step is always the one *on* the
  keyframe frame, so the cut is visible exactly there (evaluate finds cuts as peaks of frame differences);
- **pulse**: on each percussive onset with strength ≥ ``pulse_threshold``, a kick along one fixed direction,
  ``pulse × strength``, rising over ``pulse_attack_s`` and decaying with ``pulse_decay_s``;
- **drift**: a smooth wander (a cubic path through Gaussian knots, one knot per unit of phase) whose speed follows
  the harmonic RMS: ``drift_min + drift × harmonic energy`` knots per second; with no music it still moves at
  ``drift_min`` (steady motion for a silent file);
- **chroma**: twelve fixed directions (one per pitch class) weighted by the exponentially smoothed chroma
  (``chroma_smooth_s``), times ``chroma``: the chord colours the picture.

:func:`hue_track` gives a per-frame hue rotation from the circular mean of the chroma (applied to the frames).
Everything is deterministic by ``seed``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["LatentConfig", "STYLES", "config_for", "trajectory", "hue_track", "interpolate"]


@dataclass(frozen=True)
class LatentConfig:
    """How the music moves the latent (params ``render.latent`` override the chosen style's values).

    Raises:
        ValueError: unknown ``per``, a negative time constant or amplitude, ``pulse_threshold`` not in [0, 1].
    """

    #: a new latent target per ``beat``, ``bar`` or ``section``
    per: str = "beat"
    #: std of the keyframe targets (the generator was trained on N(0, 1))
    target_scale: float = 1.0
    #: time constant (s) of the move to a new target; 0 = hard cut
    cut_tau_s: float = 0.0
    #: pulse amplitude (latent units) per unit of onset strength
    pulse: float = 1.5
    pulse_attack_s: float = 0.0
    pulse_decay_s: float = 0.12
    #: onsets weaker than this (onset strengths are scaled to max 1) give no pulse
    pulse_threshold: float = 0.5
    #: drift speed (knots/s) at full harmonic energy, and with none
    drift: float = 0.8
    drift_min: float = 0.15
    #: amplitude of the drift path
    drift_scale: float = 0.6
    #: amplitude of the chroma offset, and its smoothing time constant (s)
    chroma: float = 0.8
    chroma_smooth_s: float = 0.5
    #: hue rotation (fraction of the colour wheel) at full chroma concentration
    hue: float = 0.15

    def __post_init__(self) -> None:
        if self.per not in ("beat", "bar", "section"):
            raise ValueError(f"per must be beat, bar or section, got {self.per!r}")
        if min(self.target_scale, self.cut_tau_s, self.pulse, self.pulse_attack_s, self.pulse_decay_s, self.drift,
               self.drift_min, self.drift_scale, self.chroma, self.chroma_smooth_s, self.hue) < 0:
            raise ValueError("latent amplitudes and time constants must be ≥ 0")
        if not 0 <= self.pulse_threshold <= 1:
            raise ValueError("pulse_threshold must be in [0, 1]")


#: the CLI's --style presets (the render stage's ``style``); ``render.latent`` overrides single values
STYLES: dict[str, dict[str, Any]] = {
    "energetic": {"per": "beat", "cut_tau_s": 0.0, "pulse": 1.5, "drift": 0.8},
    "calm": {"per": "bar", "cut_tau_s": 0.05, "pulse": 0.6, "pulse_attack_s": 0.05, "drift": 0.3, "drift_min": 0.1,
             "chroma": 1.0},
}


def config_for(style: str, overrides: dict | None = None) -> LatentConfig:
    """The :class:`LatentConfig` of a style preset with ``overrides`` applied.

    Raises:
        ValueError: unknown style, unknown override key or an invalid value.
    """
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}; use one of {sorted(STYLES)}")
    values = {**STYLES[style], **(overrides or {})}
    names = {f.name for f in dataclasses.fields(LatentConfig)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ValueError(f"unknown latent key(s) {unknown}; known: {sorted(names)}")
    return LatentConfig(**values)


def _at_frames(times: np.ndarray, values: np.ndarray, n_frames: int, fps: float) -> np.ndarray:
    """Values of a frame-rate-free series (times s) at the video frames (linear interpolation, 0 when empty)."""
    t = np.arange(n_frames) / fps
    times, values = np.asarray(times, float), np.nan_to_num(np.asarray(values, float))
    if len(times) == 0:
        return np.zeros((n_frames,) + values.shape[1:])
    if values.ndim == 1:
        return np.interp(t, times, values)
    return np.stack([np.interp(t, times, values[:, j]) for j in range(values.shape[1])], axis=1)


def _ema(x: np.ndarray, tau_s: float, fps: float) -> np.ndarray:
    """Causal exponential moving average along axis 0 with time constant ``tau_s`` (0: none)."""
    if tau_s <= 0 or len(x) == 0:
        return x
    a = 1.0 - np.exp(-1.0 / (fps * tau_s))
    out = np.empty_like(x, dtype=float)
    out[0] = x[0]
    for k in range(1, len(x)):
        out[k] = out[k - 1] + a * (x[k] - out[k - 1])
    return out


def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-12)


def _smooth_path(phase: np.ndarray, knots: np.ndarray) -> np.ndarray:
    """Catmull-Rom spline through ``knots (m, D)`` at fractional ``phase`` (knot units), C¹-smooth."""
    m = len(knots)
    i = np.clip(np.floor(phase).astype(int), 0, m - 4)
    u = (phase - i)[:, None]
    p0, p1, p2, p3 = knots[i], knots[i + 1], knots[i + 2], knots[i + 3]
    # centre the spline on the segment p1→p2 (phase 0 → p1)
    return 0.5 * (2 * p1 + (-p0 + p2) * u + (2 * p0 - 5 * p1 + 4 * p2 - p3) * u ** 2
                  + (-p0 + 3 * p1 - 3 * p2 + p3) * u ** 3)


def trajectory(analysis, n_frames: int, fps: float, cfg: LatentConfig, seed: int, latent_dim: int,
               keyframes: np.ndarray | None = None) -> np.ndarray:
    """The latent vector of every frame, float32 ``(n_frames, latent_dim)``.

    Args:
        analysis: the song's :class:`~projects.music_video.analysis.Analysis` (times in s).
        n_frames: frames of the video.
        fps: frames per second.
        cfg: the motion settings.
        seed: random seed (targets, directions, drift knots).
        latent_dim: dimension of the generator's latent space.
        keyframes: frame indices where a new target starts; default
            ``schedule.keyframes(analysis, fps, n_frames, cfg.per)``.

    Raises:
        ValueError: ``n_frames`` < 1, ``fps`` ≤ 0 or ``latent_dim`` < 1.
    """
    from projects.music_video.schedule import keyframes as schedule_keyframes

    if n_frames < 1 or fps <= 0 or latent_dim < 1:
        raise ValueError(f"need n_frames ≥ 1, fps > 0, latent_dim ≥ 1; got {n_frames}, {fps}, {latent_dim}")
    rng = np.random.default_rng(seed)
    d = int(latent_dim)
    if keyframes is None:
        keyframes = schedule_keyframes(analysis, fps, n_frames, cfg.per)
    keys = np.unique(np.asarray(keyframes, int))
    keys = keys[(keys >= 0) & (keys < n_frames)]
    # 1. keyframe targets, approached with time constant cut_tau_s (the largest step is on the keyframe frame)
    targets = rng.normal(0.0, cfg.target_scale, (len(keys) + 1, d))
    seg = np.searchsorted(keys, np.arange(n_frames), side="right")          # 0 before the first keyframe
    goal = targets[seg]
    base = goal.copy() if cfg.cut_tau_s <= 0 else _ema_to_goal(goal, cfg.cut_tau_s, fps)
    # 2. pulses on percussive onsets along one fixed direction
    pulse_dir = _unit(rng.normal(size=d)) * np.sqrt(d) / 2
    t = np.arange(n_frames) / fps
    env = np.zeros(n_frames)
    onsets = np.asarray(getattr(analysis, "onsets_s", []), float)
    strengths = np.asarray(getattr(analysis, "onset_strength", []), float)
    for t0, s in zip(onsets, strengths, strict=False):
        if s < cfg.pulse_threshold:
            continue
        k0 = int(np.floor(t0 * fps + 0.5))                                   # nearest frame, as the keyframes
        if k0 >= n_frames:
            continue
        u = t[k0:] - k0 / fps
        attack = np.clip(u / cfg.pulse_attack_s, 0, 1) if cfg.pulse_attack_s > 0 else np.ones_like(u)
        env[k0:] += s * attack * np.exp(-np.maximum(u - cfg.pulse_attack_s, 0) / max(cfg.pulse_decay_s, 1e-6))
    env = np.tanh(env)                                                       # overlapping hits saturate
    # 3. drift along a smooth path, speed from the harmonic energy
    h = _at_frames(analysis.times_s, analysis.harmonic_rms, n_frames, fps)
    h = h / max(float(np.max(h)), 1e-12) if np.max(h) > 0 else h
    phase = np.concatenate([[0.0], np.cumsum(cfg.drift_min + cfg.drift * h[:-1]) / fps])
    knots = rng.normal(size=(int(np.ceil(phase[-1])) + 4, d))
    drift = cfg.drift_scale * _smooth_path(phase, knots)
    # 4. chroma: one direction per pitch class, weighted by the smoothed, normalised chroma
    chroma_dirs = rng.normal(size=(12, d)) / np.sqrt(12)
    c = _at_frames(analysis.times_s, np.asarray(analysis.chroma, float).T, n_frames, fps) if np.size(
        analysis.chroma) else np.zeros((n_frames, 12))
    c = c / np.maximum(c.sum(axis=1, keepdims=True), 1e-9)
    c = _ema(c, cfg.chroma_smooth_s, fps)
    z = base + cfg.pulse * env[:, None] * pulse_dir[None, :] + drift + cfg.chroma * (c - 1 / 12) @ chroma_dirs
    return z.astype(np.float32)


def _ema_to_goal(goal: np.ndarray, tau_s: float, fps: float) -> np.ndarray:
    a = 1.0 - np.exp(-1.0 / (fps * tau_s))
    out = np.empty_like(goal)
    out[0] = goal[0]
    for k in range(1, len(goal)):
        out[k] = out[k - 1] + a * (goal[k] - out[k - 1])
    return out


def hue_track(analysis, n_frames: int, fps: float, cfg: LatentConfig) -> np.ndarray:
    """Per-frame hue rotation (fraction of the colour wheel, in ``[-cfg.hue, cfg.hue]``) from the chroma.

    The circular mean of the 12 pitch classes (class c at angle 2πc/12), weighted by the smoothed chroma; its
    length (0 for a flat chroma, 1 for a single pitch class) scales the rotation, its angle sets the direction.
    """
    if not np.size(analysis.chroma) or cfg.hue == 0:
        return np.zeros(n_frames)
    c = _at_frames(analysis.times_s, np.asarray(analysis.chroma, float).T, n_frames, fps)
    c = _ema(c / np.maximum(c.sum(axis=1, keepdims=True), 1e-9), max(cfg.chroma_smooth_s, 1e-3), fps)
    angles = 2 * np.pi * np.arange(12) / 12
    vec = c @ np.exp(1j * angles)
    return cfg.hue * np.abs(vec) * np.sin(np.angle(vec))


def interpolate(z0: np.ndarray, z1: np.ndarray, steps: int) -> np.ndarray:
    """Spherical interpolation (slerp; White 2016, "Sampling Generative Networks") between two latents,
    ``(steps, D)`` from ``z0`` to ``z1`` inclusive. Raises: ValueError (``steps`` < 2)."""
    if steps < 2:
        raise ValueError("steps must be ≥ 2")
    z0, z1 = np.asarray(z0, float), np.asarray(z1, float)
    cos = np.dot(_unit(z0), _unit(z1))
    omega = np.arccos(np.clip(cos, -1, 1))
    ts = np.linspace(0, 1, steps)[:, None]
    if omega < 1e-6:
        return ((1 - ts) * z0 + ts * z1).astype(np.float32)
    return ((np.sin((1 - ts) * omega) * z0 + np.sin(ts * omega) * z1) / np.sin(omega)).astype(np.float32)
