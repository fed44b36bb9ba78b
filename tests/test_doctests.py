"""Every docstring example in the package runs and prints what it says."""

import doctest
import importlib
import pkgutil

import pytest

import convcli

MODULES = sorted(
    info.name for info in pkgutil.walk_packages(convcli.__path__, prefix="convcli.") if info.name != "convcli.__main__"
)


@pytest.mark.parametrize("name", ["convcli", *MODULES])
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"


def test_no_example_prints_a_numpy_2_scalar_repr():
    # NumPy 2 prints a scalar as np.float64(1.5), NumPy 1.26 (the lowest allowed) as 1.5: an example
    # expecting either fails on the other. Print float(...) or an array instead.
    import re
    from pathlib import Path

    pattern = re.compile(r"^\s*np\.(float|int|uint|bool)\w*\(", re.M)
    offenders = [str(path) for path in Path(convcli.__file__).parent.rglob("*.py") if pattern.search(path.read_text(encoding="utf-8"))]
    assert offenders == []
