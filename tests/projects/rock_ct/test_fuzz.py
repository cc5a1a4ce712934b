"""Property-based fuzzing of the CT volume readers (issue 17 §C): MetaImage ``.mhd`` headers, raw files with
JSON sidecars (fuzzed dtype/shape/byte order/offset/voxel size), TIFF files and stacks written with tifffile
(fuzzed shapes, dtypes, ImageJ/OME metadata, then damaged), HDF5 files, zarr stores (metadata and chunks
damaged), and raw layouts given as params.

Property: :func:`open_volume` (and reading the opened volume) returns a 3-D :class:`Volume` OR raises
:class:`~shared.io.DataError`; any other exception is a crash.
"""

from __future__ import annotations

import itertools
import json

import numpy as np
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from projects.rock_ct.volumes import RawSpec, open_volume
from shared.io import DataError

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
_COUNT = itertools.count()
SHAPE = (2, 3, 4)


def _check(path, **kwargs) -> None:
    try:
        vol = open_volume(path, **kwargs)
        data = vol.read()
    except DataError as exc:
        event(f"DataError: {str(exc).split(': ')[-1][:30]}")
        return
    event("read")
    assert data.ndim == 3 and data.shape == vol.shape and len(vol.shape) == 3
    assert vol.voxel_size_um is None or (np.isfinite(vol.voxel_size_um) and vol.voxel_size_um > 0)


MHD = ("ObjectType = Image\nNDims = 3\nBinaryData = True\nBinaryDataByteOrderMSB = False\n"
       "ElementSpacing = 0.005 0.005 0.005\nDimSize = 4 3 2\nElementType = MET_USHORT\nHeaderSize = 0\n"
       "ElementDataFile = v.raw\n")
_MHD_VALUES = st.sampled_from(["", "x", "nan", "inf", "-1", "0", "1e400", "4 3", "4 3 2 1", "4 3 -2", "4.5 3 2",
                               "99999999999 99999999999 99999999999", "MET_FLOAT", "MET_LONG", "LOCAL", "True",
                               "missing.raw", "../v.raw", "v.raw", "\x00", "é", "4 3 2", "-1", "12", "0.005"])


@st.composite
def mhd_text(draw) -> bytes:
    lines = MHD.splitlines()
    for _ in range(draw(st.integers(0, 3))):
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["value", "value", "value", "drop", "junk"]))
        if op == "value" and "=" in lines[i]:
            lines[i] = lines[i].split("=")[0] + "= " + draw(_MHD_VALUES)
        elif op == "drop":
            lines[i] = ""
        else:
            lines[i] = draw(st.text(max_size=20))
    return "\n".join(lines).encode(draw(st.sampled_from(["utf-8", "utf-8", "latin-1", "utf-16"])), "replace")


@SETTINGS
@given(header=mhd_text(), size=st.sampled_from([48, 47, 0, 96, 100]))
@example(header=MHD.replace("DimSize = 4 3 2", "DimSize = 4 x 2").encode(), size=48)  # ValueError before the fix
@example(header=MHD.replace("0.005 0.005 0.005", "x").encode(), size=48)
@example(header=MHD.replace("HeaderSize = 0", "HeaderSize = auto").encode(), size=48)
@example(header=MHD.replace("DimSize = 4 3 2", "DimSize = 0 3 2").encode(), size=0)
def test_fuzz_mhd_header(header, size, tmp_path_factory):
    folder = tmp_path_factory.mktemp("mhd")
    (folder / "v.mhd").write_bytes(header)
    (folder / "v.raw").write_bytes(bytes(size))
    _check(folder / "v.mhd")


_JSON_VALUES = st.sampled_from([None, True, -1, 0, 1, 2**70, 1.5, float("nan"), "", "uint16", "<u2", ">f4", "float16",
                                "complex64", "i4,i4", "object", "little", "big", "middle", [2, 3, 4], [2, 3], [0, 3, 4],
                                [2**40, 2**40, 2**40], ["2", 3, 4], [], {}, {"a": 1}, [2.0, 3, 4], 1e-300, 1e300])
_SIDECAR = {"dtype": "uint16", "shape": [2, 3, 4], "byte_order": "little", "offset": 0, "voxel_size_um": 5.0}


@st.composite
def sidecar(draw):
    mapping = dict(_SIDECAR)
    for _ in range(draw(st.integers(0, 3))):
        key = draw(st.sampled_from(sorted(_SIDECAR) + ["extra"]))
        if draw(st.integers(0, 3)) == 0:
            mapping.pop(key, None)
        else:
            mapping[key] = draw(_JSON_VALUES)
    return mapping


@SETTINGS
@given(mapping=sidecar() | _JSON_VALUES, size=st.sampled_from([48, 47, 0, 96]), encoding=st.sampled_from(
    ["utf-8", "utf-8", "utf-16", "latin-1-junk"]))
@example(mapping={"dtype": "uint8", "shape": [2, 3, 4]}, size=24, encoding="latin-1-junk")  # UnicodeDecodeError
@example(mapping={"dtype": {"a": 1}, "shape": [2, 3, 4]}, size=24, encoding="utf-8")
def test_fuzz_raw_sidecar(mapping, size, encoding, tmp_path_factory):
    folder = tmp_path_factory.mktemp("raw")
    text = json.dumps(mapping)
    data = (text.encode("utf-8") + b"\xff") if encoding == "latin-1-junk" else text.encode(encoding)
    (folder / "v.raw.json").write_bytes(data)
    (folder / "v.raw").write_bytes(bytes(size))
    _check(folder / "v.raw")


@SETTINGS
@given(mapping=sidecar() | _JSON_VALUES)
def test_fuzz_raw_layout_params(mapping):
    try:
        spec = RawSpec.from_mapping(mapping, "params")
        spec.numpy_dtype()
    except DataError:
        return
    assert len(spec.shape) == 3 and all(s > 0 for s in spec.shape)


_TIFF_SHAPES = st.sampled_from([(2, 3, 4), (3, 4), (2, 3, 4, 3), (1, 3, 4), (2, 1, 1), (2, 3, 4, 2)])
_TIFF_DTYPES = st.sampled_from(["u1", "u2", "i2", "f4", "f8", "u4", "i8", "bool", "f2"])
_IJ = st.sampled_from([None, {"spacing": 2.5, "unit": "micron"}, {"spacing": "x", "unit": "um"},
                       {"spacing": 0, "unit": "micron"}, {"spacing": float("nan")}, {"spacing": -3, "unit": "µm"},
                       {"unit": "mm", "spacing": 1}, {"spacing": "1e999"}])
_OME = st.sampled_from([None, "1.5", "x", "1e", "-2", "0", "nan"])


@st.composite
def tiff_bytes(draw) -> bytes:
    import io

    import tifffile

    shape, dtype = draw(_TIFF_SHAPES), draw(_TIFF_DTYPES)
    data = (np.arange(np.prod(shape)).reshape(shape) % 5).astype(dtype)
    if dtype.startswith("f") and draw(st.booleans()):
        data.flat[0] = np.nan
    buffer = io.BytesIO()
    ij, ome = draw(_IJ), draw(_OME)
    try:
        if ome is not None:
            tifffile.imwrite(buffer, data, ome=True, metadata={"PhysicalSizeX": ome, "PhysicalSizeXUnit": "µm"})
        elif ij is not None:
            tifffile.imwrite(buffer, data, imagej=True, metadata=ij)
        else:
            tifffile.imwrite(buffer, data)
    except Exception:  # tifffile refuses this combination (e.g. ImageJ with float64): a plain TIFF
        buffer = io.BytesIO()
        tifffile.imwrite(buffer, data)
    raw = bytearray(buffer.getvalue())
    damage = draw(st.sampled_from(["none", "none", "truncate", "flip"]))
    if damage == "truncate":
        raw = raw[:draw(st.integers(0, len(raw) - 1))]
    elif damage == "flip":
        for _ in range(draw(st.integers(1, 6))):
            raw[draw(st.integers(0, len(raw) - 1))] = draw(st.integers(0, 255))
    return bytes(raw)


@SETTINGS
@given(data=tiff_bytes() | st.binary(max_size=200))
@example(data=b"II*\x00" + b"\x00" * 20)  # TiffFileError before the fix
def test_fuzz_tiff_file(data, tmp_path_factory):
    path = tmp_path_factory.mktemp("tif") / f"v{next(_COUNT)}.tif"
    path.write_bytes(data)
    _check(path)


@settings(SETTINGS, max_examples=25)
@given(slices=st.lists(tiff_bytes(), min_size=1, max_size=3))
def test_fuzz_tiff_stack(slices, tmp_path_factory):
    folder = tmp_path_factory.mktemp("stack")
    for z, data in enumerate(slices):
        (folder / f"slice_{z:03d}.tif").write_bytes(data)
    _check(folder)


@settings(SETTINGS, max_examples=20)
@given(shape=st.sampled_from([(2, 3, 4), (3, 4), (2, 3, 4, 1), (0, 3, 4)]), dtype=st.sampled_from(["u1", "f8", "c8",
                                                                                                   "S3", "i8"]),
       voxel=st.sampled_from([None, 5.0, -1.0, "x", b"\xff", [1.0, 2.0], [], float("nan")]),
       count=st.sampled_from([1, 2]), truncate=st.booleans())
def test_fuzz_hdf5(shape, dtype, voxel, count, truncate, tmp_path_factory):
    import h5py

    path = tmp_path_factory.mktemp("h5") / "v.h5"
    with h5py.File(path, "w") as f:
        for i in range(count):
            ds = f.create_dataset(f"d{i}", data=np.zeros(shape, dtype))
            if voxel is not None:
                ds.attrs["voxel_size_um"] = voxel
    if truncate:
        path.write_bytes(path.read_bytes()[:1000])
    _check(path)


_ZARR_META = st.sampled_from([("shape", [2, -3, 4]), ("shape", [20, 3, 4]), ("shape", [2, 3]),
                              ("data_type", "complex128"), ("data_type", "bogus"), ("fill_value", "x"),
                              ("zarr_format", 9), ("chunk_grid", None),
                              ("codecs", []), ("attributes", {"voxel_size_um": "x"})])


@settings(SETTINGS, max_examples=20)
@given(dtype=st.sampled_from(["u1", "f4"]), damage=st.sampled_from(["none", "chunk_junk", "chunk_cut", "meta_value",
                                                                    "meta_junk"]),
       meta=_ZARR_META, cut=st.integers(0, 30))
@example(dtype="u1", damage="chunk_junk", meta=("shape", [2, 3, 4]), cut=0)  # RuntimeError (zstd) before the fix
def test_fuzz_zarr_store(dtype, damage, meta, cut, tmp_path_factory):
    import zarr

    path = tmp_path_factory.mktemp("zarr") / "v.zarr"
    array = zarr.open_array(str(path), mode="w", shape=SHAPE, chunks=(1, 3, 4), dtype=dtype)
    array[:] = 1
    array.attrs["voxel_size_um"] = 5.0
    chunks = sorted(p for p in path.rglob("*") if p.is_file() and p.name != "zarr.json")
    metadata = path / "zarr.json"
    if damage == "chunk_junk":
        chunks[0].write_bytes(b"junk")
    elif damage == "chunk_cut":
        chunks[-1].write_bytes(chunks[-1].read_bytes()[:cut])
    elif damage == "meta_value":
        doc = json.loads(metadata.read_text())
        doc[meta[0]] = meta[1]
        metadata.write_text(json.dumps(doc))
    elif damage == "meta_junk":
        metadata.write_text(metadata.read_text()[:cut])
    _check(path)
