"""Writing PNG: convcli's own encoder, for grey, grey+alpha, RGB and RGBA of 8 or 16 bits.

One row filter for the whole image (libpng's heuristic), then zlib: the filtered rows are cut into
bands of fixed size, deflated by a thread pool and joined into one deflate stream, so that the same
array gives the same bytes on every machine.
"""

from __future__ import annotations

import struct
import zlib
from typing import Any, NamedTuple

import numpy as np

from convcli._system import usable_cpus


#: Filtered bytes per band: each band is deflated on its own, by a thread of its own. Fixed, never
#: derived from the machine (its CPU count), so that an array gives the same bytes everywhere.
_PNG_BAND_BYTES = 1 << 20

#: Rows (evenly spaced) on which the filter heuristic is evaluated.
_PNG_SAMPLE_ROWS = 64

#: Elements per block in which rows are filtered: Paeth's temporaries then stay in the CPU cache.
_PNG_FILTER_BLOCK = 1 << 15

#: Largest chunk payload PNG allows.
_PNG_MAX_CHUNK = 2**31 - 1

#: The five PNG filter types, by their number; on a tie the heuristic takes the first.
_PNG_FILTERS = ("none", "sub", "up", "average", "paeth")

#: PNG colour type by channel count: grey, grey+alpha, RGB, RGBA.
_PNG_COLOUR_TYPES = {1: 0, 2: 4, 3: 2, 4: 6}


def _png_filter(raw: np.ndarray, up: np.ndarray, kind: int, bpp: int, out: np.ndarray) -> None:
    """Apply PNG filter ``kind`` (0..4) to rows of bytes, block by block.

    Parameters
    ----------
    raw : numpy.ndarray
        (n, stride) uint8: the rows, as stored in the file (16-bit samples big-endian).
    up : numpy.ndarray
        (n, stride) uint8: the row above each (zeros above the first row of the image).
    kind : int
        0 None, 1 Sub, 2 Up, 3 Average, 4 Paeth.
    bpp : int
        Bytes per complete pixel: the distance to the "left" byte.
    out : numpy.ndarray
        (n, stride) uint8, written: the filtered bytes (without the filter-type byte).
    """
    n, stride = raw.shape
    step = max(1, _PNG_FILTER_BLOCK // max(stride, 1))
    for r in range(0, n, step):
        _png_filter_block(raw[r : r + step], up[r : r + step], kind, bpp, out[r : r + step])


def _png_filter_block(raw: np.ndarray, up: np.ndarray, kind: int, bpp: int, out: np.ndarray) -> None:
    """:func:`_png_filter` on one block. Arithmetic is on uint8, so modulo 256 as PNG defines it;
    every predictor reads unfiltered bytes only (left, above, above-left), so whole blocks are
    filtered at once."""
    if kind == 0:
        out[...] = raw
    elif kind == 1:  # Sub: raw(x) - raw(x - bpp)
        out[:, :bpp] = raw[:, :bpp]
        np.subtract(raw[:, bpp:], raw[:, :-bpp], out=out[:, bpp:])
    elif kind == 2:  # Up: raw(x) - prior(x)
        np.subtract(raw, up, out=out)
    elif kind == 3:  # Average: raw(x) - floor((raw(x - bpp) + prior(x)) / 2)
        a, b = raw[:, :-bpp], up[:, bpp:]
        mean = a >> 1
        mean += b >> 1
        mean += a & b & 1  # the halves' lost bits: no 9-bit sum needed
        np.subtract(raw[:, bpp:], mean, out=out[:, bpp:])
        np.subtract(raw[:, :bpp], up[:, :bpp] >> 1, out=out[:, :bpp])
    else:  # Paeth: the one of left a, above b, above-left c nearest to a + b - c (a, b, c on a tie)
        a, b, c = raw[:, :-bpp], up[:, bpp:], up[:, :-bpp]
        c16 = c.astype(np.int16)
        pa = b.astype(np.int16)
        pa -= c16  # p - a = b - c
        pb = a.astype(np.int16)
        pb -= c16  # p - b = a - c
        pc = pa + pb  # p - c
        np.abs(pa, out=pa)
        np.abs(pb, out=pb)
        np.abs(pc, out=pc)
        take_a = pa <= pb
        take_a &= pa <= pc
        take_b = pb <= pc
        take_b &= ~take_a
        # prediction = c + (a - c)·take_a + (b - c)·take_b, modulo 256 (no slow numpy.where)
        pred = a - c
        pred *= take_a
        other = b - c
        other *= take_b
        pred += other
        pred += c
        np.subtract(raw[:, bpp:], pred, out=out[:, bpp:])
        np.subtract(raw[:, :bpp], up[:, :bpp], out=out[:, :bpp])  # no left pixel: Paeth is Up


def _png_rows(block: np.ndarray, stride: int) -> np.ndarray:
    """Pixel rows as the (n, stride) bytes PNG stores: 16-bit samples big-endian."""
    if block.dtype.itemsize == 2:
        block = block.astype(">u2", copy=False)
    return block.view(np.uint8).reshape(block.shape[0], stride)


def _png_choose_filter(arr: np.ndarray, stride: int, bpp: int) -> int:
    """libpng's heuristic, once per image: the filter whose output, as signed bytes, has the
    smallest sum of absolute values over up to :data:`_PNG_SAMPLE_ROWS` evenly spaced rows."""
    h = arr.shape[0]
    n = min(h, _PNG_SAMPLE_ROWS)
    idx = np.arange(n) * (h - 1) // max(n - 1, 1)
    raw = _png_rows(arr[idx], stride)
    up = _png_rows(arr[np.maximum(idx - 1, 0)], stride).copy()
    up[idx == 0] = 0
    out = np.empty_like(raw)
    best, best_sum = 0, -1
    for kind in range(len(_PNG_FILTERS)):
        _png_filter(raw, up, kind, bpp, out)
        total = int(np.abs(out.view(np.int8), dtype=np.int16).sum(dtype=np.int64))
        if best_sum < 0 or total < best_sum:
            best, best_sum = kind, total
    return best


def _adler32_combine(adler1: int, adler2: int, len2: int) -> int:
    """Adler-32 of A + B from those of A and of B (``len2`` bytes), as zlib's ``adler32_combine``.

    Adler-32 is (b << 16) | a with a = 1 + Σ bytes and b = Σ of the running a, modulo 65521: B's
    bytes add to A's a, and each of B's ``len2`` running values grows by A's a - 1.
    """
    base = 65521
    a1, b1 = adler1 & 0xFFFF, adler1 >> 16
    a2, b2 = adler2 & 0xFFFF, adler2 >> 16
    a = (a1 + a2 - 1) % base
    b = (b1 + b2 + len2 * (a1 - 1)) % base
    return (b << 16) | a


def _zlib_header(level: int, strategy: int) -> bytes:
    """The two bytes zlib's ``deflate`` writes first: 32 KiB window, its level flag, check bits."""
    if strategy in (zlib.Z_HUFFMAN_ONLY, zlib.Z_RLE) or level < 2:
        flag = 0
    else:
        flag = 1 if level < 6 else 2 if level == 6 else 3
    header = (0x78 << 8) | (flag << 6)
    header += 31 - header % 31
    return struct.pack(">H", header)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(data, zlib.crc32(kind)))


def _png_encode(
    arr: np.ndarray,
    level: int = 6,
    *,
    filter_type: int | None = None,
    workers: int | None = None,
    band_bytes: int = _PNG_BAND_BYTES,
) -> bytes:
    """A PNG of grey, grey+alpha, RGB or RGBA, 8 or 16 bits, deflated by several threads.

    One filter type for all rows, chosen by :func:`_png_choose_filter` (None at ``level`` 0).
    The rows are cut into bands of about ``band_bytes`` filtered bytes (whole rows). This thread
    filters band after band (NumPy calls on cache-sized blocks, which would only contend for the
    GIL if threads shared them) while a thread pool raw-deflates the bands already filtered (zlib
    releases the GIL) and takes their Adler-32 and CRC-32. Each band but the last ends with a
    sync flush (byte-aligned, not final), so the bands concatenate into one deflate stream; it
    gets the zlib header and the Adler-32 of all filtered bytes (combined from the bands'), and
    each band goes into an IDAT chunk of its own. zlib strategy: run-length (``Z_RLE``, what
    OpenCV uses by default: fast, and on filtered images smaller than the default strategy at
    level 1) at level 1; the default strategy at levels 2..9; stored blocks at level 0. The bands
    do not depend on ``workers``, so neither do the bytes.

    Parameters
    ----------
    arr : numpy.ndarray
        (H, W) or (H, W, C), C in 1..4, of uint8 or uint16.
    level : int, optional
        zlib level 0..9.
    filter_type : int, optional
        Force a filter type (0 None, 1 Sub, 2 Up, 3 Average, 4 Paeth); None: the heuristic's.
    workers : int, optional
        Threads; None: one per CPU core this process may use (never more than the bands).
    band_bytes : int, optional
        Filtered bytes per band (at least one row).

    Returns
    -------
    bytes
        The PNG file.
    """
    arr = np.ascontiguousarray(arr)
    h = arr.shape[0]
    layout = _png_layout(arr.shape, arr.dtype, level)
    stride = layout.stride
    if filter_type is None:
        filter_type = 0 if level == 0 else _png_choose_filter(arr, stride, layout.bpp)
    per_band = max(1, band_bytes // (stride + 1))
    bounds = [(r, min(r + per_band, h)) for r in range(0, h, per_band)]
    last = len(bounds) - 1

    def filtered(i: int) -> np.ndarray:
        r0, r1 = bounds[i]
        above = _png_rows(arr[r0 - 1 : r0], stride)[0] if r0 else None
        return _png_filter_band(_png_rows(arr[r0:r1], stride), above, filter_type, layout.bpp)

    def deflated(i: int, buf: np.ndarray) -> tuple[bytes, int, int]:
        return _png_deflate_band(buf, layout, first=i == 0, last=i == last)

    threads = max(1, min(usable_cpus() if workers is None else workers, len(bounds)))
    if threads == 1:
        results = [deflated(i, filtered(i)) for i in range(len(bounds))]
    else:
        from concurrent.futures import ThreadPoolExecutor

        # This thread filters (many short NumPy calls, which contend for the GIL when threads
        # share them) while the pool deflates (zlib releases the GIL); at most 2 bands per thread wait.
        with ThreadPoolExecutor(max_workers=threads) as pool:
            futures = []
            for i in range(len(bounds)):
                if i >= 2 * threads:
                    futures[i - 2 * threads].result()
                futures.append(pool.submit(deflated, i, filtered(i)))
            results = [future.result() for future in futures]
    adler = 1
    for (r0, r1), (_, _, band_adler) in zip(bounds, results):
        adler = _adler32_combine(adler, band_adler, (r1 - r0) * (stride + 1))
    parts = [_png_start(layout)]
    for i, (data, crc, _) in enumerate(results):
        parts += _png_idat(data, crc, layout, first=i == 0, adler=adler if i == last else None)
    parts.append(_png_end())
    return b"".join(parts)


class _PngLayout(NamedTuple):
    """What the bytes of a PNG depend on besides its rows."""

    height: int
    width: int
    channels: int
    depth: int
    bpp: int
    stride: int
    level: int
    strategy: int
    header: bytes


def _png_layout(shape: tuple[int, ...], dtype: np.dtype, level: int) -> _PngLayout:
    """Sample depth, bytes per pixel and per row, and the zlib strategy and header of a PNG."""
    h, w = int(shape[0]), int(shape[1])
    channels = int(shape[2]) if len(shape) == 3 else 1
    depth = 16 if np.dtype(dtype).itemsize == 2 else 8
    bpp = channels * depth // 8
    strategy = zlib.Z_RLE if level == 1 else zlib.Z_DEFAULT_STRATEGY
    return _PngLayout(h, w, channels, depth, bpp, w * bpp, level, strategy, _zlib_header(level, strategy))


def _png_filter_band(raw: np.ndarray, above: np.ndarray | None, filter_type: int, bpp: int) -> np.ndarray:
    """Rows of bytes (n, stride) filtered, each behind its filter-type byte: (n, stride + 1).
    ``above`` is the row before the first (None: the image's first row, zeros above)."""
    up = np.empty_like(raw)
    up[0] = 0 if above is None else above
    up[1:] = raw[:-1]
    buf = np.empty((raw.shape[0], raw.shape[1] + 1), np.uint8)
    buf[:, 0] = filter_type
    _png_filter(raw, up, filter_type, bpp, buf[:, 1:])
    return buf


def _png_deflate_band(buf: np.ndarray, layout: _PngLayout, *, first: bool, last: bool) -> tuple[bytes, int, int]:
    """A band of filtered rows raw-deflated on its own (sync flush, or the final block), the CRC-32
    of its IDAT chunk so far (type, the zlib header if first, the data) and its Adler-32."""
    deflate = zlib.compressobj(layout.level, zlib.DEFLATED, -15, 9, layout.strategy)
    data = deflate.compress(buf) + deflate.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH)
    crc = zlib.crc32(data, zlib.crc32(b"IDAT" + (layout.header if first else b"")))
    return data, crc, zlib.adler32(buf)


def _png_start(layout: _PngLayout) -> bytes:
    """The signature and the IHDR chunk."""
    ihdr = struct.pack(">IIBBBBB", layout.width, layout.height, layout.depth, _PNG_COLOUR_TYPES[layout.channels], 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr)


def _png_idat(data: bytes, crc: int, layout: _PngLayout, *, first: bool, adler: int | None) -> list[bytes]:
    """The IDAT chunk of a band (the zlib header before the first, the Adler-32 of all filtered
    bytes, ``adler``, after the last)."""
    head = layout.header if first else b""
    tail = b"" if adler is None else struct.pack(">I", adler)
    size = len(head) + len(data) + len(tail)
    if size <= _PNG_MAX_CHUNK:
        return [struct.pack(">I", size), b"IDAT", head, data, tail, struct.pack(">I", zlib.crc32(tail, crc))]
    payload = head + data + tail  # only a band of one enormous row gets here
    return [_png_chunk(b"IDAT", payload[k : k + _PNG_MAX_CHUNK]) for k in range(0, size, _PNG_MAX_CHUNK)]


def _png_end() -> bytes:
    return _png_chunk(b"IEND", b"")


class PngRowEncoder:
    """convcli's PNG encoder fed rows in order: the same bytes as :func:`_png_encode` of the whole
    image for the same level and filter type, holding a few bands of about ``band_bytes`` filtered
    bytes (and the rows fed) at a time.

    ``feed(rows)`` returns the bytes of the file that are complete (the signature and IHDR with the
    first rows, then the IDAT chunks of the bands deflated so far, in order); the call that feeds
    the last row returns all the rest. With ``filter_type`` None the filter is libpng's heuristic
    on the first rows fed (the whole-image encoder's looks at rows of the whole image). As the
    whole-image encoder, this thread filters while ``workers`` threads (default: one per usable
    core) deflate the bands filtered so far (zlib releases the GIL), at most two per thread
    waiting; the bands, so the bytes, do not depend on ``workers``. :meth:`close` stops the threads
    of an encoder left unfinished.
    """

    def __init__(self, shape: tuple[int, ...], dtype: np.dtype, level: int = 6, *,
                 filter_type: int | None = None, band_bytes: int = _PNG_BAND_BYTES, workers: int | None = None) -> None:
        self.layout = _png_layout(shape, dtype, level)
        self.filter_type = 0 if level == 0 and filter_type is None else filter_type
        self._per_band = max(1, band_bytes // (self.layout.stride + 1))
        self._pending: list[np.ndarray] = []
        self._pending_rows = 0
        self._above: np.ndarray | None = None
        self._done = 0  # rows filtered (and handed to be deflated)
        self._adler = 1
        bands = -(-self.layout.height // self._per_band)
        self._threads = max(1, min(usable_cpus() if workers is None else workers, bands))
        self._pool: Any = None
        self._deflating: list[tuple[Any, int, bool, bool]] = []  # (future or result, filtered bytes, first, last)

    def feed(self, rows: np.ndarray) -> bytes:
        """Rows (n, W[, C]) of the PNG's dtype, next in order; the bytes now complete."""
        layout = self.layout
        out = [_png_start(layout)] if self._done == 0 and self._pending_rows == 0 and len(rows) else []
        if self.filter_type is None and len(rows):
            self.filter_type = _png_choose_filter(np.ascontiguousarray(rows), layout.stride, layout.bpp)
        raw = _png_rows(np.ascontiguousarray(rows), layout.stride)
        start = 0
        while start < len(raw):
            take = min(self._per_band - self._pending_rows, len(raw) - start)
            self._pending.append(raw[start : start + take])
            self._pending_rows += take
            start += take
            if self._pending_rows == self._per_band or self._done + self._pending_rows == layout.height:
                self._flush()
                out += self._collect(wait=self._done == layout.height)
        return b"".join(out)

    def _flush(self) -> None:
        """Filter the pending rows as one band and hand it to be deflated."""
        layout = self.layout
        band = np.concatenate(self._pending) if len(self._pending) > 1 else self._pending[0]
        assert self.filter_type is not None
        buf = _png_filter_band(band, self._above, self.filter_type, layout.bpp)
        self._above = band[-1].copy()
        first = self._done == 0
        self._done += len(band)
        last = self._done == layout.height
        self._pending, self._pending_rows = [], 0
        if self._threads == 1:
            done: Any = _png_deflate_band(buf, layout, first=first, last=last)
        else:
            if self._pool is None:
                from concurrent.futures import ThreadPoolExecutor

                self._pool = ThreadPoolExecutor(max_workers=self._threads, thread_name_prefix="convcli-png")
            done = self._pool.submit(_png_deflate_band, buf, layout, first=first, last=last)
        self._deflating.append((done, buf.size, first, last))

    def _collect(self, *, wait: bool) -> list[bytes]:
        """The IDAT chunks of the bands deflated, in order: those done, and more while too many wait
        (all of them with ``wait``)."""
        parts: list[bytes] = []
        while self._deflating:
            done, size, first, last = self._deflating[0]
            ready = not hasattr(done, "result") or done.done()
            if not (ready or wait or len(self._deflating) > 2 * self._threads):
                break
            data, crc, band_adler = done.result() if hasattr(done, "result") else done
            self._deflating.pop(0)
            self._adler = _adler32_combine(self._adler, band_adler, size)
            parts += _png_idat(data, crc, self.layout, first=first, adler=self._adler if last else None)
            if last:
                parts.append(_png_end())
                self.close()
        return parts

    def close(self) -> None:
        """Stop the deflating threads (harmless when finished)."""
        if self._pool is not None:
            pool, self._pool = self._pool, None
            pool.shutdown(wait=True, cancel_futures=True)
