"""Reading an image band by band: :func:`open_band_reader` and its :class:`BandReader`.

A band reader gives rows ``r0:r1`` of the image :func:`~convcli.images.read_image` would return,
holding only what those rows need:

============  ======================================================================================
TIFF          by strips or tiles: only the segments the rows touch are read and decoded (tifffile's
              own decoders: none, deflate, packbits, and those it has without imagecodecs);
              uncompressed strips by rows. A stack of channels (one page each) as read_image reads
              it. CMYK and YCbCr pages, and compressions tifffile cannot decode alone (LZW, JPEG,
              zstd without imagecodecs), are decoded whole, once.
.npy          memory-mapped (``numpy.load(mmap_mode="r")``)
Zarr          by chunks (the ``zarr`` package)
others        PNG, JPEG, BMP, GIF, WebP, text, standard input, ``sample:``: decoded whole, once (the
              decoded input only, in its own dtype), then sliced
============  ======================================================================================

Streamed inputs (TIFF by segments, ``.npy``, Zarr) are held to
:func:`~convcli.images.limits.streamed_limits`: no pixel, side or file-size limit, and the memory limit only on the
estimate the caller gives (``Limits.memory``). Inputs decoded whole are held to every limit, as by
:func:`~convcli.images.read_image`.
"""

from __future__ import annotations

import os
from contextlib import ExitStack
from typing import Any, BinaryIO

import numpy as np

from convcli.errors import ImageReadError
from convcli.images.formats import FORMAT_TABLE, SNIFF_BYTES, sniff_format
from convcli.images.info import ImageInfo, _is_bytes, _reason
from convcli.images.limits import Limits, _finish_values, _resolve_limits, streamed_limits
from convcli.images.read import STDIN_LABEL, Source, _decoding, _folder_store, _opened, read_image


class BandReader:
    """Rows of an image, read band by band (see :func:`open_band_reader`).

    Attributes
    ----------
    info : ImageInfo
        What :func:`~convcli.images.probe` says of the source.
    label : str
        The source's name in messages.
    streamed : bool
        Whether rows are read as asked (TIFF segments, ``.npy``, Zarr), not decoded whole once.
    segment_rows : int
        Rows one read decodes at once (a TIFF's strips or tiles, a Zarr array's chunks), of which
        the last two rows are kept; 0 for ``.npy`` and inputs decoded whole.
    """

    streamed = False
    #: Rows one read decodes at once and keeps (the last two such rows): a TIFF's strip or tile
    #: height, a Zarr array's chunk height; 0 when rows are read as asked (``.npy``) or decoded whole.
    segment_rows = 0

    def __init__(self, info: ImageInfo, label: str, limits: Limits) -> None:
        self.info = info
        self.label = label
        self._limits = limits
        self._stack = ExitStack()

    @property
    def shape(self) -> tuple[int, ...]:
        """``(H, W)`` or ``(H, W, C)``, as read_image's array."""
        return self.info.shape

    @property
    def dtype(self) -> str:
        """The dtype name of read_image's array."""
        return self.info.dtype

    @property
    def has_alpha(self) -> bool:
        """Whether the last channel is alpha, as read_image says."""
        return self.info.has_alpha

    def read_rows(self, r0: int, r1: int) -> np.ndarray:
        """Rows ``r0:r1``: exactly ``read_image(source)[0][r0:r1]``, a new writable C-ordered array.

        Raises
        ------
        ValueError
            ``r0``, ``r1`` not integers with ``0 <= r0 <= r1 <= H``.
        ImageReadError
            The rows cannot be decoded, or hold NaN or inf (unless ``allow_nonfinite``).
        """
        height = self.info.shape[0]
        for name, value in (("r0", r0), ("r1", r1)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise ValueError(f"`{name}` must be a row number; got {value!r}")
        if not 0 <= r0 <= r1 <= height:
            raise ValueError(f"rows `r0`:`r1` must satisfy 0 <= r0 <= r1 <= {height}; got {r0}:{r1}")
        with _decoding(FORMAT_TABLE[self.info.format].label, self.label):
            band = self._rows(int(r0), int(r1))
        expected = (int(r1) - int(r0), *self.info.shape[1:])
        if tuple(band.shape) != expected or band.dtype.name != self.info.dtype:
            raise ImageReadError(
                f"rows {r0}:{r1} decoded as {band.dtype.name} {tuple(band.shape)}, not {self.info.dtype} {expected}; "
                "the file may be damaged",
                path=self.label,
            )
        return _finish_values(band, self.label, self._limits)

    def _rows(self, r0: int, r1: int) -> np.ndarray:  # pragma: no cover - every reader has its own
        raise NotImplementedError

    def close(self) -> None:
        """Close the file (harmless when closed)."""
        self._stack.close()

    def __enter__(self) -> BandReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _WholeReader(BandReader):
    """Decoded whole, once: the formats that cannot be decoded in parts."""

    def __init__(self, array: np.ndarray, info: ImageInfo, label: str, limits: Limits) -> None:
        super().__init__(info, label, limits)
        self._array: np.ndarray | None = array

    def _rows(self, r0: int, r1: int) -> np.ndarray:
        if self._array is None:
            raise ImageReadError("was closed", path=self.label)
        return self._array[r0:r1].copy()

    def close(self) -> None:
        self._array = None
        super().close()


class _NpyReader(BandReader):
    """A ``.npy`` file, its rows read as asked (file reads, not a memory map: the pages of a map
    stay in the process's resident memory as they are read, a pread's buffer goes with the band).
    A Fortran-ordered array, whose rows are not stored one after another, is memory-mapped."""

    streamed = True

    def __init__(self, path: str, info: ImageInfo, label: str, limits: Limits) -> None:
        super().__init__(info, label, limits)
        self._map: np.ndarray | None = None
        self._file: BinaryIO | None = open(path, "rb")  # noqa: SIM115 - closed by close()
        version = np.lib.format.read_magic(self._file)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        _, fortran, self._stored = read_header(self._file)
        self._offset = self._file.tell()
        data = int(np.prod(info.shape, dtype=np.int64)) * self._stored.itemsize
        size = os.fstat(self._file.fileno()).st_size
        if size < self._offset + data:
            self._file.close()
            raise ImageReadError(f"cannot read .npy: its header promises {data:,} bytes of data, the file holds "
                                 f"{max(size - self._offset, 0):,} (file seems not fully written?)", path=label)
        if fortran and len(info.shape) > 1:
            self._file.close()
            self._file = None
            self._map = np.load(path, mmap_mode="r", allow_pickle=False)
        self._row_bytes = int(np.prod(info.shape[1:], dtype=np.int64)) * self._stored.itemsize

    def _rows(self, r0: int, r1: int) -> np.ndarray:
        if self._map is not None:
            return np.array(self._map[r0:r1], dtype=np.dtype(self.info.dtype), order="C")
        if self._file is None:
            raise ImageReadError("was closed", path=self.label)
        buffer = bytearray((r1 - r0) * self._row_bytes)
        self._file.seek(self._offset + r0 * self._row_bytes)
        if self._file.readinto(buffer) != len(buffer):
            raise ImageReadError(f"rows {r0}:{r1} are missing: the file is shorter than its header says",
                                 path=self.label)
        band = np.frombuffer(buffer, dtype=self._stored).reshape((r1 - r0, *self.info.shape[1:]))
        wanted = np.dtype(self.info.dtype)  # bool as uint8, float16 as float32 (see npy.array_dtype)
        return band if band.dtype == wanted else band.astype(wanted)

    def close(self) -> None:
        self._map = None  # the map closes when its last view goes
        if self._file is not None:
            self._file.close()
            self._file = None
        super().close()


class _ZarrReader(BandReader):
    """A Zarr array, by chunks."""

    streamed = True

    def __init__(self, array: Any, info: ImageInfo, label: str, limits: Limits) -> None:
        super().__init__(info, label, limits)
        self._array = array
        self.segment_rows = int(array.chunks[0])
        self._cache: dict[int, np.ndarray] = {}  # the last two rows of chunks read, by chunk row

    def _rows(self, r0: int, r1: int) -> np.ndarray:
        from convcli.images.zarr_io import rows

        # Whole rows of chunks, each decoded once: bands thinner than a chunk, and a band's halo
        # reaching back into the row above, are cut from the rows kept.
        height, step = self.info.shape[0], self.segment_rows
        parts = []
        for y in range(r0 // step, (r1 - 1) // step + 1 if r1 > r0 else r0 // step):
            if y not in self._cache:
                for stale in [k for k in self._cache if k not in (y, y - 1)]:
                    del self._cache[stale]
                self._cache[y] = rows(self._array, self.info, y * step, min((y + 1) * step, height))
            top = y * step
            parts.append(self._cache[y][max(r0, top) - top: min(r1, top + step) - top])
        if not parts:
            return rows(self._array, self.info, r0, r1)
        return np.concatenate(parts) if len(parts) > 1 else parts[0].copy()


class _TiffReader(BandReader):
    """A TIFF page (or a stack of channel pages), by strips or tiles."""

    streamed = True

    def __init__(self, tif: Any, pages: list[Any], info: ImageInfo, label: str, limits: Limits) -> None:
        from convcli.images.tiff_bands import _geometry

        super().__init__(info, label, limits)
        self.segment_rows = max(_geometry(page)[0] for page in pages)
        self._tif = tif
        self._pages = pages
        self._stacked = len(pages) > 1
        self._caches: list[dict[int, np.ndarray | None]] = [{} for _ in pages]

    def _rows(self, r0: int, r1: int) -> np.ndarray:
        from convcli.images.tiff_bands import page_rows

        planes = [page_rows(self._tif, page, r0, r1, cache) for page, cache in zip(self._pages, self._caches)]
        if self._stacked:
            return np.stack(planes, axis=-1)
        return planes[0]


def open_band_reader(source: Source, *, limits: Limits | None = None) -> BandReader:
    """Open an image to be read band by band.

    Parameters
    ----------
    source : str, os.PathLike or bytes
        What :func:`~convcli.images.read_image` takes: a path (a file, or a Zarr folder),
        ``"sample:NAME"``, ``"matrix:..."`` or the bytes of a file.
    limits : Limits, optional
        What to refuse (default ``Limits()``); streamed inputs are held to
        :func:`~convcli.images.limits.streamed_limits` of it (see the module documentation).

    Returns
    -------
    BandReader
        With ``shape``, ``dtype``, ``has_alpha``, ``info``, ``read_rows(r0, r1)`` and ``close()``;
        a context manager.

    Raises
    ------
    ImageReadError
        As :func:`~convcli.images.read_image`: missing, not an allowed format, damaged, over a limit.

    Examples
    --------
    >>> with open_band_reader("sample:camera") as reader:
    ...     reader.shape, reader.read_rows(8, 16).shape
    ((512, 512), (8, 512))
    """
    limits = _resolve_limits(limits)
    relaxed = streamed_limits(limits)
    folder = _folder_store(source) if isinstance(source, (str, os.PathLike)) else None
    if folder is not None:
        from convcli.images.zarr_io import open_array

        with _decoding("Zarr", folder):
            array, info = open_array(folder, folder, relaxed)
        return _ZarrReader(array, info, folder, limits)
    if isinstance(source, (str, os.PathLike)) and not str(os.fspath(source)).startswith(("sample:", "matrix:", "shape:")):
        stack = ExitStack()
        try:
            # The file's size is held to the whole-image limit only if it is decoded whole (read_image below).
            fh, label = stack.enter_context(_opened(source, relaxed))
            reader = _open_streamed(fh, label, limits, relaxed, stack)
        except BaseException:
            stack.close()
            raise
        if reader is not None:
            return reader
        stack.close()
    array, info = read_image(source, limits=limits)
    label = source if isinstance(source, str) else STDIN_LABEL if _is_bytes(source) else os.fsdecode(os.fspath(source))
    return _WholeReader(array, info, label, limits)


def _open_streamed(fh: BinaryIO, label: str, limits: Limits, relaxed: Limits, stack: ExitStack) -> BandReader | None:
    """A streamed reader of the open file ``fh`` (TIFF, ``.npy``), or None when it is decoded whole."""
    try:
        head = fh.read(SNIFF_BYTES)
    except OSError as exc:
        raise ImageReadError(f"cannot read: {_reason(exc)}", path=label) from None
    fmt = sniff_format(head)
    fh.seek(0)
    if fmt == "npy":
        from convcli.images import npy

        with _decoding(".npy", label):
            info = npy.read(fh, fmt, label, relaxed, False)[1]
            reader: BandReader = _NpyReader(label, info, label, limits)
        reader._stack = stack
        return reader
    if fmt == "tiff":
        from convcli.images.tiff_bands import open_tiff

        with _decoding("TIFF", label):
            opened = open_tiff(fh, label, relaxed)
        if opened is None:
            return None  # decoded whole: held to every limit there
        tif, pages, info = opened
        stack.callback(tif.close)
        reader = _TiffReader(tif, pages, info, label, limits)
        reader._stack = stack
        return reader
    return None

