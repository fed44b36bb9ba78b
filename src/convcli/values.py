"""Value mapping: a floating-point result turned into the values of an output dtype.

Not image I/O: :func:`map_values` takes an array and gives an array (and what it clipped). The
rules (rounding half to even, clipping, ``abs``, ``normalize``, ``offset``, alpha, angles and
masks) are those of the command line's ``--scale`` and ``--dtype``; :func:`convcli.images.write_image`
and the command line both map through here.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from .vocabulary import OUTPUT_DTYPES, SCALES

__all__ = ["KINDS", "OUTPUT_DTYPES", "SCALES", "map_values"]



#: What a result's values are, for :func:`map_values`: plain values, angles in radians, or a mask.
KINDS = ("values", "angle", "mask")


def map_values(
    values: np.ndarray,
    *,
    dtype: str,
    scale: str = "clip",
    alpha: bool = False,
    kind: str = "values",
    alpha_max: float | None = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Turn a floating-point result into the output dtype.

    Float dtypes (``"float32"``, ``"float64"``) get the raw values, never clipped or rounded
    (``scale`` is ignored and reported as ``"raw"``). For ``"uint8"`` and ``"uint16"``
    (``top`` = 255 or 65535):

    - ``clip``: round, then clip into 0..top;
    - ``abs``: absolute value, then round and clip;
    - ``normalize``: stretch min..max (over all colour channels together) to 0..top; a
      constant image becomes all 0;
    - ``offset``: add half the range ((top + 1) / 2: 128 or 32768), then round and clip, so
      signed responses sit around mid-grey.

    Rounding is ``numpy.rint``: halves go to the even neighbour (0.5 → 0, 1.5 → 2, 2.5 → 2).
    Results are those of float64 arithmetic (the input converted to float64, then scaled,
    rounded and clipped). Float32 input is not converted, as float32 gives the same results
    (OpenCV rounds and clips in one pass, where the installed version is checked to round as
    ``numpy.rint`` does); ``offset`` and ``normalize`` compute in float64, in blocks.
    With ``alpha=True`` the last channel is alpha: it is only rounded and clipped, whatever
    ``scale`` says, and it takes no part in ``normalize``'s min..max.

    ``alpha_max`` is the full-opacity value of the input's alpha (255 for uint8, 65535 for
    uint16): alpha is rescaled to the output's range, so 8-bit alpha written as 16-bit stays opaque.

    ``kind="angle"`` (radians, e.g. a gradient direction) maps −π..π linearly onto 0..top for
    integer dtypes, ``(θ + π)/(2π)·top``, whatever ``scale`` says; ``kind="mask"`` (booleans) gives
    0 and top. Float dtypes keep radians, and 0.0/1.0 for masks.

    Parameters
    ----------
    values : numpy.ndarray
        The result, (H, W) or (H, W, C), real numbers.
    dtype : str
        ``"uint8"``, ``"uint16"``, ``"float32"`` or ``"float64"``.
    scale : str, optional
        One of :data:`SCALES`; default ``"clip"``.
    alpha : bool, optional
        The last channel is alpha (needs 2 or more channels).

    Returns
    -------
    array : numpy.ndarray
        A new array of ``dtype``.
    info : dict
        ``{"scale": scale or "raw", "dtype": dtype, "clipped": n, "clipped_below": b,
        "clipped_above": a}``: n = b + a values were outside 0..top after rounding and so were
        clipped, b of them below 0 and a above top.

    Raises
    ------
    ValueError
        Bad argument, or NaN/inf values for an integer dtype.

    Examples
    --------
    >>> import numpy as np
    >>> out, info = map_values(np.array([[-3.0, 0.5, 1.5, 300.0]]), dtype="uint8")
    >>> out.tolist(), info["clipped"], info["clipped_below"], info["clipped_above"]
    ([[0, 0, 2, 255]], 2, 1, 1)
    >>> map_values(np.array([[-1.0, 0.0, 1.0]]), dtype="uint8", scale="offset")[0].tolist()
    [[127, 128, 129]]
    """
    if not isinstance(values, np.ndarray):
        raise ValueError(f"values must be a numpy array; got {type(values).__name__}")
    if values.dtype.kind not in "biuf":
        raise ValueError(f"values must hold real numbers; got dtype {values.dtype}")
    if dtype not in OUTPUT_DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(OUTPUT_DTYPES)}; got {dtype!r}")
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {', '.join(SCALES)}; got {scale!r}")
    if alpha and (values.ndim != 3 or values.shape[2] < 2):
        raise ValueError(f"alpha=True needs values of shape (H, W, C) with C >= 2; got shape {values.shape}")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}")
    if dtype.startswith("float"):
        return values.astype(dtype), _clipped({"scale": "raw", "dtype": dtype}, (0, 0))
    if kind == "values" and not alpha and values.size:
        fast = _map_fast(values, dtype, scale)
        if fast is not None:
            return fast
    v = values.astype(np.float64)
    if alpha and alpha_max:
        v[..., -1] *= float(np.iinfo(dtype).max) / float(alpha_max)
    if kind != "values":
        top = float(np.iinfo(dtype).max)
        colour = v[..., :-1] if alpha else v  # alpha is already in the output's units
        colour[...] = (colour + np.pi) * (top / (2 * np.pi)) if kind == "angle" else colour * top
        mapped, info = map_values(v, dtype=dtype, scale="clip", alpha=alpha)
        return mapped, dict(info, scale="angle (θ + π)/2π" if kind == "angle" else "mask")
    if not np.isfinite(v).all():
        raise ValueError(_NONFINITE.format(dtype))
    top = float(np.iinfo(dtype).max)
    colour, alpha_ch = (v[..., :-1], v[..., -1:]) if alpha else (v, None)
    if scale == "abs":
        colour = np.abs(colour)
    elif scale == "offset":
        colour = colour + (top + 1) / 2
    elif scale == "normalize":
        lo = float(colour.min()) if colour.size else 0.0
        hi = float(colour.max()) if colour.size else 0.0
        if not hi > lo:
            colour = np.zeros_like(colour)
        elif math.isfinite(hi - lo):
            colour = (colour - lo) * (top / (hi - lo))
        else:  # a span beyond float64 (e.g. -1e308..1e308): the same stretch on halved values
            colour = (colour * 0.5 - lo * 0.5) * (top / (hi * 0.5 - lo * 0.5))
    parts = [colour] if alpha_ch is None else [colour, alpha_ch]
    out_parts = []
    under = over = 0
    for part in parts:
        r = np.rint(part)
        under += int(np.count_nonzero(r < 0))
        over += int(np.count_nonzero(r > top))
        out_parts.append(np.clip(r, 0, top))
    out = out_parts[0] if alpha_ch is None else np.concatenate(out_parts, axis=-1)
    return out.astype(dtype), _clipped({"scale": scale, "dtype": dtype}, (under, over))


_NONFINITE = "values hold NaN or inf, which {} cannot hold; write .npy or .tif for raw floats"

#: OpenCV rounds floats to integers through int32, so larger magnitudes would wrap round: values
#: beyond ±2**30 (far outside 0..65535 either way) are clipped to it first, which changes no result.
_ROUND_SAFE = float(2**30)

#: Below this many elements, values are rounded by NumPy unless OpenCV is imported already: OpenCV's
#: import and its rounding check cost about 30 ms of CPU, NumPy rounds 2**20 elements in about 3 ms.
#: Either gives the same integers (OpenCV is used only where it was shown to round as NumPy does).
ROUND_BY_NUMPY_BELOW = 1 << 20

#: Elements per block where ``normalize`` computes in float64 (512 KiB of float64: stays in cache).
_MAP_BLOCK = 1 << 16


def _round_saturate(s: np.ndarray, dtype: str) -> np.ndarray:
    """``clip(rint(s), 0, top)`` as ``dtype`` (uint8 or uint16), in one OpenCV pass where OpenCV
    is known to round as ``numpy.rint`` does.

    OpenCV's float-to-integer conversion is documented to round half to even and saturate, but
    the value rule of :func:`map_values` is NumPy's, not a library version's: OpenCV is used only
    after :func:`_opencv_rounds_like_numpy` has checked, once per process, that the installed
    version gives ``numpy.rint``'s answer on ties and their float neighbours. Otherwise NumPy
    does it, in cache-sized blocks. ``|s|`` must stay below :data:`_ROUND_SAFE`. A 2-D view is
    passed so that OpenCV sees one channel whatever the channel count. OpenCV takes an array of
    a few elements for a scalar (``add(1×1 array, scalar)`` gives 4 values), so small arrays are
    done by NumPy; so are arrays under :data:`ROUND_BY_NUMPY_BELOW` elements while OpenCV is not
    imported yet (a small job would pay more for its import and check than NumPy takes).
    """
    from convcli._libraries import opencv_imported

    if (s.size < 64 or (s.size < ROUND_BY_NUMPY_BELOW and not opencv_imported())
            or not _opencv_rounds_like_numpy()):
        return _round_saturate_numpy(s, dtype)
    from convcli._libraries import _cv2

    cv2, _ = _cv2()
    flat = s.reshape(s.shape[0], -1) if s.ndim >= 2 else s.reshape(1, -1)
    out = cv2.add(flat, 0.0, dtype=cv2.CV_8U if dtype == "uint8" else cv2.CV_16U)
    return out.reshape(s.shape)


def _round_saturate_numpy(s: np.ndarray, dtype: str) -> np.ndarray:
    """:func:`_round_saturate` by NumPy alone, in blocks of :data:`_MAP_BLOCK` elements."""
    top = np.iinfo(dtype).max
    flat = s.reshape(-1)
    out = np.empty(flat.shape, dtype)
    for start in range(0, flat.size, _MAP_BLOCK):
        block = np.rint(flat[start : start + _MAP_BLOCK])
        np.clip(block, 0, top, out=block)
        out[start : start + _MAP_BLOCK] = block
    return out.reshape(s.shape)


@functools.cache
def _opencv_rounds_like_numpy() -> bool:
    """Whether the installed OpenCV rounds and saturates float32 and float64 values to uint8 and
    uint16 exactly as ``clip(numpy.rint(x), 0, top)`` does: every tie from −2.5 to top + 1.5 and
    the float neighbours on each side of it. Checked once per process (a few thousand values)."""
    from convcli._libraries import _cv2

    cv2, _ = _cv2()
    for dtype, code in (("uint8", cv2.CV_8U), ("uint16", cv2.CV_16U)):
        top = int(np.iinfo(dtype).max)
        ties = np.arange(-3, min(top, 1024) + 2) + 0.5
        if top > 1024:
            ties = np.concatenate([ties, np.arange(top - 1024, top + 2) + 0.5])
        for float_type in (np.float32, np.float64):
            t = ties.astype(float_type)
            probe = np.concatenate([t, np.nextafter(t, -np.inf), np.nextafter(t, np.inf)]).reshape(1, -1)
            expected = np.clip(np.rint(probe), 0, top).astype(dtype)
            if not np.array_equal(cv2.add(probe, 0.0, dtype=code), expected):
                return False
    return True


def _count_outside(s: np.ndarray, lo: float, hi: float, below: float, at_or_above: float) -> tuple[int, int]:
    """How many of ``s`` are < ``below``, and how many >= ``at_or_above``; ``lo``/``hi`` (the min
    and max of ``s``) say when no value can be, so that no pass over ``s`` is made for nothing.
    Counted in blocks, so the comparisons' masks stay small: a fresh mask the size of the image
    costs page faults (or, where the kernel compacts memory for huge pages, stalls) worth more
    than the count."""
    if lo >= below and hi < at_or_above:
        return 0, 0
    flat = s.reshape(-1)
    under = over = 0
    for start in range(0, flat.size, _COUNT_BLOCK):
        block = flat[start : start + _COUNT_BLOCK]
        if lo < below:
            under += int(np.count_nonzero(block < below))
        if hi >= at_or_above:
            over += int(np.count_nonzero(block >= at_or_above))
    return under, over


def _clipped(info: dict[str, Any], counts: tuple[int, int]) -> dict[str, Any]:
    """``info`` with the clipped counts: in all, below 0 and above the top."""
    return dict(info, clipped=counts[0] + counts[1], clipped_below=counts[0], clipped_above=counts[1])


#: Elements per block of :func:`_count_outside` (a 256 KiB mask).
_COUNT_BLOCK = 1 << 18


def _map_fast(values: np.ndarray, dtype: str, scale: str) -> tuple[np.ndarray, dict[str, Any]] | None:
    """:func:`map_values` for plain values without alpha, in few passes; None: use the general path.

    Gives exactly what the general path gives (float64 arithmetic, ``numpy.rint``, clip):

    - ``min``/``max`` propagate NaN, so both finite ⇔ every value is finite;
    - ``rint(x) < 0`` ⇔ ``x < -0.5`` and ``rint(x) > top`` ⇔ ``x >= top + 0.5`` (``top + 1`` is
      even, so ``top + 0.5`` rounds up), so the clipped count needs one comparison per side, and
      only on a side the min or max reaches;
    - float32 input stays float32: ``clip`` and ``abs`` are exact in any float type; for
      ``offset``, the float64 sum ``v + h`` (h = 128 or 32768) of a float32 ``v`` is exact when
      ``|v| >= 2**-21`` (24 significant bits plus h fit in 53) and otherwise lies within ``2**-21``
      of ``h``, far from a tie; so float32 input is shifted in float64 in cache-sized blocks and
      rounded once, with the general path's result (never by a library's own scalar addition,
      whose precision differs between OpenCV versions). float64 input adds in float64 with NumPy
      first, as the general path does;
    - integers of up to 16 bits and float16 are exact in float32; wider ones go through float64.
    """
    if values.dtype in (np.float32, np.float64):
        v = values
    elif (values.dtype.kind in "biu" and values.dtype.itemsize <= 2) or values.dtype == np.float16:
        v = values.astype(np.float32)
    else:
        v = values.astype(np.float64)
    lo, hi = float(v.min()), float(v.max())
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(_NONFINITE.format(dtype))
    top = int(np.iinfo(dtype).max)
    info: dict[str, Any] = _clipped({"scale": scale, "dtype": dtype}, (0, 0))
    if scale == "normalize":
        if not hi > lo:
            return np.zeros(v.shape, dtype), info
        span = hi - lo
        factor = top / span
        if not (math.isfinite(span) and math.isfinite(factor)):
            return None  # a range too wide or too narrow for float64: the general path's arithmetic
        out = np.empty(v.shape, dtype)
        flat, flat_out = v.reshape(-1), out.reshape(-1)
        for start in range(0, flat.size, _MAP_BLOCK):
            t = flat[start : start + _MAP_BLOCK].astype(np.float64)
            t -= lo
            t *= factor
            flat_out[start : start + _MAP_BLOCK] = _round_saturate(t, dtype)
        # Nothing is clipped: v >= lo gives t >= 0, and t <= fl(fl(hi - lo) * factor), which is
        # within two roundings of top, far below top + 0.5.
        return out, info
    if lo < -_ROUND_SAFE or hi > _ROUND_SAFE:
        v = np.clip(v, -_ROUND_SAFE, _ROUND_SAFE)
        lo, hi = max(lo, -_ROUND_SAFE), min(hi, _ROUND_SAFE)
    half = (top + 1) // 2
    if scale == "clip":
        info = _clipped(info, _count_outside(v, lo, hi, -0.5, top + 0.5))
        return _round_saturate(v, dtype), info
    if scale == "abs":
        s = np.abs(v)
        info = _clipped(info, _count_outside(s, 0.0, max(-lo, hi), -0.5, top + 0.5))
        return _round_saturate(s, dtype), info
    if v.dtype == np.float32:
        # offset: the float64 sum v + half is exact for float32 v (24 significant bits and the shift
        # fit in 53) and is rounded once; a float32 sum would round near ties first. Made in blocks.
        info = _clipped(info, _count_outside(v, lo, hi, -half - 0.5, top - half + 0.5))
        out = np.empty(v.shape, dtype)
        flat, flat_out = v.reshape(-1), out.reshape(-1)
        for start in range(0, flat.size, _MAP_BLOCK):
            t = flat[start : start + _MAP_BLOCK].astype(np.float64)
            t += half
            flat_out[start : start + _MAP_BLOCK] = _round_saturate(t, dtype)
        return out, info
    s = v + float(half)
    info = _clipped(info, _count_outside(s, lo + half, hi + half, -0.5, top + 0.5))
    return _round_saturate(s, dtype), info
