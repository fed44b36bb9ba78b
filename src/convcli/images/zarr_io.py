"""Zarr arrays (v2 and v3, a folder store ``*.zarr``): their metadata checked, then read by chunks and
written, with the ``zarr`` package (imported lazily).

Before zarr opens a store, convcli reads its metadata file itself (``.zarray`` for v2, ``zarr.json``
for v3, at most :data:`ZARR_MAX_METADATA_BYTES`) and refuses: groups, arrays that are not
(H, W) or (H, W, C), dtypes that are not real numbers (objects, strings, structured), codecs
outside :data:`ZARR_CODECS` (no pickle, no Python objects), storage transformers, a chunk
larger than :data:`ZARR_MAX_CHUNK_BYTES` decoded, more than :data:`ZARR_MAX_CHUNKS` chunks, and
metadata that is a link (a store reads no file outside its folder through it). Then the side,
frame and memory limits apply as to any image (:class:`~convcli.images.limits.Limits`).
"""

from __future__ import annotations

import functools
import json
import math
import os
import stat
import warnings
from typing import Any

import numpy as np

from convcli.errors import ImageReadError
from convcli.images.info import ImageInfo
from convcli.images.limits import Limits, _check_limits, _finish
from convcli.images.npy import array_dtype


#: Largest metadata file read (``.zarray``, ``zarr.json``).
ZARR_MAX_METADATA_BYTES = 1 << 20

#: Largest decoded chunk (or inner chunk of a shard): a band of rows decodes whole chunks.
ZARR_MAX_CHUNK_BYTES = 1 << 28

#: Most chunks an array may have.
ZARR_MAX_CHUNKS = 1 << 24

#: Codecs a store may use: v2 compressor and filter ids, v3 codec names (also as ``numcodecs.NAME``).
ZARR_CODECS = frozenset({
    "bytes", "transpose", "sharding_indexed", "crc32c", "gzip", "zlib", "zstd", "blosc", "lz4", "bz2",
    "lzma", "crc32", "adler32", "shuffle", "delta",
})

#: Chunks of outputs, rows × columns (all channels in each chunk).
ZARR_OUTPUT_CHUNKS = (256, 256)


def _zarr() -> Any:
    """The zarr package; numcodecs' import-time deprecation notices stay quiet (convcli speaks for it).

    numcodecs installs a filter of its own while it is imported, so the notices are recorded (and
    dropped), not filtered; it is imported here, first, not later in a thread of zarr's."""
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("ignore")
        import numcodecs  # noqa: F401
        import zarr
    return zarr


def _metadata(path: str, label: str) -> tuple[int, dict[str, Any]]:
    """The Zarr format (2 or 3) and the metadata of the array stored at folder ``path``."""
    for version, name in ((3, "zarr.json"), (2, ".zarray")):
        file = os.path.join(path, name)
        try:
            status = os.lstat(file)
        except OSError:
            continue
        if not stat.S_ISREG(status.st_mode):
            raise ImageReadError(f"Zarr metadata {name} is not a regular file (a link?); convcli reads none", path=label)
        if status.st_size > ZARR_MAX_METADATA_BYTES:
            raise ImageReadError(f"Zarr metadata {name} is over {ZARR_MAX_METADATA_BYTES:,} bytes", path=label)
        try:
            with open(file, "rb") as fh:
                meta = json.loads(fh.read(ZARR_MAX_METADATA_BYTES + 1))
        except (OSError, ValueError) as exc:
            raise ImageReadError(f"Zarr metadata {name} is not valid JSON ({type(exc).__name__})", path=label) from None
        if not isinstance(meta, dict):
            raise ImageReadError(f"Zarr metadata {name} is not a JSON object", path=label)
        if version == 3 and meta.get("node_type") == "group":
            raise ImageReadError("is a Zarr group; give the path of one of its arrays", path=label)
        return version, meta
    if os.path.exists(os.path.join(path, ".zgroup")):
        raise ImageReadError("is a Zarr group; give the path of one of its arrays", path=label)
    raise ImageReadError("is a folder without Zarr metadata (.zarray or zarr.json)", path=label)


def _ints(value: Any, what: str, label: str) -> tuple[int, ...]:
    if not isinstance(value, list) or not all(isinstance(n, int) and not isinstance(n, bool) for n in value):
        raise ImageReadError(f"Zarr {what} must be a list of integers; got {value!r:.80}", path=label)
    return tuple(value)


def _codec_names(version: int, meta: dict[str, Any]) -> list[str]:
    """Every codec a store's metadata names (v3: inside shards too)."""
    names: list[str] = []
    if version == 2:
        for codec in [meta.get("compressor"), *(meta.get("filters") or [])]:
            if codec is not None:
                names.append(str(codec.get("id")) if isinstance(codec, dict) else repr(codec))
        return names
    todo = list(meta.get("codecs") or [])
    while todo:
        codec = todo.pop()
        if not isinstance(codec, dict):
            names.append(repr(codec))
            continue
        names.append(str(codec.get("name")))
        config = codec.get("configuration") or {}
        if isinstance(config, dict):
            todo += list(config.get("codecs") or []) + list(config.get("index_codecs") or [])
    return names


def _chunk_shape(version: int, meta: dict[str, Any], label: str) -> tuple[int, ...]:
    """The shape of the chunks a read decodes: v2 ``chunks``; v3 the regular grid's, or a shard's
    inner chunks."""
    if version == 2:
        return _ints(meta.get("chunks"), "chunks", label)
    grid = meta.get("chunk_grid") or {}
    if not isinstance(grid, dict) or grid.get("name") != "regular":
        raise ImageReadError("Zarr chunk grid must be regular", path=label)
    chunks = _ints((grid.get("configuration") or {}).get("chunk_shape"), "chunk_shape", label)
    for codec in meta.get("codecs") or []:
        if isinstance(codec, dict) and codec.get("name") == "sharding_indexed":
            inner = (codec.get("configuration") or {}).get("chunk_shape")
            return _ints(inner, "chunk_shape of the shards", label)
    return chunks


@functools.cache
def _confined_store() -> type:
    """zarr's LocalStore, reading no file outside the store's folder: a key whose real path (its
    links followed) leaves the folder is refused, so a chunk that is a link to another file (a
    hostile store's way to copy that file into an output) fails the input."""
    from zarr.storage import LocalStore

    _zarr()

    class ConfinedStore(LocalStore):  # type: ignore[misc, valid-type]
        def _inside(self, key: str) -> None:
            root = os.path.realpath(self.root)
            real = os.path.realpath(os.path.join(root, key))
            if os.path.commonpath([root, real]) != root:
                raise ValueError(f"Zarr key {key!r} leads outside the store (through a link); convcli reads none")

        async def get(self, key: str, prototype: Any = None, byte_range: Any = None) -> Any:
            self._inside(key)
            return await super().get(key, prototype, byte_range)

        async def get_partial_values(self, prototype: Any, key_ranges: Any) -> Any:
            key_ranges = list(key_ranges)
            for key, _ in key_ranges:
                self._inside(key)
            return await super().get_partial_values(prototype, key_ranges)

    return ConfinedStore


def check_metadata(path: str, label: str) -> tuple[int, tuple[int, ...], np.dtype]:
    """The Zarr format, shape and dtype of the array at folder ``path``, its metadata checked
    before zarr opens it (see the module documentation)."""
    version, meta = _metadata(path, label)
    shape = _ints(meta.get("shape"), "shape", label)
    raw_dtype = meta.get("dtype") if version == 2 else meta.get("data_type")
    if not isinstance(raw_dtype, str):
        raise ImageReadError(f"Zarr dtype {raw_dtype!r:.80} is not a plain numeric dtype", path=label)
    try:
        dtype = np.dtype(raw_dtype)
    except TypeError:
        raise ImageReadError(f"Zarr dtype {raw_dtype!r:.80} is not a plain numeric dtype", path=label) from None
    array_dtype(dtype, label)  # refuses objects, strings, complex
    unknown = sorted({name.removeprefix("numcodecs.") for name in _codec_names(version, meta)} - ZARR_CODECS)
    if unknown:
        raise ImageReadError(
            f"Zarr codec {', '.join(unknown)} is not one convcli reads (it reads {', '.join(sorted(ZARR_CODECS))})",
            path=label,
        )
    if version == 3 and meta.get("storage_transformers"):
        raise ImageReadError("Zarr storage transformers are not supported", path=label)
    if len(shape) not in (2, 3):
        raise ImageReadError(f"Zarr array has shape {shape}; an image array must be (H, W) or (H, W, C)", path=label)
    if 0 in shape:
        raise ImageReadError(f"Zarr array is empty (shape {shape})", path=label)
    chunks = _chunk_shape(version, meta, label)
    if len(chunks) != len(shape) or min(chunks) < 1:
        raise ImageReadError(f"Zarr chunks {chunks} do not fit the shape {shape}", path=label)
    chunk_bytes = math.prod(chunks) * dtype.itemsize
    if chunk_bytes > ZARR_MAX_CHUNK_BYTES:
        raise ImageReadError(
            f"a Zarr chunk {chunks} is {chunk_bytes:,} bytes decoded, over {ZARR_MAX_CHUNK_BYTES:,}; rechunk it",
            path=label,
        )
    count = math.prod(-(-n // c) for n, c in zip(shape, chunks))
    if count > ZARR_MAX_CHUNKS:
        raise ImageReadError(f"Zarr array has {count:,} chunks, over {ZARR_MAX_CHUNKS:,}; rechunk it", path=label)
    return version, shape, dtype


def open_array(path: str, label: str, limits: Limits) -> tuple[Any, ImageInfo]:
    """The zarr array at folder ``path`` (read only) and what :func:`~convcli.images.read_image`
    gives for it, its metadata and ``limits`` checked first."""
    version, shape, dtype = check_metadata(path, label)
    out_dtype, notes = array_dtype(dtype, label)
    info = ImageInfo(shape=shape, dtype=out_dtype, format="zarr", has_alpha=False, notes=notes)
    _check_limits(info, limits, label)
    zarr = _zarr()
    array = zarr.open_array(store=_confined_store()(path, read_only=True), mode="r", zarr_format=version)
    if tuple(array.shape) != shape or np.dtype(array.dtype) != dtype:
        raise ImageReadError(f"zarr reads {array.dtype} {array.shape}, not what the metadata says", path=label)
    return array, info


def rows(array: Any, info: ImageInfo, r0: int, r1: int) -> np.ndarray:
    """Rows ``r0:r1`` of a Zarr array, in the dtype :func:`open_array`'s info gives (not yet checked
    for NaN)."""
    band = np.asarray(array[r0:r1])
    if band.dtype.name != info.dtype or not band.dtype.isnative:
        band = band.astype(info.dtype)
    return band


def read_folder(path: str, label: str, limits: Limits, decode: bool) -> tuple[np.ndarray | None, ImageInfo]:
    """A Zarr array as :func:`~convcli.images.read_image` reads it (the decoder of a folder store)."""
    array, info = open_array(path, label, limits)
    if not decode:
        return None, info
    return _finish(rows(array, info, 0, info.shape[0]), info, label, limits), info


def create(folder: str, *, shape: tuple[int, ...], dtype: str, zarr_format: int = 3,
           chunks: tuple[int, ...] | None = None) -> Any:
    """A new Zarr array in the (empty, temporary) folder ``folder``: chunks of
    :data:`ZARR_OUTPUT_CHUNKS` rows × columns with every channel, zarr's default compressor, fill 0."""
    if zarr_format not in (2, 3):
        raise ValueError(f"`zarr_format` must be 2 or 3; got {zarr_format!r}")
    if chunks is None:
        chunks = tuple(min(n, c) for n, c in zip(shape, ZARR_OUTPUT_CHUNKS)) + tuple(shape[2:])
    elif len(chunks) != len(shape) or not all(isinstance(n, int) and n >= 1 for n in chunks):
        raise ValueError(f"`chunks` must be {len(shape)} positive integers, one per axis of the shape; got {chunks!r}")
    zarr = _zarr()
    return zarr.create_array(store=folder, shape=shape, dtype=dtype, chunks=chunks, zarr_format=zarr_format,
                             fill_value=0, overwrite=True)


def write_whole(folder: str, array: np.ndarray, *, zarr_format: int = 3) -> None:
    """Write ``array`` as a Zarr array into the empty folder ``folder`` (a whole-image output)."""
    create(folder, shape=tuple(int(n) for n in array.shape), dtype=array.dtype.name, zarr_format=zarr_format)[...] = array
