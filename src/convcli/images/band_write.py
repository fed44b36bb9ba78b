"""Writing an image band by band: :func:`open_band_writer` and its :class:`BandWriter`.

Rows go in order (``write_rows``), already in the output dtype (as
:func:`~convcli.images.encode_image` takes them), and the whole image is never held:

============  ======================================================================================
.npy          the header, then each band's bytes
PNG           convcli's own encoder fed row by row (:class:`~convcli.images.png.PngRowEncoder`): bands
              of about 1 MiB of filtered rows, deflated on a thread per core; the same bytes as the
              whole-image encoder for the same zlib level and filter type
TIFF          tiled (256 × 256 by default), deflate, written by tifffile from an iterator of tiles
              on a thread of its own, the tiles deflated on a thread per core; BigTIFF when asked or when the pixels pass 4 GiB less a margin;
              more than 4 channels as one page of that many samples (read back as (H, W, C))
Zarr          a v3 (or v2) folder store, band after band into its chunks
============  ======================================================================================

Each output is atomic (:class:`~convcli.images.atomic.AtomicFile`,
:class:`~convcli.images.atomic.AtomicFolder`): written under a temporary name in the target folder
and renamed by :meth:`BandWriter.commit`; :meth:`BandWriter.abort`, or leaving its ``with`` block
without a commit, removes the temporary.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np

from convcli.errors import ImageWriteError
from convcli.images.atomic import AtomicFile, AtomicFolder
from convcli.images.encode import DEFAULT_PNG_COMPRESSION
from convcli.images.formats import BAND_FORMATS, FORMAT_TABLE, _check_format, check_writable, format_from_path
from convcli.images.info import _reason
from convcli.images.zarr_io import ZARR_OUTPUT_CHUNKS


#: Tiles of TIFF outputs, rows × columns (multiples of 16, as TIFF requires).
TIFF_OUTPUT_TILE = (256, 256)

#: Pixel bytes from which a TIFF output is BigTIFF: classic TIFF's 4 GiB of offsets, less a margin
#: for the tags and for data deflate cannot shrink.
BIGTIFF_FROM = 2**32 - 2**25


def band_writer_memory(format: str, shape: tuple[int, ...], dtype: str, *, band_rows: int) -> int:
    """The bytes a band writer of ``format`` holds besides the band it is given, at most, when
    bands of ``band_rows`` rows of an image of ``shape`` and ``dtype`` are written: the rows
    waiting for a whole row of TIFF tiles or Zarr chunks (joined once, then cut into tiles), PNG's
    filtered rows and their deflated bytes (a few bands per deflating thread); nothing for ``.npy``.

    Examples
    --------
    >>> band_writer_memory("npy", (1000, 1000), "uint8", band_rows=64)
    0
    >>> band_writer_memory("zarr", (1000, 1000), "uint8", band_rows=64) // 1000
    960
    """
    row = int(np.prod(shape[1:], dtype=np.int64)) * np.dtype(dtype).itemsize
    if format == "npy":
        return 0
    if format == "png":
        # The rows waiting to fill a deflate band, and the bands being deflated or waiting for a
        # thread (two per thread and one more), each filtered and deflated.
        from convcli._system import usable_cpus
        from convcli.images.png import _PNG_BAND_BYTES

        return 2 * (band_rows + 1) * (row + 1) + (2 * usable_cpus() + 1) * 2 * _PNG_BAND_BYTES
    waiting = TIFF_OUTPUT_TILE[0] if format == "tiff" else ZARR_OUTPUT_CHUNKS[0]
    if format == "tiff":  # and the tiles tifffile deflates in a batch, and their deflated bytes
        from convcli._system import usable_cpus

        channels = row // max(1, int(shape[1]) * np.dtype(dtype).itemsize)
        tile = TIFF_OUTPUT_TILE[0] * TIFF_OUTPUT_TILE[1] * channels * np.dtype(dtype).itemsize
        return 3 * (waiting + band_rows) * row + 2 * TIFF_TILES_PER_WORKER * usable_cpus() * tile
    return 3 * (waiting + band_rows) * row


class BandWriter:
    """An image file written band by band (see :func:`open_band_writer`).

    Attributes
    ----------
    path : str
        The output.
    shape : tuple of int
        The whole image's shape.
    dtype : str
        Its dtype; every band must be of it.
    format : str
        One of :data:`BAND_FORMATS`.
    rows_written : int
        Rows written so far.
    """

    def __init__(self, path: str, shape: tuple[int, ...], dtype: str, format: str) -> None:
        self.path, self.shape, self.dtype, self.format = path, shape, dtype, format
        self.rows_written = 0
        self._closed = False

    def write_rows(self, band: np.ndarray) -> None:
        """Write the next rows: (n, W) or (n, W, C) of the writer's dtype and width.

        Raises
        ------
        ValueError
            ``band`` is not such an array, or holds more rows than are left.
        ImageWriteError
            The file cannot be written (the OS's or the encoder's reason); the writer is aborted.
        """
        if self._closed:
            raise ValueError("this band writer is committed or aborted; open another")
        if not isinstance(band, np.ndarray):
            raise ValueError(f"`band` must be a numpy array; got {type(band).__name__}")
        want = self.shape[1:]
        if band.ndim != len(self.shape) or tuple(band.shape[1:]) != want:
            raise ValueError(f"`band` must be (n, {', '.join(map(str, want))}) like the image; got {band.shape}")
        if band.dtype.name != self.dtype:
            raise ValueError(f"`band` must be {self.dtype}, the writer's dtype; got {band.dtype.name}: map it first")
        left = self.shape[0] - self.rows_written
        if band.shape[0] > left:
            raise ValueError(f"`band` has {band.shape[0]} rows but only {left} of {self.shape[0]} are left")
        try:
            self._write(np.ascontiguousarray(band))
        except BaseException as exc:
            self.abort()
            if isinstance(exc, OSError):
                raise ImageWriteError(f"cannot write: {_reason(exc)}", path=self.path) from None
            raise
        self.rows_written += band.shape[0]

    def commit(self) -> None:
        """Finish the file and put it at ``path`` (after every row is written).

        Raises
        ------
        ImageWriteError
            Rows are missing, or the file cannot be finished or renamed (the temporary is removed).
        """
        if self._closed:
            raise ValueError("this band writer is committed or aborted; open another")
        if self.rows_written != self.shape[0]:
            self.abort()
            raise ImageWriteError(
                f"only {self.rows_written} of {self.shape[0]} rows were written; nothing was kept", path=self.path
            )
        try:
            self._finish()
        except BaseException as exc:
            self.abort()
            if isinstance(exc, OSError):
                raise ImageWriteError(f"cannot write: {_reason(exc)}", path=self.path) from None
            raise
        self._closed = True

    def abort(self) -> None:
        """Remove the temporary file or folder; ``path`` stays as it was. Harmless when done."""
        if not self._closed:
            self._closed = True
            self._abort()

    def _write(self, band: np.ndarray) -> None:  # pragma: no cover - each writer has its own
        raise NotImplementedError

    def _finish(self) -> None:  # pragma: no cover
        raise NotImplementedError

    def _abort(self) -> None:  # pragma: no cover
        raise NotImplementedError

    def __enter__(self) -> BandWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.abort()  # after a commit, nothing; else (an exception, or no commit) nothing is kept


class _FileWriter(BandWriter):
    """A file written through an :class:`AtomicFile`."""

    def __init__(self, path: str, shape: tuple[int, ...], dtype: str, format: str, no_clobber: bool) -> None:
        super().__init__(path, shape, dtype, format)
        self._target = AtomicFile(path, no_clobber=no_clobber)
        self._file = self._target.file

    def _finish(self) -> None:
        self._target.commit()

    def _abort(self) -> None:
        self._target.abort()


class _NpyWriter(_FileWriter):
    def __init__(self, path: str, shape: tuple[int, ...], dtype: str, no_clobber: bool) -> None:
        super().__init__(path, shape, dtype, "npy", no_clobber)
        header = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False, "shape": shape}
        try:
            np.lib.format.write_array_header_1_0(self._file, header)
        except ValueError:  # a header over 64 KiB (never for 2 or 3 axes): version 2.0, as numpy.save does
            np.lib.format.write_array_header_2_0(self._file, header)

    def _write(self, band: np.ndarray) -> None:
        self._file.write(band.data)


class _PngWriter(_FileWriter):
    def __init__(self, path: str, shape: tuple[int, ...], dtype: str, no_clobber: bool, level: int,
                 filter_type: int | None) -> None:
        from convcli.images.png import PngRowEncoder

        super().__init__(path, shape, dtype, "png", no_clobber)
        self._encoder = PngRowEncoder(_grey(shape), np.dtype(dtype), level, filter_type=filter_type)

    def _write(self, band: np.ndarray) -> None:
        self._file.write(self._encoder.feed(band.reshape(band.shape[0], *_grey(self.shape)[1:])))

    def _abort(self) -> None:
        self._encoder.close()
        super()._abort()


def _grey(shape: tuple[int, ...]) -> tuple[int, ...]:
    """(H, W, 1) is written as grey (H, W), as encode_image writes it."""
    return shape[:2] if len(shape) == 3 and shape[2] == 1 else shape


#: Tiles a deflating thread of a TIFF output has queued at most (tifffile deflates them in batches).
TIFF_TILES_PER_WORKER = 64


def _tile_workers(tile: tuple[int, int], dtype: str) -> dict[str, Any]:
    """tifffile's options for deflating a TIFF output's tiles: a thread per core (its default is
    half the cores; deflating is most of the writing), in batches of :data:`TIFF_TILES_PER_WORKER`
    tiles a thread (its default batch is 512 MB), where tifffile lets the batch be given; else one
    thread. Tiles are deflated one by one, so the bytes do not depend on either."""
    import inspect

    from convcli._libraries import _tifffile
    from convcli._system import usable_cpus

    workers = usable_cpus()
    if workers < 2 or "buffersize" not in inspect.signature(_tifffile().TiffWriter.write).parameters:
        return {"maxworkers": 1}
    tile_bytes = tile[0] * tile[1] * np.dtype(dtype).itemsize
    return {"maxworkers": workers, "buffersize": TIFF_TILES_PER_WORKER * workers * tile_bytes}


class _TiffWriter(_FileWriter):
    """Tiles to tifffile's TiffWriter, which pulls them from an iterator on a thread of its own."""

    _DONE = object()

    def __init__(self, path: str, shape: tuple[int, ...], dtype: str, no_clobber: bool, has_alpha: bool | None,
                 bigtiff: bool | None, tile: tuple[int, int]) -> None:
        from convcli._libraries import _tifffile

        if (not isinstance(tile, tuple) or len(tile) != 2
                or not all(isinstance(n, int) and n >= 16 and n % 16 == 0 for n in tile)):
            raise ValueError(f"`tile` must be two multiples of 16 (rows, columns); got {tile!r}")
        super().__init__(path, shape, dtype, "tiff", no_clobber)
        self._tile = tile
        self._rows: list[np.ndarray] = []  # rows waiting for a whole row of tiles
        self._buffered = 0
        height, width = shape[:2]
        channels = shape[2] if len(shape) == 3 else 1
        if bigtiff is None:
            bigtiff = height * width * channels * np.dtype(dtype).itemsize >= BIGTIFF_FROM
        kwargs: dict[str, Any] = {"metadata": None, "compression": "zlib", "tile": tile, **_tile_workers(tile, dtype)}
        if channels in (3, 4) and has_alpha is not False:
            kwargs.update(photometric="rgb", planarconfig="contig")
        else:
            kwargs.update(photometric="minisblack", planarconfig="contig" if channels > 1 else None)
        if channels in (2, 4) and has_alpha is not False:
            kwargs["extrasamples"] = ["unassalpha"]
        if channels == 4 and has_alpha is False:
            kwargs["photometric"] = "minisblack"
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=4)
        self._error: BaseException | None = None
        try:
            self._tiff = _tifffile().TiffWriter(self._file, bigtiff=bigtiff)
        except BaseException:
            self._target.abort()
            raise
        self._thread = threading.Thread(
            target=self._run, args=(_grey(shape), np.dtype(dtype), kwargs), name="convcli-tiff-writer", daemon=True
        )
        self._thread.start()

    def _tiles(self) -> Iterator[np.ndarray]:
        while True:
            item = self._queue.get()
            if item is self._DONE:
                return
            yield item

    def _run(self, shape: tuple[int, ...], dtype: np.dtype, kwargs: dict[str, Any]) -> None:
        try:
            self._tiff.write(self._tiles(), shape=shape, dtype=dtype, **kwargs)
        except BaseException as exc:  # handed to the writing thread
            self._error = exc
            while True:  # unblock a put waiting on a full queue
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    break

    def _put(self, item: Any) -> None:
        while self._error is None:
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                if not self._thread.is_alive():
                    break
        self._raise()

    def _raise(self) -> None:
        error = self._error
        if error is not None:
            if isinstance(error, OSError):
                raise error
            raise ImageWriteError(f"cannot encode TIFF: {_reason(error)}", path=self.path) from error

    def _write(self, band: np.ndarray) -> None:
        if band.ndim == 3 and band.shape[2] == 1:
            band = band[..., 0]
        self._rows.append(band)
        self._buffered += band.shape[0]
        th = self._tile[0]
        end = self.rows_written + band.shape[0] == self.shape[0]
        while self._buffered >= th or (end and self._buffered):
            rows = np.concatenate(self._rows) if len(self._rows) > 1 else self._rows[0]
            take = min(th, rows.shape[0])
            self._tile_row(rows[:take])
            rest = rows[take:]
            self._rows, self._buffered = ([rest] if len(rest) else []), len(rest)

    def _tile_row(self, rows: np.ndarray) -> None:
        th, tw = self._tile
        width = rows.shape[1]
        for left in range(0, width, tw):
            tile = np.zeros((th, tw, *rows.shape[2:]), rows.dtype)
            part = rows[:, left : left + tw]
            tile[: part.shape[0], : part.shape[1]] = part
            self._put(tile)

    def _finish(self) -> None:
        self._put(self._DONE)
        self._thread.join()
        self._raise()
        self._tiff.close()
        super()._finish()

    def _abort(self) -> None:
        if self._thread.is_alive():
            self._error = self._error or ImageWriteError("aborted", path=self.path)
            while True:  # make room for the end: tiles not yet taken are dropped
                try:
                    self._queue.put_nowait(self._DONE)
                    break
                except queue.Full:
                    try:
                        self._queue.get_nowait()
                    except queue.Empty:
                        pass
            self._thread.join()
        try:
            self._tiff.close()
        except Exception:  # noqa: BLE001 - a half-written file that is removed next
            pass
        super()._abort()


class _ZarrWriter(BandWriter):
    def __init__(self, path: str, shape: tuple[int, ...], dtype: str, no_clobber: bool, zarr_format: int,
                 chunks: tuple[int, ...] | None) -> None:
        from convcli.images.zarr_io import create

        super().__init__(path, shape, dtype, "zarr")
        self._target = AtomicFolder(path, no_clobber=no_clobber)
        try:
            assert self._target.temp_path is not None
            self._array = create(self._target.temp_path, shape=shape, dtype=dtype, zarr_format=zarr_format,
                                 chunks=chunks)
        except BaseException:
            self._target.abort()
            raise
        self._rows: list[np.ndarray] = []  # rows waiting for a whole row of chunks
        self._first = 0  # the image row the first waiting row is

    def _write(self, band: np.ndarray) -> None:
        # Whole rows of chunks only: a band that ends inside a chunk would make zarr read the
        # chunk back and write it again with the next band.
        self._rows.append(band)
        held = self.rows_written + band.shape[0] - self._first
        chunk = int(self._array.chunks[0])
        end = self.rows_written + band.shape[0] == self.shape[0]
        ready = held if end else held // chunk * chunk
        if ready:
            rows = np.concatenate(self._rows) if len(self._rows) > 1 else self._rows[0]
            self._array[self._first : self._first + ready] = rows[:ready]
            rest = rows[ready:].copy()  # not a view of the caller's band, which may be reused
            self._rows, self._first = ([rest] if len(rest) else []), self._first + ready

    def _finish(self) -> None:
        self._target.commit()

    def _abort(self) -> None:
        self._target.abort()


def open_band_writer(
    path: str | os.PathLike[str],
    *,
    shape: tuple[int, ...],
    dtype: str,
    format: str | None = None,
    has_alpha: bool | None = None,
    png_compression: int = DEFAULT_PNG_COMPRESSION,
    png_filter: int | None = None,
    tile: tuple[int, int] = TIFF_OUTPUT_TILE,
    bigtiff: bool | None = None,
    zarr_format: int = 3,
    chunks: tuple[int, ...] | None = None,
    no_clobber: bool = False,
) -> BandWriter:
    """Open an image file to be written band by band, atomically.

    Parameters
    ----------
    path : str or os.PathLike
        The output; its extension names the format unless ``format`` is given.
    shape : tuple of int
        (H, W) or (H, W, C) of the whole image.
    dtype : str
        The output dtype (``"uint8"``, ``"uint16"``, ``"float32"``, ``"float64"``), checked with
        :func:`~convcli.images.check_writable`.
    format : str, optional
        One of :data:`BAND_FORMATS`; None: from ``path``.
    has_alpha : bool, optional
        Whether a 2- or 4-channel image ends in alpha (TIFF tags it so); None: it does.
    png_compression : int, optional
        zlib level of a PNG, 0..9.
    png_filter : int, optional
        PNG filter type for every row (0 None, 1 Sub, 2 Up, 3 Average, 4 Paeth); None: none at
        level 0, else libpng's heuristic on the first band.
    tile : tuple of int, optional
        TIFF tile, rows × columns, multiples of 16.
    bigtiff : bool, optional
        Write BigTIFF; None: when the pixels need it (:data:`BIGTIFF_FROM`).
    zarr_format : int, optional
        2 or 3.
    chunks : tuple of int, optional
        Zarr chunks, one per axis; None: 256 × 256 pixels with every channel.
    no_clobber : bool, optional
        Refuse to replace an existing output.

    Returns
    -------
    BandWriter
        With ``write_rows(band)``, ``commit()`` and ``abort()``; a context manager that removes the
        temporary unless committed.

    Raises
    ------
    ValueError
        A malformed argument, or a format that is not written band by band.
    ImageWriteError
        The format cannot hold the image, or the output cannot be created.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from convcli.images import probe
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     with open_band_writer(pathlib.Path(folder, "out.png"), shape=(4, 3), dtype="uint8") as writer:
    ...         writer.write_rows(np.zeros((3, 3), np.uint8))
    ...         writer.write_rows(np.full((1, 3), 9, np.uint8))
    ...         writer.commit()
    ...     probe(pathlib.Path(folder, "out.png")).shape
    (4, 3)
    """
    try:
        text = os.fsdecode(os.fspath(path))
    except TypeError:
        raise ValueError(f"`path` must be a path; got {type(path).__name__}") from None
    format = format_from_path(text) if format is None else _check_format(format)
    if format not in BAND_FORMATS:
        names = ", ".join(FORMAT_TABLE[name].label for name in BAND_FORMATS)
        raise ValueError(f"`format` {format!r} is not written band by band; use one of {names}")
    try:
        shape = tuple(int(n) for n in shape)
    except (TypeError, ValueError):
        raise ValueError(f"`shape` must be a tuple of ints; got {shape!r}") from None
    if isinstance(png_compression, bool) or png_compression not in range(10):
        raise ValueError(f"`png_compression` must be a zlib level 0..9; got {png_compression!r}")
    if png_filter is not None and (isinstance(png_filter, bool) or png_filter not in range(5)):
        raise ValueError(f"`png_filter` must be a PNG filter type 0..4 or None; got {png_filter!r}")
    try:
        check_writable(format, shape, dtype, has_alpha=has_alpha)
    except ImageWriteError as error:
        raise ImageWriteError(error.message, path=error.path or text) from None
    if format == "npy":
        return _NpyWriter(text, shape, dtype, no_clobber)
    if format == "png":
        return _PngWriter(text, shape, dtype, no_clobber, png_compression, png_filter)
    if format == "tiff":
        return _TiffWriter(text, shape, dtype, no_clobber, has_alpha, bigtiff, tile)
    return _ZarrWriter(text, shape, dtype, no_clobber, zarr_format, chunks)
