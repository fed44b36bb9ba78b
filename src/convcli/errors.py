"""convcli's exception types: :class:`ConvcliError` and the kinds several modules raise, and did-you-mean.

Kinds that belong to one module live beside it and subclass :class:`ConvcliError` (or ``ValueError``):
``yamlfile.YamlError``, ``pipeline.PipelineError``, ``steps.base.RuleError``. The core raises these
(and plain ``ValueError`` for a bad argument to a public function); the CLI maps them to exit codes.
None of them knows about click.

``str(error)`` is always one line, prefixed with ``path:line:`` when the error belongs to a place in a
file, so the CLI can print it as it is.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "ConvcliError",
    "EnvironmentFault",
    "GeometryError",
    "ImageReadError",
    "ImageWriteError",
    "KernelError",
    "ModelFileError",
    "NonFiniteError",
    "UnknownKernelError",
    "did_you_mean",
    "shown_path",
]


def shown_path(path: str) -> str:
    r"""A file name as every message shows it: as it is, or escaped (``repr`` without the quotes)
    when it holds a newline or another control character, so that a message stays one line.

    Examples
    --------
    >>> print(shown_path("a.png"), shown_path("a\nb.png"))
    a.png a\nb.png
    """
    path = str(path)
    return path if path.isprintable() else repr(path)[1:-1]


def did_you_mean(word: str, choices: Iterable[str], *, n: int = 3) -> str:
    """The suggestion a message about a mistyped ``word`` ends with, or ``""`` when no choice is close.

    Every "did you mean" of convcli (kernel names, choices of the command line) is worded here:
    the closest choices first (``difflib``'s similarity, at least 0.6), quoted, at most ``n``.

    Examples
    --------
    >>> did_you_mean("reflct", ["zero", "reflect", "symmetric"])
    "did you mean 'reflect'?"
    >>> did_you_mean("sobelx", ["sobel-x", "sobel-y", "box3"])
    "did you mean 'sobel-x' or 'sobel-y'?"
    >>> did_you_mean("zzz", ["zero", "reflect"])
    ''
    """
    import difflib  # lazy: only a mistyped word pays for it

    close = [f"{match!r}" for match in difflib.get_close_matches(str(word), list(choices), n=n, cutoff=0.6)]
    if not close:
        return ""
    listed = close[0] if len(close) == 1 else f"{', '.join(close[:-1])} or {close[-1]}"
    return f"did you mean {listed}?"


class ConvcliError(Exception):
    """Base class of every error convcli raises on purpose.

    Parameters
    ----------
    message : str
        What is wrong and, where possible, how to fix it (one line).
    path : str, optional
        The file the error is about.
    line : int, optional
        1-based line in ``path``.
    """

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None) -> None:
        self.message = " ".join(str(message).split())  # always one line
        self.path = None if path is None else str(path)
        self.line = line
        super().__init__(self.__str__())

    def __str__(self) -> str:
        if self.path is None:
            return self.message
        # A file name may hold a newline or other control characters: shown escaped, on one line.
        path = shown_path(self.path)
        where = path if self.line is None else f"{path}:{self.line}"
        return f"{where}: {self.message}"


class KernelError(ConvcliError, ValueError):
    """A kernel spec or kernel file that cannot be used (a usage error: exit 2)."""


class UnknownKernelError(KernelError):
    """A kernel name found in no kernel folder."""


class ModelFileError(ConvcliError, ValueError):
    """A weights or model file that cannot be used: unreadable, hostile (zip bomb, names that climb out
    of the archive, huge declared shapes, code such as a Keras ``Lambda``), a missing key or weight, or
    a layer convcli cannot run (a usage error: exit 2)."""


class GeometryError(ConvcliError, ValueError):
    """Options that give no output for this input (e.g. a `valid` window larger than the image)."""


class ImageReadError(ConvcliError):
    """An input that cannot be read: missing, not an allowed image format, corrupt, too large."""


class ImageWriteError(ConvcliError):
    """An output that cannot be written (format cannot hold the data, folder not writable, ...)."""


class EnvironmentFault(ConvcliError):
    """The user's environment failed convcli: standard output closed or full, out of memory, a
    full disk or a read-only file system (exit 1, never an "internal error")."""


class NonFiniteError(ConvcliError, ValueError):
    """A result that became NaN or inf from finite values: its working dtype overflowed (that input fails)."""
