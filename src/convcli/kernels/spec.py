"""The grammar of a kernel spec, without numpy or YAML: what shell completion and help can use cheaply.

Everything here is text and paths: the NAME pattern, the kernel file suffixes, the characters that
start an inline matrix, the size limits, the parametric kinds with their examples, and the folder of
the built-in library. The modules that build kernels (numpy) and the CLI (completion, help) both
read it from here, so a rule or an example is written once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from pathlib import Path

__all__ = [
    "FILE_EXTENSIONS",
    "INLINE_START",
    "MAX_ELEMENTS",
    "MAX_SIDE",
    "NAME_PATTERN",
    "NAME_RE",
    "PARAMETRIC",
    "PARAMETRIC_KINDS",
    "ParametricForm",
    "builtin_kernel_dir",
    "parametric_examples",
    "valid_name",
]

#: The largest side of a kernel, and the most values it may hold.
MAX_SIDE = 1025
MAX_ELEMENTS = 1_000_000
#: A spec ending in one of these (any case) is a kernel file.
FILE_EXTENSIONS = (".yaml", ".yml", ".npy", ".txt", ".csv")
#: A kernel NAME, looked up as ``NAME.yaml`` (and never containing ``..``, see :func:`valid_name`).
NAME_PATTERN = "[a-z0-9][a-z0-9._-]*"
NAME_RE = re.compile(NAME_PATTERN + r"\Z")
#: Text starting with one of these is tried as an inline matrix first.
INLINE_START = tuple("0123456789-+.[")


def valid_name(name: str) -> bool:
    """True if ``name`` is a kernel NAME: ``[a-z0-9][a-z0-9._-]*`` without ``..``.

    Examples
    --------
    >>> valid_name("sobel-x"), valid_name("Sobel"), valid_name("a..b")
    (True, False, False)
    """
    return bool(NAME_RE.match(name)) and ".." not in name


@dataclass(frozen=True)
class ParametricForm:
    """One parametric kernel kind and every text that shows it.

    Attributes
    ----------
    kind : str
        The word before the colon.
    examples : tuple of str
        Complete specs, the plainest first; error messages and option help quote them.
    sized : str
        An example with ``size=N`` ("" when it takes no size beyond the examples).
    optional : str
        What ``convcli help kernels`` writes after the first example ("" writes all examples).
    help : str
        The description in ``convcli help kernels`` (lines after the first are continuation lines).
    completion : str
        The description shell completion shows next to :attr:`prefix`.

    Examples
    --------
    What completion offers (:attr:`prefix`) and how ``convcli help kernels`` shows the form
    (:attr:`synopsis`):

    >>> [(PARAMETRIC[kind].prefix, PARAMETRIC[kind].synopsis) for kind in ("gaussian", "box")]
    [('gaussian:sigma=', 'gaussian:sigma=1.5[,size=7]'), ('box:', 'box:5  or  box:3x5')]
    """

    kind: str
    examples: tuple[str, ...]
    sized: str
    optional: str
    help: str
    completion: str

    @property
    def prefix(self) -> str:
        """What completion offers: the first example up to its first ``=`` (or its ``:``)."""
        example = self.examples[0]
        cut = example.find("=")
        return example[: cut + 1] if cut >= 0 else example[: example.index(":") + 1]

    @property
    def synopsis(self) -> str:
        """The form as ``convcli help kernels`` shows it: the first example and what may follow it,
        or every example."""
        return self.examples[0] + self.optional if self.optional else "  or  ".join(self.examples)

    @property
    def hint(self) -> str:
        """The examples an error message about this kind ends with: ``e.g. HINT``."""
        return " or ".join([*self.examples, *([self.sized] if self.sized else [])])


_FORMS = (
    ParametricForm(
        "gaussian", ("gaussian:sigma=1.5",), "gaussian:sigma=1.5,size=7", "[,size=7]",
        "size 2·⌈3σ⌉ + 1 unless given; exp(−(i−c)²/2σ²), outer\nproduct normalised to sum 1",
        "Gaussian, size 2·⌈3σ⌉+1 unless ,size=N; sums to 1",
    ),
    ParametricForm(
        "box", ("box:5", "box:3x5"), "", "",
        "ones / (rows·cols)",
        "box:N or box:RxC, the mean of the window",
    ),
    ParametricForm(
        "log", ("log:sigma=1.4",), "log:sigma=1.4,size=9", "[,size=N]",
        "Laplacian of Gaussian, normalised to sum 0",
        "Laplacian of Gaussian, sums to 0",
    ),
    ParametricForm(
        "dog", ("dog:sigma1=1,sigma2=2",), "", "[,size=N]",
        "difference of Gaussians, sum 0",
        "difference of Gaussians dog:sigma1=A,sigma2=B, sums to 0",
    ),
    ParametricForm(
        "disk", ("disk:radius=3",), "", "",
        "ones where i² + j² ≤ r², normalised to sum 1",
        "ones where i² + j² ≤ r², sums to 1",
    ),
)

#: The parametric kernel kinds by name, in the order help and messages show them.
PARAMETRIC = {form.kind: form for form in _FORMS}
PARAMETRIC_KINDS = tuple(PARAMETRIC)


def parametric_examples(*, every: bool = True) -> list[str]:
    """Examples of the parametric kinds, in order: every plain example, or the first of each kind.

    Examples
    --------
    >>> parametric_examples(every=False)
    ['gaussian:sigma=1.5', 'box:5', 'log:sigma=1.4', 'dog:sigma1=1,sigma2=2', 'disk:radius=3']
    >>> parametric_examples()[:3]
    ['gaussian:sigma=1.5', 'box:5', 'box:3x5']
    """
    return [example for form in _FORMS for example in (form.examples if every else form.examples[:1])]


def builtin_kernel_dir() -> Path:
    """The folder of the built-in kernel library.

    An installed wheel carries it as ``convcli/_kernels``; a source checkout or editable install uses the
    repository's top-level ``kernels/`` folder. The packaged folder wins when both exist.

    Examples
    --------
    >>> (builtin_kernel_dir() / "sobel-x.yaml").is_file()
    True
    """
    from pathlib import Path  # lazy: `convcli --version` needs no paths

    package = Path(__file__).resolve().parents[1]  # src/convcli (or site-packages/convcli)
    packaged = package / "_kernels"
    if packaged.is_dir():
        return packaged
    checkout = package.parents[1] / "kernels"
    return checkout if checkout.is_dir() else packaged
