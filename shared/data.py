"""Getting data in: checksummed downloads with an offline fallback, splits and ``tf.data``.

``fetch`` is the one way a project obtains a public file::

    path = fetch(URL, SHA256, "data/climate_forecast/raw/GLB.Ts+dSST.csv")

1. A file the user put in ``data/<project>/external/<name>`` wins (checksum verified);
2. otherwise the file is downloaded with pooch (progress bar, checksum verified);
3. offline, :class:`FetchError` says in one line where to put the file by hand.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import numpy as np

from shared.io import DataError
from shared.paths import repo_root

log = logging.getLogger(__name__)


class FetchError(DataError):
    """A file could not be downloaded (typically: no network)."""


class ChecksumError(DataError):
    """A file's sha256 differs from the published one."""


def sha256sum(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def _project_of(dest: Path) -> str | None:
    """``data/<project>/...`` → ``<project>``."""
    try:
        rel = dest.resolve().relative_to(repo_root() / "data")
    except ValueError:
        parts = dest.parts
        return parts[parts.index("data") + 1] if "data" in parts[:-1] else None
    return rel.parts[0] if len(rel.parts) > 1 else None


def _verify(path: Path, sha256: str | None, url: str) -> None:
    if sha256 is None:
        # Sources updated in place (monthly climate series) cannot be pinned; record what was used.
        log.info("no sha256 pinned for %s; %s has sha256 %s", url, path, sha256sum(path))
        return
    actual = sha256sum(path)
    if actual != sha256.lower():
        raise ChecksumError(
            f"{path} has sha256 {actual}, expected {sha256.lower()}: the file is corrupt, truncated or a "
            f"different version; replace it with the official file from {url}"
        )


def fetch(
    url: str,
    sha256: str | None,
    dest: str | os.PathLike,
    *,
    project: str | None = None,
    external: str | os.PathLike | None = None,
    progressbar: bool = True,
) -> Path:
    """Return a local, checksum-verified copy of ``url`` at ``dest`` (a file path).

    ``external`` overrides the folder searched for a hand-placed copy (default
    ``data/<project>/external/``, the project inferred from ``dest``). ``sha256=None`` is
    allowed only for sources that are updated in place (e.g. monthly climate series); the
    hash of what was used is then logged so that the run can be reproduced.

    Raises:
        ChecksumError: a hand-placed copy, a ``file://`` source or a download does not have ``sha256``
            (a cached copy at ``dest`` that fails it is downloaded again instead).
        FetchError: a ``file://`` source does not exist, or the download failed (offline, HTTP error, ...);
            the message says where to place the file by hand.
        ValueError: pooch rejected the request for another reason than the hash (re-raised as is).
    """
    dest = Path(dest)
    project = project or _project_of(dest)
    ext_dir = Path(external) if external is not None else (
        repo_root() / "data" / project / "external" if project else None
    )
    hint = ext_dir / dest.name if ext_dir is not None else dest
    if ext_dir is not None and (ext_dir / dest.name).is_file():
        candidate = ext_dir / dest.name
        _verify(candidate, sha256, url)
        log.info("using hand-placed %s", candidate)
        return candidate
    if dest.is_file():
        try:
            _verify(dest, sha256, url)
            return dest
        except ChecksumError:
            log.warning("cached %s fails its checksum; downloading it again", dest)
            dest.unlink()
    dest.parent.mkdir(parents=True, exist_ok=True)
    parsed = urlparse(url)
    if parsed.scheme == "file":
        source = Path(unquote(parsed.path))
        if not source.is_file():
            raise FetchError(f"{url} does not exist; place the file at {hint}")
        tmp = dest.with_name(f".{dest.name}.part")
        shutil.copyfile(source, tmp)
        try:
            _verify(tmp, sha256, url)
        except ChecksumError:
            tmp.unlink()
            raise
        os.replace(tmp, dest)
        return dest
    import pooch

    known_hash = f"sha256:{sha256.lower()}" if sha256 else None
    try:
        got = pooch.retrieve(url, known_hash=known_hash, fname=dest.name, path=dest.parent, progressbar=progressbar)
    except ValueError as exc:
        if "hash" in str(exc).lower():
            raise ChecksumError(
                f"download of {url} failed its checksum (expected sha256 {sha256}); the server may hold a new "
                f"version. Nothing was kept. Details: {exc}"
            ) from exc
        raise
    except Exception as exc:  # requests.ConnectionError, timeouts, HTTP errors, FTP errors
        reason = type(exc).__name__
        raise FetchError(
            f"could not download {url} ({reason}; offline?). Download it by hand and place it at {hint}"
            + (f" (sha256 {sha256})" if sha256 else "")
        ) from exc
    if sha256 is None:
        _verify(Path(got), None, url)
    return Path(got)


# --------------------------------------------------------------------------- splits
def split_indices(n: int, fractions: Sequence[float], seed: int) -> list[np.ndarray]:
    """Shuffle ``range(n)`` with ``seed`` and cut it by ``fractions`` (which must sum to 1).

    Returns:
        one sorted int array of indices per fraction, together a partition of ``range(n)``.

    Raises:
        ValueError: a fraction is negative or they do not sum to 1 (``np.isclose``).
    """
    fractions = np.asarray(fractions, dtype=float)
    if np.any(fractions < 0) or not np.isclose(fractions.sum(), 1.0):
        raise ValueError(f"split fractions must be non-negative and sum to 1, got {fractions.tolist()}")
    order = np.random.default_rng(seed).permutation(n)
    cuts = np.round(np.cumsum(fractions)[:-1] * n).astype(int)
    return [np.sort(part) for part in np.split(order, cuts)]


# --------------------------------------------------------------------------- tf.data
def make_dataset(
    x: Any,
    y: Any = None,
    *,
    batch_size: int,
    shuffle: bool = False,
    seed: int = 0,
    augment: Callable | None = None,
    repeat: bool = False,
    cache: bool = True,
    drop_remainder: bool = False,
):
    """A standard input pipeline: cache → shuffle → (augment) → batch → prefetch.

    ``augment`` maps one example ``(x, y)`` (or ``x``) to the same structure; it runs in
    parallel with ``AUTOTUNE``. Use :func:`numpy_map` to wrap NumPy code such as
    albumentations.
    """
    import tensorflow as tf

    tensors = x if y is None else (x, y)
    ds = tf.data.Dataset.from_tensor_slices(tensors)
    if cache:
        ds = ds.cache()
    if shuffle:
        ds = ds.shuffle(buffer_size=min(len(_first(x)), 10_000), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    if augment is not None:
        ds = ds.map(augment, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)


def _first(x: Any):
    if isinstance(x, dict):
        return next(iter(x.values()))
    if isinstance(x, (tuple, list)):
        return x[0]
    return x


def numpy_map(fn: Callable[..., Any], output_dtypes: Sequence[Any]) -> Callable:
    """Wrap a NumPy function ``fn(*arrays) -> arrays`` for ``Dataset.map``.

    Output shapes are taken from the inputs (augmentations keep shapes), which keeps Keras
    happy after ``tf.numpy_function`` erased them.
    """
    import tensorflow as tf

    def wrapped(*tensors):
        outputs = tf.numpy_function(fn, list(tensors), list(output_dtypes), stateful=True)
        for out, src in zip(outputs, tensors):
            out.set_shape(src.shape)
        return tuple(outputs) if len(outputs) > 1 else outputs[0]

    return wrapped
