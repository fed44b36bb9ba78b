"""The standard streams and the environment's faults, in one place.

- Data on standard output (an image with ``-o -``, the JSON report, tables, help topics) goes
  through :func:`write_data` / :func:`echo_data`: written whole and flushed, or an error. A full
  disk or ``/dev/full`` (any ``OSError``, also a short write of an unbuffered stream, as under
  ``PYTHONUNBUFFERED=1``) is that output's failure: exit 1.
- A closed pipe (the reader went away: ``convcli ... | head``) stops convcli at once, quietly,
  with exit 141 (:data:`CLOSED_PIPE`), as a program killed by SIGPIPE (README, "Reports and exit codes").
- Messages on standard error are best effort (:func:`say`, and :class:`BestEffort` around
  ``sys.stderr`` for click's and rich's own): a closed or full standard error never stops the
  work nor changes the exit code.
- :func:`environment_fault` tells the user's environment (out of memory, a full disk, a
  read-only file system...) from convcli's own bugs: one line and exit 1, never "internal error".
"""

from __future__ import annotations

import errno
import os
import sys
from typing import Any

import click

from ..errors import EnvironmentFault, shown_path

#: The exit code when standard output's reader has gone away: 128 + SIGPIPE.
CLOSED_PIPE = 141

#: errno values that are the environment's doing, not convcli's.
ENVIRONMENT_ERRNOS = frozenset(
    getattr(errno, name) for name in (
        "ENOSPC", "EDQUOT", "EFBIG", "EIO", "EROFS", "EACCES", "EPERM", "ENOMEM", "EMFILE", "ENFILE",
        "EISDIR", "ENOTDIR", "ENOENT", "EBADF", "ENXIO", "ETXTBSY", "EBUSY", "ESTALE", "ENODEV",
    ) if hasattr(errno, name)
)


def stdout_closed() -> bool:
    """True when there is no standard output to write data to (``>&-``)."""
    return closed(sys.stdout)


def is_terminal(stream: Any) -> bool:
    """True when ``stream`` is a terminal (False for a pipe, a file, or a stream closed or without
    ``isatty``)."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or closed
        return False


def closed(stream: Any) -> bool:
    """True when ``stream`` (``sys.stdin``, ``sys.stdout``...) was closed when convcli started."""
    return stream is None or isinstance(stream, ClosedStream)


def _binary_stdout() -> Any:
    stream = sys.stdout
    if stream is None:
        raise EnvironmentFault("cannot write to standard output: it is closed")
    try:
        stream.flush()  # text written before (click.echo) goes first
    except BrokenPipeError:
        raise
    except (OSError, ValueError) as error:
        raise EnvironmentFault(f"cannot write to standard output: {_reason(error)}") from None
    return getattr(stream, "buffer", None) or stream


def write_data(data: bytes) -> None:
    """Write ``data`` to standard output, all of it, and flush.

    Raises
    ------
    BrokenPipeError
        The reader went away (the caller stops: exit :data:`CLOSED_PIPE`).
    EnvironmentFault
        Any other failure: closed, full disk, a short write that makes no progress.
    """
    stream = _binary_stdout()
    view = memoryview(data).cast("B")
    try:
        while view:
            # An unbuffered stream (PYTHONUNBUFFERED=1) is the raw file: write() may take only a part.
            written = stream.write(view)
            if written is None:  # a non-blocking descriptor that cannot take more now
                raise OSError(errno.EAGAIN, os.strerror(errno.EAGAIN))
            if written <= 0:
                raise OSError(errno.EIO, "the write made no progress")
            view = view[written:]
        stream.flush()
    except BrokenPipeError:
        raise
    except (OSError, ValueError) as error:
        raise EnvironmentFault(f"cannot write to standard output: {_reason(error)}") from None


def echo_data(text: str, *, nl: bool = True, color: bool | None = None) -> None:
    """:func:`write_data` for text, with ``click.echo``'s handling of colour (styles removed
    unless colour is on: forced, or standard output is a terminal)."""
    from click.globals import resolve_color_default

    color = resolve_color_default(color)
    if color is None:
        try:
            color = bool(sys.stdout.isatty())
        except (AttributeError, ValueError):
            color = False
    if not color:
        text = click.unstyle(text)
    if nl:
        text += "\n"
    stream = sys.stdout
    encoding = getattr(stream, "encoding", None) or "utf-8"
    write_data(text.encode(encoding, getattr(stream, "errors", None) or "strict"))


def say(line: str) -> None:
    """One message line on standard error, best effort: a closed or failing standard error is
    ignored, so that messages never stop the work."""
    try:
        click.echo(line, err=True)
    except (OSError, ValueError):  # ValueError: the stream was closed
        pass


class BestEffort:
    """A stand-in for ``sys.stderr`` whose writes and flushes never raise, so that click's and
    rich's own messages are best effort too (the work goes on when standard error is gone)."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except (OSError, ValueError):
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except (OSError, ValueError):
            pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def environment_fault(error: BaseException) -> str | None:
    """A one-line message when ``error`` is the environment's doing (memory, disk, file system,
    closed streams); None for anything else (a bug of convcli's)."""
    if isinstance(error, MemoryError):
        detail = " ".join(str(error).split())
        return f"out of memory{': ' + detail if detail else ''}"
    kind = type(error)
    if kind.__module__.split(".")[0] == "cv2" and kind.__name__ == "error":  # OpenCV's, without importing it
        text = str(error)
        if "Insufficient memory" in text or "Failed to allocate" in text or "out of memory" in text.lower():
            return "out of memory (OpenCV could not allocate its buffers)"
    if isinstance(error, OSError) and error.errno in ENVIRONMENT_ERRNOS:
        return _reason(error)
    return None


def _reason(error: BaseException) -> str:
    """An OSError as one line: the file it is about (if any, escaped) and the system's words."""
    if isinstance(error, OSError) and error.strerror:
        where = f"{shown_path(error.filename)}: " if error.filename not in (None, "", "<stdout>", "<stderr>") else ""
        return f"{where}{error.strerror}"
    return " ".join(str(error).split()) or type(error).__name__


class ClosedStream:
    """What stands for a standard stream that was closed when convcli started: not a terminal,
    reading or writing it is an :class:`~convcli.errors.EnvironmentFault` (one line, exit 1)
    rather than Python's ``'NoneType' object has no attribute ...``; messages to a closed standard
    error are dropped."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.encoding, self.errors = "utf-8", "strict"

    @property
    def buffer(self) -> ClosedStream:
        return self

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        if self.name == "stderr":  # messages are best effort
            return 0
        raise EnvironmentFault("cannot read from standard input: it is closed" if self.name == "stdin"
                               else "cannot write to standard output: it is closed")

    read = readline = write = _refuse

    def isatty(self) -> bool:
        return False

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


def reserve_standard_streams() -> None:
    """Note which of standard input, output and error are closed (``<&-``, ``>&-``, ``2>&-``),
    put a :class:`ClosedStream` in their place, and hold their descriptors open on the null
    device, so that no file convcli opens later becomes descriptor 0, 1 or 2 (and a stray
    message lands in an output file)."""
    for fd, name in ((0, "stdin"), (1, "stdout"), (2, "stderr")):
        try:
            os.fstat(fd)
            if getattr(sys, name) is not None:
                continue
        except OSError:
            pass
        setattr(sys, name, ClosedStream(name))
        try:
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
        except OSError:
            pass


def finish_standard_streams(code: int) -> int:
    """Flush standard output and error at the end of a run; the exit code, changed when data
    did not reach standard output. A stream that failed is pointed at the null device, so that
    Python's own flush at exit finds nothing to complain about ("Exception ignored ...", 120)."""
    stdout = sys.stdout
    if not stdout_closed():
        try:
            stdout.flush()
        except BrokenPipeError:
            code = CLOSED_PIPE if code in (0, 1) else code
            _to_null(1)
        except (OSError, ValueError) as error:
            if code == 0:
                say(f"Error: cannot write to standard output: {_reason(error)}")
                code = 1
            _to_null(1)
    stderr = sys.stderr
    if stderr is not None:
        stream = getattr(stderr, "_stream", stderr)
        try:
            stream.flush()
        except (OSError, ValueError):
            _to_null(2)
    return code


def _to_null(fd: int) -> None:
    """Point ``fd`` at the null device and let its Python stream drop what it still holds."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, fd)
        os.close(null)
    except OSError:
        return
    stream = sys.stdout if fd == 1 else sys.stderr
    stream = getattr(stream, "_stream", stream)
    try:
        stream.flush()  # now into the null device
    except (OSError, ValueError):
        pass
