"""The one check every op makes of the image it is given, and of the keywords an op passes on."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np


def as_image(image: Any, *, name: str = "image") -> np.ndarray:
    """``image`` as an array of shape (H, W) or (H, W, C), every side at least 1, of real numbers
    (or bools); a ValueError naming ``name`` otherwise.

    Examples
    --------
    >>> as_image([[1, 2], [3, 4]]).shape
    (2, 2)
    >>> as_image(np.zeros((4, 4, 0)))
    Traceback (most recent call last):
    ...
    ValueError: `image` must have shape (H, W) or (H, W, C) with H, W, C >= 1, got (4, 4, 0)
    """
    array = np.asarray(image)
    if array.ndim not in (2, 3) or 0 in array.shape:
        raise ValueError(f"`{name}` must have shape (H, W) or (H, W, C) with H, W, C >= 1, got {array.shape}")
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool) or np.iscomplexobj(array):
        raise ValueError(f"`{name}` must hold real numbers, got dtype {array.dtype}")
    return array


def keywords_of(function: Callable, *, leave_out: Sequence[str] = ()) -> tuple[str, ...]:
    """The keyword-only parameters of ``function`` (those an op passes on to it), less ``leave_out``.

    Examples
    --------
    >>> def shape(image, *, strides=1, padding="valid"): ...
    >>> keywords_of(shape)
    ('strides', 'padding')
    """
    return tuple(name for name, parameter in inspect.signature(function).parameters.items()
                 if parameter.kind is parameter.KEYWORD_ONLY and name not in leave_out)


def keyword_defaults(function: Callable, *, leave_out: Sequence[str] = ()) -> dict[str, Any]:
    """The keyword-only parameters of ``function`` with their defaults, less ``leave_out``: what a
    function that passes them on (or reads them as ``function`` does) takes when they are not given.

    Examples
    --------
    >>> def shape(image, *, strides=1, padding="valid"): ...
    >>> keyword_defaults(shape)
    {'strides': 1, 'padding': 'valid'}
    """
    return {name: parameter.default for name, parameter in inspect.signature(function).parameters.items()
            if parameter.kind is parameter.KEYWORD_ONLY and name not in leave_out}


def check_keywords(given: dict[str, Any], allowed: Sequence[str], *, caller: str) -> None:
    """Refuse a keyword that is not one of ``allowed``, as Python refuses an unknown keyword.

    Examples
    --------
    >>> check_keywords({"stride": 2}, ("strides", "padding"), caller="conv2d_transpose")
    Traceback (most recent call last):
    ...
    TypeError: conv2d_transpose() got an unexpected keyword argument 'stride'; its keywords are strides, padding
    """
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise TypeError(f"{caller}() got an unexpected keyword argument {unknown[0]!r}; its keywords are "
                        f"{', '.join(allowed)}")
