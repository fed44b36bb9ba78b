"""The kernel search path and the built-in library: where a kernel NAME is looked up.

A NAME is looked up as ``NAME.yaml`` in each folder of the search path (``--kernel-dir`` folders,
then ``CONVCLI_KERNEL_PATH``), the built-in library (:func:`~convcli.kernels.spec.builtin_kernel_dir`)
last; the first folder that has it wins.
"""

from __future__ import annotations

import dataclasses
import os
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .. import yamlfile
from ..errors import KernelError
from .files import parse_kernel_yaml, path_kind, read_text
from .kernel import Kernel
from .spec import builtin_kernel_dir, valid_name

__all__ = [
    "full_search_path",
    "kernel_search_path",
    "list_kernels",
    "named_in",
    "search_path_problems",
    "survey_kernels",
]


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


def full_search_path(search_path: Sequence[str | os.PathLike] | None) -> list[Path]:
    folders = [] if search_path is None else _as_folder_list(search_path, "search_path")
    return _dedupe([*folders, builtin_kernel_dir()])  # the built-in library is always searched last



def _named_file(name: str, folder: Path) -> Path | None:
    """``folder/NAME.yaml`` if it exists; refused if it is a link leading outside ``folder``."""
    candidate = folder / f"{name}.yaml"
    if path_kind(candidate, shown=name) != "file":
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
    kernel = parse_kernel_yaml(read_text(file, limit=yamlfile.MAX_BYTES), path=str(file))
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
    for folder in full_search_path(search_path):
        if not folder.is_dir():
            continue
        for file in sorted(folder.glob("*.yaml")):
            name = file.stem
            if name in found or not valid_name(name):
                continue
            try:
                named = _named_file(name, folder)
                if named is not None:
                    found[name] = _load_named_file(named, folder)
            except KernelError as error:
                found[name] = None
                problems.append(KernelError(f"{error.message}; not listed", path=error.path, line=error.line))
    return [kernel for name, kernel in sorted(found.items()) if kernel is not None], problems


def named_in(name: str, folders: Sequence[Path]) -> Kernel | None:
    """The kernel NAME.yaml in the first folder that has it, or None."""
    for folder in folders:
        if path_kind(folder, shown=str(folder)) == "dir":
            file = _named_file(name, folder)
            if file is not None:
                return _load_named_file(file, folder)
    return None
