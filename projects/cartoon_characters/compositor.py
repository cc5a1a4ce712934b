"""The embedded default data: a procedural cartoon-frame compositor with exact multi-hot labels.

Ten characters (:data:`CHARACTERS`), each a flat-shaded sprite built from analytic parts (ellipses, boxes and
convex polygons in the sprite's own unit square): a body shape and colours, eyes, a mouth and accessories (ears,
hats, antennae, beaks, spots), with a dark outline as in cel animation. A character is drawn in one of several poses
(arms up, down or out; mirrored; squashed or stretched), at a random scale and rotation, anywhere in the frame, its
centre up to ``border`` of the frame outside it, so it is cropped at the border.

A frame holds 0 to ``max_characters`` characters over a flat-colour scenery background (sky, ground, sun, clouds,
buildings with windows, hills: kinds ``day``, ``city``, ``meadow``; the shifted set uses the unseen ``night``,
``indoor`` and ``sunset``), plus distractor shapes that resemble no character (trees, balls, clouds, boxes, bushes)
behind the characters and foreground occluders (fences, bushes, posts, crates) in front of them.

Character frequencies follow a Zipf law: character of rank ``r`` (1 = most frequent) is drawn in a frame with
probability ``top_frequency / r**s``, ``s`` chosen so that the rarest gets ``rarest_frequency``; a frame that draws
more than ``max_characters`` is drawn again.

Labels are exact and come from the pixels: every pixel records the topmost character drawn on it (outline
included); after the last occluder, a drawn character is labelled present when at least ``min_visible_pixels`` of
its pixels are visible *and* at least ``min_visible_fraction`` of its whole silhouette (its area at that scale and
pose on an unbounded canvas). A character drawn fully out of frame or fully hidden is therefore never labelled, and a
sliver of one is not either.

The ``shifted`` scene (new scales, heavier occlusion, new backgrounds) is for evaluation only, never for training or
model choice. Everything is deterministic given the seed. Rendering is vectorised NumPy on each sprite's bounding
box (≈ 1 ms per 64 px frame).

What it can teach: multi-label detection of small, occluded and cropped objects among clutter, under real label
imbalance, with exact labels. What it cannot: the texture, line-art and style variety of real animation, or
character designs that share colours and shapes as closely as real casts do.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

# --------------------------------------------------------------------------------------------------------------------
# Sprites. Coordinates: the unit square of the sprite, u to the right, v downwards, the sprite inside [-1, 1]².
# A part: (kind, params, colour name). Kinds: "ellipse" (cx, cy, rx, ry), "box" (x0, y0, x1, y1),
# "poly" (x0, y0, x1, y1, ...; convex, any orientation). Colours name entries of the character's palette
# ("ink" = the outline colour, "white"); parts are painted in order (later on top).

INK = (28, 22, 30)

#: name → (palette, parts, arm colour or None). Column order of the labels is this order; it is also the Zipf rank
#: order (the first is the most frequent).
_SPRITES: dict[str, tuple[dict[str, tuple[int, int, int]], list[tuple[str, tuple[float, ...], str]], str | None]] = {
    "blobby": ({"body": (90, 200, 80), "cheek": (240, 150, 160)}, [
        ("ellipse", (0.0, 0.15, 0.75, 0.7), "body"),
        ("ellipse", (-0.28, -0.05, 0.2, 0.24), "white"), ("ellipse", (0.28, -0.05, 0.2, 0.24), "white"),
        ("ellipse", (-0.24, -0.02, 0.09, 0.12), "ink"), ("ellipse", (0.32, -0.02, 0.09, 0.12), "ink"),
        ("ellipse", (-0.5, 0.3, 0.1, 0.07), "cheek"), ("ellipse", (0.5, 0.3, 0.1, 0.07), "cheek"),
        ("poly", (-0.25, 0.38, 0.25, 0.38, 0.0, 0.55), "ink"),
    ], "body"),
    "sparky": ({"body": (245, 140, 30), "hat": (60, 60, 200)}, [
        ("poly", (0.0, -0.55, 0.75, 0.85, -0.75, 0.85), "body"),
        ("ellipse", (0.0, 0.25, 0.22, 0.22), "white"), ("ellipse", (0.0, 0.27, 0.1, 0.1), "ink"),
        ("box", (-0.25, 0.55, 0.25, 0.62), "ink"),
        ("poly", (0.0, -1.0, 0.3, -0.5, -0.3, -0.5), "hat"),
    ], "body"),
    "robo": ({"body": (70, 130, 220), "panel": (200, 210, 220), "light": (240, 40, 40)}, [
        ("box", (-0.6, -0.5, 0.6, 0.85), "body"),
        ("box", (-0.03, -0.85, 0.03, -0.5), "ink"), ("ellipse", (0.0, -0.88, 0.12, 0.12), "light"),
        ("box", (-0.45, -0.3, -0.1, -0.1), "panel"), ("box", (0.1, -0.3, 0.45, -0.1), "panel"),
        ("box", (-0.35, -0.27, -0.2, -0.13), "ink"), ("box", (0.2, -0.27, 0.35, -0.13), "ink"),
        ("box", (-0.3, 0.1, 0.3, 0.2), "panel"),
        ("box", (-0.3, 0.4, 0.3, 0.7), "panel"),
    ], "panel"),
    "ghosty": ({"body": (225, 220, 250)}, [
        ("ellipse", (0.0, -0.1, 0.6, 0.6), "body"),
        ("box", (-0.6, -0.1, 0.6, 0.7), "body"),
        ("poly", (-0.6, 0.65, -0.3, 0.65, -0.45, 0.95), "body"),
        ("poly", (-0.15, 0.65, 0.15, 0.65, 0.0, 0.95), "body"),
        ("poly", (0.3, 0.65, 0.6, 0.65, 0.45, 0.95), "body"),
        ("ellipse", (-0.22, -0.15, 0.1, 0.17), "ink"), ("ellipse", (0.22, -0.15, 0.1, 0.17), "ink"),
        ("ellipse", (0.0, 0.2, 0.12, 0.1), "ink"),
    ], None),
    "bunny": ({"body": (250, 170, 200), "inner": (250, 230, 235)}, [
        ("ellipse", (-0.25, -0.55, 0.14, 0.45), "body"), ("ellipse", (0.25, -0.55, 0.14, 0.45), "body"),
        ("ellipse", (-0.25, -0.55, 0.06, 0.3), "inner"), ("ellipse", (0.25, -0.55, 0.06, 0.3), "inner"),
        ("ellipse", (0.0, 0.35, 0.55, 0.6), "body"),
        ("ellipse", (0.0, 0.5, 0.3, 0.3), "inner"),
        ("ellipse", (-0.2, 0.1, 0.07, 0.09), "ink"), ("ellipse", (0.2, 0.1, 0.07, 0.09), "ink"),
        ("ellipse", (0.0, 0.28, 0.08, 0.06), "ink"),
    ], "body"),
    "ducky": ({"body": (250, 225, 40), "beak": (245, 120, 20)}, [
        ("ellipse", (0.05, 0.35, 0.7, 0.5), "body"),
        ("ellipse", (-0.25, -0.3, 0.38, 0.38), "body"),
        ("poly", (-0.62, -0.35, -1.0, -0.22, -0.62, -0.12), "beak"),
        ("ellipse", (-0.32, -0.4, 0.08, 0.1), "ink"),
        ("poly", (0.7, 0.1, 0.95, -0.05, 0.75, 0.35), "body"),
        ("box", (-0.2, 0.8, -0.05, 0.98), "beak"), ("box", (0.2, 0.8, 0.35, 0.98), "beak"),
    ], None),
    "shroom": ({"cap": (215, 40, 40), "stem": (240, 220, 180)}, [
        ("ellipse", (0.0, -0.2, 0.9, 0.55), "cap"),
        ("box", (-0.35, 0.1, 0.35, 0.85), "stem"),
        ("ellipse", (-0.4, -0.4, 0.14, 0.12), "white"), ("ellipse", (0.35, -0.5, 0.12, 0.1), "white"),
        ("ellipse", (0.0, -0.6, 0.1, 0.08), "white"),
        ("ellipse", (-0.13, 0.25, 0.06, 0.1), "ink"), ("ellipse", (0.13, 0.25, 0.06, 0.1), "ink"),
    ], None),
    "frosty": ({"body": (245, 248, 255), "nose": (250, 130, 20), "hat": (35, 35, 45)}, [
        ("ellipse", (0.0, 0.45, 0.55, 0.5), "body"),
        ("ellipse", (0.0, -0.3, 0.38, 0.36), "body"),
        ("box", (-0.3, -0.98, 0.3, -0.62), "hat"), ("box", (-0.48, -0.68, 0.48, -0.58), "hat"),
        ("ellipse", (-0.14, -0.35, 0.06, 0.06), "ink"), ("ellipse", (0.14, -0.35, 0.06, 0.06), "ink"),
        ("poly", (0.0, -0.28, 0.4, -0.2, 0.0, -0.14), "nose"),
        ("ellipse", (0.0, 0.3, 0.06, 0.06), "ink"), ("ellipse", (0.0, 0.55, 0.06, 0.06), "ink"),
    ], "hat"),
    "zorp": ({"body": (150, 70, 200), "eye": (200, 255, 120)}, [
        ("ellipse", (0.0, 0.05, 0.45, 0.85), "body"),
        ("ellipse", (-0.22, -0.35, 0.12, 0.12), "eye"), ("ellipse", (0.22, -0.35, 0.12, 0.12), "eye"),
        ("ellipse", (0.0, -0.58, 0.12, 0.12), "eye"),
        ("ellipse", (-0.22, -0.35, 0.05, 0.05), "ink"), ("ellipse", (0.22, -0.35, 0.05, 0.05), "ink"),
        ("ellipse", (0.0, -0.58, 0.05, 0.05), "ink"),
        ("box", (-0.2, 0.05, 0.2, 0.12), "ink"),
    ], "body"),
    "kitty": ({"body": (120, 120, 130), "inner": (250, 180, 190), "eye": (120, 230, 90)}, [
        ("poly", (-0.65, -0.85, -0.25, -0.45, -0.7, -0.25), "body"),
        ("poly", (0.65, -0.85, 0.25, -0.45, 0.7, -0.25), "body"),
        ("ellipse", (0.0, 0.0, 0.7, 0.6), "body"),
        ("poly", (-0.58, -0.68, -0.35, -0.45, -0.6, -0.38), "inner"),
        ("poly", (0.58, -0.68, 0.35, -0.45, 0.6, -0.38), "inner"),
        ("ellipse", (-0.27, -0.08, 0.13, 0.11), "eye"), ("ellipse", (0.27, -0.08, 0.13, 0.11), "eye"),
        ("ellipse", (-0.27, -0.08, 0.04, 0.1), "ink"), ("ellipse", (0.27, -0.08, 0.04, 0.1), "ink"),
        ("poly", (-0.08, 0.15, 0.08, 0.15, 0.0, 0.25), "inner"),
        ("box", (-0.95, 0.2, -0.45, 0.24), "ink"), ("box", (0.45, 0.2, 0.95, 0.24), "ink"),
    ], None),
}

#: the character names, in the column order of the labels (and the Zipf rank order)
CHARACTERS: tuple[str, ...] = tuple(_SPRITES)

#: arm poses: (left arm, right arm) boxes in sprite coordinates, or None for no arms
_POSES: tuple[tuple[tuple[float, ...], tuple[float, ...]] | None, ...] = (
    None,
    ((-0.98, 0.15, -0.62, 0.27), (0.62, 0.15, 0.98, 0.27)),          # arms out
    ((-0.9, -0.45, -0.72, 0.2), (0.72, -0.45, 0.9, 0.2)),             # arms up
    ((-0.85, 0.2, -0.7, 0.75), (0.7, 0.2, 0.85, 0.75)),               # arms down
)

BACKGROUNDS = ("day", "city", "meadow", "night", "indoor", "sunset")


@dataclass(frozen=True)
class Scene:
    """How characters and clutter are placed: train/val/test (``nominal``) or the ``shifted`` evaluation set."""

    #: character height ≈ scale × 0.34 × frame size; uniform in [low, high]
    scale: tuple[float, float] = (0.75, 1.25)
    rotation_deg: float = 20.0
    #: share of the frame side a character's centre may lie outside the frame
    border: float = 0.15
    distractors: tuple[int, int] = (0, 3)
    occluders: tuple[int, int] = (0, 1)
    backgrounds: tuple[str, ...] = ("day", "city", "meadow")

    def __post_init__(self) -> None:
        if not 0 < self.scale[0] <= self.scale[1]:
            raise ValueError(f"scale must be 0 < low ≤ high, got {self.scale}")
        if not (0 <= self.distractors[0] <= self.distractors[1] and 0 <= self.occluders[0] <= self.occluders[1]):
            raise ValueError(f"distractors and occluders must be 0 ≤ low ≤ high, got {self.distractors}, "
                             f"{self.occluders}")
        if not 0 <= self.border <= 0.5:
            raise ValueError(f"border must be in [0, 0.5], got {self.border}")
        unknown = sorted(set(self.backgrounds) - set(BACKGROUNDS))
        if unknown or not self.backgrounds:
            raise ValueError(f"backgrounds must be a non-empty list of {', '.join(BACKGROUNDS)}, got {unknown or '[]'}")


SHIFTED = Scene(scale=(0.5, 0.7), rotation_deg=30.0, border=0.25, distractors=(1, 4), occluders=(1, 3),
                backgrounds=("night", "indoor", "sunset"))


@dataclass(frozen=True)
class CompositorConfig:
    """Frequencies, the visibility rule and the two scenes (see the module docstring)."""

    top_frequency: float = 0.5
    rarest_frequency: float = 0.03
    max_characters: int = 4
    min_visible_pixels: int = 12
    min_visible_fraction: float = 0.2
    colour_jitter: int = 12
    nominal: Scene = Scene()
    shifted: Scene = SHIFTED

    def __post_init__(self) -> None:
        if not 0 < self.rarest_frequency <= self.top_frequency < 1:
            raise ValueError(f"frequencies must satisfy 0 < rarest ≤ top < 1, got {self.rarest_frequency}, "
                             f"{self.top_frequency}")
        if not 1 <= self.max_characters <= len(CHARACTERS):
            raise ValueError(f"max_characters must be in 1..{len(CHARACTERS)}, got {self.max_characters}")
        if self.min_visible_pixels < 1 or not 0 <= self.min_visible_fraction <= 1:
            raise ValueError("min_visible_pixels must be ≥ 1 and min_visible_fraction in [0, 1]")

    @property
    def zipf_exponent(self) -> float:
        """``s`` of ``p_r = top / r^s`` with ``p_C = rarest``."""
        return math.log(self.top_frequency / self.rarest_frequency) / math.log(len(CHARACTERS))

    def frequencies(self) -> np.ndarray:
        """The probability that a frame draws each character (before the visibility rule), in column order."""
        ranks = np.arange(1, len(CHARACTERS) + 1, dtype=float)
        return self.top_frequency / ranks ** self.zipf_exponent


# --------------------------------------------------------------------------------------------------------------------
# Rendering helpers: each evaluates a part on sprite coordinates (u, v) and returns a boolean mask.
def _part_mask(kind: str, p: tuple[float, ...], u: np.ndarray, v: np.ndarray) -> np.ndarray:
    if kind == "ellipse":
        cx, cy, rx, ry = p
        return ((u - cx) / rx) ** 2 + ((v - cy) / ry) ** 2 <= 1.0
    if kind == "box":
        x0, y0, x1, y1 = p
        return (u >= x0) & (u <= x1) & (v >= y0) & (v <= y1)
    if kind == "poly":
        mask = None
        for x0, y0, dx, dy in _edges(p):
            inside = dx * (v - y0) - dy * (u - x0) >= 0
            mask = inside if mask is None else mask & inside
        return mask
    raise ValueError(f"unknown part kind {kind!r}")


@functools.cache
def _edges(p: tuple[float, ...]) -> tuple[tuple[float, float, float, float], ...]:
    """A convex polygon's edges (x0, y0, dx, dy), oriented so that the inside is where the cross product is ≥ 0."""
    xs, ys = p[0::2], p[1::2]
    n = len(xs)
    area = sum(xs[i] * ys[(i + 1) % n] - xs[(i + 1) % n] * ys[i] for i in range(n))
    sign = 1.0 if area >= 0 else -1.0
    return tuple((xs[i], ys[i], sign * (xs[(i + 1) % n] - xs[i]), sign * (ys[(i + 1) % n] - ys[i]))
                 for i in range(n))


def _grid(y0: int, y1: int, x0: int, x1: int) -> tuple[np.ndarray, np.ndarray]:
    ys = np.arange(y0, y1, dtype=np.float32)[:, None]
    xs = np.arange(x0, x1, dtype=np.float32)[None, :]
    return np.broadcast_to(ys, (y1 - y0, x1 - x0)), np.broadcast_to(xs, (y1 - y0, x1 - x0))


def _jitter(rgb: tuple[int, int, int], rng: np.random.Generator, amount: int) -> np.ndarray:
    if amount <= 0:
        return np.asarray(rgb, dtype=np.int16)
    return np.clip(np.asarray(rgb, dtype=np.int16) + rng.integers(-amount, amount + 1, 3), 0, 255).astype(np.int16)


def _dilate(mask: np.ndarray) -> np.ndarray:
    """Binary dilation by one pixel (4-neighbourhood), without SciPy."""
    out = mask.copy()
    out[1:] |= mask[:-1]
    out[:-1] |= mask[1:]
    out[:, 1:] |= mask[:, :-1]
    out[:, :-1] |= mask[:, 1:]
    return out


@dataclass
class _Placement:
    """A character (or shape) placed in the frame: centre (pixels), half-size (pixels), angle, mirror, squash."""

    x: float
    y: float
    half: float
    angle: float
    mirror: bool = False
    squash: float = 1.0


def _sprite_coords(pl: _Placement, ys: np.ndarray, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Frame pixel centres (ys, xs grids) → sprite coordinates (u, v) of placement ``pl``."""
    dx, dy = xs + 0.5 - pl.x, ys + 0.5 - pl.y
    c, s = math.cos(pl.angle), math.sin(pl.angle)
    u = (c * dx + s * dy) / (pl.half * pl.squash)
    v = (-s * dx + c * dy) * pl.squash / pl.half
    return (-u if pl.mirror else u), v


def _character_layers(name: str, pose: int, pl: _Placement, size: int, rng: np.random.Generator, jitter: int,
                      bounded: bool = True):
    """Render character ``name`` at ``pl``: (y0, x0, colour image (h, w, 3) int16, silhouette mask (h, w)).

    ``bounded``: clip the bounding box to the frame (False: the whole sprite, for its full area).
    Returns None when the bounding box misses the frame.
    """
    palette, parts, arm_colour = _SPRITES[name]
    base = np.asarray(list(palette.values()), dtype=np.int16)
    if jitter > 0:
        base = np.clip(base + rng.integers(-jitter, jitter + 1, base.shape), 0, 255).astype(np.int16)
    colours = dict(zip(palette, base))
    colours["ink"] = np.asarray(INK, dtype=np.int16)
    colours["white"] = np.asarray((250, 250, 250), dtype=np.int16)
    reach = pl.half * max(pl.squash, 1 / pl.squash) * math.sqrt(2) + 2
    y0, y1 = int(math.floor(pl.y - reach)), int(math.ceil(pl.y + reach))
    x0, x1 = int(math.floor(pl.x - reach)), int(math.ceil(pl.x + reach))
    if bounded:
        y0, x0, y1, x1 = max(y0, 0), max(x0, 0), min(y1, size), min(x1, size)
        if y0 >= y1 or x0 >= x1:
            return None
    ys, xs = _grid(y0, y1, x0, x1)
    u, v = _sprite_coords(pl, ys, xs)
    image = np.zeros(u.shape + (3,), dtype=np.int16)
    mask = np.zeros(u.shape, dtype=bool)
    arms = _POSES[pose] if arm_colour is not None else None
    all_parts = ([("box", arm, arm_colour) for arm in arms] if arms else []) + parts
    for kind, params, colour in all_parts:
        part = _part_mask(kind, params, u, v)
        image[part] = colours[colour]
        mask |= part
    outline = _dilate(mask) & ~mask
    if pl.half >= 14:  # a thicker line on big sprites, as cel outlines scale with the drawing
        outline = _dilate(outline | mask) & ~mask
    image[outline] = colours["ink"]
    return y0, x0, image, mask | outline


# --------------------------------------------------------------------------------------------------------------------
# Backgrounds and clutter (flat colours).
_SKY = {"day": (120, 190, 245), "city": (170, 200, 230), "meadow": (150, 210, 250), "night": (20, 25, 70),
        "indoor": (225, 205, 160), "sunset": (245, 150, 90)}
_GROUND = {"day": (110, 180, 80), "city": (130, 130, 135), "meadow": (80, 170, 60), "night": (30, 60, 40),
           "indoor": (150, 100, 60), "sunset": (120, 80, 110)}


def _background(kind: str, size: int, rng: np.random.Generator, jitter: int) -> np.ndarray:
    img = np.empty((size, size, 3), dtype=np.int16)
    horizon = int(size * rng.uniform(0.5, 0.8))
    img[:horizon] = _jitter(_SKY[kind], rng, jitter)
    img[horizon:] = _jitter(_GROUND[kind], rng, jitter)
    ys, xs = _grid(0, size, 0, size)
    if kind in ("day", "meadow", "sunset", "night"):  # sun or moon, clouds or stars
        r = size * rng.uniform(0.05, 0.1)
        cx, cy = rng.uniform(0, size), rng.uniform(0, horizon * 0.6)
        colour = {"night": (235, 235, 210), "sunset": (250, 210, 80)}.get(kind, (255, 230, 60))
        img[(xs - cx) ** 2 + (ys - cy) ** 2 <= r * r] = colour
        if kind == "night":
            stars = rng.integers(0, size, (int(size * 0.3), 2))
            stars = stars[stars[:, 0] < horizon]
            img[stars[:, 0], stars[:, 1]] = (250, 250, 220)
    if kind in ("day", "meadow"):
        for _ in range(rng.integers(0, 3)):
            cx, cy, rx = rng.uniform(0, size), rng.uniform(0, horizon * 0.5), size * rng.uniform(0.08, 0.16)
            img[((xs - cx) / rx) ** 2 + ((ys - cy) / (rx * 0.45)) ** 2 <= 1] = (250, 250, 250)
    if kind == "meadow":  # hills
        for _ in range(2):
            cx, r = rng.uniform(0, size), size * rng.uniform(0.3, 0.6)
            img[((xs - cx) ** 2 + (ys - horizon - r * 0.6) ** 2 <= r * r) & (ys < horizon)] = \
                _jitter((90, 175, 70), rng, jitter)
    if kind == "city":  # buildings with windows
        x = int(rng.integers(-size // 8, 0))
        while x < size:
            w, h = int(size * rng.uniform(0.12, 0.25)), int(horizon * rng.uniform(0.3, 0.85))
            colour = _jitter(((180, 160, 140), (140, 140, 160), (200, 180, 120))[rng.integers(3)], rng, jitter)
            xa, xb, ya = max(x, 0), min(x + w, size), max(horizon - h, 0)
            img[ya:horizon, xa:xb] = colour
            step = max(size // 16, 3)
            win = ((ys - ya) % step < step // 2) & ((xs - x) % step < step // 2) & (ys >= ya + 1) & \
                  (ys < horizon - 1) & (xs >= xa + 1) & (xs < xb - 1)
            img[win] = (250, 240, 150)
            x += w + int(rng.integers(0, size // 10 + 1))
    if kind == "indoor":  # wallpaper stripes, a window, a skirting board
        stripe = max(size // 10, 2)
        img[:horizon][(xs[:horizon] // stripe) % 2 == 0] = _jitter((210, 185, 140), rng, jitter)
        wx, wy, ww = int(rng.uniform(0, size * 0.7)), int(size * 0.08), int(size * 0.25)
        img[wy:wy + ww, wx:wx + ww] = (170, 215, 245)
        img[wy + ww // 2, wx:wx + ww] = (90, 60, 40)
        img[max(horizon - 2, 0):horizon] = (90, 60, 40)
    if kind == "sunset":
        img[horizon - max(size // 12, 1):horizon] = _jitter((200, 110, 120), rng, jitter)
    return img


def _clutter(img: np.ndarray, rng: np.random.Generator, size: int, foreground: bool) -> np.ndarray:
    """Draw one distractor (behind the characters) or occluder (in front); returns its mask."""
    ys, xs = _grid(0, size, 0, size)
    kind = rng.choice(("fence", "bush", "post", "crate") if foreground else ("tree", "ball", "cloud", "box", "bush"))
    cx, cy = rng.uniform(0, size), rng.uniform(size * 0.3, size)
    s = size * rng.uniform(0.06, 0.16)
    colour = rng.integers(30, 230, 3)
    if kind == "tree":
        trunk = (np.abs(xs - cx) <= s * 0.2) & (ys >= cy - s) & (ys <= cy + s)
        crown = (xs - cx) ** 2 + (ys - cy + s) ** 2 <= (s * 0.9) ** 2
        img[trunk] = (110, 75, 40)
        img[crown] = (40, int(rng.integers(110, 170)), 50)
        mask = trunk | crown
    elif kind == "ball":
        mask = (xs - cx) ** 2 + (ys - cy) ** 2 <= (s * 0.6) ** 2
        img[mask] = colour
        img[mask & (np.abs(ys - cy) < s * 0.12)] = (250, 250, 250)
    elif kind == "cloud":
        mask = ((xs - cx) / (s * 1.3)) ** 2 + ((ys - cy * 0.4) / (s * 0.5)) ** 2 <= 1
        img[mask] = (245, 245, 245)
    elif kind in ("box", "crate"):
        mask = (np.abs(xs - cx) <= s * 0.8) & (np.abs(ys - cy) <= s * 0.8)
        img[mask] = colour if kind == "box" else (160, 110, 60)
        if kind == "crate":
            img[mask & ((np.abs(xs - cx) < 1) | (np.abs(ys - cy) < 1))] = (100, 65, 30)
    elif kind == "bush":
        mask = np.zeros((size, size), dtype=bool)
        for dx in (-0.7, 0.0, 0.7):
            mask |= (xs - cx - dx * s) ** 2 + (ys - cy) ** 2 <= (s * 0.75) ** 2
        img[mask] = (50, int(rng.integers(120, 180)), 60)
    elif kind == "fence":
        y0 = cy
        mask = (ys >= y0) & (ys <= y0 + s * 1.2) & (((xs - cx) % max(s * 0.6, 3)) < max(s * 0.3, 1.5))
        mask |= (ys >= y0 + s * 0.3) & (ys <= y0 + s * 0.45)
        img[mask] = (235, 225, 200)
    else:  # post
        mask = (np.abs(xs - cx) <= max(s * 0.25, 1)) & (ys >= cy - 2 * s)
        img[mask] = colour
    outline = _dilate(mask) & ~mask
    img[outline] = INK
    return mask | outline


# --------------------------------------------------------------------------------------------------------------------
@dataclass
class Frame:
    """One composed frame: the image, its multi-hot labels and what was drawn."""

    image: np.ndarray                       # uint8 (size, size, 3)
    labels: np.ndarray                      # uint8 (C,)
    drawn: np.ndarray                       # bool (C,): drawn at all (possibly out of frame or hidden)
    visible: np.ndarray                     # int (C,): visible pixels
    area: np.ndarray                        # float (C,): the whole silhouette's area, pixels
    owner: np.ndarray = field(repr=False)   # int8 (size, size): index of the topmost character per pixel, −1 none


def _full_area(name: str, pose: int, pl: _Placement) -> float:
    centred = _Placement(0.0, 0.0, pl.half, pl.angle, pl.mirror, pl.squash)
    rendered = _character_layers(name, pose, centred, 0, np.random.default_rng(0), 0, bounded=False)
    return float(rendered[3].sum())


def draw_characters(cfg: CompositorConfig, rng: np.random.Generator) -> np.ndarray:
    """Which characters a frame draws: bool (C,), each with its Zipf probability, drawn again while there are more
    than ``max_characters``."""
    freq = cfg.frequencies()
    while True:
        characters = rng.random(len(freq)) < freq
        if characters.sum() <= cfg.max_characters:
            return characters


def compose(cfg: CompositorConfig, size: int, rng: np.random.Generator, scene: Scene | None = None,
            characters: np.ndarray | None = None, positions: dict[int, tuple[float, float]] | None = None) -> Frame:
    """Compose one frame.

    Args:
        cfg: frequencies, visibility rule and scenes.
        size: frame side, pixels.
        rng: the random generator (the frame is a pure function of its state).
        scene: ``cfg.nominal`` by default; pass ``cfg.shifted`` for the shifted set.
        characters: bool (C,) of the characters to draw (default: drawn by the Zipf frequencies).
        positions: character index → centre (x, y) in pixels, overriding the random place (for tests).

    Returns:
        the :class:`Frame`.
    """
    scene = scene or cfg.nominal
    n_chars = len(CHARACTERS)
    if characters is None:
        characters = draw_characters(cfg, rng)
    characters = np.asarray(characters, dtype=bool)
    img = _background(str(rng.choice(scene.backgrounds)), size, rng, cfg.colour_jitter)
    for _ in range(rng.integers(scene.distractors[0], scene.distractors[1] + 1)):
        _clutter(img, rng, size, foreground=False)
    owner = np.full((size, size), -1, dtype=np.int8)
    area = np.zeros(n_chars)
    order = rng.permutation(np.flatnonzero(characters))  # z-order, back to front
    for c in order:
        name = CHARACTERS[c]
        half = 0.17 * size * rng.uniform(*scene.scale)
        lo, hi = -scene.border * size, (1 + scene.border) * size
        pl = _Placement(x=rng.uniform(lo, hi), y=rng.uniform(lo, hi), half=half,
                        angle=math.radians(rng.uniform(-scene.rotation_deg, scene.rotation_deg)),
                        mirror=bool(rng.random() < 0.5), squash=float(rng.uniform(0.85, 1.15)))
        if positions and c in positions:
            pl.x, pl.y = positions[c]
        pose = int(rng.integers(len(_POSES)))
        layers = _character_layers(name, pose, pl, size, rng, cfg.colour_jitter)
        if layers is None:
            area[c] = _full_area(name, pose, pl)
            continue
        y0, x0, sprite, mask = layers
        h, w = mask.shape
        reach = pl.half * max(pl.squash, 1 / pl.squash) * math.sqrt(2) + 2
        inside = pl.x - reach >= 0 and pl.y - reach >= 0 and pl.x + reach <= size and pl.y + reach <= size
        area[c] = mask.sum() if inside else _full_area(name, pose, pl)
        region = img[y0:y0 + h, x0:x0 + w]
        region[mask] = sprite[mask]
        owner[y0:y0 + h, x0:x0 + w][mask] = c
    for _ in range(rng.integers(scene.occluders[0], scene.occluders[1] + 1)):
        owner[_clutter(img, rng, size, foreground=True)] = -1
    visible = np.bincount(owner[owner >= 0].ravel(), minlength=n_chars)
    present = characters & (visible >= cfg.min_visible_pixels) & (visible >= cfg.min_visible_fraction * area)
    return Frame(image=np.clip(img, 0, 255).astype(np.uint8), labels=present.astype(np.uint8), drawn=characters,
                 visible=visible, area=area, owner=owner)


def generate(cfg: CompositorConfig, size: int, count: int, seed: int | Sequence[int], shifted: bool = False
             ) -> tuple[np.ndarray, np.ndarray]:
    """``count`` frames: images uint8 (count, size, size, 3) and labels uint8 (count, C), deterministic by ``seed``.

    Frame ``i`` depends only on ``(seed, i)`` (``numpy.random.SeedSequence(seed).spawn``), so a longer split starts
    with the frames of a shorter one. ``seed`` may be a sequence of integers (e.g. ``(seed, split index)``).
    """
    images = np.empty((count, size, size, 3), dtype=np.uint8)
    labels = np.empty((count, len(CHARACTERS)), dtype=np.uint8)
    scene = cfg.shifted if shifted else cfg.nominal
    for i, child in enumerate(np.random.SeedSequence(seed).spawn(count)):
        frame = compose(cfg, size, np.random.default_rng(child), scene)
        images[i], labels[i] = frame.image, frame.labels
    return images, labels
