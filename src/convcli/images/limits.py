"""What convcli refuses to read (:class:`Limits`), and the checks that hold a header to them.

Limits are checked before anything is decoded: the file size from ``fstat`` before the first byte
is read; the side length, the pixel count, the estimated working memory (``Limits.memory``, the
command line's estimate from the plan, or :func:`working_memory`) and the frame count from the
header. Each refusal is an :class:`~convcli.errors.ImageReadError` naming the limit and the option
that raises it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from convcli.errors import ImageReadError
from convcli.images.info import ImageInfo


#: Pillow's hard limit (2 × ``PIL.Image.MAX_IMAGE_PIXELS``): larger images are refused from the header.
DEFAULT_MAX_PIXELS = 178_956_970

#: Largest width or height read by default: the most a 16-bit size field holds (GIF, JPEG), far
#: beyond any camera or scanner; wider strips within the pixel limit are refused (``--max-side``).
DEFAULT_MAX_SIDE = 65_535

#: Most frames (GIF, APNG, WebP) or pages (TIFF) a file may have; they are counted, never decoded.
DEFAULT_MAX_FRAMES = 1_000

#: Largest input file, in bytes (1 GiB), checked with ``fstat`` before anything is read.
DEFAULT_MAX_FILE_SIZE = 1 << 30

#: Largest estimated working memory of one input (16 GiB; see :func:`working_memory`): what an
#: RGBA image at the pixel limit needs, so by default only many-channel arrays are refused here.
DEFAULT_MAX_MEMORY = 16 << 30

#: The working-memory estimate is the float64 image (H × W × C × 8 bytes) times this: the image,
#: its padded copy and the result.
MEMORY_FACTOR = 3


@dataclass(frozen=True)
class Limits:
    """What convcli refuses to read, checked from the header before any pixel is decoded.

    Every number may be None: no limit. The command-line option of each is given in brackets.

    Parameters
    ----------
    max_pixels : int or None
        Most pixels (H × W) [``--max-pixels``]; default 178,956,970, Pillow's hard limit.
    max_side : int or None
        Most pixels on a side (H or W) [``--max-side``]; default 65,535.
    max_frames : int or None
        Most frames or pages in a GIF, APNG, WebP or TIFF [``--max-frames``]; default 1,000.
    max_file_size : int or None
        Largest input, in bytes [``--max-file-size``]; default 1 GiB.
    max_memory : int or None
        Largest working-memory estimate, in bytes [``--max-memory``]; default 16 GiB.
    memory : callable, optional
        ``memory(info)`` → ``(bytes, how)``: the working-memory estimate of an input from its
        header, and how it was made (for the message). The command line estimates the whole run
        from the plan of its steps (:func:`convcli.memory.estimate_memory`); without it, the
        estimate is :func:`working_memory`.
    allow_nonfinite : bool
        Let NaN and inf in floating-point inputs through [``--allow-nonfinite``]; default False.

    Examples
    --------
    >>> Limits().max_side, Limits(max_side=None).max_side
    (65535, None)
    >>> Limits(max_frames=0)
    Traceback (most recent call last):
    ...
    ValueError: max_frames must be a positive integer or None; got 0
    """

    max_pixels: int | None = DEFAULT_MAX_PIXELS
    max_side: int | None = DEFAULT_MAX_SIDE
    max_frames: int | None = DEFAULT_MAX_FRAMES
    max_file_size: int | None = DEFAULT_MAX_FILE_SIZE
    max_memory: int | None = DEFAULT_MAX_MEMORY
    allow_nonfinite: bool = False
    memory: Callable[[ImageInfo], tuple[int, str]] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        for name in ("max_pixels", "max_side", "max_frames", "max_file_size", "max_memory"):
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive integer or None; got {value!r}")
            object.__setattr__(self, name, int(value))
        if not isinstance(self.allow_nonfinite, bool):
            raise ValueError(f"allow_nonfinite must be True or False; got {self.allow_nonfinite!r}")


def working_memory(shape: tuple[int, ...]) -> int:
    """The working memory, in bytes, that convcli budgets for one input of ``shape``.

    ``H × W × C × 8 × MEMORY_FACTOR``: the image as float64 (8 bytes a value), its padded copy
    and the float64 result (``MEMORY_FACTOR`` = 3). C is 1 for an (H, W) image.

    Examples
    --------
    >>> working_memory((1000, 1000, 3))
    72000000
    >>> working_memory((178_956_970, 1)) <= 4 * 2**30  # grey at Pillow's limit: 4 GiB
    True
    """
    count = 1
    for n in shape:
        count *= int(n)
    return count * 8 * MEMORY_FACTOR


def size_text(size: int) -> str:
    """A byte count for messages: ``1 GiB``, ``1.5 GiB``, ``512 bytes``."""
    for unit, name in ((1 << 40, "TiB"), (1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
        if size >= unit:
            value = f"{size / unit:.1f}".removesuffix(".0")
            return f"{value} {name}"
    return f"{size:,} bytes"


def _resolve_limits(limits: Limits | None) -> Limits:
    """``limits``, or the default :class:`Limits`."""
    if limits is None:
        return Limits()
    if not isinstance(limits, Limits):
        raise ValueError(f"limits must be a convcli.images.Limits; got {type(limits).__name__}")
    return limits


def _size_limits(width: int, height: int, limits: Limits, label: str) -> None:
    """The side and pixel limits, from the width and height a header gives."""
    side = limits.max_side
    if side is not None and max(width, height) > side:
        what, n = ("wide", width) if width >= height else ("high", height)
        raise ImageReadError(
            f"{n:,} pixels {what} is over the side limit of {side:,}; raise it with `max_side`", path=label
        )
    most = limits.max_pixels
    if most is not None and width * height > most:
        raise ImageReadError(
            f"{width}×{height} = {width * height:,} pixels is over the limit of {most:,}; raise it with `max_pixels`",
            path=label,
        )


def _frame_limit(frames: int, limits: Limits, label: str, *, exact: bool = True) -> None:
    """The frame limit; ``exact=False`` when counting stopped as soon as it passed the limit."""
    most = limits.max_frames
    if most is not None and frames > most:
        count = f"{frames:,} frames" if exact else f"more than {most:,} frames"
        raise ImageReadError(
            f"has {count}, over the frame limit of {most:,}; raise it with `max_frames`", path=label
        )


def _check_limits(info: ImageInfo, limits: Limits, label: str) -> None:
    """Every limit a header can be held to: side, pixels, working memory, frames."""
    h, w = info.shape[0], info.shape[1]
    _size_limits(w, h, limits, label)
    if limits.max_memory is not None:
        c = info.shape[2] if len(info.shape) == 3 else 1
        if limits.memory is not None:
            need, how = limits.memory(info)
        else:
            need, how = working_memory(info.shape), f"{w}·{h}·{c} values × 8 bytes × {MEMORY_FACTOR}"
        if need > limits.max_memory:
            raise ImageReadError(
                f"{w}×{h}×{c} needs about {size_text(need)} of working memory ({how}), "
                f"over the memory limit of {size_text(limits.max_memory)}; raise it with `max_memory`",
                path=label,
            )
    _frame_limit(info.frames, limits, label)


def _file_size_limit(size: int, limits: Limits, label: str, *, known: bool = True) -> None:
    """The file-size limit; ``known=False`` for standard input, which may have been cut at the limit."""
    most = limits.max_file_size
    if most is not None and size > most:
        shown = size_text(size) + (f" ({size:,} bytes)" if size >= 1024 else "")
        what = f"is {shown}" if known else "is larger than"
        joint = ", over" if known else ""
        raise ImageReadError(
            f"{what}{joint} the file-size limit of {size_text(most)}; raise it with `max_file_size`", path=label
        )


def streamed_limits(limits: Limits) -> Limits:
    """The limits an input read band by band is held to (TIFF by strips or tiles, ``.npy``
    memory-mapped, Zarr): what the whole-image limits guard against — an image too large to hold,
    a side too long for a decoder, a file too large to read — does not apply to an input that is
    never whole, so the pixel, side and file-size limits are dropped and the memory limit applies
    only to the estimate ``limits.memory`` gives (the command line's, from the plan of its bands);
    the whole-image estimate of :func:`working_memory` does not apply. The frame limit stays.

    Examples
    --------
    >>> relaxed = streamed_limits(Limits())
    >>> relaxed.max_pixels, relaxed.max_side, relaxed.max_file_size, relaxed.max_memory, relaxed.max_frames
    (None, None, None, None, 1000)
    """
    from dataclasses import replace

    return replace(limits, max_pixels=None, max_side=None, max_file_size=None,
                   max_memory=limits.max_memory if limits.memory is not None else None)


def _finish(arr: np.ndarray, info: ImageInfo, label: str, limits: Limits) -> np.ndarray:
    """Check the decoded array against the header and make it a fresh, writable, C-ordered array."""
    if tuple(arr.shape) != info.shape or arr.dtype.name != info.dtype:
        raise ImageReadError(
            f"the decoder returned {arr.dtype.name} {tuple(arr.shape)} but the header says "
            f"{info.dtype} {info.shape}; the file may be damaged",
            path=label,
        )
    return _finish_values(arr, label, limits)


def _finish_values(arr: np.ndarray, label: str, limits: Limits) -> np.ndarray:
    """Refuse NaN and inf (unless allowed) and make ``arr`` a fresh-enough, writable, C-ordered,
    native-order array: what :func:`_finish` does after its shape check, also for one band."""
    if arr.dtype.kind == "f" and not limits.allow_nonfinite and not np.isfinite(arr).all():
        raise ImageReadError(
            "holds NaN or inf; convcli needs finite values (`allow_nonfinite` lets them through)", path=label
        )
    if not arr.flags.c_contiguous or not arr.flags.writeable or not arr.dtype.isnative:
        arr = np.array(arr, dtype=arr.dtype.newbyteorder("="), order="C")
    return arr
