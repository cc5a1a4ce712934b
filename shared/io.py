"""Atomic writers and validating readers for every artefact the projects produce or consume.

Writers go through :func:`atomic_path`: the data lands in a temporary file in the target
folder, which is renamed over the target only when writing succeeded. A crash, a kill or
an exception therefore never leaves a truncated file behind.

Readers check what they read and raise :class:`DataError` with a message that names the
file and what is wrong with it (missing, corrupt, wrong shape or dtype, NaNs, ...).
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import logging
import math
import os
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


class DataError(ValueError):
    """Input data is missing, corrupt or does not have the expected form."""


# --------------------------------------------------------------------------- atomic writes
_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success.

    The temporary name keeps the target's suffix (``suffix`` overrides it), so libraries
    that choose a format by extension (matplotlib, imageio, Keras) behave the same.

    Raises:
        DataError: the block left a folder, not a file, at the temporary path (the target is not touched).
            An exception raised inside the block propagates unchanged; the temporary file is removed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix if suffix is None else suffix
    if path.name.endswith(".weights.h5"):
        suffix = ".weights.h5"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{suffix}", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file the usual permissions
    try:
        yield tmp_path
        if tmp_path.is_dir():
            raise DataError(f"atomic_path expected a file, the writer made a folder: {tmp_path}")
        os.replace(tmp_path, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux ``renameat2`` with ``RENAME_EXCHANGE``); ``False`` where unsupported."""
    if sys.platform != "linux":
        return False
    import ctypes

    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):  # no glibc 2.28+
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):  # a kernel or filesystem without it
        return False
    raise OSError(err, os.strerror(err), str(b))


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder that replaces ``path`` (a folder) when the block succeeds.

    On Linux the two folders are swapped in one ``renameat2(RENAME_EXCHANGE)`` call, so a crash at any moment
    leaves either the previous folder or the new one at ``path``; elsewhere the previous folder is first moved
    aside to ``.<name>.old`` (a crash between the two renames leaves it there).
    """
    import shutil

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        if path.is_dir() and not path.is_symlink() and _exchange(tmp, path):
            return  # swapped in one step: ``path`` never went missing; the old folder, now at ``tmp``, goes below
        old = None
        if path.exists():
            old = path.with_name(f".{path.name}.old")
            if old.exists():
                shutil.rmtree(old)
            os.replace(path, old)
        os.replace(tmp, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8"):
    """Open a file for writing that appears at ``path`` only once it is complete."""
    with atomic_path(path) as tmp:
        kwargs = {} if "b" in mode else {"encoding": encoding}
        with open(tmp, mode, **kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot serialise {type(obj).__name__} to JSON")


def _finite(obj: Any) -> Any:
    """Replace NaN and infinities (not valid JSON) with None."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, np.floating) and not np.isfinite(obj):
        return None
    if isinstance(obj, Mapping):
        return {str(k): _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _finite(obj.tolist())
    return obj


def write_json(path: str | os.PathLike, obj: Any, indent: int = 2) -> Path:
    """Write JSON atomically; NaN and infinity become ``null`` so the file stays valid JSON."""
    text = json.dumps(_finite(obj), indent=indent, default=_json_default, allow_nan=False)
    with atomic_write(path) as fh:
        fh.write(text + "\n")
    return Path(path)


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON file.

    Raises:
        DataError: the file is missing, empty, or not valid JSON (corrupt or truncated).
    """
    path = _existing(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"{path} is not valid JSON (corrupt or truncated?): {exc}") from exc


def write_text(path: str | os.PathLike, text: str) -> Path:
    with atomic_write(path) as fh:
        fh.write(text)
    return Path(path)


def write_csv(path: str | os.PathLike, frame, float_format: str | None = None) -> Path:
    """Write a pandas DataFrame (or a list of dicts) as CSV, atomically.

    ``float_format`` (e.g. ``"%.6g"``) keeps committed plot data small; the default writes every digit.
    """
    import pandas as pd

    if not isinstance(frame, pd.DataFrame):
        frame = pd.DataFrame(list(frame))
    with atomic_write(path) as fh:
        frame.to_csv(fh, index=False, lineterminator="\n", float_format=float_format)
    return Path(path)


def save_npz(path: str | os.PathLike, **arrays: np.ndarray) -> Path:
    with atomic_path(path, suffix=".npz") as tmp:
        np.savez_compressed(tmp, **arrays)
    return Path(path)


def load_npz(path: str | os.PathLike, required: Sequence[str] = ()) -> dict[str, np.ndarray]:
    """Load every array of an ``.npz``; checks that ``required`` keys are present.

    Returns:
        array name → array, with the shapes and dtypes stored in the file.

    Raises:
        DataError: the file is missing, empty, not a readable ``.npz`` archive (corrupt, truncated, or one
            that needs pickle), or lacks a ``required`` array.
    """
    import zipfile

    path = _existing(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise DataError(f"{path} is not a readable .npz archive (corrupt or truncated?): {exc}") from exc
    missing = [k for k in required if k not in arrays]
    if missing:
        raise DataError(f"{path} lacks array(s) {missing}; it holds {sorted(arrays)}")
    return arrays


# --------------------------------------------------------------------------- validation
def check_array(
    array: Any,
    name: str,
    *,
    ndim: int | Sequence[int] | None = None,
    shape: Sequence[int | None] | None = None,
    dtype: str | None = None,
    finite: bool = True,
    source: str | os.PathLike | None = None,
) -> np.ndarray:
    """Validate an array and return it as ``np.ndarray``.

    ``shape`` may hold ``None`` for free axes; ``dtype`` is a numpy kind string such as
    ``"f"`` (float), ``"iu"`` (integer) or ``"fiu"`` (any number).

    Raises:
        DataError: ``array`` cannot be converted (ragged), its dtype kind is not in ``dtype``, its number of
            dimensions is not ``ndim``, its shape does not match ``shape``, or (``finite=True``) a float or
            complex array holds NaN or infinite values. The message names ``name`` and ``source``.
    """
    where = f"{name}" + (f" in {source}" if source else "")
    try:
        arr = np.asarray(array)
    except Exception as exc:  # ragged lists and the like
        raise DataError(f"{where} cannot be converted to an array: {exc}") from exc
    if dtype is not None and arr.dtype.kind not in dtype:
        raise DataError(f"{where} has dtype {arr.dtype}, expected kind {dtype!r}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            raise DataError(f"{where} must have {' or '.join(map(str, allowed))} dimensions, got shape {arr.shape}")
    mismatch = shape is not None and (
        arr.ndim != len(shape) or any(s is not None and s != a for s, a in zip(shape, arr.shape)))
    if mismatch:
        expected = "(" + ", ".join("*" if s is None else str(s) for s in shape) + ")"
        raise DataError(f"{where} must have shape {expected}, got {arr.shape}")
    if finite and arr.dtype.kind in "fc" and not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise DataError(f"{where} contains {bad} NaN or infinite value(s)")
    return arr


def _existing(path: str | os.PathLike) -> Path:
    path = Path(path)
    if not path.exists():
        raise DataError(f"file not found: {path}")
    if path.is_file() and path.stat().st_size == 0:
        raise DataError(f"{path} is empty")
    return path


# --------------------------------------------------------------------------- images
#: suffixes :func:`read_image` reads (through Pillow, or tifffile for TIFF)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".jpe", ".tif", ".tiff", ".bmp", ".gif", ".webp", ".ppm", ".pgm", ".pbm",
                  ".pnm", ".tga", ".jp2", ".j2k", ".ico")

#: EXIF/TIFF orientation code → numpy operations (applied in order) that make the image display upright
_ORIENT = {2: ("fliplr",), 3: ("rot180",), 4: ("flipud",), 5: ("transpose",), 6: ("rot270",),
           7: ("transverse",), 8: ("rot90",)}


def apply_orientation(image: np.ndarray, orientation: int | None) -> np.ndarray:
    """Rotate/flip ``image`` (``(H, W)`` or ``(H, W, C)``) the way a viewer shows EXIF/TIFF ``Orientation``.

    Codes follow the EXIF 2.3 / TIFF 6.0 tag 274 (1 = upright, 6 = rotate 90° clockwise to display, ...);
    ``None``, 1 and unknown codes return the image unchanged.
    """
    ops = _ORIENT.get(int(orientation or 1), ())
    for op in ops:
        if op == "fliplr":
            image = image[:, ::-1]
        elif op == "flipud":
            image = image[::-1]
        elif op == "rot180":
            image = image[::-1, ::-1]
        elif op == "rot270":  # 90° clockwise
            image = np.rot90(image, k=-1, axes=(0, 1))
        elif op == "rot90":  # 90° anticlockwise
            image = np.rot90(image, k=1, axes=(0, 1))
        elif op == "transpose":
            image = np.swapaxes(image, 0, 1)
        elif op == "transverse":
            image = np.rot90(np.swapaxes(image, 0, 1), k=2, axes=(0, 1))
    return np.ascontiguousarray(image)


def _png_info(path: Path) -> tuple[int, int] | None:
    """(bit depth, colour type) from a PNG's IHDR, or None for other files."""
    with open(path, "rb") as fh:
        head = fh.read(26)
    if len(head) < 26 or head[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    return head[24], head[25]


def _swap_rb(image: np.ndarray) -> np.ndarray:
    """RGB(A) ↔ BGR(A) for OpenCV; grey and grey+alpha are unchanged."""
    if image.ndim == 3 and image.shape[-1] in (3, 4):
        return np.concatenate([image[..., 2::-1], image[..., 3:]], axis=-1)
    return image


def _pil_to_array(img, path: Path) -> np.ndarray:
    """A Pillow image of any mode → (H, W) / (H, W, C) without loss of depth or alpha."""
    from PIL import ImageCms

    mode = img.mode
    if mode == "P" or mode == "PA":
        has_alpha = mode == "PA" or "transparency" in img.info
        img = img.convert("RGBA" if has_alpha else "RGB")
    elif mode == "1":
        return np.asarray(img.convert("L"))
    elif mode in ("CMYK", "YCbCr", "HSV", "RGBX"):
        if mode == "CMYK" and img.info.get("icc_profile"):
            try:  # the embedded profile, as colour-managed viewers do
                src = ImageCms.ImageCmsProfile(io.BytesIO(img.info["icc_profile"]))
                img = ImageCms.profileToProfile(img, src, ImageCms.createProfile("sRGB"), outputMode="RGB")
            except (ImageCms.PyCMSError, OSError):
                img = img.convert("RGB")
        else:
            img = img.convert("RGB")
    elif mode == "LAB":
        img = ImageCms.applyTransform(img, ImageCms.buildTransform(
            ImageCms.createProfile("LAB"), ImageCms.createProfile("sRGB"), "LAB", "RGB"))
    elif mode == "RGBa":
        img = img.convert("RGBA")
    elif mode == "La":
        img = img.convert("LA")
    array = np.asarray(img)
    if mode in ("I", "I;16", "I;16B", "I;16L", "I;16N") or array.dtype.kind == "i":
        if array.size and (array.min() < 0 or array.max() > 65535):
            raise DataError(f"{path}: 32-bit integer pixels outside 0-65535 are not supported")
        array = array.astype(np.uint16)
    if array.dtype.byteorder not in ("=", "|"):
        array = array.astype(array.dtype.newbyteorder("="))
    return array


def _read_png16(path: Path) -> np.ndarray:
    """16-bit colour PNG (Pillow would reduce it to 8 bit) through OpenCV, as RGB(A)."""
    try:
        import cv2
    except ImportError as exc:  # pragma: no cover - opencv is a core dependency
        raise DataError(f"{path} is a 16-bit colour PNG; reading it without loss needs opencv-python-headless") from exc
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise DataError(f"{path} is not a readable image (corrupt or truncated?)")
    return _swap_rb(image)


def _read_tiff_image(path: Path) -> np.ndarray:
    """The first image of a TIFF as (H, W) or (H, W, C): planar, tiled, big-endian, palette, CMYK, min-is-white."""
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            if not tif.pages:
                raise DataError(f"{path} is not a readable TIFF (corrupt or truncated?): it holds no image")
            page = tif.pages.first if hasattr(tif.pages, "first") else tif.pages[0]
            if len(tif.pages) > 1:
                log.warning("%s holds %d images; reading the first", path, len(tif.pages))
            array = page.asarray()
            photometric = int(page.photometric) if page.photometric is not None else None
            orientation = page.tags.valueof(274) if 274 in page.tags else None
            colormap = page.colormap
            planar = int(page.planarconfig) == 2 if page.planarconfig is not None else False
    except DataError:
        raise
    except Exception as exc:
        raise DataError(f"{path} is not a readable TIFF (corrupt or truncated?): {exc}") from exc
    array = np.asarray(array)
    if array.size == 0:
        raise DataError(f"{path} is not a readable TIFF (corrupt or truncated?): it holds no image data")
    if planar and array.ndim == 3 and array.shape[0] <= 4 < array.shape[-1]:
        array = np.moveaxis(array, 0, -1)
    array = np.squeeze(array) if array.ndim > 3 else array
    if array.ndim > 3:
        raise DataError(f"{path}: image of shape {array.shape} is not H×W or H×W×C")
    if array.dtype.byteorder not in ("=", "|"):
        array = array.astype(array.dtype.newbyteorder("="))
    if array.dtype == np.bool_:
        array = array.astype(np.uint8) * 255
    if photometric == 0 and array.dtype.kind == "u":  # MINISWHITE: 0 is white
        array = np.iinfo(array.dtype).max - array
    elif photometric == 3 and colormap is not None:  # PALETTE: 16-bit colour map, maybe with an alpha sample
        cmap = np.asarray(colormap).T  # (entries, 3)
        alpha = None
        if array.ndim == 3 and array.shape[-1] == 2:  # index + ExtraSamples alpha (Pillow's mode PA)
            array, alpha = array[..., 0], array[..., 1]
        if array.ndim != 2 or array.dtype.kind != "u" or int(array.max(initial=0)) >= len(cmap):
            raise DataError(f"{path}: palette TIFF whose indices do not fit its {len(cmap)}-colour map")
        array = cmap[array]
        if array.max(initial=0) <= 255 or cmap.max() < 256:
            array = array.astype(np.uint8)
        elif np.all(cmap % 257 == 0):  # 8-bit colours stored as v × 257 (libtiff)
            array = (array // 257).astype(np.uint8)
        elif np.all(cmap % 256 == 0):  # 8-bit colours stored as v × 256 (Pillow)
            array = (array // 256).astype(np.uint8)
        else:
            array = array.astype(np.uint16)
        if alpha is not None:
            if alpha.dtype not in (np.uint8, np.uint16):
                raise DataError(f"{path}: palette TIFF with a {alpha.dtype} alpha sample is not supported")
            wide = np.uint16 if np.uint16 in (array.dtype, alpha.dtype) else np.uint8

            def widen(a):  # 8 → 16 bit by × 257 (255 → 65535)
                return a.astype(wide) * wide(257) if a.dtype == np.uint8 and wide == np.uint16 else a.astype(wide)

            array = np.concatenate([widen(array), widen(alpha)[..., None]], axis=-1)
    if array.dtype.kind == "i" or (array.dtype.kind == "u" and array.dtype.itemsize > 2):
        # signed or 32-bit integer pixels (Pillow's mode I): kept when they fit 16 bits, as the same PNG reads
        if array.size and (int(array.min()) < 0 or int(array.max()) > 65535):
            raise DataError(f"{path}: {array.dtype} pixels outside 0-65535 are not supported "
                            f"(range {int(array.min())} to {int(array.max())}); rescale to 16 bit first")
        array = array.astype(np.uint16)
    elif photometric == 5 and array.ndim == 3 and array.shape[-1] >= 4:  # SEPARATED (CMYK)
        top = float(np.iinfo(array.dtype).max) if array.dtype.kind == "u" else 1.0
        cmyk = array[..., :4].astype(np.float64) / top
        rgb = (1.0 - cmyk[..., :3]) * (1.0 - cmyk[..., 3:4]) * top
        array = np.concatenate([np.rint(rgb).astype(array.dtype), array[..., 4:5]], axis=-1)
    return apply_orientation(array, orientation)


def read_image(path: str | os.PathLike, *, channels: int | None = None) -> np.ndarray:
    """Read an image file as it displays, without loss of bit depth or alpha.

    Every mode Pillow opens (1-bit, L, LA, P with and without transparency, RGB, RGBA, CMYK and YCbCr JPEG,
    I;16, I;16B), 16-bit colour PNG (through OpenCV: Pillow would reduce it to 8 bit), and TIFF through
    tifffile (planar, tiled, big-endian, palette, CMYK, min-is-white). The EXIF/TIFF orientation is applied
    as every photo viewer does; of an animated image or a multi-page TIFF the first frame is read, with a
    warning. CMYK is converted to RGB through its embedded ICC profile where it has one.

    Args:
        path: the image file (suffix one of :data:`IMAGE_SUFFIXES`, or any format Pillow detects).
        channels: if given (1, 2, 3 or 4), the channel count to check; a mismatch raises instead of
            converting silently.

    Returns:
        ``(H, W)`` for grey, ``(H, W, C)`` otherwise (C = 2 grey+alpha, 3 RGB, 4 RGBA); dtype uint8 or
        uint16 (float32 for floating-point TIFF), in native byte order.

    Raises:
        DataError: the file is missing, empty, corrupt or truncated, not an image, too large for Pillow's
            decompression-bomb guard, or of a layout that is no image (more than 4 channels, a stack), or the
            channel count differs from ``channels``.
    """
    path = _existing(path)
    suffix = path.suffix.lower()
    if suffix in (".tif", ".tiff"):
        image = _read_tiff_image(path)
    elif suffix == ".png" and (_png_info(path) or (0, 0))[0] == 16 and (_png_info(path) or (0, 0))[1] in (2, 4, 6):
        image = _read_png16(path)
        if _png_info(path)[1] == 4 and image.ndim == 3 and image.shape[-1] == 4:  # grey+alpha, expanded by OpenCV
            image = np.ascontiguousarray(image[..., [0, 3]])
        try:
            from PIL import Image

            with Image.open(path) as img:
                image = apply_orientation(image, img.getexif().get(0x0112))
        except Exception:  # an orientation we cannot read is no reason to refuse the pixels
            pass
    else:
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(path) as img:
                frames = getattr(img, "n_frames", 1)
                if frames > 1:
                    log.warning("%s is animated (%d frames); reading the first frame", path, frames)
                    img.seek(0)
                orientation = img.getexif().get(0x0112)
                img.load()
                image = apply_orientation(_pil_to_array(img, path), orientation)
        except DataError:
            raise
        except Image.DecompressionBombError as exc:
            raise DataError(f"{path}: {exc}") from exc
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            raise DataError(f"{path} is not a readable image (corrupt or truncated?): {exc}") from exc
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[-1] not in (2, 3, 4)):
        raise DataError(f"{path}: unsupported image layout {image.shape} (expected H×W or H×W×C, C ≤ 4)")
    if image.dtype.kind not in "uf":
        raise DataError(f"{path}: unsupported pixel type {image.dtype}")
    if channels is not None:
        got = 1 if image.ndim == 2 else image.shape[-1]
        if got != channels:
            raise DataError(f"{path} has {got} channel(s), expected {channels}")
    return image


def write_image(path: str | os.PathLike, image: np.ndarray) -> Path:
    """Write an image atomically, keeping its alpha channel and bit depth (format from the suffix).

    Args:
        path: target file; PNG, TIFF, JPEG, BMP or any format Pillow writes.
        image: ``(H, W)`` or ``(H, W, C)`` with C = 2 (grey+alpha), 3 (RGB) or 4 (RGBA); uint8 or uint16
            (TIFF also float32).

    Raises:
        DataError: the format cannot hold the image without loss (JPEG: no alpha, 8 bit only; BMP/GIF: 8 bit),
            or the layout is no image.
    """
    path = Path(path)
    image = np.asarray(image)
    suffix = path.suffix.lower()
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[-1] not in (1, 2, 3, 4)):
        raise DataError(f"{path}: cannot write an image of shape {image.shape} (expected H×W or H×W×C, C ≤ 4)")
    if suffix in (".tif", ".tiff"):
        return write_tiff(path, image)
    if image.dtype not in (np.uint8, np.uint16):
        raise DataError(f"{path}: {suffix} holds 8- or 16-bit integer pixels; write {image.dtype} as TIFF")
    alpha = image.ndim == 3 and image.shape[-1] in (2, 4)
    if suffix in (".jpg", ".jpeg", ".jpe") and (alpha or image.dtype != np.uint8):
        raise DataError(f"{path}: JPEG holds 8-bit images without alpha; write this {image.dtype} image "
                        f"with {image.shape[-1] if image.ndim == 3 else 1} channel(s) as PNG or TIFF")
    if suffix != ".png" and image.dtype == np.uint16:
        raise DataError(f"{path}: {suffix} holds 8-bit images; write 16-bit images as PNG or TIFF")
    if image.dtype == np.uint16 and image.ndim == 3 and image.shape[-1] == 2:
        raise DataError(f"{path}: 16-bit grey+alpha cannot be written as {suffix} here; write it as TIFF")
    with atomic_path(path) as tmp:
        if suffix == ".png" and image.dtype == np.uint16 and image.ndim == 3:
            import cv2

            ok, data = cv2.imencode(".png", _swap_rb(image))
            if not ok:  # pragma: no cover - OpenCV gives no reason
                raise DataError(f"could not encode {path}")
            tmp.write_bytes(data.tobytes())
        else:
            from PIL import Image

            img = Image.fromarray(image[..., 0] if image.ndim == 3 and image.shape[-1] == 1 else image)
            img.save(tmp, format=Image.registered_extensions().get(suffix, "PNG"))
    return path


# --------------------------------------------------------------------------- TIFF
def read_tiff(path: str | os.PathLike) -> np.ndarray:
    """Read a TIFF with tifffile as stored (all pages and samples; no orientation or colour handling).

    Raises:
        DataError: the file is missing, empty, not a readable TIFF, or holds no image data.
    """
    import tifffile

    path = _existing(path)
    try:
        array = np.asarray(tifffile.imread(path))
    except Exception as exc:
        raise DataError(f"{path} is not a readable TIFF (corrupt or truncated?): {exc}") from exc
    if array.size == 0:
        raise DataError(f"{path} is not a readable TIFF (corrupt or truncated?): it holds no image data")
    return array


def write_tiff(path: str | os.PathLike, array: np.ndarray, **kwargs: Any) -> Path:
    import tifffile

    array = np.asarray(array)
    rgb = array.ndim == 3 and array.shape[-1] in (3, 4)
    kwargs.setdefault("photometric", "rgb" if rgb else "minisblack")
    if array.ndim == 3 and array.shape[-1] in (2, 4):  # the last channel is (unassociated) alpha
        kwargs.setdefault("extrasamples", ["unassalpha"])
    with atomic_path(path) as tmp:
        tifffile.imwrite(tmp, array, **kwargs)
    return Path(path)


# --------------------------------------------------------------------------- NetCDF
def read_netcdf(path: str | os.PathLike, variables: Sequence[str] = (), *, load: bool = True):
    """Open a NetCDF file with xarray; checks that ``variables`` exist.

    ``load=True`` reads the data into memory and closes the file.

    Raises:
        DataError: the file is missing, empty, not a readable NetCDF file, or lacks one of ``variables``.
    """
    import xarray as xr

    path = _existing(path)
    try:
        ds = xr.open_dataset(path)
        if load:
            ds = ds.load()
            ds.close()
    except Exception as exc:
        raise DataError(f"{path} is not a readable NetCDF file (corrupt or truncated?): {exc}") from exc
    missing = [v for v in variables if v not in ds.variables]
    if missing:
        raise DataError(f"{path} lacks variable(s) {missing}; it holds {sorted(map(str, ds.variables))}")
    return ds


def write_netcdf(path: str | os.PathLike, dataset, **kwargs: Any) -> Path:
    """Write an ``xarray.Dataset`` atomically (h5netcdf engine, compressed by default)."""
    kwargs.setdefault("engine", "h5netcdf")
    if "encoding" not in kwargs and kwargs["engine"] == "h5netcdf":
        kwargs["encoding"] = {
            name: {"zlib": True, "complevel": 4}
            for name, var in dataset.data_vars.items()
            if var.dtype.kind in "fiu"
        }
    with atomic_path(path, suffix=".nc") as tmp:
        dataset.to_netcdf(tmp, **kwargs)
    return Path(path)


# --------------------------------------------------------------------------- FITS
def read_fits(path: str | os.PathLike, hdu: int | str | None = None, *, allow_nan: bool = False):
    """Return ``(data, header)`` of the first HDU with image data (or the one named by ``hdu``).

    Reads everything astropy opens: plain, gzip-compressed (``.fits.gz``) and tile-compressed
    (``.fz``, a ``CompImageHDU``) files, with the image in the primary or in any extension HDU.
    ``BSCALE``/``BZERO`` (and ``BLANK`` → NaN) are applied by astropy, so the data are in physical
    units. Header cards that break the standard but that astropy can fix (``verify('fix')``) are
    fixed, with a logged warning naming the file; degenerate length-1 axes are dropped, so a
    (1, 1, H, W) file reads as (H, W) and a (C, 1, H, W) one as (C, H, W).

    Args:
        path: the FITS file.
        hdu: index or EXTNAME of the HDU to read; ``None``: the first HDU holding an image.
        allow_nan: keep NaN or infinite pixels (else they raise).

    Returns:
        ``(data, header)``: a native-byte-order array of at least 2 dimensions, and a copy of the
        HDU's header.

    Raises:
        DataError: the file is missing, empty, not FITS, corrupt or truncated; a header error that
            astropy cannot fix; no HDU holds image data; NaN/inf pixels when ``allow_nan`` is false.
    """
    import logging
    import warnings

    from astropy.io import fits
    from astropy.io.fits.verify import VerifyError, VerifyWarning

    log = logging.getLogger(__name__)
    path = _existing(path)
    try:
        with fits.open(path, memmap=False) as hdul:
            try:
                hdul.verify("exception")
            except VerifyError as exc:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always", VerifyWarning)
                    try:
                        hdul.verify("fix")
                    except VerifyError as unfixable:
                        raise DataError(f"{path} has a FITS header error that astropy cannot fix: "
                                        f"{' '.join(str(unfixable).split())}") from unfixable
                fixed = "; ".join(" ".join(str(w.message).split()) for w in caught) or " ".join(str(exc).split())
                log.warning("%s: non-standard FITS header fixed by astropy verify('fix'): %s", path, fixed[:500])
            if hdu is None:
                found = next((h for h in hdul if getattr(h, "is_image", False) and h.data is not None), None)
                if found is None:
                    raise DataError(f"{path} holds no HDU with image data (HDUs: "
                                    f"{', '.join(type(h).__name__ for h in hdul)})")
            else:
                found = hdul[hdu]
                if found.data is None:
                    raise DataError(f"{path}: HDU {hdu!r} has no data")
            data = np.array(found.data)
            header = found.header.copy()
    except DataError:
        raise
    except Exception as exc:
        raise DataError(f"{path} is not a readable FITS file (corrupt or truncated?): {exc}") from exc
    if data.ndim > 2 and 1 in data.shape:  # degenerate axes (NAXIS3 = 1, Stokes/frequency axes)
        keep = [n for n in data.shape if n != 1]
        data = data.reshape(keep if len(keep) >= 2 else data.shape[-2:])
    if data.dtype.kind in "fc" and not allow_nan and not np.all(np.isfinite(data)):
        bad = int(data.size - np.count_nonzero(np.isfinite(data)))
        raise DataError(f"{path} has {bad} NaN or infinite pixel(s); mask them or allow NaNs explicitly")
    # FITS is big-endian; hand native byte order to NumPy/TensorFlow.
    return data.astype(data.dtype.newbyteorder("="), copy=False), header


def write_fits(path: str | os.PathLike, data: np.ndarray, header: Mapping[str, Any] | None = None) -> Path:
    from astropy.io import fits

    hdu = fits.PrimaryHDU(np.asarray(data))
    for key, value in (header or {}).items():
        hdu.header[key] = value
    with atomic_path(path, suffix=".fits") as tmp:
        hdu.writeto(tmp, overwrite=True)
    return Path(path)
