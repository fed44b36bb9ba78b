"""Lazy re-exports: a package's public names, each imported from its module on first use.

So importing a package (``convcli.ops``, ``convcli.images``) costs nothing but the package itself,
and a command imports only the modules whose names it uses.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any


def lazy_exports(namespace: dict[str, Any], api: Mapping[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The module-level ``__getattr__`` and ``__dir__`` of a package whose ``namespace`` (its
    ``globals()``) re-exports ``api``: public name → the absolute name of the module defining it.
    A name is imported on first use and kept in ``namespace``.

    Examples
    --------
    >>> namespace = {"__name__": "demo"}
    >>> getattr_, dir_ = lazy_exports(namespace, {"sqrt": "math"})
    >>> getattr_("sqrt")(9.0), "sqrt" in namespace, dir_()
    (3.0, True, ['__name__', 'sqrt'])
    """

    def __getattr__(name: str) -> Any:
        if name in api:
            value = getattr(import_module(api[name]), name)
            namespace[name] = value
            return value
        raise AttributeError(f"module {namespace['__name__']!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted({*namespace, *api})

    return __getattr__, __dir__
