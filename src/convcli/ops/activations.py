"""The element-wise and per-channel CNN layers, with Keras's definitions: :func:`activation`,
:func:`rescale` (``Rescaling``), :func:`zero_pad` and :func:`crop` (``ZeroPadding2D``, ``Cropping2D``)
and inference-time :func:`batch_norm` (``BatchNormalization``).

Images are channels last, (H, W) or (H, W, C); these functions keep the image's shape (a 2-D
image stays 2-D, with one channel). :func:`activation`, :func:`rescale` and :func:`batch_norm`
compute in :func:`convcli.dtypes.work_dtype`; :func:`zero_pad` and :func:`crop` only move values and
keep the dtype.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..dtypes import work_dtype
from ..errors import GeometryError
from ..vocabulary import ACTIVATION_ALPHA, ACTIVATIONS
from .checks import as_image

__all__ = ["ACTIVATIONS", "WORKING_ARRAYS", "activation", "batch_norm", "crop", "crop_shape", "keras_amounts",
           "rescale", "zero_pad", "zero_pad_shape"]

#: Arrays of the result's size each function holds at its busiest, the result included (measured with
#: tracemalloc on float32; the memory estimate behind ``max_memory`` uses them).
WORKING_ARRAYS = {"relu": 1.0, "tanh": 1.0, "softplus": 3.0, "elu": 3.25, "leaky_relu": 3.25, "gelu": 5.0,
                  "sigmoid": 5.25, "linear": 0.0}

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


def _number(value: Any, *, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.number) or not math.isfinite(value):
        raise ValueError(f"`{name}` must be a finite number, got {value!r}")
    return float(value)


def activation(x: Any, *, function: str, alpha: float | None = None, approximate: bool = False) -> np.ndarray:
    """Apply a Keras activation function element by element.

    Parameters
    ----------
    x : array_like, shape (H, W) or (H, W, C)
    function : {'relu', 'leaky_relu', 'sigmoid', 'tanh', 'softplus', 'elu', 'gelu', 'linear'}
        ``relu``: ``max(x, 0)``; ``leaky_relu``: ``x`` for ``x >= 0``, else ``alpha·x``;
        ``sigmoid``: ``1/(1 + e^−x)``; ``tanh``; ``softplus``: ``log(1 + e^x)``; ``elu``: ``x`` for
        ``x > 0``, else ``alpha·(e^x − 1)``; ``gelu``: ``x·Φ(x) = ½x(1 + erf(x/√2))`` (Keras's default,
        ``approximate=False``) or, with ``approximate``, ``½x(1 + tanh(√(2/π)(x + 0.044715x³)))``;
        ``linear``: ``x``. Sigmoid and softplus are computed from ``e^−|x|`` (no overflow).
    alpha : float, optional
        ``leaky_relu``'s negative slope (default 0.2, as ``keras.activations.leaky_relu``; Keras's
        ``LeakyReLU`` layer defaults to 0.3) and ``elu``'s scale (default 1.0); refused for the others.
    approximate : bool
        ``gelu`` only: the tanh approximation.

    Returns
    -------
    numpy.ndarray of :func:`convcli.dtypes.work_dtype`, the shape of ``x``

    Examples
    --------
    >>> x = np.array([[-2.0, 0.0, 3.0]])
    >>> activation(x, function="relu")
    array([[0., 0., 3.]])
    >>> activation(x, function="leaky_relu", alpha=0.5)
    array([[-1.,  0.,  3.]])
    >>> activation(np.array([[-1000.0, 0.0, 1000.0]]), function="sigmoid")
    array([[0. , 0.5, 1. ]])
    >>> activation(np.array([[0, 1]], dtype=np.uint8), function="softplus").round(4)
    array([[0.6931, 1.3133]], dtype=float32)
    """
    array = as_image(x, name="x")
    if not isinstance(function, str) or function.lower() not in ACTIVATIONS:
        raise ValueError(f"`function` must be one of {', '.join(ACTIVATIONS)}, got {function!r}")
    function = function.lower()
    if alpha is not None and function not in ACTIVATION_ALPHA:
        raise ValueError(f"`alpha` applies to {' and '.join(ACTIVATION_ALPHA)}, not to {function}")
    if approximate and function != "gelu":
        raise ValueError(f"`approximate` applies to gelu, not to {function}")
    slope = ACTIVATION_ALPHA.get(function, 0.0) if alpha is None else _number(alpha, name="alpha")
    values = np.array(array, dtype=work_dtype(array.dtype))  # a copy: the result is computed in place
    kind = values.dtype.type
    if function == "relu":
        return np.maximum(values, kind(0), out=values)
    if function == "leaky_relu":
        return np.where(values >= 0, values, kind(slope) * values)
    if function == "sigmoid":
        small = np.exp(-np.abs(values))  # in (0, 1]: never overflows
        return np.where(values >= 0, 1 / (1 + small), small / (1 + small))
    if function == "tanh":
        return np.tanh(values, out=values)
    if function == "softplus":
        return np.log1p(np.exp(-np.abs(values))) + np.maximum(values, kind(0))
    if function == "elu":
        return np.where(values > 0, values, kind(slope) * np.expm1(np.minimum(values, kind(0))))
    if function == "gelu":
        if approximate:
            with np.errstate(over="ignore"):  # x³ of a huge x is inf, and tanh(±inf) = ±1 is right
                inner = kind(_SQRT_2_OVER_PI) * (values + kind(0.044715) * values**3)
            return kind(0.5) * values * (1 + np.tanh(inner))
        from scipy.special import erf  # lazy: heavy import

        return kind(0.5) * values * (1 + erf(values / kind(math.sqrt(2.0))))
    return values  # linear


def _per_channel(value: Any, channels: int, *, name: str, dtype: np.dtype) -> np.ndarray:
    """A scalar or one finite value per channel, as an array that broadcasts over (H, W[, C])."""
    array = np.asarray(value)
    if array.dtype == bool or not np.issubdtype(array.dtype, np.number) or np.iscomplexobj(array):
        raise ValueError(f"`{name}` must be a number or one number per channel, got {value!r}")
    if array.ndim > 1 or (array.ndim == 1 and array.shape[0] != channels):
        raise ValueError(f"`{name}` must be a number or hold one value per channel ({channels}), got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"`{name}` must be finite")
    return array.astype(dtype)


def rescale(x: Any, *, scale: Any, offset: Any = 0.0) -> np.ndarray:
    """Keras ``Rescaling``: ``x·scale + offset``, each a number or one number per channel.

    Examples
    --------
    >>> rescale(np.array([[0, 255]], dtype=np.uint8), scale=1 / 255)
    array([[0., 1.]], dtype=float32)
    >>> rescale(np.ones((1, 1, 2)), scale=[2, 3], offset=-1).tolist()
    [[[1.0, 2.0]]]
    """
    array = as_image(x, name="x")
    work = work_dtype(array.dtype)
    channels = 1 if array.ndim == 2 else array.shape[2]
    factor = _per_channel(scale, channels, name="scale", dtype=work)
    shift = _per_channel(offset, channels, name="offset", dtype=work)
    if array.ndim == 2:
        factor, shift = factor.reshape(()), shift.reshape(())  # one channel: its value, as a scalar
    return array.astype(work) * factor + shift


def keras_amounts(value: Any, *, name: str) -> tuple[tuple[int, int], tuple[int, int]]:
    """Keras's ``padding``/``cropping`` forms as ``((top, bottom), (left, right))``: an int (every side),
    ``(rows, cols)`` (symmetric) or ``((top, bottom), (left, right))``.

    Examples
    --------
    >>> keras_amounts(1, name="padding"), keras_amounts((1, 2), name="padding")
    (((1, 1), (1, 1)), ((1, 1), (2, 2)))
    >>> keras_amounts(((0, 1), (2, 3)), name="cropping")
    ((0, 1), (2, 3))
    """
    def whole(v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int | np.integer | float) or int(v) != v or v < 0:
            raise ValueError(f"`{name}` must be whole numbers >= 0, got {v!r}")
        return int(v)

    wrong = (f"`{name}` must be an int, (rows, cols) or ((top, bottom), (left, right)) as Keras takes it, "
             f"got {value!r}")
    if isinstance(value, int | np.integer | float) and not isinstance(value, bool):
        n = whole(value)
        return (n, n), (n, n)
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 2:
        raise ValueError(wrong)
    pairs = []
    for part in value:
        if isinstance(part, Sequence) and not isinstance(part, str):
            if len(part) != 2:
                raise ValueError(wrong)
            pairs.append((whole(part[0]), whole(part[1])))
        else:
            pairs.append((whole(part), whole(part)))
    return pairs[0], pairs[1]


def zero_pad_shape(shape: Sequence[int], *, padding: Any) -> tuple[int, ...]:
    """Shape :func:`zero_pad` gives.

    >>> zero_pad_shape((28, 28, 1), padding=(1, 2))
    (30, 32, 1)
    """
    (top, bottom), (left, right) = keras_amounts(padding, name="padding")
    return (shape[0] + top + bottom, shape[1] + left + right, *shape[2:])


def zero_pad(x: Any, *, padding: Any) -> np.ndarray:
    """Keras ``ZeroPadding2D``: zeros around the image (``padding`` as :func:`keras_amounts` takes it).

    Examples
    --------
    >>> zero_pad(np.array([[5]], dtype=np.uint8), padding=((0, 1), (1, 0)))
    array([[0, 5],
           [0, 0]], dtype=uint8)
    """
    array = as_image(x, name="x")
    (top, bottom), (left, right) = keras_amounts(padding, name="padding")
    return np.pad(array, [(top, bottom), (left, right)] + [(0, 0)] * (array.ndim - 2))


def crop_shape(shape: Sequence[int], *, cropping: Any) -> tuple[int, ...]:
    """Shape :func:`crop` gives; a GeometryError when nothing would remain.

    >>> crop_shape((28, 28, 16), cropping=((2, 2), (4, 4)))
    (24, 20, 16)
    """
    (top, bottom), (left, right) = keras_amounts(cropping, name="cropping")
    rows, cols = shape[0] - top - bottom, shape[1] - left - right
    if rows < 1 or cols < 1:
        raise GeometryError(
            f"`cropping` {top} + {bottom} rows and {left} + {right} columns leaves nothing of a "
            f"{shape[0]}×{shape[1]} image: crop less"
        )
    return (rows, cols, *shape[2:])


def crop(x: Any, *, cropping: Any) -> np.ndarray:
    """Keras ``Cropping2D``: remove rows and columns at the edges (``cropping`` as
    :func:`keras_amounts` takes it). A copy, in the image's dtype.

    Examples
    --------
    >>> crop(np.arange(16).reshape(4, 4), cropping=((1, 0), (1, 2))).tolist()
    [[5], [9], [13]]
    """
    array = as_image(x, name="x")
    crop_shape(array.shape, cropping=cropping)
    (top, bottom), (left, right) = keras_amounts(cropping, name="cropping")
    return array[top : array.shape[0] - bottom, left : array.shape[1] - right].copy()


def batch_norm(
    x: Any,
    *,
    gamma: Any = None,
    beta: Any = None,
    moving_mean: Any,
    moving_variance: Any,
    epsilon: float = 1e-3,
) -> np.ndarray:
    """Keras ``BatchNormalization`` at inference: ``gamma·(x − mean)/√(variance + epsilon) + beta`` per channel.

    Computed as Keras does, ``x·k + (beta − mean·k)`` with ``k = gamma/√(variance + epsilon)``.

    Parameters
    ----------
    x : array_like, shape (H, W) or (H, W, C)
    gamma, beta : array_like of C values, optional
        Scale and offset (None: 1 and 0, Keras's ``scale=False``, ``center=False``).
    moving_mean, moving_variance : array_like of C values
        The statistics learnt in training; variances >= 0.
    epsilon : float
        Added to the variance; Keras's default 1e-3 (PyTorch's ``BatchNorm2d``: 1e-5).

    Examples
    --------
    >>> batch_norm(np.array([[1.0, 3.0]]), moving_mean=[2.0], moving_variance=[4.0], epsilon=0.0)
    array([[-0.5,  0.5]])
    """
    array = as_image(x, name="x")
    channels = 1 if array.ndim == 2 else array.shape[2]
    eps = _number(epsilon, name="epsilon")
    if eps < 0:
        raise ValueError(f"`epsilon` must be >= 0, got {epsilon!r}")

    def values(value: Any, name: str, default: float) -> np.ndarray:
        if value is None:
            return np.full(channels, default)
        array_ = np.asarray(value)
        if array_.ndim != 1 or array_.shape[0] != channels:
            raise ValueError(f"`{name}` must hold one value per channel ({channels}), got shape {array_.shape}")
        return _per_channel(array_, channels, name=name, dtype=np.dtype(np.float64))

    if moving_mean is None or moving_variance is None:
        raise ValueError("`moving_mean` and `moving_variance` are needed: the statistics the layer learnt")
    scale, shift = values(gamma, "gamma", 1.0), values(beta, "beta", 0.0)
    mean, variance = values(moving_mean, "moving_mean", 0.0), values(moving_variance, "moving_variance", 1.0)
    if (variance < 0).any():
        raise ValueError("`moving_variance` must be >= 0")
    if (variance + eps <= 0).any():
        raise ValueError("`moving_variance` + `epsilon` must be > 0: give an epsilon > 0")
    factor = scale / np.sqrt(variance + eps)
    work = work_dtype(array.dtype)
    offset = (shift - mean * factor).astype(work)
    factor = factor.astype(work)
    if array.ndim == 2:
        factor, offset = factor[0], offset[0]
    return array.astype(work) * factor + offset
