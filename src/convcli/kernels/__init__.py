"""Kernels: the :class:`Kernel` type, the built-in library, and every way of naming a kernel (README, Kernels).

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

The package has one module per job; this one re-exports the public names, lazily, so that
importing :mod:`convcli.kernels.spec` (shell completion) costs neither numpy nor YAML:

- :mod:`~convcli.kernels.spec`: the spec grammar (names, file suffixes, inline start, limits, the
  parametric kinds and their examples) and the built-in folder; no numpy;
- :mod:`~convcli.kernels.kernel`: the :class:`Kernel` type;
- :mod:`~convcli.kernels.matrix`: the number grammar, the matrix checks, inline matrices;
- :mod:`~convcli.kernels.files`: YAML, ``.npy`` and text kernel files;
- :mod:`~convcli.kernels.library`: the search path and the built-in library;
- :mod:`~convcli.kernels.parametric`: ``gaussian``, ``box``, ``log``, ``dog``, ``disk``;
- :mod:`~convcli.kernels.resolve`: :func:`load_kernel`, which tries the forms in order;
- :mod:`~convcli.kernels.display`: how ``kernels show`` writes the numbers (exact fractions, sums
  that are zero up to rounding, the kernel as applied, a grid within a width);
- :mod:`~convcli.kernels.picture`: the kernel drawn as an annotated grid (Pillow, lazily).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

# public name -> module that defines it
_API = {
    "FILE_EXTENSIONS": "spec",
    "MAX_ELEMENTS": "spec",
    "MAX_SIDE": "spec",
    "Kernel": "kernel",
    "builtin_kernel_dir": "spec",
    "kernel_search_path": "library",
    "list_kernels": "library",
    "search_path_problems": "library",
    "load_kernel": "resolve",
    "survey_kernels": "library",
    "parse_kernel_yaml": "files",
    "applied_matrix": "display",
    "exact_fraction": "display",
    "grid_lines": "display",
    "matrix_cells": "display",
    "shown_sum": "display",
    "kernel_picture": "picture",
}

__all__ = list(_API)

if TYPE_CHECKING:  # pragma: no cover
    from .display import applied_matrix, exact_fraction, grid_lines, matrix_cells, shown_sum
    from .files import parse_kernel_yaml
    from .kernel import Kernel
    from .library import kernel_search_path, list_kernels, search_path_problems, survey_kernels
    from .picture import kernel_picture
    from .resolve import load_kernel
    from .spec import FILE_EXTENSIONS, MAX_ELEMENTS, MAX_SIDE, builtin_kernel_dir


# each name imported from its module on first use (convcli._lazy)
__getattr__, __dir__ = lazy_exports(globals(), {name: f"{__name__}.{module}" for name, module in _API.items()})
