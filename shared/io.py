"""Atomic writers and validating readers for every artefact the projects produce or consume.

Writers go through :func:`atomic_path`: the data lands in a temporary file in the target
folder, which is renamed over the target only when writing succeeded. A crash, a kill or
an exception therefore never leaves a truncated file behind.

Readers check what they read and raise :class:`DataError` with a message that names the
file and what is wrong with it (missing, corrupt, wrong shape or dtype, NaNs, ...).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np


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


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder that replaces ``path`` (a folder) when the block succeeds."""
    import shutil

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
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
    """Load every array of an ``.npz``; checks that ``required`` keys are present."""
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
def read_image(path: str | os.PathLike, *, channels: int | None = None) -> np.ndarray:
    """Read PNG/JPEG/TIFF/BMP as ``(H, W)`` or ``(H, W, C)``, keeping the bit depth.

    ``channels`` (1, 3 or 4) checks the channel count instead of converting silently.
    """
    path = _existing(path)
    suffix = path.suffix.lower()
    if suffix in (".tif", ".tiff"):
        image = read_tiff(path)
    else:
        import imageio.v3 as iio

        try:
            image = np.asarray(iio.imread(path))
        except Exception as exc:  # imageio raises many different types
            raise DataError(f"{path} is not a readable image (corrupt or truncated?): {exc}") from exc
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[-1] not in (1, 2, 3, 4)):
        raise DataError(f"{path}: unsupported image layout {image.shape} (expected H×W or H×W×C, C ≤ 4)")
    if image.dtype.kind not in "uif" or image.dtype == np.bool_:
        raise DataError(f"{path}: unsupported pixel type {image.dtype}")
    if channels is not None:
        got = 1 if image.ndim == 2 else image.shape[-1]
        if got != channels:
            raise DataError(f"{path} has {got} channel(s), expected {channels}")
    return image


def write_image(path: str | os.PathLike, image: np.ndarray) -> Path:
    """Write an image (format from the suffix) atomically."""
    path = Path(path)
    if path.suffix.lower() in (".tif", ".tiff"):
        return write_tiff(path, image)
    import imageio.v3 as iio

    with atomic_path(path) as tmp:
        iio.imwrite(tmp, np.asarray(image), extension=path.suffix)
    return path


# --------------------------------------------------------------------------- TIFF
def read_tiff(path: str | os.PathLike) -> np.ndarray:
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
    with atomic_path(path) as tmp:
        tifffile.imwrite(tmp, array, **kwargs)
    return Path(path)


# --------------------------------------------------------------------------- NetCDF
def read_netcdf(path: str | os.PathLike, variables: Sequence[str] = (), *, load: bool = True):
    """Open a NetCDF file with xarray; checks that ``variables`` exist."""
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
    """Return ``(data, header)`` of the first HDU with data (or the one named by ``hdu``)."""
    from astropy.io import fits

    path = _existing(path)
    try:
        with fits.open(path, memmap=False) as hdul:
            hdul.verify("exception")
            if hdu is None:
                found = next((h for h in hdul if h.data is not None and getattr(h, "is_image", True)), None)
                if found is None:
                    raise DataError(f"{path} holds no HDU with image data")
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
