"""The :class:`Kernel` type: a named, checked, read-only 2-D matrix of weights."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

import numpy as np

from ..errors import KernelError
from .matrix import to_matrix

__all__ = ["Kernel"]

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
        matrix = to_matrix(self.matrix, prefix=f"kernel {self.name!r}: ")
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
        >>> from convcli.kernels import load_kernel
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
                f"kernel {self.name} sums to 0; `normalize` needs a kernel with a non-zero sum"
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

