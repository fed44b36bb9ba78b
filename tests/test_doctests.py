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
