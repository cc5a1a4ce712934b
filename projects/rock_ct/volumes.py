"""Read and write CT volumes far larger than RAM: TIFF stacks, multi-page TIFF, raw, HDF5, zarr.

Every reader returns a :class:`Volume` whose ``.array`` is an array-like of shape (Z, Y, X) that reads only what a
numpy slice asks for (a zarr array, an ``np.memmap``, an h5py dataset, or a stack of per-slice TIFF files), with
the voxel size in micrometres where the file or a sidecar gives it::

    vol = open_volume("scan.raw", raw={"dtype": "uint16", "shape": [512, 512, 512], "byte_order": "little",
                                       "offset": 0, "voxel_size_um": 2.5})
    slab = vol.array[100:132]           # reads 32 slices
    labels = open_labels("labels.tif", like=vol)   # same shape or a DataError

Formats (chosen by the path):

* a folder of ``*.tif``/``*.tiff`` files: one slice per file, sorted by name (natural order, so ``s2`` < ``s10``);
* a ``.tif``/``.tiff`` file: a multi-page (or OME-/ImageJ hyperstack) TIFF; memory-mapped when uncompressed, else
  read through tifffile's zarr store; the voxel size from OME ``PhysicalSizeZ`` or ImageJ ``spacing``;
* ``.raw``/``.bin``/``.vol``/``.dat``: raw bytes, described by ``raw`` (a mapping or :class:`RawSpec`) or by a
  sidecar next to the file: ``<file>.json`` (the keys of :class:`RawSpec`) or a MetaImage ``.mhd`` header;
* ``.mhd``: a MetaImage header (``ElementDataFile`` names the raw file);
* ``.h5``/``.hdf5``/``.hdf``: the dataset named by ``dataset`` (or the only 3-D one); voxel size from the dataset's
  attribute ``voxel_size_um`` or ``element_size_um`` (ilastik/ImageJ);
* ``.zarr``: a zarr array, or a group with arrays ``image``/``labels`` (``dataset`` chooses); voxel size from the
  attribute ``voxel_size_um`` of the array or the group.

Writers (:func:`create_volume`) make a chunked zarr array or a contiguous (memory-mapped) OME-TIFF in a temporary
file that replaces the target only when the block finished without an error (:class:`VolumeWriter`).
:func:`write_arrays` writes small in-memory arrays into one zarr group (the generated phantoms).
:func:`as_xarray` gives a window of a volume with coordinates in micrometres.

Bad input ends in one :class:`shared.io.DataError` line naming the cause: a raw file whose size is not
``offset + prod(shape) × itemsize``, an unknown dtype, a label volume of another shape, NaN in a float volume, a
missing file or dataset, an unknown format.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import os
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from shared.io import DataError

log = logging.getLogger(__name__)

#: dtypes a volume may have (numpy names); anything else is refused with a DataError
DTYPES = ("uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "float64")
RAW_SUFFIXES = (".raw", ".bin", ".vol", ".dat", ".img")
TIFF_SUFFIXES = (".tif", ".tiff")
HDF5_SUFFIXES = (".h5", ".hdf5", ".hdf", ".he5")
#: MetaImage element types → numpy
_MET_TYPES = {"MET_UCHAR": "uint8", "MET_CHAR": "int8", "MET_USHORT": "uint16", "MET_SHORT": "int16",
              "MET_UINT": "uint32", "MET_INT": "int32", "MET_FLOAT": "float32", "MET_DOUBLE": "float64"}


def check_dtype(dtype: Any, source: str | os.PathLike = "") -> np.dtype:
    """The numpy dtype of ``dtype`` if it is one of :data:`DTYPES` (any byte order).

    Raises:
        DataError: an unknown or unsupported dtype (the message lists the known ones).
    """
    where = f" ({source})" if source else ""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise DataError(f"unknown dtype {dtype!r}{where}; known: {', '.join(DTYPES)}") from None
    if dt.newbyteorder("=").name not in DTYPES:
        raise DataError(f"unsupported dtype {dt.name!r}{where}; known: {', '.join(DTYPES)}")
    return dt


# --------------------------------------------------------------------------- the volume
@dataclass(frozen=True)
class Volume:
    """A (Z, Y, X) volume on disk.

    Attributes:
        array: array-like of shape (Z, Y, X) that reads lazily under numpy slicing.
        voxel_size_um: edge of a voxel in micrometres (isotropic), None where the file does not say.
        dtype, shape: of ``array``.
        source: the path it was read from.
    """

    array: Any
    voxel_size_um: float | None
    dtype: np.dtype
    shape: tuple[int, int, int]
    source: str

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape)) * self.dtype.itemsize

    def read(self) -> np.ndarray:
        """The whole volume in memory (small volumes only).

        Raises:
            DataError: the stored data cannot be decoded (a corrupt chunk or slice).
        """
        return _read_block(self, ...)


def _read_block(volume: Volume, key: Any) -> np.ndarray:
    """``volume.array[key]`` in memory; a library's decoding error becomes a DataError naming the file."""
    try:
        return np.asarray(volume.array[key])
    except DataError:
        raise
    except Exception as exc:  # zarr/numcodecs RuntimeError, h5py OSError, ... on corrupt chunks
        raise DataError(f"{volume.source}: corrupt data, cannot decode it ({type(exc).__name__}: {exc})") from None


def _volume(array: Any, voxel_size_um: Any, source: str | os.PathLike) -> Volume:
    shape = tuple(int(s) for s in array.shape)
    if len(shape) != 3:
        raise DataError(f"{source} holds a {len(shape)}-D array of shape {shape}, expected a 3-D volume (Z, Y, X)")
    dtype = check_dtype(array.dtype, source)
    vs = None
    if voxel_size_um is not None:
        try:
            vs = float(np.asarray(voxel_size_um, dtype=float).ravel()[0])
        except (TypeError, ValueError, IndexError):
            raise DataError(f"{source}: voxel size {voxel_size_um!r} is not a number") from None
        if not np.isfinite(vs) or vs <= 0:
            raise DataError(f"{source}: voxel size must be a positive number of micrometres, got {voxel_size_um!r}")
    return Volume(array=array, voxel_size_um=vs, dtype=dtype, shape=shape, source=str(source))


def check_finite(volume: Volume, slab: int = 16) -> None:
    """Refuse a float volume holding NaN or infinity (read slab by slab, bounded memory).

    Raises:
        DataError: naming the count of bad values and the first slice that holds one, or a slab that cannot
            be decoded (corrupt data).
    """
    if volume.dtype.kind != "f":
        return
    bad, first = 0, None
    for z0 in range(0, volume.shape[0], slab):
        block = _read_block(volume, slice(z0, z0 + slab))
        finite = np.isfinite(block)
        if not finite.all():
            n = int(block.size - np.count_nonzero(finite))
            bad += n
            if first is None:
                first = z0 + int(np.nonzero(~finite.all(axis=(1, 2)))[0][0])
    if bad:
        raise DataError(f"{volume.source} contains {bad} NaN or infinite value(s) (first in slice z={first})")


def open_volume(path: str | os.PathLike, *, raw: Mapping[str, Any] | RawSpec | None = None,
                dataset: str | None = None, check: bool = True) -> Volume:
    """Open a CT volume without reading it (see the module docstring for the formats).

    Args:
        path: a file or folder.
        raw: the layout of a raw file (overrides a sidecar).
        dataset: the HDF5 dataset or zarr array inside a group.
        check: scan a float volume for NaN/infinity (one bounded-memory pass).

    Returns:
        a :class:`Volume`.

    Raises:
        DataError: the path is missing, its format unknown, its dtype unsupported, it is not 3-D, a raw file's size
            does not match its layout, a dataset is missing or ambiguous, or a float volume holds NaN.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"volume not found: {path}")
    suffix = path.suffix.lower()
    if path.is_dir() and suffix != ".zarr" and not (path / "zarr.json").exists() and not (path / ".zarray").exists() \
            and not (path / ".zgroup").exists():
        vol = _open_tiff_stack(path)
    elif suffix == ".zarr" or path.is_dir():
        vol = _open_zarr(path, dataset)
    elif suffix in TIFF_SUFFIXES:
        vol = _open_tiff(path)
    elif suffix in HDF5_SUFFIXES:
        vol = _open_hdf5(path, dataset)
    elif suffix == ".mhd":
        vol = _open_raw_with(mhd_spec(path), path)
    elif suffix in RAW_SUFFIXES:
        spec = raw if isinstance(raw, RawSpec) else (RawSpec.from_mapping(raw, path) if raw is not None
                                                      else sidecar_spec(path))
        vol = open_raw(path, spec)
    else:
        raise DataError(f"unknown volume format of {path}: expected a TIFF folder, .tif, "
                        f"{'/'.join(RAW_SUFFIXES)} (+ layout), .mhd, {'/'.join(HDF5_SUFFIXES)} or .zarr")
    if check:
        check_finite(vol)
    return vol


def open_labels(path: str | os.PathLike, *, like: Volume, raw: Mapping[str, Any] | RawSpec | None = None,
                dataset: str | None = None) -> Volume:
    """Open a label volume that must match ``like`` in shape and hold integer labels.

    Raises:
        DataError: another shape than ``like``, a non-integer dtype, or any error of :func:`open_volume`.
    """
    vol = open_volume(path, raw=raw, dataset=dataset, check=False)
    if vol.shape != like.shape:
        raise DataError(f"label volume {vol.source} has shape {vol.shape}, the image {like.source} has {like.shape}")
    if vol.dtype.kind not in "iu":
        raise DataError(f"label volume {vol.source} has dtype {vol.dtype}, expected integer labels")
    return vol


# --------------------------------------------------------------------------- raw
@dataclass(frozen=True)
class RawSpec:
    """Layout of a raw volume: C order, slowest axis first (Z, Y, X).

    ``byte_order``: ``little`` or ``big``; ``offset``: header bytes before the data.
    """

    dtype: str
    shape: tuple[int, int, int]
    byte_order: str = "little"
    offset: int = 0
    voxel_size_um: float | None = None

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any], source: str | os.PathLike = "raw") -> RawSpec:
        """Build from params or a JSON sidecar.

        Raises:
            DataError: unknown or missing keys, a bad shape, byte order or dtype.
        """
        if not isinstance(mapping, Mapping):
            raise DataError(f"raw layout of {source} must be a mapping, got {type(mapping).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(mapping) - names)
        if unknown:
            raise DataError(f"unknown raw layout key(s) {unknown} for {source}; known: {sorted(names)}")
        missing = [k for k in ("dtype", "shape") if k not in mapping]
        if missing:
            raise DataError(f"raw layout of {source} lacks {', '.join(missing)}")
        shape = tuple(mapping["shape"]) if isinstance(mapping["shape"], (list, tuple)) else ()
        if len(shape) != 3 or not all(isinstance(s, (int, np.integer)) and s > 0 for s in shape):
            raise DataError(f"raw layout of {source}: shape must be three positive integers (Z, Y, X), "
                            f"got {mapping['shape']!r}")
        order = str(mapping.get("byte_order", "little")).lower()
        if order not in ("little", "big"):
            raise DataError(f"raw layout of {source}: byte_order must be 'little' or 'big', got {order!r}")
        offset = mapping.get("offset", 0)
        if not isinstance(offset, (int, np.integer)) or offset < 0:
            raise DataError(f"raw layout of {source}: offset must be a non-negative integer, got {offset!r}")
        check_dtype(mapping["dtype"], source)
        return cls(dtype=str(mapping["dtype"]), shape=tuple(int(s) for s in shape), byte_order=order,
                   offset=int(offset), voxel_size_um=mapping.get("voxel_size_um"))

    def numpy_dtype(self) -> np.dtype:
        dt = check_dtype(self.dtype)
        return dt.newbyteorder("<" if self.byte_order == "little" else ">")


def sidecar_spec(path: str | os.PathLike) -> RawSpec:
    """The layout of a raw file from ``<file>.json`` or a MetaImage ``<stem>.mhd`` next to it.

    Raises:
        DataError: no sidecar (the message says how to give the layout), or a bad one.
    """
    path = Path(path)
    for candidate in (path.with_name(path.name + ".json"), path.with_suffix(".json")):
        if candidate.is_file():
            try:
                mapping = json.loads(candidate.read_text(encoding="utf-8"))
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise DataError(f"raw sidecar {candidate} is not valid JSON: {exc}") from None
            return RawSpec.from_mapping(mapping, candidate)
    mhd = path.with_suffix(".mhd")
    if mhd.is_file():
        return mhd_spec(mhd)[0]
    raise DataError(f"raw volume {path} needs its layout: give dtype, shape (Z, Y, X), byte_order and offset "
                    f"(params or --raw-* options), or a sidecar {path.name}.json or {mhd.name}")


def mhd_spec(path: str | os.PathLike) -> tuple[RawSpec, Path]:
    """Parse a MetaImage header: the layout and the data file it names.

    Returns:
        (spec, data file). ``ElementSpacing`` is read in millimetres (the MetaImage convention) → µm.

    Raises:
        DataError: a missing key, a non-numeric or non-3-D DimSize, a non-numeric ElementSpacing or HeaderSize,
            an unknown element type or a missing data file.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"MetaImage header not found: {path}")
    header = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if "=" in line:
            key, value = line.split("=", 1)
            header[key.strip()] = value.strip()
    try:
        dims = [int(v) for v in header["DimSize"].split()]
        met = header["ElementType"]
        data_file = header["ElementDataFile"]
    except KeyError as exc:
        raise DataError(f"MetaImage header {path} lacks {exc.args[0]}") from None
    except ValueError:
        raise DataError(f"MetaImage header {path}: DimSize {header['DimSize']!r} is not whole numbers") from None
    if len(dims) != 3 or min(dims) < 1:
        raise DataError(f"MetaImage header {path}: DimSize {dims} is not three positive sizes (3-D)")
    if met not in _MET_TYPES:
        raise DataError(f"MetaImage header {path}: unknown dtype ElementType {met!r}; known: {sorted(_MET_TYPES)}")
    if data_file.upper() == "LOCAL":
        raise DataError(f"MetaImage header {path}: data inside the header (LOCAL) is not supported; use .mhd + .raw")
    msb = header.get("BinaryDataByteOrderMSB", header.get("ElementByteOrderMSB", "False")).lower() == "true"
    spacing = header.get("ElementSpacing")
    try:
        voxel = float(spacing.split()[0]) * 1000.0 if spacing else None
        offset = int(header.get("HeaderSize", "0"))
    except ValueError:
        raise DataError(f"MetaImage header {path}: ElementSpacing {spacing!r} or HeaderSize "
                        f"{header.get('HeaderSize')!r} is not a number") from None
    data = path.parent / data_file
    if offset < 0:
        raise DataError(f"MetaImage header {path}: HeaderSize -1 (auto) is not supported; give the byte count")
    spec = RawSpec(dtype=_MET_TYPES[met], shape=(dims[2], dims[1], dims[0]), byte_order="big" if msb else "little",
                   offset=offset, voxel_size_um=voxel)
    return spec, data


def _open_raw_with(spec_and_file: tuple[RawSpec, Path], header: Path) -> Volume:
    spec, data = spec_and_file
    if not data.is_file():
        raise DataError(f"MetaImage header {header} names data file {data.name}, which does not exist")
    return open_raw(data, spec)


def open_raw(path: str | os.PathLike, spec: RawSpec) -> Volume:
    """Memory-map a raw volume.

    Raises:
        DataError: the file size is not ``offset + prod(shape) × itemsize`` (the message gives both numbers).
    """
    path = Path(path)
    dt = spec.numpy_dtype()
    expected = spec.offset + math.prod(spec.shape) * dt.itemsize  # exact: no int64 overflow for absurd shapes
    size = path.stat().st_size
    if size != expected:
        raise DataError(f"raw file {path} has {size} bytes, but shape {spec.shape} × {dt.itemsize} byte(s) "
                        f"({dt.name}) + offset {spec.offset} needs {expected}")
    try:
        array = np.memmap(path, dtype=dt, mode="r", offset=spec.offset, shape=spec.shape, order="C")
    except (ValueError, OSError) as exc:  # e.g. an empty file (a zero-size shape)
        raise DataError(f"raw file {path} cannot be mapped as {spec.shape} {dt.name}: {exc}") from exc
    return _volume(array, spec.voxel_size_um, path)


# --------------------------------------------------------------------------- TIFF
def _natural_key(name: str) -> list:
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name)]


class TiffStack:
    """One TIFF file per z slice, read lazily: ``stack[z0:z1, y0:y1, x0:x1]`` opens only slices z0..z1."""

    def __init__(self, files: Sequence[Path]):
        import tifffile

        self.files = list(files)
        try:
            with tifffile.TiffFile(self.files[0]) as tif:
                page = tif.pages[0]
                first_shape, self.dtype = tuple(page.shape), np.dtype(page.dtype)
        except Exception as exc:  # tifffile raises TiffFileError, ValueError, IndexError... for corrupt files
            raise DataError(f"{self.files[0]} is not a readable TIFF slice: {exc}") from None
        if len(first_shape) != 2:
            raise DataError(f"{self.files[0]}: a slice of a TIFF stack must be 2-D (one grey channel), "
                            f"got shape {first_shape}")
        self.shape = (len(self.files), *first_shape)
        self.ndim = 3

    def _slice(self, z: int) -> np.ndarray:
        import tifffile

        try:
            img = tifffile.imread(self.files[z])
        except Exception as exc:  # corrupt or truncated slice
            raise DataError(f"slice {self.files[z]} is not a readable TIFF: {exc}") from None
        if img.shape != self.shape[1:] or img.dtype != self.dtype:
            raise DataError(f"slice {self.files[z]} has shape {img.shape} {img.dtype}, the stack's first slice "
                            f"has {self.shape[1:]} {self.dtype}")
        return img

    def __getitem__(self, key) -> np.ndarray:
        key = key if isinstance(key, tuple) else (key,)
        if key and key[0] is Ellipsis:
            key = (slice(None),) * (3 - len(key) + 1) + key[1:]
        zkey, rest = key[0], key[1:]
        if isinstance(zkey, (int, np.integer)):
            return self._slice(range(self.shape[0])[zkey])[rest] if rest else self._slice(range(self.shape[0])[zkey])
        zs = range(self.shape[0])[zkey]
        out = np.stack([self._slice(z) for z in zs]) if len(zs) else np.empty((0, *self.shape[1:]), self.dtype)
        return out[(slice(None), *rest)] if rest else out

    def __len__(self) -> int:
        return self.shape[0]


def _open_tiff_stack(folder: Path) -> Volume:
    files = sorted((p for p in folder.iterdir() if p.suffix.lower() in TIFF_SUFFIXES and p.is_file()),
                   key=lambda p: _natural_key(p.name))
    if not files:
        raise DataError(f"folder {folder} holds no .tif/.tiff slices (a TIFF stack is one file per z slice)")
    stack = TiffStack(files)
    voxel = _tiff_voxel_size(files[0])
    return _volume(stack, voxel, folder)


def _tiff_voxel_size(path: Path) -> float | None:
    """Voxel size (µm) from OME PhysicalSize*, ImageJ spacing/unit, or the X resolution (pixels per µm)."""
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            if tif.is_ome and tif.ome_metadata:
                m = re.search(r'PhysicalSizeX="([0-9.eE+-]+)"', tif.ome_metadata)
                unit = re.search(r'PhysicalSizeXUnit="([^"]+)"', tif.ome_metadata)
                if m:
                    factor = {"nm": 1e-3, "mm": 1e3, "µm": 1.0, "um": 1.0}.get(unit.group(1) if unit else "µm", 1.0)
                    return float(m.group(1)) * factor
            ij = tif.imagej_metadata or {}
            if "spacing" in ij and str(ij.get("unit", "micron")).lower() in ("micron", "um", "µm", "\\u00B5m"):
                return float(ij["spacing"])
    except (ValueError, TypeError) as exc:  # a voxel size that is no number
        raise DataError(f"{path}: unreadable voxel size in the TIFF metadata: {exc}") from None
    except Exception as exc:  # tifffile raises TiffFileError, OSError, IndexError... for corrupt files
        raise DataError(f"{path} is not a readable TIFF: {exc}") from None
    return None


def _open_tiff(path: Path) -> Volume:
    import tifffile

    voxel = _tiff_voxel_size(path)
    try:
        array = tifffile.memmap(path, mode="r")
    except (ValueError, tifffile.TiffFileError, OSError):
        array = None
    except Exception:  # pragma: no cover - tifffile raises various errors for non-contiguous files
        array = None
    if array is None or array.ndim != 3:
        import zarr

        try:
            store = tifffile.imread(path, aszarr=True)
            array = zarr.open_array(store, mode="r") if not isinstance(store, np.ndarray) else store
        except Exception as exc:
            raise DataError(f"{path} is not a readable TIFF volume: {exc}") from None
    return _volume(array, voxel, path)


# --------------------------------------------------------------------------- HDF5 and zarr
def _open_hdf5(path: Path, dataset: str | None) -> Volume:
    import h5py

    try:
        handle = h5py.File(path, "r")
    except OSError as exc:
        raise DataError(f"{path} is not a readable HDF5 file: {exc}") from None
    if dataset is None:
        found: list[str] = []
        handle.visititems(lambda name, obj: found.append(name) if isinstance(obj, h5py.Dataset) and obj.ndim == 3
                          else None)
        if len(found) != 1:
            handle.close()
            raise DataError(f"{path} holds {len(found)} 3-D datasets {found[:10]}; name one (dataset=...)")
        dataset = found[0]
    if dataset not in handle or not isinstance(handle[dataset], h5py.Dataset):
        names = list(handle.keys())
        handle.close()
        raise DataError(f"{path} has no dataset {dataset!r} (top level: {names})")
    ds = handle[dataset]
    voxel = ds.attrs.get("voxel_size_um", ds.attrs.get("element_size_um", handle.attrs.get("voxel_size_um")))
    return _volume(ds, voxel, f"{path}:{dataset}")


def _open_zarr(path: Path, dataset: str | None) -> Volume:
    import zarr

    try:
        node = zarr.open(str(path), mode="r")
    except Exception as exc:
        raise DataError(f"{path} is not a readable zarr store: {exc}") from None
    group_voxel = None
    if isinstance(node, zarr.Group):
        group_voxel = node.attrs.get("voxel_size_um")
        names = sorted(k for k, a in node.arrays() if len(a.shape) == 3)   # not the 1-D coordinates
        if dataset is None:
            dataset = "image" if "image" in names else (names[0] if len(names) == 1 else None)
            if dataset is None:
                raise DataError(f"zarr group {path} holds arrays {names}; name one (dataset=...)")
        if dataset not in names:
            raise DataError(f"zarr group {path} has no 3-D array {dataset!r} (arrays: {names})")
        node = node[dataset]
    elif dataset is not None:
        raise DataError(f"{path} is a zarr array, not a group; it has no dataset {dataset!r}")
    voxel = node.attrs.get("voxel_size_um", group_voxel)
    return _volume(node, voxel, f"{path}" + (f":{dataset}" if dataset else ""))


# --------------------------------------------------------------------------- writers
class VolumeWriter:
    """A writable (Z, Y, X) array on disk that appears at its path only when finished.

    Use as a context manager (finish on success, abort on an exception) or call :meth:`finish`/:meth:`abort`.
    ``writer[z0:z1] = block`` writes through to disk (zarr chunks or a memory-mapped TIFF).
    """

    def __init__(self, path: Path, tmp: Path, array: Any, fmt: str):
        self.path, self.tmp, self.array, self.format = path, tmp, array, fmt
        self.shape = tuple(array.shape)
        self.dtype = np.dtype(array.dtype)
        self.ndim = 3
        self.done = False

    def __setitem__(self, key, value) -> None:
        self.array[key] = value

    def __getitem__(self, key):
        return self.array[key]

    def finish(self) -> Path:
        """Flush and move the finished volume to its path (replacing an old one)."""
        if self.done:
            return self.path
        if self.format == "tiff":
            self.array.flush()
            del self.array
        old = None
        if self.path.exists():
            old = self.path.with_name(f".{self.path.name}.old")
            _remove(old)
            os.replace(self.path, old)
        os.replace(self.tmp, self.path)
        if old is not None:
            _remove(old)
        self.done = True
        return self.path

    def abort(self) -> None:
        """Drop the unfinished volume."""
        if not self.done:
            self.array = None
            _remove(self.tmp)
            self.done = True

    def __enter__(self) -> VolumeWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.finish()
        else:
            self.abort()


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def create_volume(path: str | os.PathLike, shape: Sequence[int], dtype: Any, *, chunks: int | Sequence[int] = 64,
                  voxel_size_um: float | None = None, format: str = "zarr", name: str = "labels",
                  attrs: Mapping[str, Any] | None = None) -> VolumeWriter:
    """Create an empty on-disk volume to fill slab by slab, finished atomically.

    Args:
        path: the target (``.zarr`` folder, or ``.tif``/``.tiff`` file).
        shape: (Z, Y, X).
        dtype: one of :data:`DTYPES`.
        chunks: zarr chunk side (or 3 sides).
        voxel_size_um: stored as the attribute ``voxel_size_um`` (zarr) or OME ``PhysicalSize*`` (TIFF).
        format: ``zarr`` (a group with one array ``name``, dimension names z/y/x) or ``tiff`` (a contiguous
            uncompressed OME-TIFF, memory-mapped while writing).
        name: the array's name inside the zarr group.
        attrs: extra JSON-ready attributes of the zarr group.

    Returns:
        a :class:`VolumeWriter` (also a context manager).

    Raises:
        DataError: an unknown format, a bad shape or an unsupported dtype.
    """
    path = Path(path)
    shape = tuple(int(s) for s in shape)
    if len(shape) != 3 or min(shape) < 1:
        raise DataError(f"a volume needs three positive sides (Z, Y, X), got {shape}")
    dt = check_dtype(dtype, path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if format == "zarr":
        import zarr

        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
        group = zarr.open_group(str(tmp), mode="w")
        group.attrs.update({**dict(attrs or {}), "voxel_size_um": voxel_size_um})
        chunk = (chunks,) * 3 if isinstance(chunks, int) else tuple(chunks)
        chunk = tuple(min(c, s) for c, s in zip(chunk, shape))
        array = group.create_array(name, shape=shape, dtype=dt, chunks=chunk, dimension_names=("z", "y", "x"),
                                   attributes={"voxel_size_um": voxel_size_um}, fill_value=0)
        return VolumeWriter(path, tmp, array, "zarr")
    if format == "tiff":
        import tifffile

        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp.ome.tif", dir=path.parent)
        os.close(fd)
        tmp = Path(tmp_name)
        metadata = {"axes": "ZYX"}
        if voxel_size_um:
            metadata.update(PhysicalSizeX=voxel_size_um, PhysicalSizeY=voxel_size_um, PhysicalSizeZ=voxel_size_um,
                            PhysicalSizeXUnit="µm", PhysicalSizeYUnit="µm", PhysicalSizeZUnit="µm")
        array = tifffile.memmap(tmp, shape=shape, dtype=dt, ome=True, metadata=metadata,
                                bigtiff=int(np.prod(shape)) * dt.itemsize > 2 ** 31)
        return VolumeWriter(path, tmp, array, "tiff")
    raise DataError(f"unknown volume format {format!r}; known: zarr, tiff")


def finish_volume(writer: VolumeWriter) -> Path:
    """Finish ``writer`` (same as :meth:`VolumeWriter.finish`)."""
    return writer.finish()


def write_arrays(path: str | os.PathLike, arrays: Mapping[str, np.ndarray], *, voxel_size_um: float,
                 attrs: Mapping[str, Any] | None = None, chunks: int = 64) -> Path:
    """Write in-memory arrays as one zarr group, atomically, with the voxel size and coordinates.

    Arrays are (Z, Y, X), or (N, Z, Y, X) for N cubes of one shape (the training split of the phantoms). The group
    gets the attribute ``voxel_size_um`` and ``attrs``; each array the dimension names (cube,) z/y/x; the 1-D arrays
    ``z``, ``y``, ``x`` hold voxel centres in µm, so ``xarray.open_zarr(path)`` opens it with coordinates.

    Raises:
        DataError: arrays of different shapes, not 3-D or 4-D, or of an unsupported dtype.
    """
    import zarr

    from shared.io import atomic_dir

    shapes = {k: tuple(np.shape(v)) for k, v in arrays.items()}
    if len(set(shapes.values())) != 1 or len(next(iter(shapes.values()))) not in (3, 4):
        raise DataError(f"write_arrays needs 3-D (or 4-D: cubes) arrays of one shape, got {shapes}")
    shape = next(iter(shapes.values()))
    dims = ("z", "y", "x") if len(shape) == 3 else ("cube", "z", "y", "x")
    with atomic_dir(path) as tmp:
        group = zarr.open_group(str(tmp), mode="w")
        group.attrs.update({**dict(attrs or {}), "voxel_size_um": float(voxel_size_um)})
        for axis, n in zip("zyx", shape[-3:]):
            group.create_array(axis, data=(np.arange(n) + 0.5) * float(voxel_size_um), dimension_names=(axis,),
                               attributes={"units": "µm"})
        chunk = tuple([1] * (len(shape) - 3) + [min(chunks, s) for s in shape[-3:]])
        for key, value in arrays.items():
            value = np.asarray(value)
            check_dtype(value.dtype, f"{path}:{key}")
            group.create_array(key, data=value, chunks=chunk, dimension_names=dims,
                               attributes={"voxel_size_um": float(voxel_size_um)})
    return Path(path)


def as_xarray(volume: Volume, window: tuple[slice, ...] = (slice(None),) * 3):
    """A window of ``volume`` in memory as an ``xarray.DataArray`` with z/y/x coordinates in µm (voxel centres).

    Without a voxel size the coordinates are voxel indices (attribute ``units`` says which).
    """
    import xarray as xr

    data = np.asarray(volume.array[window])
    size = volume.voxel_size_um or 1.0
    coords = {}
    for axis, sl, n in zip("zyx", window, volume.shape):
        idx = np.arange(n)[sl]
        coords[axis] = xr.Variable(axis, (idx + 0.5) * size if volume.voxel_size_um else idx,
                                   attrs={"units": "µm" if volume.voxel_size_um else "voxel"})
    return xr.DataArray(data, dims=("z", "y", "x"), coords=coords,
                        attrs={"voxel_size_um": volume.voxel_size_um, "source": volume.source})
