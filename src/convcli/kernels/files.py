"""Kernel files: YAML (``.yaml``/``.yml``), NumPy (``.npy``) and text matrices (``.txt``/``.csv``).

Each is read with a size limit, checked as every matrix is (:mod:`convcli.kernels.matrix`), and
refused with a one-line :class:`~convcli.errors.KernelError` naming the file and, where there is
one, the line.
"""

from __future__ import annotations

import dataclasses
import functools
import stat
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .. import yamlfile
from ..errors import KernelError
from .kernel import Kernel
from .matrix import array_to_matrix, check_size, finite_number, is_number, rows_to_matrix, show, split_values
from .spec import FILE_EXTENSIONS, MAX_SIDE, valid_name

__all__ = ["YAML_KEYS", "load_file", "parse_kernel_yaml", "path_kind", "read_text"]

#: The keys a kernel YAML file may hold.
YAML_KEYS = ("description", "matrix", "name", "normalize", "scale", "tags")
_TEXT_FILE_LIMIT = 32 * 1024 * 1024  # a 1025×1025 matrix as text fits easily


def path_kind(path: Path, *, shown: str) -> str:
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


def read_text(path: Path, *, limit: int) -> str:
    """The UTF-8 text of a kernel file of at most ``limit`` bytes, or a KernelError saying why not."""
    data = _read_bytes(path, limit=limit)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise KernelError(
            "kernel file is not UTF-8 text; save it as UTF-8", path=str(path), line=line
        ) from None


def load_file(path: Path, *, shown: str) -> Kernel:
    """The kernel in the file ``path`` (any of :data:`~convcli.kernels.spec.FILE_EXTENSIONS`), its
    source ``shown`` (the path as the user gave it, which every error names)."""
    suffix = path.suffix.lower()
    if suffix not in FILE_EXTENSIONS:
        raise KernelError(
            f"unsupported kernel file extension {path.suffix!r}; use one of {', '.join(FILE_EXTENSIONS)}",
            path=shown,
        )
    kind = path_kind(path, shown=shown)
    if kind == "missing":
        raise KernelError(
            "no such kernel file; check the path (to use a kernel by name, give the name without "
            f"extension, e.g. {path.stem if valid_name(path.stem) else 'sobel-x'})",
            path=shown,
        )
    if kind != "file":
        raise KernelError("kernel path is not a file", path=shown)
    if suffix in (".yaml", ".yml"):
        kernel = parse_kernel_yaml(read_text(path, limit=yamlfile.MAX_BYTES), path=shown)
        return dataclasses.replace(kernel, source=shown)
    if suffix == ".npy":
        array = _read_npy(path, shown=shown, accept=functools.partial(_check_npy_header, shown=shown))
        matrix = array_to_matrix(array, prefix="", path=shown)
    else:
        matrix = _parse_text_matrix(read_text(path, limit=_TEXT_FILE_LIMIT), path=shown)
    return Kernel(name=path.stem or "kernel", matrix=matrix, source=shown)


def _check_npy_header(shape: tuple[int, ...], dtype: np.dtype, *, shown: str) -> None:
    """Refuse a .npy kernel from its header alone: a huge or non-numeric array is never loaded."""
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
    check_size(*shape, path=shown)


def _read_npy(path: Path, *, shown: str, accept: Callable[[tuple[int, ...], np.dtype], None]) -> np.ndarray:
    """The array of a .npy file; ``accept(shape, dtype)`` sees its header first (read as images'
    headers are: convcli.images.npy.read_header) and may refuse it (by raising) before the data is
    read. Unreadable or malformed files raise KernelError."""
    from ..images.npy import read_header

    try:
        with open(path, "rb") as handle:
            shape, dtype = read_header(handle)
    except OSError as error:
        raise KernelError(f"cannot read kernel file: {error.strerror or error}", path=shown) from None
    except ValueError as error:
        raise KernelError(f"not a valid .npy file ({' '.join(str(error).split())})", path=shown) from None
    accept(shape, dtype)
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise KernelError(f"not a valid .npy file ({' '.join(str(error).split())})", path=shown) from None


def _parse_text_matrix(text: str, *, path: str) -> np.ndarray:
    rows = yamlfile.LineList()
    for number, raw in enumerate(text.splitlines(), start=1):
        content = raw.split("#", 1)[0]
        if not content.strip():
            continue
        row = yamlfile.LineList(split_values(content, path=path, line=number, row=len(rows) + 1))
        row.line = number
        row.item_lines = [number] * len(row)
        rows.append(row)
        rows.item_lines.append(number)
        if len(rows) > MAX_SIDE:
            check_size(len(rows), len(row), path=path, line=number)
    if not rows:
        raise KernelError(
            "kernel file has no values; write one row of numbers per line, e.g. '1 0 -1'", path=path
        )
    rows.line = rows.item_lines[0]
    return rows_to_matrix(rows, prefix="", path=path, line=None, single_row=False)


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
        data = yamlfile.load(text, path=path)
    except yamlfile.YamlError as error:
        raise KernelError(error.message, path=error.path, line=error.line) from None
    if not isinstance(data, yamlfile.LineDict):
        raise KernelError(
            "a kernel file must be a YAML mapping with at least a 'matrix' key, e.g. matrix: [[1, 0, -1]]",
            path=path,
            line=getattr(data, "line", None) or 1,
        )
    lines = data.key_lines
    for key in data:
        if key not in YAML_KEYS:
            raise KernelError(
                f"unknown key {key!r}; allowed keys: {', '.join(YAML_KEYS)}", path=path, line=lines[key]
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
        raise KernelError(f"name must be text, got {show(name)}", path=path, line=lines.get("name"))
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
            f"description must be text, got {show(description)}; quote it if needed",
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
            f"normalize must be true or false, got {show(normalize)}", path=path, line=lines["normalize"]
        )

    scale = data.get("scale", 1)
    if not is_number(scale) or not finite_number(scale):
        raise KernelError(
            f"scale must be a finite number like 0.5 or 1e-3, got {show(scale)}", path=path, line=lines["scale"]
        )

    matrix = rows_to_matrix(data["matrix"], prefix="", path=path, line=lines["matrix"], single_row=False)
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


