"""Stage ``generate`` (root dvc.yaml): procedural photos of dressed figures, written as JPEGs plus COCO JSON.

The embedded default data, offline and deterministic (one seed per image, so any worker count gives the same files).
Each image shows one or two figures on a cluttered background:

* a body silhouette (head, neck, torso, arms in random poses, legs, feet; skin tones and hair);
* an outfit drawn as garment polygons in z-order: top (short or long sleeves), trousers, shorts, skirt or dress,
  optional outerwear (open at the front, over the top), shoes, a bag with its strap, a hat, accessories (belt,
  scarf, sunglasses); the arms are drawn over the torso and the bag over the clothes, so garments occlude each other;
* every garment textured (solid, stripes at any angle, checks, dots, prints of random blobs, denim-like noise,
  knit), shaded (a light from one side across the body, darker edges, random folds);
* a background of a colour gradient and many random shapes (rectangles, ellipses, polygons, lines, some textured
  like garments, so colour alone never separates the figure), a floor, an optional second figure (in front of or
  behind the first), blur, colour cast, noise and JPEG compression.

Written to ``<out>/images/NNNNN.jpg`` and ``<out>/annotations.json`` (COCO: one annotation per garment piece with its
*visible* mask as compressed RLE, category = the garment class), so the generated and the user's COCO data share
one loader.

What it can teach: that a click selects a whole coherent region bounded by colour/texture edges and body structure,
the layout of garments on a body (a skirt hangs from the waist, shoes sit under trousers), negative clicks on
neighbouring garments, textures that cross an edge. What it cannot: real fabric, folds and lighting, real poses
(sitting, side views, cropped close-ups), hair over clothes, transparent or thin garments, real backgrounds and
camera optics; classes are defined by shape templates here, far simpler than real garment appearance.

    python -m projects.clothing_segmentation.generate --params projects/clothing_segmentation/params.yaml \
        --out data/clothing_segmentation/generated
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from projects.clothing_segmentation.labels import CLASSES
from shared.config import load_section
from shared.io import atomic_dir, atomic_path, write_json
from shared.stage import run, stage_parser

log = logging.getLogger(__name__)

#: supersampling factor of the rendering (antialiased edges)
SS = 2


@dataclass(frozen=True)
class GenerateConfig:
    count: int = 480
    height: int = 192
    width: int = 128
    seed: int = 12
    #: figures per image, 1 or 2 (the second one overlaps the first)
    max_people: int = 2
    #: random background shapes per image
    clutter: int = 24
    workers: int = 2

    def __post_init__(self) -> None:
        if self.count < 1 or self.height < 32 or self.width < 32:
            raise ValueError(f"count must be ≥ 1 and the image at least 32x32, got {self.count} images of "
                             f"{self.width}x{self.height}")
        if self.max_people not in (1, 2):
            raise ValueError(f"max_people must be 1 or 2, got {self.max_people}")


# --------------------------------------------------------------------------- colours and textures
def _hsv(rng: np.random.Generator, s: tuple[float, float] = (0.2, 0.9),
         v: tuple[float, float] = (0.2, 0.95)) -> np.ndarray:
    import colorsys

    return np.array(colorsys.hsv_to_rgb(rng.random(), rng.uniform(*s), rng.uniform(*v)), dtype=np.float32)


def _coords(shape: tuple[int, int], angle: float) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[: shape[0], : shape[1]].astype(np.float32)
    c, s = np.cos(angle), np.sin(angle)
    return xx * c + yy * s, -xx * s + yy * c


def texture(rng: np.random.Generator, shape: tuple[int, int], scale: float = 1.0) -> np.ndarray:
    """A random garment texture (H, W, 3) in [0, 1]: solid, stripes, checks, dots, print, denim or knit."""
    h, w = shape
    base = _hsv(rng)
    other = _hsv(rng) if rng.random() < 0.7 else np.clip(base * rng.uniform(0.4, 0.8), 0, 1)
    kind = rng.choice(["solid", "solid", "stripes", "checks", "dots", "print", "denim", "knit"])
    out = np.broadcast_to(base, (h, w, 3)).astype(np.float32).copy()
    period = rng.uniform(4, 14) * scale
    u, v = _coords(shape, rng.uniform(0, np.pi))
    if kind == "stripes":
        sel = (u % period) < period * rng.uniform(0.25, 0.6)
        out[sel] = other
    elif kind == "checks":
        sel = ((u // period) + (v // period)) % 2 == 1
        out[sel] = other
        if rng.random() < 0.5:  # tartan: thin lines
            out[(u % period) < 1.2 * scale] = _hsv(rng)
    elif kind == "dots":
        r = period * rng.uniform(0.15, 0.35)
        du, dv = (u % period) - period / 2, (v % period) - period / 2
        out[du * du + dv * dv < r * r] = other
    elif kind == "print":
        import cv2

        colours = [other, _hsv(rng), _hsv(rng)]
        for _ in range(int(rng.integers(8, 30) * (h * w) / (200 * 130 * SS * SS) + 4)):
            centre = (int(rng.integers(0, w)), int(rng.integers(0, h)))
            axes = (int(rng.uniform(1, 5) * scale), int(rng.uniform(1, 5) * scale))
            cv2.ellipse(out, centre, axes, float(rng.uniform(0, 180)), 0, 360,
                        colours[int(rng.integers(0, 3))].tolist(), -1)
    elif kind == "denim":
        out *= (1 + 0.25 * rng.standard_normal((h, w, 1))).astype(np.float32)
        out *= (1 + 0.12 * np.sin(2 * np.pi * (u + v) / (2.5 * scale)))[..., None]
    elif kind == "knit":
        out *= (1 + 0.18 * np.sin(2 * np.pi * u / (3 * scale)) * np.sin(2 * np.pi * v / (4 * scale)))[..., None]
    out *= (1 + 0.04 * rng.standard_normal((h, w, 1))).astype(np.float32)
    return np.clip(out, 0, 1)


# --------------------------------------------------------------------------- shapes
def _poly(mask: np.ndarray, points: Sequence[Sequence[float]]) -> None:
    import cv2

    cv2.fillPoly(mask, [np.round(np.asarray(points, dtype=np.float64) * SS).astype(np.int32)], 1)


def _limb(mask: np.ndarray, points: Sequence[Sequence[float]], width: float) -> None:
    """A thick polyline with round joints (arm, leg, strap)."""
    import cv2

    pts = np.round(np.asarray(points, dtype=np.float64) * SS).astype(np.int32)
    thickness = max(1, int(round(width * SS)))
    for a, b in zip(pts[:-1], pts[1:]):
        cv2.line(mask, tuple(int(v) for v in a), tuple(int(v) for v in b), 1, thickness, cv2.LINE_8)
    for p in pts:
        cv2.circle(mask, tuple(int(v) for v in p), thickness // 2, 1, -1)


def _ellipse(mask: np.ndarray, centre: Sequence[float], axes: Sequence[float], angle: float = 0.0,
             start: float = 0, end: float = 360) -> None:
    import cv2

    cv2.ellipse(mask, (int(round(centre[0] * SS)), int(round(centre[1] * SS))),
                (max(1, int(round(axes[0] * SS))), max(1, int(round(axes[1] * SS)))), angle, start, end, 1, -1)


class Canvas:
    """The supersampled image, the piece-id map and the piece table of one picture."""

    def __init__(self, height: int, width: int):
        self.shape = (height * SS, width * SS)
        self.image = np.zeros((*self.shape, 3), dtype=np.float32)
        self.ids = np.zeros(self.shape, dtype=np.int32)
        self.pieces: list[str] = []  # piece id - 1 → class name

    def blank(self) -> np.ndarray:
        return np.zeros(self.shape, dtype=np.uint8)

    def paint(self, mask: np.ndarray, fill, cls: str | None, shading: np.ndarray | None = None,
              rng: np.random.Generator | None = None) -> None:
        """Paint ``fill(shape) -> (h, w, 3)`` (computed on the mask's bounding box) where ``mask``; a garment
        (``cls`` given) gets a new piece id and, with ``rng``, darker edges and folds."""
        ys, xs = np.nonzero(mask)
        if ys.size == 0:
            return
        y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
        sel = mask[y0:y1, x0:x1].astype(bool)
        colour = np.array(fill((y1 - y0, x1 - x0)), dtype=np.float32)
        if rng is not None:
            import cv2

            depth = cv2.distanceTransform(np.pad(sel.astype(np.uint8), 1), cv2.DIST_L2, 3)[1:-1, 1:-1]
            colour *= (0.72 + 0.28 * np.minimum(depth / (3.0 * SS), 1.0))[..., None]
            for _ in range(int(rng.integers(0, 4))):
                i = int(rng.integers(ys.size))
                py, px = float(ys[i] - y0), float(xs[i] - x0)
                angle = rng.uniform(-0.6, 0.6) + np.pi / 2
                u, v = _coords(sel.shape, angle)
                d = u - (px * np.cos(angle) + py * np.sin(angle))
                along = v - (-px * np.sin(angle) + py * np.cos(angle))
                fold = np.exp(-(d * d) / (2 * (1.2 * SS) ** 2)) * np.exp(-(along * along) / (2 * (12 * SS) ** 2))
                colour *= (1 - rng.uniform(0.15, 0.35) * fold)[..., None]
        if shading is not None:
            colour *= shading[y0:y1, x0:x1, None]
        self.image[y0:y1, x0:x1][sel] = np.clip(colour[sel], 0, 1)
        if cls is None:
            self.ids[y0:y1, x0:x1][sel] = 0
        else:
            self.pieces.append(cls)
            self.ids[y0:y1, x0:x1][sel] = len(self.pieces)


def solid(colour: np.ndarray):
    """A ``fill`` of one colour."""
    colour = np.clip(np.asarray(colour, dtype=np.float32), 0, 1)
    return lambda shape: np.broadcast_to(colour, (*shape, 3))


# --------------------------------------------------------------------------- background
def background(rng: np.random.Generator, canvas: Canvas, clutter: int) -> None:
    import cv2

    h, w = canvas.shape
    top, bottom = _hsv(rng, (0.0, 0.5), (0.3, 0.95)), _hsv(rng, (0.0, 0.5), (0.2, 0.9))
    t = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    canvas.image[:] = top * (1 - t) + bottom * t
    floor = int(h * rng.uniform(0.7, 0.95))
    if rng.random() < 0.7:
        canvas.image[floor:] = texture(rng, (h - floor, w), SS * 1.5) * rng.uniform(0.5, 1.0)
    for _ in range(clutter):
        mask = canvas.blank()
        kind = rng.choice(["rect", "ellipse", "poly", "line"])
        cx, cy = rng.uniform(-0.1, 1.1) * w, rng.uniform(-0.1, 1.0) * h
        size = rng.uniform(0.05, 0.5) * w
        if kind == "rect":
            cv2.rectangle(mask, (int(cx - size), int(cy - size * rng.uniform(0.3, 2))),
                          (int(cx + size), int(cy + size * rng.uniform(0.3, 2))), 1, -1)
        elif kind == "ellipse":
            cv2.ellipse(mask, (int(cx), int(cy)), (int(size), int(size * rng.uniform(0.3, 1.5))),
                        float(rng.uniform(0, 180)), 0, 360, 1, -1)
        elif kind == "poly":
            k = int(rng.integers(3, 7))
            ang = np.sort(rng.uniform(0, 2 * np.pi, k))
            pts = np.stack([cx + size * np.cos(ang) * rng.uniform(0.5, 1.2, k),
                            cy + size * np.sin(ang) * rng.uniform(0.5, 1.2, k)], 1)
            cv2.fillPoly(mask, [pts.astype(np.int32)], 1)
        else:
            p0 = (int(cx), int(cy))
            p1 = (int(cx + rng.uniform(-1, 1) * w), int(cy + rng.uniform(-1, 1) * h))
            cv2.line(mask, p0, p1, 1, int(rng.integers(1, 4 * SS)))
        seed = int(rng.integers(1 << 31))
        fill = ((lambda shape, seed=seed: texture(np.random.default_rng(seed), shape, SS)) if rng.random() < 0.4
                else solid(_hsv(rng)))
        shade = (0.7 + 0.3 * np.linspace(rng.uniform(0, 1), rng.uniform(0, 1), w, dtype=np.float32))[None, :]
        canvas.paint(mask, fill, None, shading=np.broadcast_to(shade, (h, w)))


# --------------------------------------------------------------------------- a dressed figure
SKIN_TONES = np.array([[0.98, 0.84, 0.72], [0.92, 0.72, 0.56], [0.78, 0.57, 0.42], [0.6, 0.42, 0.3],
                       [0.42, 0.28, 0.2], [0.3, 0.2, 0.15]], dtype=np.float32)


def figure(rng: np.random.Generator, canvas: Canvas, cx: float, top: float, height: float) -> None:
    """Draw one dressed person: body, then garments in z-order (each a COCO piece)."""
    h, w = canvas.shape
    u = height / 7.6  # head height
    sway = rng.uniform(-0.25, 0.25) * u
    light_dir = rng.choice([-1.0, 1.0])
    xx = np.arange(w, dtype=np.float32)[None, :] / SS
    shade = np.broadcast_to(np.clip(1 + light_dir * 0.25 * np.tanh((xx - cx) / (1.2 * u)), 0.5, 1.3), (h, w))
    y_neck, y_sh, y_chest = top + 1.0 * u, top + 1.35 * u, top + 2.2 * u
    y_waist, y_hip, y_crotch = top + 3.0 * u, top + 3.7 * u, top + 4.05 * u
    y_knee, y_ankle, y_foot = top + 5.5 * u, top + 6.95 * u, top + 7.35 * u
    sh, waist, hip = u * rng.uniform(0.85, 1.05), u * rng.uniform(0.55, 0.75), u * rng.uniform(0.75, 0.95)
    stance = rng.uniform(0.15, 0.6) * u
    legs = []
    for side in (-1, 1):
        hip_x = cx + sway + side * hip * 0.5
        knee = (hip_x + side * stance * 0.5, y_knee)
        ankle = (hip_x + side * stance, y_ankle)
        legs.append([(hip_x, y_hip), knee, ankle])
    arms = []
    for side in (-1, 1):
        shoulder = (cx + side * sh, y_sh + 0.15 * u)
        pose = rng.choice(["down", "out", "bent", "hip"])
        if pose == "down":
            elbow = (shoulder[0] + side * 0.25 * u, shoulder[1] + 1.4 * u)
            wrist = (elbow[0] + side * 0.1 * u, elbow[1] + 1.3 * u)
        elif pose == "out":
            a = rng.uniform(0.3, 0.9)
            elbow = (shoulder[0] + side * 1.4 * u * np.sin(a), shoulder[1] + 1.4 * u * np.cos(a))
            wrist = (elbow[0] + side * 1.3 * u * np.sin(a * 1.2), elbow[1] + 1.3 * u * np.cos(a * 1.2))
        elif pose == "bent":
            elbow = (shoulder[0] + side * 0.35 * u, shoulder[1] + 1.35 * u)
            wrist = (cx + side * rng.uniform(0.0, 0.5) * u, elbow[1] - rng.uniform(0.2, 0.9) * u)
        else:  # hand on the hip
            elbow = (shoulder[0] + side * 0.9 * u, shoulder[1] + 1.1 * u)
            wrist = (cx + sway + side * hip * 0.6, y_hip - 0.5 * u)
        arms.append([shoulder, elbow, wrist])

    skin = SKIN_TONES[int(rng.integers(len(SKIN_TONES)))] * rng.uniform(0.9, 1.1)

    def skin_paint(mask):
        canvas.paint(mask, solid(skin), None, shade)

    def garment(mask, cls, scale=1.0):
        seed = int(rng.integers(1 << 31))
        canvas.paint(mask, lambda shape: texture(np.random.default_rng(seed), shape, SS * scale * u / 22), cls,
                     shade, rng)

    # body (skin, not annotated)
    body = canvas.blank()
    _ellipse(body, (cx, top + 0.5 * u), (0.38 * u, 0.5 * u))
    _poly(body, [(cx - 0.16 * u, top + 0.8 * u), (cx + 0.16 * u, top + 0.8 * u), (cx + 0.2 * u, y_sh + 0.1 * u),
                 (cx - 0.2 * u, y_sh + 0.1 * u)])
    torso = [(cx - sh, y_sh), (cx + sh, y_sh), (cx + waist + sway, y_waist), (cx + hip + sway, y_hip),
             (cx + sway, y_crotch), (cx - hip + sway, y_hip), (cx - waist + sway, y_waist)]
    _poly(body, torso)
    for leg in legs:
        _limb(body, leg, 0.42 * u)
    skin_paint(body)
    arm_mask = canvas.blank()
    for arm in arms:
        _limb(arm_mask, arm, 0.3 * u)
    # hair (behind the shoulders for long hair)
    hair = canvas.blank()
    _ellipse(hair, (cx, top + 0.42 * u), (0.42 * u, 0.45 * u), 0, 180, 360)
    if rng.random() < 0.5:
        _poly(hair, [(cx - 0.42 * u, top + 0.4 * u), (cx + 0.42 * u, top + 0.4 * u),
                     (cx + 0.5 * u, top + rng.uniform(1.2, 2.4) * u), (cx - 0.5 * u, top + rng.uniform(1.2, 2.4) * u)])
    canvas.paint(hair, solid(_hsv(rng, (0.2, 0.7), (0.05, 0.6))), None, shade)
    face = canvas.blank()
    _ellipse(face, (cx, top + 0.55 * u), (0.33 * u, 0.42 * u))
    skin_paint(face)

    outfit = rng.choice(["trousers", "skirt", "shorts", "dress"], p=[0.4, 0.22, 0.13, 0.25])
    # shoes
    if rng.random() < 0.92:
        for leg in legs:
            shoe = canvas.blank()
            ax, ay = leg[-1]
            side = 1 if ax > cx else -1
            _ellipse(shoe, (ax + side * 0.12 * u, y_foot - 0.12 * u), (0.32 * u, 0.2 * u))
            if rng.random() < 0.3:  # boots
                _limb(shoe, [(ax, y_ankle - 0.8 * u), (ax, y_foot - 0.2 * u)], 0.45 * u)
            garment(shoe, "shoes", 0.6)
    # lower body
    if outfit in ("trousers", "shorts"):
        low = canvas.blank()
        end = 1.0 if outfit == "trousers" else rng.uniform(0.25, 0.45)
        _poly(low, [(cx - waist - 0.05 * u + sway, y_waist + 0.2 * u), (cx + waist + 0.05 * u + sway,
                                                                        y_waist + 0.2 * u),
                    (cx + hip + 0.05 * u + sway, y_hip), (cx + sway, y_crotch + 0.1 * u),
                    (cx - hip - 0.05 * u + sway, y_hip)])
        for leg in legs:
            (hx, hy), (kx, ky), (ax, ay) = leg
            if end >= 1.0:
                _limb(low, leg, 0.5 * u * rng.uniform(0.95, 1.25))
            else:
                _limb(low, [(hx, hy), (hx + (kx - hx) * end * 2, hy + (ky - hy) * end * 2)], 0.55 * u)
        garment(low, outfit)
    elif outfit == "skirt":
        low = canvas.blank()
        hem_y = y_hip + rng.uniform(0.6, 2.6) * u
        flare = rng.uniform(1.0, 1.6)
        _poly(low, [(cx - waist + sway, y_waist + 0.15 * u), (cx + waist + sway, y_waist + 0.15 * u),
                    (cx + hip * flare + sway, hem_y), (cx - hip * flare + sway, hem_y)])
        garment(low, "skirt")
    # upper body
    long_sleeves = rng.random() < 0.5
    if outfit == "dress":
        dress = canvas.blank()
        hem_y = y_hip + rng.uniform(0.8, 3.0) * u
        flare = rng.uniform(1.0, 1.7)
        _poly(dress, [(cx - sh * 0.9, y_sh), (cx + sh * 0.9, y_sh), (cx + waist + sway, y_waist),
                      (cx + hip * flare + sway, hem_y), (cx - hip * flare + sway, hem_y),
                      (cx - waist + sway, y_waist)])
        if rng.random() < 0.5:
            for arm in arms:
                _limb(dress, arm[:2] if not long_sleeves else arm, 0.36 * u)
        garment(dress, "dress")
    else:
        top_mask = canvas.blank()
        hem = y_waist + rng.uniform(0.1, 0.8) * u
        _poly(top_mask, [(cx - sh, y_sh), (cx + sh, y_sh), (cx + waist + 0.1 * u + sway, hem),
                         (cx - waist - 0.1 * u + sway, hem)])
        for arm in arms:
            s, e, wr = arm
            if long_sleeves:
                _limb(top_mask, arm, 0.36 * u)
            elif rng.random() < 0.8:
                _limb(top_mask, [s, (s[0] + (e[0] - s[0]) * 0.5, s[1] + (e[1] - s[1]) * 0.5)], 0.38 * u)
        garment(top_mask, "top")
    # arms over the torso: skin where no sleeve
    bare = arm_mask.astype(bool) & (canvas.ids == 0)
    hands = canvas.blank()
    for arm in arms:
        _ellipse(hands, arm[-1], (0.14 * u, 0.16 * u))
    skin_paint((bare | hands.astype(bool)).astype(np.uint8))
    # outerwear: open at the front
    if rng.random() < 0.35:
        coat = canvas.blank()
        hem = y_hip + rng.uniform(0.0, 1.5) * u
        gap = rng.uniform(0.05, 0.3) * u
        for side in (-1, 1):
            _poly(coat, [(cx + side * gap, y_sh + 0.3 * u), (cx + side * (sh + 0.08 * u), y_sh - 0.05 * u),
                         (cx + side * (hip + 0.15 * u) + sway, hem), (cx + side * gap + sway, hem)])
        for arm in arms:
            _limb(coat, arm[:2] if rng.random() < 0.15 else arm, 0.42 * u)
        garment(coat, "outerwear")
    # accessories
    if rng.random() < 0.5:
        acc = canvas.blank()
        kind = rng.choice(["belt", "scarf", "glasses"])
        if kind == "belt" and outfit != "dress":
            _poly(acc, [(cx - waist - 0.05 * u + sway, y_waist + 0.1 * u), (cx + waist + 0.05 * u + sway,
                                                                          y_waist + 0.1 * u),
                        (cx + waist + 0.05 * u + sway, y_waist + 0.3 * u), (cx - waist - 0.05 * u + sway,
                                                                          y_waist + 0.3 * u)])
        elif kind == "scarf":
            _limb(acc, [(cx - 0.35 * u, y_neck), (cx + 0.35 * u, y_neck)], 0.3 * u)
            _limb(acc, [(cx + 0.2 * u, y_neck), (cx + 0.25 * u, y_chest + rng.uniform(0, 0.8) * u)], 0.22 * u)
        else:
            for side in (-1, 1):
                _ellipse(acc, (cx + side * 0.15 * u, top + 0.5 * u), (0.12 * u, 0.08 * u))
        garment(acc, "accessory", 0.5)
    # hat
    if rng.random() < 0.25:
        hat = canvas.blank()
        brim = rng.uniform(0.45, 0.8) * u
        _ellipse(hat, (cx, top + 0.18 * u), (brim, 0.1 * u))
        _ellipse(hat, (cx, top + 0.15 * u), (0.38 * u, rng.uniform(0.25, 0.45) * u), 0, 180, 360)
        garment(hat, "hat", 0.6)
    # bag in a hand, strap to the shoulder
    if rng.random() < 0.4:
        bag = canvas.blank()
        side = int(rng.integers(2))
        wx, wy = arms[side][-1]
        bw, bh = rng.uniform(0.5, 1.1) * u, rng.uniform(0.5, 1.0) * u
        if rng.random() < 0.5:
            _poly(bag, [(wx - bw / 2, wy + 0.1 * u), (wx + bw / 2, wy + 0.1 * u), (wx + bw / 2, wy + 0.1 * u + bh),
                        (wx - bw / 2, wy + 0.1 * u + bh)])
        else:
            _ellipse(bag, (wx, wy + 0.1 * u + bh / 2), (bw / 2, bh / 2))
        if rng.random() < 0.5:
            _limb(bag, [arms[side][0], (wx, wy + 0.15 * u)], 0.08 * u)
        garment(bag, "bag")


# --------------------------------------------------------------------------- one picture
def render(index: int, cfg: GenerateConfig) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Picture ``index``: image (H, W, 3) uint8, piece-id map (H, W) int32 (0: none), piece classes."""
    import cv2

    rng = np.random.default_rng([cfg.seed, index])
    canvas = Canvas(cfg.height, cfg.width)
    background(rng, canvas, cfg.clutter)
    people = 1 if cfg.max_people == 1 or rng.random() < 0.65 else 2
    main = dict(cx=cfg.width * rng.uniform(0.35, 0.65), top=cfg.height * rng.uniform(0.02, 0.12),
                height=cfg.height * rng.uniform(0.8, 1.15))
    figures = [main]
    if people == 2:
        side = rng.choice([-1, 1])
        figures.insert(int(rng.integers(2)), dict(cx=main["cx"] + side * cfg.width * rng.uniform(0.3, 0.6),
                                                  top=cfg.height * rng.uniform(0.0, 0.3),
                                                  height=cfg.height * rng.uniform(0.6, 1.1)))
    for fig in figures:
        figure(rng, canvas, **fig)
    # camera: blur, colour cast, gamma, noise (at the target size)
    image = cv2.resize(canvas.image, (cfg.width, cfg.height), interpolation=cv2.INTER_AREA)
    ids = canvas.ids[SS // 2:: SS, SS // 2:: SS][: cfg.height, : cfg.width]
    if rng.random() < 0.5:
        image = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.3, 0.9))
    image = image * rng.uniform(0.85, 1.15, 3).astype(np.float32) * rng.uniform(0.7, 1.2)
    image = np.clip(image, 0, 1) ** rng.uniform(0.8, 1.25)
    image = image + rng.normal(0, rng.uniform(0.005, 0.03), image.shape).astype(np.float32)
    return (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8), ids.astype(np.int32), list(canvas.pieces)


def _render_task(args: tuple[int, GenerateConfig, str]) -> list[dict]:
    """Render picture ``index`` into ``folder``/images; returns its COCO annotations (without ids)."""
    from PIL import Image
    from pycocotools import mask as mask_utils

    index, cfg, folder = args
    image, ids, pieces = render(index, cfg)
    path = Path(folder) / "images" / f"{index:05d}.jpg"
    quality = int(np.random.default_rng([cfg.seed, index, 1]).integers(75, 96))
    with atomic_path(path) as tmp:
        Image.fromarray(image).save(tmp, format="JPEG", quality=quality)
    annotations = []
    for piece, cls in enumerate(pieces, start=1):
        visible = ids == piece
        if not visible.any():
            continue
        rle = mask_utils.encode(np.asfortranarray(visible.astype(np.uint8)))
        annotations.append({"image_id": index, "category_id": CLASSES.index(cls),
                            "segmentation": {"size": [int(v) for v in rle["size"]],
                                             "counts": rle["counts"].decode("ascii")},
                            "area": int(visible.sum()), "bbox": [float(v) for v in mask_utils.toBbox(rle)],
                            "iscrowd": 0})
    return annotations


def generate(cfg: GenerateConfig, out: Path) -> dict:
    """Write ``cfg.count`` pictures and ``annotations.json`` into ``out``; returns the COCO dict."""
    from tqdm.auto import tqdm

    (out / "images").mkdir(parents=True, exist_ok=True)
    tasks = [(i, cfg, str(out)) for i in range(cfg.count)]
    if cfg.workers > 1:
        import multiprocessing as mp

        with mp.get_context("spawn").Pool(cfg.workers) as pool:
            results = list(tqdm(pool.imap(_render_task, tasks, chunksize=16), total=len(tasks), desc="generate",
                                mininterval=5))
    else:
        results = [_render_task(t) for t in tqdm(tasks, desc="generate", mininterval=5)]
    annotations = []
    for anns in results:
        for ann in anns:
            annotations.append({"id": len(annotations) + 1, **ann})
    coco = {"info": {"description": "procedural dressed figures (projects/clothing_segmentation/generate.py)",
                     "seed": cfg.seed},
            "images": [{"id": i, "file_name": f"images/{i:05d}.jpg", "height": cfg.height, "width": cfg.width}
                       for i in range(cfg.count)],
            "annotations": annotations,
            "categories": [{"id": k, "name": name} for k, name in enumerate(CLASSES) if k > 1]}
    write_json(out / "annotations.json", coco, indent=0)
    return coco


def main(argv: Sequence[str] | None = None) -> int:
    args = stage_parser(__doc__, outputs=("out",)).parse_args(argv)
    cfg = load_section(args.params, "generate", GenerateConfig)
    with atomic_dir(args.out) as tmp:
        coco = generate(cfg, tmp)
    counts: dict[str, int] = {}
    for ann in coco["annotations"]:
        name = CLASSES[ann["category_id"]]
        counts[name] = counts.get(name, 0) + 1
    log.info("wrote %d images, %d garment pieces to %s: %s", len(coco["images"]), len(coco["annotations"]),
             args.out, counts)
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main))
