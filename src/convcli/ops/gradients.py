"""Image gradients with the Sobel, Scharr and Prewitt operators (docs/semantics.md §1; README,
Pooling, gradients and upsampling).

``gx`` is :func:`convcli.ops.filter.filter2d` with the weights ``{OPERATOR}_X`` (the built-in kernel
``{operator}-x`` holds the same) and ``gy`` with ``{OPERATOR}_Y``, under the same geometry options
(mode, boundary, stride, padding, dilation, correlate). Under true convolution (the default) a left-to-right rise in intensity gives a positive
``gx`` and a top-to-bottom rise a positive ``gy``. From them: magnitude ``√(gx² + gy²)`` and direction
``atan2(gy, gx)`` in radians.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..vocabulary import COMPONENTS, OPERATORS
from .checks import as_image, check_keywords, keywords_of
from .filter import filter2d

__all__ = [
    "COMPONENTS",
    "OPERATORS",
    "PREWITT_X",
    "PREWITT_Y",
    "SCHARR_X",
    "SCHARR_Y",
    "SOBEL_X",
    "SOBEL_Y",
    "WEIGHTS",
    "gradients",
    "sobel",
]


def _weights(rows: list[list[int]]) -> np.ndarray:
    weights = np.array(rows, dtype=np.float64)
    weights.setflags(write=False)
    return weights


# The gradient weights are constants here, as in scikit-image's filters/edges.py, not read from the
# kernel library on each call; the library's files of the same names (sobel-x.yaml, ...) hold the
# same weights (a test keeps them equal). Under true convolution a left-to-right rise gives a
# positive x response and a top-to-bottom rise a positive y response; each y kernel is its x
# kernel transposed.
SOBEL_X = _weights([[1, 0, -1], [2, 0, -2], [1, 0, -1]])
SOBEL_Y = SOBEL_X.T
SCHARR_X = _weights([[3, 0, -3], [10, 0, -10], [3, 0, -3]])
SCHARR_Y = SCHARR_X.T
PREWITT_X = _weights([[1, 0, -1], [1, 0, -1], [1, 0, -1]])
PREWITT_Y = PREWITT_X.T
#: Each operator's (x, y) weights, for the operators of convcli.vocabulary.OPERATORS; also the
#: built-in kernels ``NAME-x`` and ``NAME-y``.
WEIGHTS = {"sobel": (SOBEL_X, SOBEL_Y), "scharr": (SCHARR_X, SCHARR_Y), "prewitt": (PREWITT_X, PREWITT_Y)}
#: The geometry keywords :func:`gradients` and :func:`sobel` pass on to :func:`filter2d`: all of its
#: keywords but the kernel's own ``normalize``.
_GEOMETRY = keywords_of(filter2d, leave_out=("normalize",))


def _is_real(value: Any) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool | np.bool_)


def _check_operator(operator: Any) -> str:
    if not isinstance(operator, str) or operator not in OPERATORS:
        raise ValueError(f"`operator` must be one of {', '.join(OPERATORS)}, got {operator!r}")
    return operator


def _check_blur(blur: Any) -> float | None:
    if blur is None:
        return None
    if not _is_real(blur) or not math.isfinite(blur) or blur <= 0:
        raise ValueError(f"`blur` must be a Gaussian sigma > 0 (or None for no blur), got {blur!r}")
    return float(blur)


def gradients(
    image: Any,
    *,
    operator: str = "sobel",
    blur: float | None = None,
    **geometry: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """The x and y gradients of an image: ``filter2d`` with the operator's x and y weights.

    Parameters
    ----------
    image : array_like, shape (H, W) or (H, W, C)
        Channels last; each channel on its own. Integers are computed in floating point.
    operator : {'sobel', 'scharr', 'prewitt'}
        The weights (:data:`WEIGHTS`): :data:`SOBEL_X` = [[1, 0, −1], [2, 0, −2], [1, 0, −1]], Scharr
        with 3, 10, 3 and Prewitt with 1, 1, 1 in place of 1, 2, 1; y is the transpose.
    blur : float, optional
        First smooth with ``gaussian:sigma=BLUR`` (size 2·⌈3σ⌉ + 1), in ``same`` mode at stride 1 with
        the same ``boundary`` and ``cval``, so the blur never changes the shape.
    **geometry
        ``mode``, ``boundary``, ``cval``, ``stride``, ``padding``, ``dilation``, ``correlate``,
        ``engine``: the geometry of both gradient filters and what computes them, keywords of
        :func:`convcli.ops.filter.filter2d` with its defaults. With ``correlate=True`` the kernels are not rotated,
        so a left-to-right rise gives a negative gx.

    Returns
    -------
    (gx, gy) : two numpy.ndarray of the dtype and shape ``filter2d`` gives

    Raises
    ------
    ValueError
        A parameter out of range (names it).
    GeometryError
        The geometry leaves no output pixel.

    Examples
    --------
    >>> ramp = np.tile(np.arange(5.0), (4, 1))          # rises left to right by 1 per pixel
    >>> gx, gy = gradients(ramp, mode="valid")
    >>> gx
    array([[8., 8., 8.],
           [8., 8., 8.]])
    >>> gy
    array([[0., 0., 0.],
           [0., 0., 0.]])
    >>> float(gradients(ramp, operator="scharr", mode="valid")[0][0, 0])
    32.0
    """
    image = as_image(image)
    _check_operator(operator)
    sigma = _check_blur(blur)
    check_keywords(geometry, _GEOMETRY, caller="gradients")
    if sigma is not None:
        image = _blur(image, sigma, geometry)
    x_weights, y_weights = WEIGHTS[operator]
    return filter2d(image, x_weights, **geometry), filter2d(image, y_weights, **geometry)


def _blur(image: Any, sigma: float, geometry: dict[str, Any]) -> np.ndarray:
    """The pre-blur: ``gaussian:sigma=σ`` in ``same`` mode at stride 1, boundary as the gradients'."""
    kept = {name: geometry[name] for name in ("boundary", "cval", "engine") if name in geometry}
    return filter2d(image, f"gaussian:sigma={sigma!r}", mode="same", **kept)


def _magnitude(gx: np.ndarray, gy: np.ndarray) -> np.ndarray:
    """``√(gx² + gy²)``: OpenCV's ``magnitude`` (one vectorised pass, about 3.5× quicker than
    ``numpy.hypot`` on float32; the two agree to the last bit or two), unless its result holds inf
    or NaN — a square that overflowed (|g| ≥ 1.8e19 in float32), or NaN in the input — where
    ``numpy.hypot``, which never squares, gives the answer instead."""
    if gx.dtype in (np.float32, np.float64) and gx.dtype == gy.dtype:
        import cv2  # lazy: heavy import

        flat_x = np.ascontiguousarray(gx).reshape(gx.shape[0], -1)
        flat_y = np.ascontiguousarray(gy).reshape(gy.shape[0], -1)
        result = cv2.magnitude(flat_x, flat_y).reshape(gx.shape)
        if result.size == 0 or math.isfinite(float(result.max())):  # max is NaN if any value is
            return result
    return np.hypot(gx, gy)


def _direction(image: Any, gx: np.ndarray, gy: np.ndarray, *, operator: str, blur: float | None,
               geometry: dict[str, Any]) -> np.ndarray:
    """``atan2(gy, gx)``, where a component that is zero up to the working precision counts as 0.

    A flat image's gradient is a sum of terms that cancel; in floating point it comes out as a
    rounding residue (1e-14 in float64, 1e-7 in float32) whose sign, not the image, would set the
    angle (±π/2). The rule: a component (gx or gy) at a pixel is zero when its magnitude is at most
    ``n·ε·S``, where ε is the machine epsilon of the working dtype, ``S = Σ (|wx| + |wy|)·|x|`` over
    the pixel's window (both kernels with absolute weights, on the absolute values of the pixels,
    blurred first if ``blur``), and ``n`` the number of taps of the kernels that made the gradient
    (3×3, plus the blur's): the textbook bound ``γ_n·Σ|w·x|`` on the rounding error of a sum of
    ``n`` products. Anything the sums can resolve is larger than that and keeps its angle; where
    both components are zero the direction is 0, as ``scipy.ndimage.sobel``'s exact zeros give.
    """
    from ..kernels import load_kernel

    array = np.asarray(image)
    work = gx.dtype
    # One image-sized copy at a time besides gx and gy (the memory estimate counts |x| and the
    # tolerance): gx and gy are this call's own, so they are changed in place.
    absolute = array.astype(work)  # a copy: never the caller's image, changed in place below
    np.abs(absolute, out=absolute)
    x_weights, y_weights = WEIGHTS[operator]
    weights = np.abs(x_weights) + np.abs(y_weights)
    taps = weights.size
    if blur is not None:  # the input was the blurred image: its own rounding adds the blur's taps
        taps += load_kernel(f"gaussian:sigma={blur!r}").matrix.size
    kept = {name: value for name, value in geometry.items() if name != "cval"}
    # |cval| fills the padding of |x| exactly as cval fills that of x.
    scale = filter2d(absolute, weights, cval=abs(float(geometry.get("cval", 0.0))), **kept)
    absolute = None
    # inf and NaN stay so when scaled (the factor is below 1): they get a tolerance of −1, none.
    scale *= taps * np.finfo(work).eps
    scale[~np.isfinite(scale)] = -1.0
    tolerance = scale.astype(work, copy=False)
    for component in (gx, gy):
        component += 0.0  # −0.0 becomes +0.0, so a zero gy with a negative gx gives π, never −π
        component[np.abs(component) <= tolerance] = 0.0
    scale = tolerance = None
    return np.arctan2(gy, gx)


def sobel(
    image: Any,
    *,
    operator: str = "sobel",
    component: str = "magnitude",
    blur: float | None = None,
    threshold: float | None = None,
    **geometry: Any,
) -> np.ndarray:
    """Gradient magnitude, one gradient component, or gradient direction of an image.

    Parameters
    ----------
    image : array_like, shape (H, W) or (H, W, C)
        Channels last; each channel on its own.
    operator : {'sobel', 'scharr', 'prewitt'}
        Which kernel pair (see :func:`gradients`).
    component : {'magnitude', 'x', 'y', 'direction'}
        ``√(gx² + gy²)`` (without overflow of the squares), ``gx``, ``gy``, or ``atan2(gy, gx)`` in radians, in
        (−π, π]: 0 for a left-to-right rise, π/2 for a top-to-bottom rise, 0 where there is no
        gradient. A component that is zero up to the working precision (within the rounding bound
        ``n·ε·Σ|w·x|`` of its sum, see :func:`_direction`), as on a flat float image, counts as
        0, so rounding residues never decide an angle.
    blur : float, optional
        Gaussian sigma of a pre-blur (see :func:`gradients`).
    threshold : float, optional
        Return a boolean edge map ``value > threshold`` instead, where value is the magnitude, or
        ``|gx|`` / ``|gy|`` for ``x`` / ``y``. Not for ``direction``.
    **geometry
        The geometry keywords of :func:`gradients`, applied to both gradient filters (and ``boundary``,
        ``cval`` and ``engine`` to the blur).

    Returns
    -------
    numpy.ndarray
        The dtype ``filter2d`` gives (float32 for images of 16 bits or less), or bool with
        ``threshold``; the shape ``filter2d`` gives for a 3×3 kernel.

    Raises
    ------
    ValueError
        A parameter out of range (names it).
    TypeError
        A keyword that is not an option.
    GeometryError
        The geometry leaves no output pixel.

    Examples
    --------
    >>> img = np.zeros((4, 5)); img[:, 3:] = 10.0        # a vertical edge, dark to bright
    >>> sobel(img, boundary="edge")
    array([[ 0.,  0., 40., 40.,  0.],
           [ 0.,  0., 40., 40.,  0.],
           [ 0.,  0., 40., 40.,  0.],
           [ 0.,  0., 40., 40.,  0.]])
    >>> sobel(img, component="x", mode="valid")
    array([[ 0., 40., 40.],
           [ 0., 40., 40.]])
    >>> sobel(img, component="direction", mode="valid")      # gradient along +x: angle 0
    array([[0., 0., 0.],
           [0., 0., 0.]])
    >>> sobel(img.T, component="direction", mode="valid").round(4)   # along +y (downwards): π/2
    array([[0.    , 0.    ],
           [1.5708, 1.5708],
           [1.5708, 1.5708]])
    >>> sobel(img, threshold=35, mode="valid")
    array([[False,  True,  True],
           [False,  True,  True]])
    """
    image = as_image(image)
    _check_operator(operator)
    if not isinstance(component, str) or component not in COMPONENTS:
        raise ValueError(f"`component` must be one of {', '.join(COMPONENTS)}, got {component!r}")
    sigma = _check_blur(blur)
    if threshold is not None:
        if component == "direction":
            raise ValueError(
                "`threshold` makes an edge map from the magnitude, x or y, not from component='direction'"
            )
        if not _is_real(threshold) or not math.isfinite(threshold):
            raise ValueError(f"`threshold` must be a finite number, got {threshold!r}")
    check_keywords(geometry, _GEOMETRY, caller="sobel")

    if sigma is not None:
        image = _blur(image, sigma, geometry)
    if component in ("x", "y"):  # one filter, not both
        x_weights, y_weights = WEIGHTS[operator]
        value = filter2d(image, x_weights if component == "x" else y_weights, **geometry)
    else:
        gx, gy = gradients(image, operator=operator, **geometry)
        if component == "direction":
            return _direction(image, gx, gy, operator=operator, blur=sigma, geometry=geometry)
        value = _magnitude(gx, gy)
    if threshold is None:
        return value
    return np.abs(value) > threshold

