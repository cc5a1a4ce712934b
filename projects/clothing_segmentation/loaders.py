"""Readers of labelled garment photos: Clothing Co-Parsing (``.mat`` label maps) and COCO instances.

Both yield :class:`Picture` objects one at a time (a photo and its garment masks, each with a merged class id), so
the ``data`` stage never holds more than one full-resolution photo.

* **CCP** (Yang et al. 2014, https://github.com/bearpaw/clothing-co-parsing): the official layout ``photos/*.jpg``,
  ``annotations/pixel-level/*.mat`` (variable ``groundtruth``, uint8 label values) and ``label_list.mat`` (1×59 cell
  array of names); the sample layout with ``pixel_annotations_mat/`` instead of ``annotations/pixel-level/`` is read
  too. Only photos with a pixel-level annotation are used. The folder, or the official archive (a ``.zip``), is found
  in ``data/clothing_segmentation/external/`` or fetched through :func:`shared.data.fetch`.
* **COCO** (Fashionpedia, ModaNet, DeepFashion2 converted, and the ``generate`` stage's output): an annotations JSON
  with polygons or RLE (compressed or not), read with pycocotools; category names map to classes.
"""

from __future__ import annotations

import contextlib
import io
import logging
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from projects.clothing_segmentation.labels import CCP_LABELS, apply_lut, merge_lut
from shared.io import DataError, atomic_dir, read_image
from shared.paths import repo_root

log = logging.getLogger(__name__)

#: the official repository's archive (GitHub regenerates archives, so no sha256 is pinned: fetch logs the hash used)
CCP_URL = "https://github.com/bearpaw/clothing-co-parsing/archive/refs/heads/master.zip"
CCP_ARCHIVE = "clothing-co-parsing-master.zip"


@dataclass
class Picture:
    """One photo (H, W, 3) uint8 and its labelled regions: ``(class id, bool mask H×W)`` pairs."""

    id: str
    image: np.ndarray
    masks: list[tuple[int, np.ndarray]] = field(default_factory=list)


def read_rgb(path: Path) -> np.ndarray:
    """An image file as RGB uint8 (H, W, 3), converted by :func:`to_rgb8` (grey repeated, alpha dropped, 16-bit
    and float scaled to 8 bit).

    Raises:
        DataError: the file is missing, corrupt or not an image.
    """
    return to_rgb8(read_image(path), Path(path).name)


def to_rgb8(image: np.ndarray, name: str = "image") -> np.ndarray:
    """(H, W), (H, W, 2|3|4) uint8/uint16/float → RGB uint8 (H, W, 3).

    Raises:
        DataError: the array is no image.
    """
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3 or image.shape[-1] not in (1, 2, 3, 4) or min(image.shape[:2]) < 1:
        raise DataError(f"{name}: not an image (shape {image.shape})")
    image = image[..., :3] if image.shape[-1] >= 3 else np.repeat(image[..., :1], 3, axis=-1)
    if image.dtype == np.uint16:
        image = (image.astype(np.float32) / 257.0).round()
    elif image.dtype.kind == "f":
        image = np.clip(image, 0, 1) * 255.0 if np.nanmax(image) <= 1.0 else np.clip(image, 0, 255)
    return np.ascontiguousarray(np.nan_to_num(image).astype(np.uint8))


# --------------------------------------------------------------------------- CCP
def _loadmat(path: Path) -> dict:
    import scipy.io

    try:
        return scipy.io.loadmat(path)
    except Exception as exc:  # NotImplementedError for v7.3 (HDF5), ValueError/OSError for corrupt files
        raise DataError(f"{path} is not a readable MATLAB file (corrupt, truncated or v7.3?): {exc}") from exc


def read_label_list(path: Path) -> tuple[str, ...]:
    """CCP's ``label_list.mat`` (a 1×N cell array of names) as a tuple of names, value order.

    Raises:
        DataError: the file is unreadable or lacks the ``label_list`` variable.
    """
    mat = _loadmat(path)
    if "label_list" not in mat:
        raise DataError(f"{path} lacks the variable 'label_list' (it holds {sorted(k for k in mat if k[0] != '_')})")
    names = []
    for cell in np.asarray(mat["label_list"], dtype=object).ravel():
        value = np.asarray(cell).ravel()
        names.append(str(value[0]) if value.size else "")
    return tuple(names)


def find_ccp_root(folder: Path) -> Path | None:
    """The folder holding ``label_list.mat``: ``folder`` itself or a sub-folder up to two levels down."""
    for pattern in ("label_list.mat", "*/label_list.mat", "*/*/label_list.mat"):
        found = sorted(folder.glob(pattern))
        if found:
            return found[0].parent
    return None


def ccp_root(path: str | Path = "", url: str = CCP_URL, sha256: str | None = None) -> Path:
    """The CCP folder: ``path`` (a folder or the archive); without ``path``, a CCP folder inside
    ``data/clothing_segmentation/external/`` (up to two levels down), else the archive from there or the network.

    Raises:
        FetchError: offline and nothing placed by hand (the one-line message names the file and where to put it).
        DataError: the folder or archive holds no ``label_list.mat``.
    """
    from shared.data import fetch

    root = repo_root()
    external = root / "data" / "clothing_segmentation" / "external"
    if not path and external.is_dir() and find_ccp_root(external) is not None:
        return find_ccp_root(external)
    candidate = Path(path) if path else external / CCP_ARCHIVE
    if not candidate.is_absolute():
        candidate = root / candidate
    if candidate.is_dir():
        found = find_ccp_root(candidate)
        if found is None:
            raise DataError(f"{candidate} holds no label_list.mat: it is not the Clothing Co-Parsing layout "
                            f"(photos/, annotations/pixel-level/, label_list.mat)")
        return found
    if candidate.suffix != ".zip" or not candidate.is_file():
        archive = fetch(url, sha256, root / "data" / "clothing_segmentation" / "raw" / CCP_ARCHIVE,
                        project="clothing_segmentation")
    else:
        archive = candidate
    target = root / "data" / "clothing_segmentation" / "raw" / archive.stem
    if find_ccp_root(target) is None:
        log.info("extracting %s to %s", archive, target)
        try:
            with atomic_dir(target) as tmp, zipfile.ZipFile(archive) as zf:
                zf.extractall(tmp)
        except zipfile.BadZipFile as exc:
            raise DataError(f"{archive} is not a readable zip archive (truncated download?): {exc}") from exc
    found = find_ccp_root(target)
    if found is None:
        raise DataError(f"{archive} holds no label_list.mat: it is not the Clothing Co-Parsing archive")
    return found


def ccp_annotation_dir(root: Path) -> Path:
    """``annotations/pixel-level`` (official) or ``pixel_annotations_mat`` (the sample's layout).

    Raises:
        DataError: neither exists.
    """
    for rel in ("annotations/pixel-level", "pixel_annotations_mat"):
        if (root / rel).is_dir():
            return root / rel
    raise DataError(f"{root} has no pixel-level annotations (expected annotations/pixel-level/*.mat or "
                    f"pixel_annotations_mat/*.mat)")


def ccp_ids(root: Path) -> list[str]:
    """The ids (file stems) of the pixel-annotated photos, sorted."""
    return sorted(p.stem for p in ccp_annotation_dir(root).glob("*.mat"))


def read_ccp_labels(path: Path) -> np.ndarray:
    """The ``groundtruth`` label map of one CCP annotation (H, W) uint8.

    Raises:
        DataError: unreadable file, no ``groundtruth`` variable, or not a 2-D integer map.
    """
    mat = _loadmat(path)
    if "groundtruth" not in mat:
        raise DataError(f"{path} lacks the variable 'groundtruth' (it holds {sorted(k for k in mat if k[0] != '_')})")
    labels = np.asarray(mat["groundtruth"])
    if labels.ndim != 2 or labels.dtype.kind not in "ui":
        raise DataError(f"{path}: 'groundtruth' must be a 2-D integer map, got {labels.dtype} {labels.shape}")
    return labels


def iter_ccp(root: Path, merge: Mapping[str, Sequence[str]], classes: Sequence[str],
             ids: Sequence[str] | None = None) -> Iterator[Picture]:
    """The pixel-annotated CCP photos under ``root`` with their labels merged into ``classes``.

    Raises:
        DataError: a photo is missing or corrupt, an annotation's size differs from its photo's, a label value is
            not in the label list, or the merge table does not fit the label list.
    """
    names = read_label_list(root / "label_list.mat") if (root / "label_list.mat").is_file() else CCP_LABELS
    if tuple(names) != CCP_LABELS:
        log.warning("%s differs from the published CCP label list; merging by its own names", root / "label_list.mat")
    lut = merge_lut(merge, classes, names)
    ann_dir = ccp_annotation_dir(root)
    for stem in ids if ids is not None else ccp_ids(root):
        photo = root / "photos" / f"{stem}.jpg"
        if not photo.is_file():
            raise DataError(f"annotation {ann_dir / (stem + '.mat')} has no photo {photo}")
        image = read_rgb(photo)
        raw = read_ccp_labels(ann_dir / f"{stem}.mat")
        if raw.shape != image.shape[:2]:
            raise DataError(f"annotation {ann_dir / (stem + '.mat')} is {raw.shape[1]}x{raw.shape[0]} pixels but its "
                            f"photo {photo} is {image.shape[1]}x{image.shape[0]}")
        merged = apply_lut(raw, lut, where=str(ann_dir / f"{stem}.mat"))
        yield Picture(stem, image, [(int(k), merged == k) for k in np.unique(merged)])


# --------------------------------------------------------------------------- COCO
def read_coco(path: Path):
    """A ``pycocotools.coco.COCO`` of the annotations file (its progress prints silenced).

    Raises:
        DataError: the file is missing or not a COCO annotations JSON.
    """
    from pycocotools.coco import COCO

    if not path.is_file():
        raise DataError(f"COCO annotations file not found: {path}")
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            coco = COCO(str(path))
    except Exception as exc:
        raise DataError(f"{path} is not a COCO annotations JSON: {type(exc).__name__}: {exc}") from exc
    for key in ("images", "annotations", "categories"):
        if key not in coco.dataset:
            raise DataError(f"{path} lacks the COCO key {key!r}")
    return coco


def category_map(coco, classes: Sequence[str], mapping: Mapping[str, str]) -> dict[int, int]:
    """COCO category id → class id: by ``mapping`` (category name → class name), else by equal names.

    Raises:
        DataError: ``mapping`` names a class that ``classes`` lacks, or a category lacks an integer id or a name.
    """
    index = {name: k for k, name in enumerate(classes)}
    bad = sorted({c for c in mapping.values() if c not in index})
    if bad:
        raise DataError(f"data.coco_categories maps to unknown class(es) {bad}; classes: {', '.join(classes)}")
    out, dropped = {}, []
    for cat in coco.dataset["categories"]:
        try:
            name, cat_id = str(cat["name"]), int(cat["id"])
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise DataError(f"malformed COCO category {cat!r:.80}: needs an integer 'id' and a 'name' ({exc!r})"
                            ) from exc
        target = mapping.get(name) if mapping else (name if name in index else None)
        if target is None:
            dropped.append(name)
        else:
            out[cat_id] = index[target]
    if dropped:
        log.warning("COCO categories without a class are dropped: %s", ", ".join(sorted(dropped)))
    return out


def annotation_mask(coco, ann: Mapping, height: int, width: int, where: str) -> np.ndarray:
    """One annotation's mask (polygons, compressed or uncompressed RLE) as bool (height, width).

    Raises:
        DataError: the segmentation is malformed or its RLE size differs from the image's.
    """
    from pycocotools import mask as mask_utils

    seg = ann.get("segmentation")
    try:
        if isinstance(seg, list):
            polys = [p for p in seg if len(p) >= 6]
            if not polys:
                return np.zeros((height, width), dtype=bool)
            rle = mask_utils.merge(mask_utils.frPyObjects(polys, height, width))
        elif isinstance(seg, Mapping) and "counts" in seg:
            size = [int(v) for v in seg.get("size", [])]
            if size != [height, width]:
                raise DataError(f"{where}: the RLE is {size[1] if len(size) > 1 else '?'}x{size[0] if size else '?'} "
                                f"but the image is {width}x{height}")
            rle = mask_utils.frPyObjects(dict(seg), height, width) if isinstance(seg["counts"], list) else dict(seg)
            if isinstance(rle.get("counts"), str):
                rle["counts"] = rle["counts"].encode("ascii")
        else:
            raise DataError(f"{where}: segmentation must be polygons or RLE, got {type(seg).__name__}")
        return mask_utils.decode(rle).astype(bool)
    except DataError:
        raise
    except Exception as exc:
        raise DataError(f"{where}: malformed segmentation: {type(exc).__name__}: {exc}") from exc


def iter_coco(folder: Path, annotations: str | Path, classes: Sequence[str],
              mapping: Mapping[str, str] | None = None, image_ids: Sequence[int] | None = None) -> Iterator[Picture]:
    """The images of a COCO annotations file with their instance masks (one per annotation) as class ids.

    ``file_name`` is relative to ``folder`` (also tried under ``folder/images``).

    Raises:
        DataError: an image is missing or corrupt, its entry lacks a ``file_name`` or has a non-integer size, its
            size differs from the ``height``/``width`` of its entry, or an annotation or category is malformed.
    """
    path = Path(annotations) if Path(annotations).is_absolute() else folder / annotations
    coco = read_coco(path)
    cats = category_map(coco, classes, mapping or {})
    for image_id in image_ids if image_ids is not None else sorted(coco.imgs):
        entry = coco.imgs[image_id]
        if not isinstance(entry.get("file_name"), str):
            raise DataError(f"{path}: image {image_id} has no 'file_name' string (got {entry.get('file_name')!r:.60})")
        file = folder / entry["file_name"]
        if not file.is_file() and (folder / "images" / entry["file_name"]).is_file():
            file = folder / "images" / entry["file_name"]
        image = read_rgb(file)
        try:
            h, w = int(entry.get("height", image.shape[0])), int(entry.get("width", image.shape[1]))
        except (TypeError, ValueError, OverflowError) as exc:
            raise DataError(f"{path}: image {image_id} has a non-integer height or width ({exc})") from exc
        if (h, w) != image.shape[:2]:
            raise DataError(f"{file} is {image.shape[1]}x{image.shape[0]} pixels but {path} gives {w}x{h}")
        masks = []
        for ann in coco.imgToAnns.get(image_id, []):
            try:
                category = int(ann["category_id"])
            except (TypeError, ValueError, OverflowError) as exc:
                raise DataError(f"{path}, annotation {ann.get('id')}: non-integer category_id "
                                f"{ann['category_id']!r:.40}") from exc
            if category not in cats:
                continue
            mask = annotation_mask(coco, ann, h, w, f"{path}, annotation {ann.get('id')}")
            masks.append((cats[category], mask))
        yield Picture(str(entry.get("file_name", image_id)), image, masks)


def coco_image_ids(folder: Path, annotations: str | Path) -> list[int]:
    path = Path(annotations) if Path(annotations).is_absolute() else folder / annotations
    return sorted(read_coco(path).imgs)


# --------------------------------------------------------------------------- instances
def garment_instances(picture: Picture, min_area_fraction: float,
                      garment: set[int]) -> tuple[list[tuple[int, np.ndarray]], int]:
    """The instances of one photo at full resolution: one per connected region (8-connectivity) of each mask of a
    garment class, regions under ``min_area_fraction`` of the photo dropped; returns them and the dropped count.

    Raises:
        DataError: a mask's size differs from the photo's.
    """
    import cv2

    h, w = picture.image.shape[:2]
    min_area = max(min_area_fraction * h * w, 1)
    out, dropped = [], 0
    for cls, mask in picture.masks:
        if cls not in garment:
            continue
        if mask.shape != (h, w):
            raise DataError(f"{picture.id}: a mask of {mask.shape[1]}x{mask.shape[0]} pixels on a photo of {w}x{h}")
        n, comp, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
        for k in range(1, n):
            if stats[k, cv2.CC_STAT_AREA] < min_area:
                dropped += 1
            else:
                out.append((cls, comp == k))
    return out, dropped


# --------------------------------------------------------------------------- letterboxing
def letterbox_box(height: int, width: int, size: int) -> tuple[int, int, int, int]:
    """``(y0, x0, h, w)``: where an image of ``height``×``width`` lands in a ``size``² letterbox (centred)."""
    scale = size / max(height, width)
    h, w = max(1, round(height * scale)), max(1, round(width * scale))
    return (size - h) // 2, (size - w) // 2, h, w


def letterbox(array: np.ndarray, size: int, *, mask: bool = False) -> np.ndarray:
    """Resize ``array`` (H, W[, C]) to fit a ``size``² square, centred, padded with zeros.

    Images are resized with area averaging; masks (``mask=True``) by area averaging thresholded at one half.
    """
    import cv2

    array = np.asarray(array)
    y0, x0, h, w = letterbox_box(array.shape[0], array.shape[1], size)
    src = array.astype(np.float32) if mask else array
    interp = cv2.INTER_AREA if (h < array.shape[0] or mask) else cv2.INTER_LINEAR
    resized = cv2.resize(src, (w, h), interpolation=interp)
    if mask:
        resized = (resized >= 0.5).astype(np.uint8)
    out = np.zeros((size, size, *array.shape[2:]), dtype=resized.dtype)
    out[y0:y0 + h, x0:x0 + w] = resized.reshape(h, w, *array.shape[2:])
    return out
