"""What a source holds (:class:`ImageInfo`), what a bytes source is, and the one-line reason a decoder or
the OS failed."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ImageInfo:
    """What a source holds, as :func:`read_image` will return it.

    Parameters
    ----------
    shape : tuple of int
        ``(H, W)`` or ``(H, W, C)``: the shape of the array :func:`read_image` returns.
    dtype : str
        NumPy dtype name of that array (``"uint8"``, ``"uint16"``, ``"float32"``, ...).
    format : str
        One of :data:`FORMATS`, found from the magic bytes.
    has_alpha : bool
        True for 2- and 4-channel image files (grey+alpha, RGBA); never for ``.npy``.
    frames : int
        Frames (GIF, WebP, APNG) or pages (TIFF) in the file; only the first is read.
    notes : tuple of str
        Things worth telling a user, e.g. ``"GIF has 12 frames; the first was used"``.

    Examples
    --------
    >>> info = ImageInfo(shape=(4, 5, 3), dtype="uint8", format="png", has_alpha=False)
    >>> info.frames, info.notes
    (1, ())
    """

    shape: tuple[int, ...]
    dtype: str
    format: str
    has_alpha: bool
    frames: int = 1
    notes: tuple[str, ...] = ()


def _reason(exc: BaseException) -> str:
    """One line saying why a decoder or the OS failed."""
    if isinstance(exc, OSError) and exc.strerror:
        text = exc.strerror
    else:
        text = str(exc)
    text = " ".join(text.split()).rstrip(".")
    if not text:
        text = type(exc).__name__
    if len(text) > 200:
        text = text[:197] + "..."
    return text


def _is_bytes(source: object) -> bool:
    """Whether ``source`` is the bytes of a file (standard input), not a path."""
    return isinstance(source, (bytes, bytearray, memoryview))
