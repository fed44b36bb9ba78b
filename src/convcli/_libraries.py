"""The image libraries convcli calls, each imported lazily (on first use) and made quiet.

Pillow, OpenCV and tifffile are loaded here, inside functions, so that ``convcli --help`` never
pays for them; each comes with a scope in which it says nothing of its own on the terminal
(convcli words every failure itself).
"""

from __future__ import annotations

import functools
import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


class _Scoped:
    """Hold a process-wide setting at ``value`` while any caller is inside; restore it after the last."""

    def __init__(self, get: Callable[[], Any], set_: Callable[[Any], Any], value: Any) -> None:
        self._get, self._set, self._value = get, set_, value
        self._lock = threading.Lock()
        self._depth = 0
        self._saved: Any = None

    def __enter__(self) -> None:
        with self._lock:
            if self._depth == 0:
                self._saved = self._get()
                self._set(self._value)
            self._depth += 1

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._depth -= 1
            if self._depth == 0:
                self._set(self._saved)


@functools.cache
def _pil() -> Any:
    """PIL.Image, plus a scope in which Pillow's own pixel limit is off (convcli applies its own)."""
    from PIL import Image

    def setter(value: Any) -> None:
        Image.MAX_IMAGE_PIXELS = value

    return Image, _Scoped(lambda: Image.MAX_IMAGE_PIXELS, setter, None)


def opencv_imported() -> bool:
    """OpenCV is imported already, its cost paid: then it decodes and filters whatever the size
    (where NumPy or Pillow would give the same result, they are preferred only to spare the import).

    Examples
    --------
    >>> import cv2
    >>> opencv_imported()
    True
    """
    return "cv2" in sys.modules


@functools.cache
def _cv2() -> Any:
    """cv2, plus a scope in which OpenCV logs nothing to the terminal."""
    import cv2

    # OpenCV 4.x has the log level at the top (4.8: only there), 5.x only in cv2.utils.logging;
    # 0 is LOG_LEVEL_SILENT in both.
    logging = getattr(getattr(cv2, "utils", None), "logging", cv2)
    return cv2, _Scoped(logging.getLogLevel, logging.setLogLevel, 0)


@functools.cache
def _tifffile() -> Any:
    """tifffile, with a NullHandler so its warnings never reach the terminal unless logging is set up."""
    import logging

    import tifffile

    logger = logging.getLogger("tifffile")
    if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
        logger.addHandler(logging.NullHandler())
    return tifffile


@contextmanager
def _c_stderr_silenced() -> Iterator[None]:
    """libpng and libtiff report damage with lines of their own on file descriptor 2; convcli says
    it in one line of its own, so that descriptor points at /dev/null while a file is decoded."""
    try:
        saved = os.dup(2)
    except OSError:  # no standard error at all: nothing to silence
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
