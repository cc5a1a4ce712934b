"""The embedded procedural scene set: small pictures whose captions carry meaning.

Each scene holds 1 to ``max_objects`` objects (shapes, animals or vehicles drawn as simple sprites) of a colour and
a size, on one of several textured backgrounds. The objects form one of four layouts:

- ``single``: one object (``a big red car on the grass``);
- ``count``: 2-4 identical objects (``three blue stars``);
- ``relation``: two groups (each one object or a counted group) in a spatial relation, *left of*, *above*,
  *next to* or *on* (one small object resting on top of a big one), which the geometry of the picture obeys;
- ``list``: 3-4 different objects (``a red circle, a green dog and a yellow bus``).

Five reference captions per picture come from a small grammar: synonyms (``car``/``automobile``, ``big``/``large``,
``left of``/``to the left of``), optional details (size, colour, the background), different frames
(``there is ...``, ``a picture of ...``), and relations said from either side (``a cat to the left of a car`` /
``a car to the right of a cat``). So references agree on content but not word for word, and n-gram metrics are
neither trivial nor saturated. Raw captions are written like Flickr8k's (capital first letter, a final `` .``);
the data stage normalises them with :func:`projects.image_captioning.text.normalize`.

Everything is deterministic by ``(seed, index)``: scene ``i`` is the same whatever ``count`` is.

Sources: the grammar and sprites are this project's own; the set follows the idea of synthetic captioning
benchmarks with controlled composition (e.g. ShapeWorld, Kuhnle & Copestake 2017).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
from skimage import draw

__all__ = ["COLOURS", "BACKGROUNDS", "KINDS", "SceneObject", "Scene", "sample_scene", "render", "captions",
           "generate"]

#: object colours: name → RGB (saturated, so they stand out from the muted backgrounds)
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30), "green": (40, 190, 50), "blue": (30, 70, 230), "yellow": (245, 225, 30),
    "orange": (250, 140, 20), "purple": (150, 50, 190), "white": (250, 250, 250), "black": (15, 15, 15),
}

#: backgrounds: name → (base RGB, phrases for the optional detail)
BACKGROUNDS: dict[str, tuple[tuple[int, int, int], tuple[str, ...]]] = {
    "grass": ((80, 125, 65), ("on the grass", "on green grass", "in a field")),
    "sky": ((135, 185, 235), ("in the sky", "against a blue sky")),
    "sand": ((215, 195, 150), ("on the sand", "on a beach")),
    "road": ((105, 105, 110), ("on a road", "on the street")),
    "wall": ((200, 200, 190), ("in front of a wall", "against a grey wall")),
    "night": ((25, 25, 55), ("at night", "on a dark background")),
    "water": ((40, 95, 145), ("on the water", "in the water")),
    "wood": ((150, 105, 65), ("on a wooden floor", "on wooden boards")),
}

#: object kinds: name → (category, synonyms (singular), plurals)
KINDS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "circle": ("shape", ("circle", "disc", "round shape"), ("circles", "discs", "round shapes")),
    "square": ("shape", ("square", "box"), ("squares", "boxes")),
    "triangle": ("shape", ("triangle",), ("triangles",)),
    "star": ("shape", ("star",), ("stars",)),
    "cat": ("animal", ("cat", "kitten"), ("cats", "kittens")),
    "dog": ("animal", ("dog", "puppy"), ("dogs", "puppies")),
    "bird": ("animal", ("bird",), ("birds",)),
    "fish": ("animal", ("fish",), ("fish",)),
    "car": ("vehicle", ("car", "automobile"), ("cars", "automobiles")),
    "bus": ("vehicle", ("bus",), ("buses",)),
    "boat": ("vehicle", ("boat", "ship"), ("boats", "ships")),
    "plane": ("vehicle", ("plane", "airplane", "aeroplane"), ("planes", "airplanes", "aeroplanes")),
}

#: kinds a small object can rest on (relation ``on``)
SUPPORTS = ("square", "car", "bus", "boat")
RELATIONS = ("left_of", "above", "next_to", "on")
NUMBERS = {2: ("two", "a pair of"), 3: ("three", "a group of three"), 4: ("four", "a group of four")}
SIZE_WORDS = {"big": ("big", "large"), "small": ("small", "little")}
RELATION_WORDS = {
    "left_of": (("to the left of", "left of", "on the left of"), ("to the right of", "right of", "on the right of")),
    "above": (("above", "over"), ("below", "under", "beneath")),
    "next_to": (("next to", "beside", "by"), ("next to", "beside")),
    "on": (("on", "on top of", "sitting on"), ()),
}
FRAMES = ("{np}", "{np}", "there is {np}", "a picture of {np}", "an image of {np}", "{np} in the picture")
#: relative sprite sides (fraction of the picture side) per size
SIZE_RANGE = {"big": (0.30, 0.36), "small": (0.15, 0.19)}


@dataclasses.dataclass(frozen=True)
class SceneObject:
    """One sprite: kind, colour, size class, centre (row, col) and side in pixels."""

    kind: str
    colour: str
    size: str
    center: tuple[float, float]
    side: float


@dataclasses.dataclass(frozen=True)
class Scene:
    """A scene: background, layout, object groups and their relation.

    ``groups`` lists groups of identical objects (kind, colour, size); ``relation`` relates ``groups[0]`` to
    ``groups[1]`` (layout ``relation`` only).
    """

    background: str
    layout: str
    groups: tuple[tuple[SceneObject, ...], ...]
    relation: str | None = None

    @property
    def objects(self) -> tuple[SceneObject, ...]:
        return tuple(o for g in self.groups for o in g)


# --------------------------------------------------------------------------------------------------- sampling
def _contrast_colour(rng: np.random.Generator, background: str, avoid: Sequence[str] = ()) -> str:
    base = np.array(BACKGROUNDS[background][0], float)
    names = [c for c in COLOURS if np.linalg.norm(np.array(COLOURS[c], float) - base) > 110 and c not in avoid]
    return str(rng.choice(names))


def _place(rng: np.random.Generator, sides: Sequence[float], size: int, boxes: list, region: tuple) -> list | None:
    """Centres for squares of ``sides`` inside ``region`` (r0, r1, c0, c1 in pixels), not overlapping ``boxes``."""
    r0, r1, c0, c1 = region
    centres = []
    for side in sides:
        h = side / 2
        for _ in range(60):
            lo_r, hi_r, lo_c, hi_c = max(r0, h + 1), min(r1, size - h - 1), max(c0, h + 1), min(c1, size - h - 1)
            if lo_r > hi_r or lo_c > hi_c:
                return None
            r, c = rng.uniform(lo_r, hi_r), rng.uniform(lo_c, hi_c)
            box = (r - h - 1, r + h + 1, c - h - 1, c + h + 1)
            if all(box[1] <= b[0] or box[0] >= b[1] or box[3] <= b[2] or box[2] >= b[3] for b in boxes):
                boxes.append(box)
                centres.append((r, c))
                break
        else:
            return None
    return centres


def _side(rng: np.random.Generator, size_class: str, size: int) -> float:
    lo, hi = SIZE_RANGE[size_class]
    return float(rng.uniform(lo, hi) * size)


def sample_scene(rng: np.random.Generator, size: int, max_objects: int = 4) -> Scene:
    """Draw one scene description (no pixels) whose geometry satisfies its layout and relation.

    Args:
        rng: the random generator (consumed).
        size: the picture side in pixels (at least 32).
        max_objects: 1..4 objects.

    Raises:
        ValueError: ``size`` < 32 or ``max_objects`` outside 1..4.
    """
    if size < 32:
        raise ValueError(f"scenes need a picture side of at least 32 pixels, got {size}")
    if not 1 <= max_objects <= 4:
        raise ValueError(f"max_objects must be in 1..4, got {max_objects}")
    for _ in range(200):
        scene = _try_scene(rng, size, int(rng.integers(1, max_objects + 1)))
        if scene is not None:
            return scene
    raise RuntimeError("could not place a scene in 200 attempts")  # pragma: no cover


def _try_scene(rng: np.random.Generator, size: int, n: int) -> Scene | None:
    background = str(rng.choice(list(BACKGROUNDS)))
    kinds = list(KINDS)
    if n == 1:
        layout = "single"
    else:
        options = ["count", "relation"] + (["list"] if n >= 3 else [])
        layout = str(rng.choice(options))
    full = (0.0, float(size), 0.0, float(size))
    boxes: list = []

    def group(kind: str, colour: str, size_class: str, count: int, region: tuple) -> tuple | None:
        sides = [_side(rng, size_class, size) for _ in range(count)]
        centres = _place(rng, sides, size, boxes, region)
        if centres is None:
            return None
        return tuple(SceneObject(kind, colour, size_class, (float(r), float(c)), s)
                     for (r, c), s in zip(centres, sides))

    if layout == "single":
        g = group(str(rng.choice(kinds)), _contrast_colour(rng, background), str(rng.choice(["big", "small"])), 1,
                  full)
        return None if g is None else Scene(background, layout, (g,))
    if layout == "count":
        g = group(str(rng.choice(kinds)), _contrast_colour(rng, background), "small" if n >= 3 else
                  str(rng.choice(["big", "small"])), n, full)
        return None if g is None else Scene(background, layout, (g,))
    if layout == "list":
        chosen = rng.choice(kinds, size=n, replace=False)
        groups, colours = [], []
        for kind in chosen:
            colour = _contrast_colour(rng, background, avoid=colours)
            colours.append(colour)
            g = group(str(kind), colour, "small", 1, full)
            if g is None:
                return None
            groups.append(g)
        return Scene(background, layout, tuple(groups))
    # relation: two groups (counts a + b = n), different kind or colour
    relation = str(rng.choice(RELATIONS if n == 2 else RELATIONS[:3]))
    counts = (1, 1) if n == 2 else tuple(int(c) for c in rng.permutation([1, n - 1]))
    kind_a, kind_b = (str(k) for k in rng.choice(kinds, size=2, replace=False))
    colour_a = _contrast_colour(rng, background)
    colour_b = _contrast_colour(rng, background, avoid=[colour_a])
    if relation == "on":
        kind_b = str(rng.choice(SUPPORTS))
        if kind_a == kind_b:
            return None
        side_b, side_a = _side(rng, "big", size), _side(rng, "small", size)
        rb = rng.uniform(size * 0.55, size - side_b / 2 - 2)
        cb = rng.uniform(side_b / 2 + 2, size - side_b / 2 - 2)
        ra = rb - side_b / 2 - side_a / 2 + 1
        ca = cb + rng.uniform(-0.2, 0.2) * side_b
        if ra - side_a / 2 < 1:
            return None
        a = (SceneObject(kind_a, colour_a, "small", (float(ra), float(ca)), side_a),)
        b = (SceneObject(kind_b, colour_b, "big", (float(rb), float(cb)), side_b),)
        return Scene(background, "relation", (a, b), "on")
    size_a = "small" if counts[0] > 1 else str(rng.choice(["big", "small"]))
    size_b = "small" if counts[1] > 1 else str(rng.choice(["big", "small"]))
    half = size / 2
    if relation == "left_of":
        regions = ((0.0, float(size), 0.0, half - 2), (0.0, float(size), half + 2, float(size)))
    elif relation == "above":
        regions = ((0.0, half - 2, 0.0, float(size)), (half + 2, float(size), 0.0, float(size)))
    else:  # next_to: side by side in one horizontal band, close together
        top = rng.uniform(0, size * 0.45)
        band = (top, top + size * 0.55)
        mid = rng.uniform(size * 0.4, size * 0.6)
        regions = ((*band, mid - size * 0.4, mid - 1), (*band, mid + 1, mid + size * 0.4))
        if rng.random() < 0.5:
            regions = regions[::-1]
    a = group(kind_a, colour_a, size_a, counts[0], regions[0])
    b = group(kind_b, colour_b, size_b, counts[1], regions[1]) if a is not None else None
    if a is None or b is None:
        return None
    return Scene(background, "relation", (a, b), relation)


# --------------------------------------------------------------------------------------------------- drawing
def _background(rng: np.random.Generator, name: str, size: int) -> np.ndarray:
    base = np.array(BACKGROUNDS[name][0], float)
    img = np.broadcast_to(base, (size, size, 3)).copy()
    rows = np.linspace(0, 1, size)[:, None, None]
    if name == "sky":
        img = img + 40 * rows - 20
    elif name == "night":
        stars = rng.random((size, size)) < 0.01
        img[stars] = 200
    elif name == "water":
        img = img + 12 * np.sin(np.arange(size)[:, None, None] * 0.9 + rng.uniform(0, 6))
    elif name == "wood":
        img = img + 15 * np.sin(np.arange(size)[None, :, None] * 0.6 + rng.uniform(0, 6))
    elif name == "road":
        mid = int(size * rng.uniform(0.45, 0.55))
        for c in range(0, size, 10):
            img[mid:mid + 2, c:c + 5] = 235
    img = img + rng.normal(0, 6 if name != "grass" else 12, img.shape)
    return np.clip(img, 0, 255)


def _poly(img, rows, cols, colour) -> None:
    rr, cc = draw.polygon(np.asarray(rows), np.asarray(cols), shape=img.shape[:2])
    img[rr, cc] = colour


def _disk(img, r, c, radius, colour) -> None:
    rr, cc = draw.disk((r, c), max(radius, 0.8), shape=img.shape[:2])
    img[rr, cc] = colour


def _ellipse(img, r, c, rr_, cr_, colour) -> None:
    rr, cc = draw.ellipse(r, c, max(rr_, 0.8), max(cr_, 0.8), shape=img.shape[:2])
    img[rr, cc] = colour


def _sprite(img: np.ndarray, obj: SceneObject) -> None:
    """Draw ``obj`` into ``img`` (float RGB, modified in place) inside the square of side ``obj.side``."""
    r, c = obj.center
    h = obj.side / 2
    colour = np.array(COLOURS[obj.colour], float)
    dark = np.clip(colour * 0.45, 0, 255) if obj.colour != "black" else np.array([90.0, 90, 90])
    light = np.clip(colour * 0.5 + 127, 0, 255)
    k = obj.kind
    if k == "circle":
        _disk(img, r, c, h, colour)
    elif k == "square":
        _poly(img, [r - h, r - h, r + h, r + h], [c - h, c + h, c + h, c - h], colour)
    elif k == "triangle":
        _poly(img, [r + h, r - h, r + h], [c - h, c, c + h], colour)
    elif k == "star":
        ang = np.pi / 2 + np.arange(10) * np.pi / 5
        rad = np.where(np.arange(10) % 2 == 0, h, h * 0.45)
        _poly(img, r - rad * np.sin(ang) * 1.05, c + rad * np.cos(ang) * 1.05, colour)
    elif k == "cat":
        _ellipse(img, r + h * 0.35, c, h * 0.5, h * 0.75, colour)  # body
        _disk(img, r - h * 0.35, c - h * 0.45, h * 0.38, colour)  # head
        _poly(img, [r - h * 0.55, r - h, r - h * 0.6], [c - h * 0.8, c - h * 0.75, c - h * 0.5], colour)  # ears
        _poly(img, [r - h * 0.55, r - h, r - h * 0.6], [c - h * 0.35, c - h * 0.2, c - h * 0.1], colour)
        _poly(img, [r + h * 0.2, r - h * 0.5, r - h * 0.45, r + h * 0.25], [c + h * 0.7, c + h, c + h * 0.9,
                                                                          c + h * 0.6], colour)  # tail
        _disk(img, r - h * 0.4, c - h * 0.55, h * 0.08, dark)
    elif k == "dog":
        _ellipse(img, r, c + h * 0.1, h * 0.38, h * 0.7, colour)  # body
        for dc in (-0.45, 0.6):
            _poly(img, [r, r + h, r + h, r], [c + h * (dc - 0.1), c + h * (dc - 0.1), c + h * (dc + 0.1),
                                              c + h * (dc + 0.1)], colour)  # legs
        _disk(img, r - h * 0.45, c - h * 0.6, h * 0.32, colour)  # head
        _ellipse(img, r - h * 0.3, c - h * 0.85, h * 0.3, h * 0.12, dark)  # floppy ear
        _poly(img, [r - h * 0.2, r - h * 0.75, r - h * 0.65], [c + h * 0.75, c + h, c + h * 0.7], colour)  # tail
    elif k == "bird":
        _ellipse(img, r + h * 0.1, c, h * 0.42, h * 0.7, colour)
        _disk(img, r - h * 0.35, c - h * 0.55, h * 0.3, colour)
        _poly(img, [r - h * 0.45, r - h * 0.3, r - h * 0.2], [c - h * 0.8, c - h, c - h * 0.8], dark)  # beak
        _poly(img, [r, r - h * 0.8, r + h * 0.1], [c - h * 0.2, c + h * 0.3, c + h * 0.5], light)  # wing
        _poly(img, [r + h * 0.05, r - h * 0.25, r + h * 0.35], [c + h * 0.6, c + h, c + h], colour)  # tail
    elif k == "fish":
        _ellipse(img, r, c - h * 0.15, h * 0.45, h * 0.7, colour)
        _poly(img, [r, r - h * 0.5, r + h * 0.5], [c + h * 0.45, c + h, c + h], colour)  # tail
        _disk(img, r - h * 0.12, c - h * 0.55, h * 0.09, dark)
    elif k == "car":
        _poly(img, [r - h * 0.15, r - h * 0.15, r + h * 0.45, r + h * 0.45], [c - h, c + h, c + h, c - h], colour)
        _poly(img, [r - h * 0.6, r - h * 0.6, r - h * 0.15, r - h * 0.15], [c - h * 0.5, c + h * 0.4, c + h * 0.65,
                                                                               c - h * 0.7], colour)  # cabin
        _poly(img, [r - h * 0.5, r - h * 0.5, r - h * 0.2, r - h * 0.2], [c - h * 0.4, c + h * 0.3, c + h * 0.45,
                                                                             c - h * 0.55], light)  # window
        for dc in (-0.55, 0.55):
            _disk(img, r + h * 0.5, c + h * dc, h * 0.25, (30, 30, 30))
    elif k == "bus":
        _poly(img, [r - h * 0.65, r - h * 0.65, r + h * 0.5, r + h * 0.5], [c - h, c + h, c + h, c - h], colour)
        for dc in np.linspace(-0.8, 0.55, 4):
            _poly(img, [r - h * 0.5, r - h * 0.5, r - h * 0.15, r - h * 0.15], [c + h * dc, c + h * (dc + 0.25),
                                                                                 c + h * (dc + 0.25), c + h * dc],
                  light)
        for dc in (-0.6, 0.6):
            _disk(img, r + h * 0.55, c + h * dc, h * 0.2, (30, 30, 30))
    elif k == "boat":
        _poly(img, [r + h * 0.2, r + h * 0.2, r + h * 0.7, r + h * 0.7], [c - h, c + h, c + h * 0.65, c - h * 0.65],
              colour)  # hull
        _poly(img, [r + h * 0.2, r - h, r + h * 0.2], [c - h * 0.05, c - h * 0.05, c + h * 0.03], (60, 40, 20))  # mast
        _poly(img, [r + h * 0.1, r - h * 0.9, r + h * 0.1], [c + h * 0.05, c + h * 0.1, c + h * 0.75], light)  # sail
    elif k == "plane":
        _ellipse(img, r, c, h * 0.2, h, colour)  # fuselage
        _poly(img, [r - h * 0.05, r - h * 0.85, r - h * 0.85, r + h * 0.05], [c - h * 0.15, c + h * 0.15,
                                                                               c + h * 0.35, c + h * 0.15], colour)
        _poly(img, [r + h * 0.05, r + h * 0.85, r + h * 0.85, r - h * 0.05], [c - h * 0.15, c + h * 0.15,
                                                                               c + h * 0.35, c + h * 0.15], colour)
        _poly(img, [r, r - h * 0.55, r - h * 0.55, r], [c + h * 0.7, c + h * 0.85, c + h, c + h], colour)  # tail
    else:  # pragma: no cover
        raise ValueError(f"unknown kind {k!r}")


def render(scene: Scene, size: int, rng: np.random.Generator) -> np.ndarray:
    """The picture of ``scene``: uint8 (size, size, 3) RGB; the background texture draws from ``rng``."""
    img = _background(rng, scene.background, size)
    for obj in scene.objects:
        _sprite(img, obj)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------------------------------- grammar
def _pick(rng: np.random.Generator, options: Sequence[str]) -> str:
    return str(options[int(rng.integers(len(options)))])


def _np(rng: np.random.Generator, group: tuple[SceneObject, ...], *, allow_drop: bool = True) -> str:
    """A noun phrase for a group of identical objects, with optional size and colour."""
    obj, n = group[0], len(group)
    _, singular, plural = KINDS[obj.kind]
    words = []
    if rng.random() < (0.5 if n == 1 else 0.25):
        words.append(_pick(rng, SIZE_WORDS[obj.size]))
    if not allow_drop or rng.random() < 0.85:
        words.append(obj.colour)
    noun = _pick(rng, singular) if n == 1 else _pick(rng, plural)
    words.append(noun)
    det = ("an" if words[0][0] in "aeiou" else "a") if n == 1 else _pick(rng, NUMBERS[n])
    if n > 1 and det.startswith("a pair"):
        det = "a pair of"
    return " ".join([det, *words])


def _list(parts: Sequence[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _one_caption(rng: np.random.Generator, scene: Scene) -> str:
    groups = scene.groups
    if scene.layout in ("single", "count"):
        body = _np(rng, groups[0])
    elif scene.layout == "list":
        order = rng.permutation(len(groups))
        body = _list([_np(rng, groups[i]) for i in order])
    else:
        forward, backward = RELATION_WORDS[scene.relation]
        if scene.relation == "on":
            if rng.random() < 0.3:
                body = f"{_np(rng, groups[1])} with {_np(rng, groups[0])} on top"
            else:
                body = f"{_np(rng, groups[0])} {_pick(rng, forward)} {_np(rng, groups[1])}"
        elif backward and rng.random() < 0.4:
            body = f"{_np(rng, groups[1])} {_pick(rng, backward)} {_np(rng, groups[0])}"
        else:
            body = f"{_np(rng, groups[0])} {_pick(rng, forward)} {_np(rng, groups[1])}"
    frame = _pick(rng, FRAMES)
    if rng.random() < 0.4:
        body = f"{body} {_pick(rng, BACKGROUNDS[scene.background][1])}"
    text = frame.format(np=body)
    if text.startswith("there is ") and body.split(" ")[0] in ("two", "three", "four"):
        text = "there are " + text[len("there is "):]
    return text[0].upper() + text[1:] + " ."


def captions(scene: Scene, rng: np.random.Generator, count: int = 5) -> list[str]:
    """``count`` paraphrased reference captions of ``scene`` (raw text, Flickr8k style; distinct where the
    grammar allows, up to 20 draws each)."""
    out: list[str] = []
    for _ in range(count):
        for _ in range(20):
            text = _one_caption(rng, scene)
            if text not in out:
                break
        out.append(text)
    return out


def generate(count: int, size: int = 64, seed: int = 0, max_objects: int = 4,
             captions_per_image: int = 5) -> tuple[np.ndarray, list[list[str]], list[Scene]]:
    """Generate the scene set.

    Args:
        count: number of pictures.
        size: picture side in pixels (>= 32).
        seed: scene ``i`` uses ``numpy.random.default_rng([seed, i])``, so it does not depend on ``count``.
        max_objects: 1..4 objects per scene.
        captions_per_image: references per picture.

    Returns:
        ``(images, captions, scenes)``: uint8 (count, size, size, 3), ``count`` lists of raw captions, the scene
        descriptions.

    Raises:
        ValueError: ``count`` < 1, ``captions_per_image`` < 1, or a bad ``size``/``max_objects``.
    """
    if count < 1 or captions_per_image < 1:
        raise ValueError(f"count and captions_per_image must be positive, got {count}, {captions_per_image}")
    images = np.empty((count, size, size, 3), np.uint8)
    texts, scenes = [], []
    for i in range(count):
        rng = np.random.default_rng([seed, i])
        scene = sample_scene(rng, size, max_objects)
        images[i] = render(scene, size, rng)
        texts.append(captions(scene, rng, captions_per_image))
        scenes.append(scene)
    return images, texts, scenes
