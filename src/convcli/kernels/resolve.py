"""Resolving a kernel spec: :func:`load_kernel` tries each form in the documented order.

1. a file path ending in one of :data:`~convcli.kernels.spec.FILE_EXTENSIONS`;
2. an inline matrix (text starting with one of :data:`~convcli.kernels.spec.INLINE_START`);
3. a parametric kernel (``KIND:PARAMETERS``, :data:`~convcli.kernels.spec.PARAMETRIC`);
4. a NAME looked up along the search path.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import KernelError, UnknownKernelError, did_you_mean
from .files import load_file
from .kernel import Kernel
from .library import full_search_path, named_in
from .matrix import array_to_matrix, parse_inline, rows_to_matrix
from .parametric import build_parametric, param_error
from .spec import FILE_EXTENSIONS, INLINE_START, PARAMETRIC, PARAMETRIC_KINDS, parametric_examples, valid_name

__all__ = ["load_kernel"]


def _spoken_list(items: list[str]) -> str:
    """``"a, b or c"``."""
    return ", ".join(items[:-1]) + " or " + items[-1] if len(items) > 1 else "".join(items)


_FORMS = (
    f"give a kernel name (see `convcli kernels list`), a {'/'.join(FILE_EXTENSIONS)} file, an inline matrix "
    "like '1 0 -1; 2 0 -2; 1 0 -1' or '[[1, 0, -1]]', or a parametric kernel like "
    + _spoken_list(parametric_examples())
)


def _unknown(name: str, folders: list[Path]) -> UnknownKernelError:
    known: set[str] = set(PARAMETRIC_KINDS)
    for folder in folders:
        if folder.is_dir():
            known.update(p.stem for p in folder.glob("*.yaml") if valid_name(p.stem))
    message = (
        f"unknown kernel {name!r}; try `convcli kernels list`, a file path, an inline matrix like "
        f"'1 0 -1; 2 0 -2; 1 0 -1', or {parametric_examples()[0]}"
    )
    if name in PARAMETRIC:
        message += f"; {name} needs parameters, e.g. {PARAMETRIC[name].examples[0]}"
    else:
        hint = did_you_mean(name, sorted(known))
        if hint:
            message += f"; {hint}"
    return UnknownKernelError(message)


def load_kernel(spec: Any, *, search_path: Sequence[str | os.PathLike] | None = None) -> Kernel:
    """Resolve a kernel spec (README, Kernels) to a :class:`Kernel`.

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
        return load_file(path, shown=str(path))
    if isinstance(spec, (np.ndarray, list, tuple)):
        if isinstance(spec, np.ndarray):
            matrix = array_to_matrix(spec, prefix="array kernel: ", path=None)
        else:
            matrix = rows_to_matrix(spec, prefix="array kernel: ", path=None, line=None, single_row=False)
        return Kernel(name="array", matrix=matrix, source="array")
    if not isinstance(spec, str):
        raise TypeError(
            f"spec must be a str, os.PathLike, Kernel or 2-D array of numbers, not {type(spec).__name__}"
        )
    folders = full_search_path(search_path)

    # 1. a file path
    if spec.lower().endswith(FILE_EXTENSIONS):
        return load_file(Path(spec), shown=spec)
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
    if text.startswith(INLINE_START):
        try:
            return Kernel(name="inline", matrix=parse_inline(text), source="inline")
        except KernelError:
            named = named_in(text, folders) if valid_name(text) else None
            if named is None:
                raise
            return named
    # 3. a parametric kernel
    kind, colon, args = text.partition(":")
    if colon and re.fullmatch(r"[a-z]+", kind):
        if kind not in PARAMETRIC:
            raise KernelError(
                f"unknown parametric kernel {kind!r}; use one of {', '.join(parametric_examples())}"
            )
        if not args.strip():
            raise param_error(kind, "parameters are missing")
        return build_parametric(kind, args)
    # 4. a name
    if valid_name(text):
        named = named_in(text, folders)
        if named is None:
            raise _unknown(text, folders)
        return named
    if valid_name(text.lower()):
        raise KernelError(f"{text!r} is not a kernel; kernel names are lower-case: try {text.lower()!r}")
    parts = [part.strip() for part in text.split(",")]
    if len(parts) > 1 and all(valid_name(part) and named_in(part, folders) is not None for part in parts):
        # `-k box3,sobel-x`: a list where one kernel goes; each kernel is its own -k (or list entry)
        raise KernelError(f"{text!r} names {len(parts)} kernels in one spec; give each as a spec of its own: "
                          + ", ".join(parts))
    raise KernelError(f"{text!r} is not a kernel; {_FORMS}")
