"""Kernels: the :class:`Kernel` type, the built-in library, and every way of naming a kernel (DESIGN §7).

A kernel spec is resolved in this order:

1. a file path ending in ``.yaml``/``.yml``, ``.npy``, ``.txt`` or ``.csv``;
2. an inline matrix: ``"1 0 -1; 2 0 -2; 1 0 -1"`` (rows split by ``;`` or newlines, values by whitespace
   and/or commas) or ``"[[1,0,-1],[2,0,-2],[1,0,-1]]"``; any text starting with a digit, ``-``, ``+``,
   ``.`` or ``[``; a single row (``"1 2 3"``, ``"[1, 2, 3]"``) is a 1×N kernel;
3. a parametric kernel: ``gaussian:sigma=S[,size=N]``, ``box:N`` or ``box:RxC``,
   ``log:sigma=S[,size=N]``, ``dog:sigma1=A,sigma2=B[,size=N]``, ``disk:radius=R``;
4. a NAME (``[a-z0-9][a-z0-9._-]*``) looked up as ``NAME.yaml`` in each folder of the search path, the
   built-in library last.

Every matrix is checked the same way, whatever its form: 2-D, non-empty, rectangular, real numbers
(booleans are not numbers), finite, at most 1025 per side and 1,000,000 values. Problems raise
:class:`~convcli.errors.KernelError` (one line, with ``path:line`` for files).
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from convcli import strictyaml
from convcli.errors import KernelError, UnknownKernelError, did_you_mean

__all__ = [
    "FILE_EXTENSIONS",
    "MAX_ELEMENTS",
    "MAX_SIDE",
    "Kernel",
    "builtin_kernel_dir",
    "kernel_search_path",
    "list_kernels",
    "search_path_problems",
    "load_kernel",
    "survey_kernels",
    "parse_kernel_yaml",
]

MAX_SIDE = 1025
MAX_ELEMENTS = 1_000_000
FILE_EXTENSIONS = (".yaml", ".yml", ".npy", ".txt", ".csv")
_TEXT_FILE_LIMIT = 32 * 1024 * 1024  # a 1025×1025 matrix as text fits easily

_NAME_RE = re.compile(r"[a-z0-9][a-z0-9._-]*\Z")
_NUMBER_RE = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?\Z")
_NONFINITE_RE = re.compile(r"[-+]?\.?(?:nan|inf|infinity)\Z", re.IGNORECASE)
_INLINE_START = tuple("0123456789-+.[")
_PARAMETRIC = ("gaussian", "box", "log", "dog", "disk")
_YAML_KEYS = ("description", "matrix", "name", "normalize", "scale", "tags")
_FORMS = (
    "give a kernel name (see `convcli kernels list`), a .yaml/.yml/.npy/.txt/.csv file, an inline matrix "
    "like '1 0 -1; 2 0 -2; 1 0 -1' or '[[1, 0, -1]]', or a parametric kernel like gaussian:sigma=1.5, "
    "box:5, box:3x5, log:sigma=1.4, dog:sigma1=1,sigma2=2 or disk:radius=3"
)


# --------------------------------------------------------------------------------------------------
# The Kernel type


#: The ``Kernel.source`` values that are no file.
_NOT_FILES = ("", "built-in", "inline", "parametric", "array")


@dataclass(frozen=True)
class Kernel:
    """A named 2-D convolution kernel.

    Parameters
    ----------
    name : str
        Used in output names and reports: ``"sobel-x"``, ``"gaussian:sigma=1.5"``, ``"inline"``.
    matrix : array_like
        2-D real numbers; stored as a read-only float64 copy. Must be non-empty, finite, at most 1025 per
        side and 1,000,000 values.
    description : str, optional
        One line saying what the kernel does.
    tags : tuple of str, optional
        Free-form labels (``("edge", "gradient")``).
    source : str, optional
        Where it came from: ``"built-in"``, a file path, ``"inline"``, ``"parametric"``, ``"array"``.

    Raises
    ------
    KernelError
        If the matrix is not a usable kernel.

    Examples
    --------
    >>> k = Kernel("sobel-x", [[1, 0, -1], [2, 0, -2], [1, 0, -1]])
    >>> k.shape, k.total, k.separable
    ((3, 3), 0.0, True)
    >>> Kernel("gaussian:sigma=1.5", [[1.0]]).slug()
    'gaussian-sigma=1.5'
    """

    name: str
    matrix: np.ndarray
    description: str = ""
    tags: tuple[str, ...] = ()
    source: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"name must be a non-empty str, got {self.name!r}")
        if not isinstance(self.description, str):
            raise ValueError(f"description must be a str, got {type(self.description).__name__}")
        if not isinstance(self.source, str):
            raise ValueError(f"source must be a str, got {type(self.source).__name__}")
        if isinstance(self.tags, str) or not all(isinstance(t, str) for t in self.tags):
            raise ValueError(f"tags must be a sequence of str, e.g. ('edge',), got {self.tags!r}")
        matrix = _to_matrix(self.matrix, prefix=f"kernel {self.name!r}: ")
        matrix.setflags(write=False)
        # frozen dataclass: object.__setattr__ is the documented way to normalise fields in __post_init__
        object.__setattr__(self, "matrix", matrix)
        object.__setattr__(self, "tags", tuple(self.tags))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Kernel):
            return NotImplemented
        return (
            (self.name, self.description, self.tags, self.source)
            == (other.name, other.description, other.tags, other.source)
            and np.array_equal(self.matrix, other.matrix)
        )

    def __hash__(self) -> int:
        return hash((self.name, self.shape, self.matrix.tobytes(), self.description, self.tags, self.source))

    def __repr__(self) -> str:
        return f"Kernel(name={self.name!r}, shape={self.shape}, source={self.source!r})"

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, cols)`` of the matrix."""
        return (int(self.matrix.shape[0]), int(self.matrix.shape[1]))

    @property
    def file(self) -> str | None:
        """The kernel file it was read from (a path as given), or None when it is no user's file
        (built-in, inline, parametric, an array): what a run must never write over.

        Examples
        --------
        >>> load_kernel("sobel-x").file is None, Kernel("k", [[1.0]], source="k.yaml").file
        (True, 'k.yaml')
        """
        return None if self.source in _NOT_FILES else self.source

    @property
    def total(self) -> float:
        """Sum of the weights."""
        return float(self.matrix.sum())

    @property
    def separable(self) -> bool:
        """True if the matrix is an outer product (rank ≤ 1 by SVD, 1e-10 relative tolerance).

        Examples
        --------
        >>> Kernel("k", [[1, 2], [2, 4]]).separable, Kernel("k", [[1, 0], [0, 1]]).separable
        (True, False)
        """
        if min(self.shape) == 1:
            return True
        s = np.linalg.svd(self.matrix, compute_uv=False)
        return bool(s[0] == 0.0 or s[1] <= 1e-10 * s[0])

    def normalized(self) -> Kernel:
        """Return this kernel divided by its sum (same name).

        Raises
        ------
        KernelError
            If the sum is 0 (``|sum| < 1e-12``).

        Examples
        --------
        >>> Kernel("k", [[1, 3]]).normalized().matrix.tolist()
        [[0.25, 0.75]]
        """
        total = self.total
        if abs(total) < 1e-12:
            raise KernelError(
                f"kernel {self.name} sums to 0; --normalize needs a kernel with a non-zero sum"
            )
        return dataclasses.replace(self, matrix=self.matrix / total)

    def slug(self) -> str:
        """A file-name-safe form of the name for ``{kernel}``: lower-case ``[a-z0-9._=-]`` only.

        Examples
        --------
        >>> Kernel("dog:sigma1=1,sigma2=2", [[1.0]]).slug()
        'dog-sigma1=1-sigma2=2'
        """
        slug = re.sub(r"[^a-z0-9._=-]+", "-", self.name.lower())
        slug = re.sub(r"-{2,}", "-", slug).strip("-.")  # no hidden files, no "-x" that looks like an option
        return slug or "kernel"


# --------------------------------------------------------------------------------------------------
# Matrix checks shared by every form


def _finite_number(value: Any) -> bool:
    """A number a float can hold (a 400-digit integer cannot)."""
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def _check_size(rows: int, cols: int, *, prefix: str = "", path: str | None = None, line: int | None = None,
                hint: str = "") -> None:
    if rows > MAX_SIDE or cols > MAX_SIDE or rows * cols > MAX_ELEMENTS:
        raise KernelError(
            f"{prefix}kernel would be {rows}x{cols} ({rows * cols} values); the limit is {MAX_SIDE} per side "
            f"and {MAX_ELEMENTS} values{hint}",
            path=path,
            line=line,
        )


def _check_finite(matrix: np.ndarray, *, prefix: str, path: str | None) -> None:
    bad = ~np.isfinite(matrix)
    if bad.any():
        r, c = (int(i) for i in np.argwhere(bad)[0])
        raise KernelError(
            f"{prefix}value {matrix[r, c]} in row {r + 1}, column {c + 1} is not finite; "
            "kernel weights must be finite numbers",
            path=path,
        )


def _to_matrix(value: Any, *, prefix: str = "", path: str | None = None, line: int | None = None,
               single_row: bool = False) -> np.ndarray:
    """Turn an array or nested rows into a checked float64 matrix (a fresh, writable copy)."""
    if isinstance(value, np.ndarray):
        return _array_to_matrix(value, prefix=prefix, path=path)
    return _rows_to_matrix(value, prefix=prefix, path=path, line=line, single_row=single_row)


def _array_to_matrix(array: np.ndarray, *, prefix: str, path: str | None) -> np.ndarray:
    if array.ndim != 2:
        raise KernelError(
            f"{prefix}kernel array has {array.ndim} dimension(s) (shape {array.shape}); "
            "a kernel is a 2-D matrix of shape (rows, cols)",
            path=path,
        )
    if array.dtype.kind not in "iuf":
        raise KernelError(
            f"{prefix}kernel array has dtype {array.dtype}; kernel weights must be real numbers "
            "(integer or float)",
            path=path,
        )
    if array.size == 0:
        raise KernelError(
            f"{prefix}kernel is zero-sized (shape {array.shape[0]}x{array.shape[1]}); "
            "it needs at least one row and one column",
            path=path,
        )
    _check_size(*array.shape, prefix=prefix, path=path)
    matrix = np.array(array, dtype=np.float64, copy=True)
    _check_finite(matrix, prefix=prefix, path=path)
    return matrix


def _rows_to_matrix(rows: Any, *, prefix: str, path: str | None, line: int | None,
                    single_row: bool) -> np.ndarray:
    """Check nested rows (lists, or strictyaml.LineList with line numbers) and build the matrix."""
    example = "e.g. [[1, 0, -1], [2, 0, -2], [1, 0, -1]]"
    if not isinstance(rows, (list, tuple)):
        raise KernelError(f"{prefix}the matrix must be a list of rows, {example}", path=path, line=line)
    line = getattr(rows, "line", None) or line
    if len(rows) == 0:
        raise KernelError(
            f"{prefix}the matrix is empty; it needs at least one row with at least one value, {example}",
            path=path,
            line=line,
        )
    row_lines = list(getattr(rows, "item_lines", None) or [line] * len(rows))
    # Rows given as 1-D arrays (a list of np.array rows) are rows like any other.
    rows = [r.tolist() if isinstance(r, np.ndarray) else r for r in rows]
    if all(not isinstance(r, (list, tuple)) for r in rows):
        if not single_row:
            raise KernelError(
                f"{prefix}the matrix must be a list of rows; write a single row as [[a, b, c]], {example}",
                path=path,
                line=line,
            )
        rows, row_lines = [rows], [line]
    if len(rows) > MAX_SIDE:
        first = rows[0]
        _check_size(len(rows), len(first) if isinstance(first, (list, tuple)) else 1,
                    prefix=prefix, path=path, line=line)
    width = None
    values: list[list[float]] = []
    for r, row in enumerate(rows):
        row_line = row_lines[r]
        if not isinstance(row, (list, tuple)):
            raise KernelError(
                f"{prefix}row {r + 1} is {_show(row)}, not a list of values; every row must be a list "
                f"like [1, 0, -1]",
                path=path,
                line=row_line,
            )
        if len(row) == 0:
            raise KernelError(
                f"{prefix}row {r + 1} is empty; every row needs at least one value",
                path=path,
                line=row_line,
            )
        if width is None:
            width = len(row)
            _check_size(len(rows), width, prefix=prefix, path=path, line=line)
        elif len(row) != width:
            raise KernelError(
                f"{prefix}row {r + 1} has {len(row)} values, row 1 has {width}; "
                "every row needs the same number of values",
                path=path,
                line=row_line,
            )
        item_lines = getattr(row, "item_lines", None) or [row_line] * len(row)
        out_row = []
        for c, value in enumerate(row):
            where = f"row {r + 1}, column {c + 1}"
            if isinstance(value, (list, tuple)):
                raise KernelError(
                    f"{prefix}{where} is a list: the matrix has more than 2 dimensions; "
                    "a kernel is a list of rows of numbers",
                    path=path,
                    line=item_lines[c],
                )
            if not _is_number(value):
                raise KernelError(
                    f"{prefix}value {_show(value)} in {where} is not a number; kernel weights must be "
                    "numbers like 1, -0.5 or 1e-3 (no quotes, no true/false)",
                    path=path,
                    line=item_lines[c],
                )
            try:
                number = float(value)
            except OverflowError:  # an int too large for a float
                number = math.inf
            if not math.isfinite(number):
                raise KernelError(
                    f"{prefix}value {_show(value)} in {where} is not finite; kernel weights must be "
                    "finite numbers",
                    path=path,
                    line=item_lines[c],
                )
            out_row.append(number)
        values.append(out_row)
    return np.array(values, dtype=np.float64)


def _show(value: Any) -> str:
    if value is None:
        return "empty (null)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, dict):
        return "a mapping"
    if _is_number(value):
        try:
            return repr(float(value)) if isinstance(value, (float, np.floating)) else str(value)
        except OverflowError:  # pragma: no cover
            return str(value)
    return repr(value)


# --------------------------------------------------------------------------------------------------
# Search path and the built-in library


def builtin_kernel_dir() -> Path:
    """The folder of the built-in kernel library.

    An installed wheel carries it as ``convcli/_kernels``; a source checkout or editable install uses the
    repository's top-level ``kernels/`` folder. The packaged folder wins when both exist.

    Examples
    --------
    >>> (builtin_kernel_dir() / "sobel-x.yaml").is_file()
    True
    """
    here = Path(__file__).resolve()
    packaged = here.parent / "_kernels"
    if packaged.is_dir():
        return packaged
    checkout = here.parents[2] / "kernels"
    return checkout if checkout.is_dir() else packaged


def _as_folder_list(value: Any, parameter: str) -> list[Path]:
    if isinstance(value, (str, bytes, os.PathLike)):
        raise TypeError(f"{parameter} must be a sequence of folders, not a single path; wrap it: [{value!r}]")
    folders = []
    for item in value:
        if not isinstance(item, (str, os.PathLike)):
            raise TypeError(f"{parameter} entries must be str or os.PathLike, got {type(item).__name__}")
        folders.append(Path(item))
    return folders


def _dedupe(folders: list[Path]) -> list[Path]:
    seen: set[Path] = set()
    out = []
    for folder in folders:
        key = folder.resolve()
        if key not in seen:
            seen.add(key)
            out.append(folder)
    return out


def kernel_search_path(*, kernel_dirs: Sequence[str | os.PathLike] = (), env_path: str | None = None) -> list[Path]:
    """The folders searched for ``NAME.yaml``, in order.

    Parameters
    ----------
    kernel_dirs : sequence of path-like, optional
        Folders given by the user (``--kernel-dir``); each must exist.
    env_path : str, optional
        ``os.pathsep``-separated folders (the CLI passes ``CONVCLI_KERNEL_PATH``); empty parts are ignored
        and entries that do not exist or are not folders are skipped when searching, as with ``PATH``
        (:func:`search_path_problems` lists them).

    Returns
    -------
    list of Path
        ``kernel_dirs``, then the ``env_path`` folders, then :func:`builtin_kernel_dir`; duplicates removed.

    Raises
    ------
    KernelError
        If a ``kernel_dirs`` entry is not an existing folder.

    Examples
    --------
    >>> kernel_search_path()[-1] == builtin_kernel_dir()
    True
    """
    dirs = _as_folder_list(kernel_dirs, "kernel_dirs")
    if env_path is not None and not isinstance(env_path, str):
        raise TypeError(f"env_path must be a str or None, got {type(env_path).__name__}")
    for folder in dirs:
        if not folder.is_dir():
            raise KernelError(f"kernel folder {str(folder)!r} does not exist or is not a folder; check the path")
    env_dirs = [Path(part) for part in (env_path or "").split(os.pathsep) if part]
    return _dedupe([*dirs, *env_dirs, builtin_kernel_dir()])


def search_path_problems(env_path: str | None) -> list[str]:
    """What is wrong with the folders of ``env_path``: one message per entry that cannot be searched.

    :func:`kernel_search_path` keeps such entries and the search skips them, as a shell skips the
    missing folders of ``PATH``; this says so, without printing (the CLI warns with it). An empty
    entry (a leading, trailing or doubled separator) is no problem: it is ignored.

    Parameters
    ----------
    env_path : str, optional
        ``os.pathsep``-separated folders, as given to :func:`kernel_search_path`.

    Returns
    -------
    list of str
        One line per distinct entry that does not exist or is not a folder, in order, such as
        ``"'k.yaml' is not a folder (a file); ignored"``; empty when every entry is a folder.

    Examples
    --------
    >>> search_path_problems(os.pathsep.join(["", "no-such-folder", ""]))
    ["'no-such-folder' does not exist; ignored"]
    >>> search_path_problems(None)
    []
    """
    if env_path is not None and not isinstance(env_path, str):
        raise TypeError(f"env_path must be a str or None, got {type(env_path).__name__}")
    problems = []
    for entry in dict.fromkeys(part for part in (env_path or "").split(os.pathsep) if part):
        try:
            mode = os.stat(entry).st_mode
        except (FileNotFoundError, NotADirectoryError, ValueError):  # ValueError: a NUL in the name
            # The shell expands ~ only unquoted and at the start of a word: a quoted one stays.
            tilde = " (~ is not expanded here: write the full path or $HOME)" if entry.startswith("~") else ""
            problems.append(f"{entry!r} does not exist{tilde}; ignored")
            continue
        except OSError as error:
            problems.append(f"{entry!r} cannot be looked up: {error.strerror or error}")
            continue
        if not stat.S_ISDIR(mode):
            kind = " (a file)" if stat.S_ISREG(mode) else ""
            problems.append(f"{entry!r} is not a folder{kind}; ignored")
    return problems


def _full_search_path(search_path: Sequence[str | os.PathLike] | None) -> list[Path]:
    folders = [] if search_path is None else _as_folder_list(search_path, "search_path")
    return _dedupe([*folders, builtin_kernel_dir()])  # the built-in library is always searched last


def _path_kind(path: Path, *, shown: str) -> str:
    """``"file"``, ``"dir"``, ``"missing"`` or ``"other"``; what the file system refuses to look up
    at all (a name longer than it allows, ...) becomes a KernelError naming ``shown``."""
    try:
        mode = path.stat().st_mode
    except (FileNotFoundError, NotADirectoryError, ValueError):  # ValueError: a NUL in the name
        return "missing"
    except OSError as error:
        short = shown if len(shown) <= 60 else shown[:57] + "..."
        raise KernelError(f"cannot use kernel {short!r}: {error.strerror or error}") from None
    return "file" if stat.S_ISREG(mode) else "dir" if stat.S_ISDIR(mode) else "other"


def _named_file(name: str, folder: Path) -> Path | None:
    """``folder/NAME.yaml`` if it exists; refused if it is a link leading outside ``folder``."""
    candidate = folder / f"{name}.yaml"
    if _path_kind(candidate, shown=name) != "file":
        return None
    real = candidate.resolve()
    if real.parent != folder.resolve():
        raise KernelError(
            f"kernel file is a link to {str(real)!r}, outside its folder {str(folder)!r}; "
            "a named kernel must live in its folder (copy the file there)",
            path=str(candidate),
        )
    return candidate


def _load_named_file(file: Path, folder: Path) -> Kernel:
    kernel = parse_kernel_yaml(_read_text(file, limit=strictyaml.MAX_BYTES), path=str(file))
    builtin = folder.resolve() == builtin_kernel_dir().resolve()
    return dataclasses.replace(kernel, source="built-in" if builtin else str(file))


def list_kernels(*, search_path: Sequence[str | os.PathLike] | None = None) -> list[Kernel]:
    """Every ``NAME.yaml`` along the search path (first occurrence of a name wins), sorted by name.

    Parameters
    ----------
    search_path : sequence of path-like, optional
        Folders to search (e.g. from :func:`kernel_search_path`); the built-in library is always searched
        last. ``None`` means the built-in library only.

    Raises
    ------
    KernelError
        If one of the files is not a valid kernel (with its path and line).

    Examples
    --------
    >>> names = [k.name for k in list_kernels()]
    >>> "sobel-x" in names, names == sorted(names)
    (True, True)
    """
    kernels, problems = survey_kernels(search_path=search_path)
    if problems:
        raise problems[0]
    return kernels


def survey_kernels(
    *, search_path: Sequence[str | os.PathLike] | None = None
) -> tuple[list[Kernel], list[KernelError]]:
    """Like :func:`list_kernels`, but a file that is not a valid kernel does not stop the survey.

    Returns
    -------
    kernels : list of Kernel
        Every valid ``NAME.yaml`` along the search path (first occurrence of a name wins), sorted
        by name. A name whose first file is invalid is not listed (``-k NAME`` would refuse it).
    problems : list of KernelError
        One per invalid file, in search order, each naming the file (and line) and ending with
        "; not listed": the warnings a front end shows.

    Examples
    --------
    >>> kernels, problems = survey_kernels()
    >>> len(kernels) == len(list_kernels()), problems
    (True, [])
    """
    found: dict[str, Kernel | None] = {}
    problems: list[KernelError] = []
    for folder in _full_search_path(search_path):
        if not folder.is_dir():
            continue
        for file in sorted(folder.glob("*.yaml")):
            name = file.stem
            if name in found or not _valid_name(name):
                continue
            try:
                named = _named_file(name, folder)
                if named is not None:
                    found[name] = _load_named_file(named, folder)
            except KernelError as error:
                found[name] = None
                problems.append(KernelError(f"{error.message}; not listed", path=error.path, line=error.line))
    return [kernel for name, kernel in sorted(found.items()) if kernel is not None], problems


def _named_in(name: str, folders: Sequence[Path]) -> Kernel | None:
    """The kernel NAME.yaml in the first folder that has it, or None."""
    for folder in folders:
        if _path_kind(folder, shown=str(folder)) == "dir":
            file = _named_file(name, folder)
            if file is not None:
                return _load_named_file(file, folder)
    return None


def _valid_name(name: str) -> bool:
    return bool(_NAME_RE.match(name)) and ".." not in name


# --------------------------------------------------------------------------------------------------
# Files


def _read_bytes(path: Path, *, limit: int) -> bytes:
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except OSError as error:
        raise KernelError(f"cannot read kernel file: {error.strerror or error}", path=str(path)) from None
    if len(data) > limit:
        raise KernelError(
            f"kernel file is larger than {limit // 1024} KiB; a kernel file must be small", path=str(path)
        )
    return data


def _read_text(path: Path, *, limit: int) -> str:
    data = _read_bytes(path, limit=limit)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise KernelError(
            "kernel file is not UTF-8 text; save it as UTF-8", path=str(path), line=line
        ) from None


def _load_file(path: Path, *, shown: str) -> Kernel:
    suffix = path.suffix.lower()
    if suffix not in FILE_EXTENSIONS:
        raise KernelError(
            f"unsupported kernel file extension {path.suffix!r}; use one of {', '.join(FILE_EXTENSIONS)}",
            path=shown,
        )
    kind = _path_kind(path, shown=shown)
    if kind == "missing":
        raise KernelError(
            "no such kernel file; check the path (to use a kernel by name, give the name without "
            f"extension, e.g. {path.stem if _valid_name(path.stem) else 'sobel-x'})",
            path=shown,
        )
    if kind != "file":
        raise KernelError("kernel path is not a file", path=shown)
    if suffix in (".yaml", ".yml"):
        kernel = parse_kernel_yaml(_read_text(path, limit=strictyaml.MAX_BYTES), path=shown)
        return dataclasses.replace(kernel, source=shown)
    if suffix == ".npy":
        matrix = _read_npy(path, shown=shown)
    else:
        matrix = _parse_text_matrix(_read_text(path, limit=_TEXT_FILE_LIMIT), path=shown)
    return Kernel(name=path.stem or "kernel", matrix=matrix, source=shown)


def _read_npy(path: Path, *, shown: str) -> np.ndarray:
    # Read the header first so that a huge or non-numeric array is refused before it is loaded.
    try:
        with open(path, "rb") as handle:
            version = np.lib.format.read_magic(handle)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(handle)
            elif version == (2, 0):
                shape, _, dtype = np.lib.format.read_array_header_2_0(handle)
            else:
                raise ValueError(f"unsupported .npy format version {version}")
    except OSError as error:
        raise KernelError(f"cannot read kernel file: {error.strerror or error}", path=shown) from None
    except ValueError as error:
        raise KernelError(f"not a valid .npy file ({' '.join(str(error).split())})", path=shown) from None
    if len(shape) != 2:
        raise KernelError(
            f"kernel array has {len(shape)} dimension(s) (shape {shape}); a kernel is a 2-D matrix "
            "of shape (rows, cols)",
            path=shown,
        )
    if dtype.kind not in "iuf":
        raise KernelError(
            f"kernel array has dtype {dtype}; kernel weights must be real numbers (integer or float)",
            path=shown,
        )
    if 0 in shape:
        raise KernelError(
            f"kernel is zero-sized (shape {shape[0]}x{shape[1]}); it needs at least one row and one column",
            path=shown,
        )
    _check_size(*shape, path=shown)
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise KernelError(f"not a valid .npy file ({' '.join(str(error).split())})", path=shown) from None
    return _array_to_matrix(array, prefix="", path=shown)


def _parse_token(token: str) -> float | str:
    """A number, or the token itself when it is not one (the matrix check then names it)."""
    if _NUMBER_RE.match(token):
        return float(token)
    if _NONFINITE_RE.match(token):  # kept as nan/inf so the check says "not finite", not "not a number"
        return float(token.replace(".", ""))
    return token


def _split_values(text: str, *, path: str | None, line: int | None, row: int) -> list[float | str]:
    tokens = re.split(r"\s*,\s*|\s+", text.strip())
    if "" in tokens:
        raise KernelError(
            f"row {row} has an empty value (two commas in a row, or a comma at the start or end); "
            "separate values by whitespace or single commas",
            path=path,
            line=line,
        )
    return [_parse_token(token) for token in tokens]


def _parse_text_matrix(text: str, *, path: str) -> np.ndarray:
    rows = strictyaml.LineList()
    for number, raw in enumerate(text.splitlines(), start=1):
        content = raw.split("#", 1)[0]
        if not content.strip():
            continue
        row = strictyaml.LineList(_split_values(content, path=path, line=number, row=len(rows) + 1))
        row.line = number
        row.item_lines = [number] * len(row)
        rows.append(row)
        rows.item_lines.append(number)
        if len(rows) > MAX_SIDE:
            _check_size(len(rows), len(row), path=path, line=number)
    if not rows:
        raise KernelError(
            "kernel file has no values; write one row of numbers per line, e.g. '1 0 -1'", path=path
        )
    rows.line = rows.item_lines[0]
    return _rows_to_matrix(rows, prefix="", path=path, line=None, single_row=False)


def parse_kernel_yaml(text: str, *, path: str) -> Kernel:
    """Read a kernel from the text of a kernel YAML file.

    Keys: ``matrix`` (required: a list of rows of numbers), ``name`` (optional; must equal the file's
    stem when ``path`` ends in ``.yaml``/``.yml``; defaults to the stem), ``description`` (text), ``scale``
    (a number that multiplies the matrix), ``normalize`` (``true`` divides the matrix by its sum) and
    ``tags`` (a list of words). With both ``normalize`` and ``scale``, the matrix is normalized first,
    then scaled. Any other key is refused.

    Parameters
    ----------
    text : str
        The YAML text.
    path : str
        The file it came from (for the default name, the name check and error messages).

    Returns
    -------
    Kernel
        With ``source=path``.

    Raises
    ------
    KernelError
        Malformed YAML or a bad kernel, with ``path`` and ``line``.

    Examples
    --------
    >>> k = parse_kernel_yaml("matrix: [[1, 1], [1, 1]]\\nnormalize: true\\n", path="mean2.yaml")
    >>> k.name, k.matrix.tolist()
    ('mean2', [[0.25, 0.25], [0.25, 0.25]])
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be str, not {type(text).__name__}")
    if not isinstance(path, str):
        raise TypeError(f"path must be str, not {type(path).__name__}")
    try:
        data = strictyaml.load(text, path=path)
    except strictyaml.YamlError as error:
        raise KernelError(error.message, path=error.path, line=error.line) from None
    if not isinstance(data, strictyaml.LineDict):
        raise KernelError(
            "a kernel file must be a YAML mapping with at least a 'matrix' key, e.g. matrix: [[1, 0, -1]]",
            path=path,
            line=getattr(data, "line", None) or 1,
        )
    lines = data.key_lines
    for key in data:
        if key not in _YAML_KEYS:
            raise KernelError(
                f"unknown key {key!r}; allowed keys: {', '.join(_YAML_KEYS)}", path=path, line=lines[key]
            )
    if "matrix" not in data:
        raise KernelError(
            "missing key 'matrix'; a kernel file needs a list of rows, e.g. matrix: [[1, 0, -1], [2, 0, -2]]",
            path=path,
            line=data.line,
        )

    file = Path(path)
    stem = file.stem if file.suffix.lower() in (".yaml", ".yml") else ""
    name = data.get("name", stem or "kernel")
    if not isinstance(name, str) or not name:
        raise KernelError(f"name must be text, got {_show(name)}", path=path, line=lines.get("name"))
    if "name" in data and stem and name != stem:
        raise KernelError(
            f"name {name!r} does not match the file name {file.name!r}; the name must equal the file's "
            f"stem (rename the file to {name}.yaml or set name: {stem})",
            path=path,
            line=lines["name"],
        )

    description = data.get("description", "")
    if not isinstance(description, str):
        raise KernelError(
            f"description must be text, got {_show(description)}; quote it if needed",
            path=path,
            line=lines["description"],
        )

    tags = data.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise KernelError(
            "tags must be a list of words, e.g. tags: [edge, gradient]", path=path, line=lines["tags"]
        )

    normalize = data.get("normalize", False)
    if not isinstance(normalize, bool):
        raise KernelError(
            f"normalize must be true or false, got {_show(normalize)}", path=path, line=lines["normalize"]
        )

    scale = data.get("scale", 1)
    if not _is_number(scale) or not _finite_number(scale):
        raise KernelError(
            f"scale must be a finite number like 0.5 or 1e-3, got {_show(scale)}", path=path, line=lines["scale"]
        )

    matrix = _rows_to_matrix(data["matrix"], prefix="", path=path, line=lines["matrix"], single_row=False)
    if normalize:
        total = float(matrix.sum())
        if abs(total) < 1e-12:
            raise KernelError(
                f"kernel {name} sums to 0; normalize: true needs a kernel with a non-zero sum (remove it)",
                path=path,
                line=lines["normalize"],
            )
        matrix = matrix / total
    if "scale" in data:
        with np.errstate(over="ignore"):
            matrix = matrix * float(scale)
        if not np.isfinite(matrix).all():
            raise KernelError(
                "scale makes some weights overflow to infinity; use a smaller scale", path=path, line=lines["scale"]
            )
    return Kernel(name=name, matrix=matrix, description=description, tags=tuple(tags), source=path)


# --------------------------------------------------------------------------------------------------
# Inline matrices


def _parse_inline(text: str) -> np.ndarray:
    prefix = "inline kernel: "
    if text.startswith("["):
        nested = _parse_brackets(text, prefix=prefix)
        return _rows_to_matrix(nested, prefix=prefix, path=None, line=None, single_row=True)
    rows = []
    for part in re.split(r"[;\n]", text):
        if part.strip():
            rows.append(_split_values_inline(part, row=len(rows) + 1))
    if not rows:
        raise KernelError(f"{prefix}the matrix is empty; write rows like '1 0 -1; 2 0 -2; 1 0 -1'")
    return _rows_to_matrix(rows, prefix=prefix, path=None, line=None, single_row=False)


def _split_values_inline(part: str, *, row: int) -> list[float | str]:
    # "1 0 -1, 2 0 -2": commas between groups of several values are rows meant with ';' — one row
    # of six values would be a different kernel, silently (README, "Kernels").
    groups = [group.split() for group in part.split(",")]
    if len(groups) > 1 and all(groups) and any(len(group) > 1 for group in groups):  # empty: said below
        meant = "; ".join(" ".join(group) for group in groups)
        raise KernelError(
            f"inline kernel: {part.strip()!r} mixes spaces and commas; rows are separated by ';' "
            f"(did you mean '{meant}'?), values in a row by spaces or by commas"
        )
    try:
        return _split_values(part, path=None, line=None, row=row)
    except KernelError as error:
        raise KernelError(f"inline kernel: {error.message}") from None


_BRACKET_TOKEN = re.compile(r"\s*(?:([\[\],])|([^\s\[\],]+))")


def _parse_brackets(text: str, *, prefix: str) -> list:
    """Parse ``[[1, 2], [3, 4]]`` or ``[1, 2]`` into nested lists (numbers as float, others as str)."""
    tokens = []
    position = 0
    stripped = text.rstrip()
    while position < len(stripped):
        match = _BRACKET_TOKEN.match(stripped, position)
        if match is None:  # pragma: no cover - the pattern matches any non-blank text
            break
        tokens.append(match.group(1) or match.group(2))
        position = match.end()
    bad = f"{prefix}cannot read {text.strip()!r}; write it as [[1, 0, -1], [2, 0, -2], [1, 0, -1]] or [1, 2, 3]"
    index = 0

    def parse(depth: int) -> Any:
        nonlocal index
        if index >= len(tokens):
            raise KernelError(bad)
        token = tokens[index]
        index += 1
        if token == "[":
            if depth >= 2:
                raise KernelError(
                    f"{prefix}the matrix has more than 2 dimensions; a kernel is a list of rows of numbers"
                )
            items: list = []
            if index < len(tokens) and tokens[index] == "]":
                index += 1
                return items
            while True:
                items.append(parse(depth + 1))
                if index >= len(tokens):
                    raise KernelError(bad)
                token = tokens[index]
                index += 1
                if token == "]":
                    return items
                if token != ",":
                    raise KernelError(bad)
        if token in ("]", ","):
            raise KernelError(bad)
        return _parse_token(token)

    nested = parse(0)
    if index != len(tokens):
        raise KernelError(bad)
    return nested


# --------------------------------------------------------------------------------------------------
# Parametric kernels


def _fmt(value: float) -> str:
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def _param_error(kind: str, message: str) -> KernelError:
    examples = {
        "gaussian": "gaussian:sigma=1.5 or gaussian:sigma=1.5,size=7",
        "box": "box:5 or box:3x5",
        "log": "log:sigma=1.4 or log:sigma=1.4,size=9",
        "dog": "dog:sigma1=1,sigma2=2",
        "disk": "disk:radius=3",
    }
    return KernelError(f"{kind}: {message}; e.g. {examples[kind]}")


def _parse_params(kind: str, args: str, *, required: tuple[str, ...], optional: tuple[str, ...]) -> dict[str, str]:
    allowed = required + optional
    params: dict[str, str] = {}
    for part in args.split(","):
        part = part.strip()
        if not part:
            raise _param_error(kind, f"empty parameter in {args!r}")
        key, sep, value = part.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not value:
            raise _param_error(kind, f"parameter {part!r} needs a value, written name=value")
        if key not in allowed:
            raise _param_error(kind, f"unknown parameter {key!r}; allowed: {', '.join(allowed)}")
        if key in params:
            raise _param_error(kind, f"parameter {key!r} is given twice")
        params[key] = value
    for key in required:
        if key not in params:
            raise _param_error(kind, f"missing parameter {key!r}")
    return params


def _positive_float(kind: str, key: str, text: str, *, allow_zero: bool = False) -> float:
    value = float(text) if _NUMBER_RE.match(text) else math.nan
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        need = "a number >= 0" if allow_zero else "a number > 0"
        raise _param_error(kind, f"{key} must be {need}, got {text!r}")
    return value


def _size_param(kind: str, key: str, text: str) -> int:
    if not re.fullmatch(r"[0-9]+", text) or int(text) < 1:
        raise _param_error(kind, f"{key} must be a whole number >= 1, got {text!r}")
    size = int(text)
    if size > MAX_SIDE:
        raise _param_error(kind, f"{key}={size} is too large; the largest side is {MAX_SIDE}")
    return size


def _default_size(kind: str, sigma: float, spec_hint: str) -> int:
    size = 2 * math.ceil(3 * sigma) + 1
    if size > MAX_SIDE:
        raise _param_error(
            kind,
            f"{spec_hint} gives a {size}x{size} kernel; the largest side is {MAX_SIDE} "
            "(use a smaller sigma or give size=N)",
        )
    return size


def _gaussian_1d(sigma: float, size: int) -> np.ndarray:
    offsets = np.arange(size, dtype=np.float64) - (size - 1) / 2
    with np.errstate(over="ignore", under="ignore"):  # a tiny sigma just gives an impulse
        z = offsets / sigma
        return np.exp(-0.5 * z * z)


def _gaussian_2d(sigma: float, size: int) -> np.ndarray:
    g = _gaussian_1d(sigma, size)
    k = np.outer(g, g)
    return k / k.sum()


def _finite_or_refuse(kind: str, matrix: np.ndarray) -> np.ndarray:
    if not np.isfinite(matrix).all():
        raise _param_error(kind, "these parameters give values that overflow; use a larger sigma")
    return matrix


def _parametric(kind: str, args: str) -> Kernel:
    if kind == "box":
        match = re.fullmatch(r"\s*([0-9]+)(?:\s*x\s*([0-9]+))?\s*", args)
        if match is None:
            raise _param_error("box", f"cannot read {args!r}; give the size as N or ROWSxCOLS")
        rows = int(match.group(1))
        cols = int(match.group(2)) if match.group(2) is not None else rows
        if rows < 1 or cols < 1:
            raise _param_error("box", f"the size must be at least 1, got {rows}x{cols}")
        _check_size(rows, cols, prefix="box: ")
        name = f"box:{rows}" if rows == cols else f"box:{rows}x{cols}"
        matrix = np.full((rows, cols), 1.0 / (rows * cols))
        return Kernel(name=name, matrix=matrix, description=f"{rows}x{cols} mean", source="parametric")

    if kind in ("gaussian", "log"):
        params = _parse_params(kind, args, required=("sigma",), optional=("size",))
        sigma = _positive_float(kind, "sigma", params["sigma"])
        name = f"{kind}:sigma={_fmt(sigma)}"
        if "size" in params:
            size = _size_param(kind, "size", params["size"])
            name += f",size={size}"
        else:
            size = _default_size(kind, sigma, f"sigma={_fmt(sigma)}")
        _check_size(size, size, prefix=f"{kind}: ", hint="; use a smaller sigma or size")
        if kind == "gaussian":
            matrix = _gaussian_2d(sigma, size)
            description = f"Gaussian blur, sigma {_fmt(sigma)}, sum 1"
        else:
            offsets = np.arange(size, dtype=np.float64) - (size - 1) / 2
            with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
                r2 = (offsets[:, None] ** 2 + offsets[None, :] ** 2) / sigma**2  # r²/σ²
                # (r² − 2σ²)/σ⁴ · exp(−r²/2σ²), written with r²/σ² so that small sigmas stay finite longer
                matrix = (r2 - 2.0) / sigma**2 * np.exp(-0.5 * r2)
            matrix = _finite_or_refuse(kind, matrix)
            matrix = matrix - matrix.mean()
            description = f"Laplacian of Gaussian, sigma {_fmt(sigma)}, negative centre, sum 0"
        return Kernel(name=name, matrix=matrix, description=description, source="parametric")

    if kind == "dog":
        params = _parse_params(kind, args, required=("sigma1", "sigma2"), optional=("size",))
        sigma1 = _positive_float(kind, "sigma1", params["sigma1"])
        sigma2 = _positive_float(kind, "sigma2", params["sigma2"])
        if sigma1 == sigma2:
            raise _param_error(kind, "sigma1 and sigma2 must differ (their difference would be all zeros)")
        name = f"dog:sigma1={_fmt(sigma1)},sigma2={_fmt(sigma2)}"
        if "size" in params:
            size = _size_param(kind, "size", params["size"])
            name += f",size={size}"
        else:
            size = _default_size(kind, max(sigma1, sigma2), f"sigma={_fmt(max(sigma1, sigma2))}")
        _check_size(size, size, prefix="dog: ", hint="; use smaller sigmas or size")
        matrix = _gaussian_2d(sigma1, size) - _gaussian_2d(sigma2, size)
        matrix = matrix - matrix.mean()
        description = f"difference of Gaussians, sigma {_fmt(sigma1)} minus sigma {_fmt(sigma2)}, sum 0"
        return Kernel(name=name, matrix=matrix, description=description, source="parametric")

    # disk
    params = _parse_params(kind, args, required=("radius",), optional=())
    radius = _positive_float(kind, "radius", params["radius"], allow_zero=True)
    half = math.floor(radius)
    size = 2 * half + 1
    if size > MAX_SIDE:
        raise _param_error(kind, f"radius={_fmt(radius)} gives a {size}x{size} kernel; the largest side is {MAX_SIDE}")
    _check_size(size, size, prefix="disk: ", hint="; use a smaller radius")
    offsets = np.arange(-half, half + 1, dtype=np.float64)
    mask = (offsets[:, None] ** 2 + offsets[None, :] ** 2) <= radius**2
    matrix = mask / mask.sum()
    return Kernel(
        name=f"disk:radius={_fmt(radius)}",
        matrix=matrix,
        description=f"flat disk of radius {_fmt(radius)}, sum 1",
        source="parametric",
    )


# --------------------------------------------------------------------------------------------------
# Resolving a spec


def _unknown(name: str, folders: list[Path]) -> UnknownKernelError:
    known: set[str] = set(_PARAMETRIC)
    for folder in folders:
        if folder.is_dir():
            known.update(p.stem for p in folder.glob("*.yaml") if _valid_name(p.stem))
    message = (
        f"unknown kernel {name!r}; try `convcli kernels list`, a file path, an inline matrix like "
        "'1 0 -1; 2 0 -2; 1 0 -1', or gaussian:sigma=1.5"
    )
    if name in _PARAMETRIC:
        message += f"; {name} needs parameters, e.g. {name}:" + {
            "gaussian": "sigma=1.5", "box": "5", "log": "sigma=1.4", "dog": "sigma1=1,sigma2=2", "disk": "radius=3",
        }[name]
    else:
        hint = did_you_mean(name, sorted(known))
        if hint:
            message += f"; {hint}"
    return UnknownKernelError(message)


def load_kernel(spec: Any, *, search_path: Sequence[str | os.PathLike] | None = None) -> Kernel:
    """Resolve a kernel spec (DESIGN §7) to a :class:`Kernel`.

    Parameters
    ----------
    spec : str, os.PathLike, Kernel or array_like
        A file path (``.yaml``/``.yml``/``.npy``/``.txt``/``.csv``), an inline matrix, a parametric spec,
        a kernel NAME, a :class:`Kernel` (returned as is) or a 2-D array of numbers (name ``"array"``).
    search_path : sequence of path-like, optional
        Folders searched for ``NAME.yaml`` in order (see :func:`kernel_search_path`); the built-in library
        is always searched last. ``None`` means the built-in library only.

    Returns
    -------
    Kernel

    Raises
    ------
    UnknownKernelError
        A NAME found in no folder.
    KernelError
        Anything else that is not a usable kernel.

    Examples
    --------
    >>> load_kernel("sobel-x").matrix.tolist()
    [[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]]
    >>> load_kernel("1 2; 3 4").shape
    (2, 2)
    >>> load_kernel("box:3x5").name, load_kernel("box:3x5").shape
    ('box:3x5', (3, 5))
    >>> load_kernel("gaussian:sigma=1").shape
    (7, 7)
    """
    if isinstance(spec, Kernel):
        return spec
    if isinstance(spec, os.PathLike):
        path = Path(spec)
        return _load_file(path, shown=str(path))
    if isinstance(spec, (np.ndarray, list, tuple)):
        if isinstance(spec, np.ndarray):
            matrix = _array_to_matrix(spec, prefix="array kernel: ", path=None)
        else:
            matrix = _rows_to_matrix(spec, prefix="array kernel: ", path=None, line=None, single_row=False)
        return Kernel(name="array", matrix=matrix, source="array")
    if not isinstance(spec, str):
        raise TypeError(
            f"spec must be a str, os.PathLike, Kernel or 2-D array of numbers, not {type(spec).__name__}"
        )
    folders = _full_search_path(search_path)

    # 1. a file path
    if spec.lower().endswith(FILE_EXTENSIONS):
        return _load_file(Path(spec), shown=spec)
    text = spec.strip()
    if not text:
        raise KernelError(f"the kernel spec is empty; {_FORMS}")
    # A slash never belongs to an inline matrix, a parametric spec or a name: refuse paths early.
    if "/" in text or "\\" in text:
        raise KernelError(
            f"{text!r} is not a kernel: a kernel file must end in {', '.join(FILE_EXTENSIONS)}, and a kernel "
            "name cannot contain '/' (names are looked up only inside the kernel folders)"
        )
    # 2. an inline matrix (a name may start with a digit too: "3tap" is looked up if it is no matrix)
    if text.startswith(_INLINE_START):
        try:
            return Kernel(name="inline", matrix=_parse_inline(text), source="inline")
        except KernelError:
            named = _named_in(text, folders) if _valid_name(text) else None
            if named is None:
                raise
            return named
    # 3. a parametric kernel
    kind, colon, args = text.partition(":")
    if colon and re.fullmatch(r"[a-z]+", kind):
        if kind not in _PARAMETRIC:
            raise KernelError(
                f"unknown parametric kernel {kind!r}; use one of gaussian:sigma=1.5, box:5, box:3x5, "
                "log:sigma=1.4, dog:sigma1=1,sigma2=2, disk:radius=3"
            )
        if not args.strip():
            raise _param_error(kind, "parameters are missing")
        return _parametric(kind, args)
    # 4. a name
    if _valid_name(text):
        named = _named_in(text, folders)
        if named is None:
            raise _unknown(text, folders)
        return named
    if _valid_name(text.lower()):
        raise KernelError(f"{text!r} is not a kernel; kernel names are lower-case: try {text.lower()!r}")
    parts = [part.strip() for part in text.split(",")]
    if len(parts) > 1 and all(_valid_name(part) and _named_in(part, folders) is not None for part in parts):
        # `-k box3,sobel-x`: a list where one kernel goes; each kernel is its own -k (or list entry)
        raise KernelError(f"{text!r} names {len(parts)} kernels in one spec; give each as a spec of its own: "
                          + ", ".join(parts))
    raise KernelError(f"{text!r} is not a kernel; {_FORMS}")
