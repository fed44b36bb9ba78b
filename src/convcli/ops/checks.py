"""The one check every op makes of the image it is given."""

from __future__ import annotations

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
