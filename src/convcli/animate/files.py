"""Writing an animation: an animated GIF (Pillow) or a folder of PNG frames, each complete or not
there at all (docs/animate.md).

A GIF holds at most 256 colours. The frames' colours are counted over all frames; when there are
more (the font's anti-aliased edges), the 256 most frequent are kept, which are the cell fills,
outlines and lines, so those stay exact, and every other pixel takes the nearest kept colour.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import tempfile
from collections.abc import Sequence

import numpy as np

__all__ = ["FRAME_NAME", "gif_bytes", "write_frames", "write_gif"]

#: The name of frame k in a folder of frames.
FRAME_NAME = "frame_{:03d}.png"
_FRAME_PATTERN = re.compile(r"frame_\d{3,}\.png\Z")
_PALETTE = 256


def _check_frames(frames: Sequence[np.ndarray]) -> list[np.ndarray]:
    arrays = [np.asarray(frame) for frame in frames]
    if not arrays:
        raise ValueError("`frames` is empty: an animation needs at least one frame")
    shape = arrays[0].shape
    for array in arrays:
        if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3 or array.shape != shape:
            raise ValueError(f"`frames` must be (H, W, 3) uint8 arrays of one shape, got {array.dtype} {array.shape}")
    return arrays


def _palette(arrays: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
    """A palette of at most 256 colours, and each frame as indices into it."""
    stacked = np.stack(arrays).reshape(-1, 3)
    colours, inverse, counts = np.unique(stacked, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    if len(colours) <= _PALETTE:
        palette, lookup = colours, np.arange(len(colours))
    else:
        palette = colours[np.argsort(-counts, kind="stable")[:_PALETTE]]
        distance = ((colours[:, None, :].astype(np.int32) - palette[None, :, :].astype(np.int32)) ** 2).sum(axis=2)
        lookup = distance.argmin(axis=1)
    indices = lookup[inverse].astype(np.uint8).reshape(len(arrays), *arrays[0].shape[:2])
    return palette.astype(np.uint8), list(indices)


def gif_bytes(frames: Sequence[np.ndarray], *, duration: int = 700) -> bytes:
    """The bytes of an animated GIF of ``frames`` ((H, W, 3) uint8), ``duration`` ms each, looping.

    Examples
    --------
    >>> from PIL import Image, ImageSequence
    >>> frames = [np.full((4, 4, 3), v, np.uint8) for v in (0, 255)]
    >>> gif = Image.open(io.BytesIO(gif_bytes(frames, duration=100)))
    >>> [int(np.asarray(f.convert("RGB"))[0, 0, 0]) for f in ImageSequence.Iterator(gif)]
    [0, 255]
    """
    from PIL import Image

    arrays = _check_frames(frames)
    if isinstance(duration, bool) or not isinstance(duration, int | np.integer) or duration < 10:
        raise ValueError(f"`duration` must be a whole number of milliseconds >= 10, got {duration!r}")
    palette, indices = _palette(arrays)
    flat_palette = palette.reshape(-1).tolist()
    images = []
    for index in indices:
        image = Image.fromarray(index, mode="P")
        image.putpalette(flat_palette)
        images.append(image)
    buffer = io.BytesIO()
    # optimize=False keeps the palette as given; disposal 1 leaves each frame for the next to draw on.
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:], duration=int(duration),
                   loop=0, disposal=1, optimize=False)
    return buffer.getvalue()


def write_gif(frames: Sequence[np.ndarray], path: str, *, duration: int = 700, no_clobber: bool = False) -> None:
    """Write ``frames`` as an animated GIF at ``path``, atomically (:func:`convcli.images.atomic.write_atomic`).

    Examples
    --------
    >>> import pathlib
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     write_gif([np.zeros((4, 4, 3), np.uint8)], os.path.join(folder, "a.gif"))
    ...     sorted(os.listdir(folder))
    ['a.gif']
    """
    from ..images.atomic import write_atomic

    write_atomic(path, gif_bytes(frames, duration=duration), no_clobber=no_clobber)


def write_frames(frames: Sequence[np.ndarray], folder: str) -> None:
    """Write ``frames`` as ``frame_000.png``, ``frame_001.png``, ... in ``folder``, all or nothing.

    They are written into a new folder beside it, which then takes its place: ``folder`` must be
    new, empty, or hold only frames (an earlier animation's, replaced whole).

    Raises
    ------
    ImageWriteError
        ``folder`` holds other files, its parent does not exist, or the OS refused (its reason).

    Examples
    --------
    >>> with tempfile.TemporaryDirectory() as parent:
    ...     write_frames([np.zeros((4, 4, 3), np.uint8)] * 2, os.path.join(parent, "frames"))
    ...     sorted(os.listdir(os.path.join(parent, "frames")))
    ['frame_000.png', 'frame_001.png']
    """
    from ..errors import ImageWriteError
    from ..images.atomic import _umask
    from ..images.encode import encode_image
    from ..images.info import _reason

    arrays = _check_frames(frames)
    target = os.path.abspath(os.fsdecode(os.fspath(folder)))
    parent, name = os.path.split(target)
    if not os.path.isdir(parent):
        raise ImageWriteError(f"folder {parent!r} does not exist", path=folder)
    if os.path.lexists(target):
        if not os.path.isdir(target) or os.path.islink(target):
            raise ImageWriteError("is not a folder; give a new or empty folder for the frames", path=folder)
        others = [entry for entry in os.listdir(target) if not _FRAME_PATTERN.match(entry)]
        if others:
            raise ImageWriteError(f"holds other files ({others[0]}, ...); give a new or empty folder for the frames",
                                  path=folder)
    staging = old = None
    try:
        staging = tempfile.mkdtemp(dir=parent, prefix=f".{name}.", suffix=".tmp")
        for k, array in enumerate(arrays):
            with open(os.path.join(staging, FRAME_NAME.format(k)), "wb") as stream:
                stream.write(encode_image(array, format="png"))
        os.chmod(staging, 0o777 & ~_umask())
        if os.path.lexists(target):
            old = tempfile.mkdtemp(dir=parent, prefix=f".{name}.old.", suffix=".tmp")
            os.replace(target, old)  # an empty folder is replaced by rename(2)
        os.replace(staging, target)
        staging = None
    except OSError as exc:
        if old is not None and not os.path.lexists(target):
            os.replace(old, target)  # put the earlier frames back
            old = None
        raise ImageWriteError(f"cannot write: {_reason(exc)}", path=folder) from None
    finally:
        for leftover in (staging, old):
            if leftover is not None:
                shutil.rmtree(leftover, ignore_errors=True)
