"""Property tests: filter2d and pool2d against independent, slow references (issue 5, point 6).

Hypothesis draws images (H, W in 1..12, grey or 1..3 channels, uint8, uint16, float32 or float64), kernels, modes or
explicit paddings, boundaries, strides, dilations and pooling options. Each result is compared with a
reference written here from the README's rules alone (Output sizes; Pooling, gradients and
upsampling): the padding amounts and output sizes are worked
out in this file from the formulas (never with ``convcli.geometry``), the padding is filled by
``numpy.pad``, and every output pixel is computed by an explicit Python loop.

How many examples: ``CONVCLI_HYPOTHESIS_PROFILE`` picks a profile, ``ci`` (the default: a bounded,
derandomized pass, about 25 s for this file and 20 s for test_fuzz.py on 2 cores) or ``long`` (100 times
as many examples, random each run: about an hour for both files)::

    CONVCLI_HYPOTHESIS_PROFILE=long python -m pytest -p no:cacheprovider tests/test_properties.py tests/test_fuzz.py
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convcli.errors import GeometryError
from convcli.ops.filter import filter2d
from convcli.ops.pool import global_pool, pool2d
from helpers import budget



def assert_close_in_work_dtype(got, expected, image, kernel):
    """float32 results (images of 16 bits or less) are held to float32 rounding: about 1e-7 of the
    largest sum of |weight·pixel| a window can make; float64 results to 1e-10 relative."""
    assert got.dtype == np.result_type(image.dtype, np.float32)
    if got.dtype == np.float32:
        scale = float(np.abs(kernel).sum()) * max(float(np.abs(image).max(initial=0)), 1.0)
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6 * scale + 1e-37)  # float32 underflows
    else:
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-8)


# --- strategies ------------------------------------------------------------------------------------

BOUNDARIES = ("zero", "constant", "reflect", "symmetric", "edge", "wrap")
NP_MODE = {"zero": "constant", "constant": "constant", "reflect": "reflect", "symmetric": "symmetric",
           "edge": "edge", "wrap": "wrap"}


@st.composite
def images(draw, max_side: int = 12):
    h = draw(st.integers(1, max_side))
    w = draw(st.integers(1, max_side))
    channels = draw(st.one_of(st.none(), st.integers(1, 3)))
    shape = (h, w) if channels is None else (h, w, channels)
    dtype = draw(st.sampled_from((np.uint8, np.float64, np.uint16, np.float32)))
    if dtype in (np.uint8, np.uint16):
        values = st.integers(0, np.iinfo(dtype).max)
    else:
        values = st.floats(-100, 100, allow_nan=False, allow_infinity=False, width=64)
    flat = draw(st.lists(values, min_size=math.prod(shape), max_size=math.prod(shape)))
    return np.array(flat, dtype=dtype).reshape(shape)


@st.composite
def kernels(draw):
    kh, kw = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    weight = st.one_of(st.integers(-3, 3).map(float),
                       st.floats(-8, 8, allow_nan=False, allow_infinity=False, width=64))
    flat = draw(st.lists(weight, min_size=kh * kw, max_size=kh * kw))
    return np.array(flat, dtype=np.float64).reshape(kh, kw)


def pair_or_int(low: int, high: int):
    """An int, or a (rows, cols) pair, as the public API takes it."""
    return st.one_of(st.integers(low, high), st.tuples(st.integers(low, high), st.integers(low, high)))


paddings = st.one_of(
    st.integers(0, 3),
    st.tuples(st.integers(0, 3), st.integers(0, 3)),
    st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(0, 3), st.integers(0, 3)),
)


def as_pair(value):
    return (value, value) if isinstance(value, int) else tuple(value)


def padding_pairs(value):
    """1, 2 or 4 values as ((top, bottom), (left, right)) — PyTorch's (rows, cols) for two."""
    if isinstance(value, int):
        return (value, value), (value, value)
    if len(value) == 2:
        return (value[0], value[0]), (value[1], value[1])
    return (value[0], value[1]), (value[2], value[3])


# --- the convolution reference (README, Output sizes, written out) ------------------------------


def conv_pads(n: int, k: int, s: int, d: int, mode: str, explicit, correlate: bool):
    """(before, after, out) of one axis, from the README's formulas (Output sizes)."""
    e = d * (k - 1) + 1
    if explicit is not None:
        before, after = explicit
        out = (n + before + after - e) // s + 1
    elif mode == "valid":
        before = after = 0
        out = (n - e) // s + 1
    elif mode == "full":
        before = after = e - 1
        out = (n + 2 * (e - 1) - e) // s + 1
    else:  # same
        out = -(-n // s)
        total = max((out - 1) * s + e - n, 0)
        before = total // 2 if correlate else -(-total // 2)
        after = total - before
    return before, after, out


def reference_filter(image, kernel, *, mode, explicit, boundary, cval, stride, dilation, correlate):
    """Σ_a Σ_b k[a, b] · xp[i·sy + a·dy, j·sx + b·dx], one output pixel at a time."""
    sy, sx = stride
    dy, dx = dilation
    k = kernel if correlate else kernel[::-1, ::-1]
    kh, kw = k.shape
    h, w = image.shape[:2]
    rb, ra, oh = conv_pads(h, kh, sy, dy, mode, None if explicit is None else explicit[0], correlate)
    cb, ca, ow = conv_pads(w, kw, sx, dx, mode, None if explicit is None else explicit[1], correlate)
    if oh < 1 or ow < 1:
        return None
    x = image.astype(np.float64)
    widths = [(rb, ra), (cb, ca)] + [(0, 0)] * (x.ndim - 2)
    if NP_MODE[boundary] == "constant":
        xp = np.pad(x, widths, mode="constant", constant_values=cval if boundary == "constant" else 0.0)
    else:
        xp = np.pad(x, widths, mode=NP_MODE[boundary])
    out = np.zeros((oh, ow) + x.shape[2:])
    for i in range(oh):
        for j in range(ow):
            acc = np.zeros(x.shape[2:])
            for a in range(kh):
                for b in range(kw):
                    acc = acc + k[a, b] * xp[i * sy + a * dy, j * sx + b * dx]
            out[i, j] = acc
    return out


@st.composite
def filter_cases(draw):
    image = draw(images())
    kernel = draw(kernels())
    if draw(st.booleans()):
        mode, padding = draw(st.sampled_from(("same", "valid", "full"))), None
    else:
        mode, padding = "valid", draw(paddings)
    boundary = draw(st.sampled_from(BOUNDARIES))
    cval = draw(st.floats(-50, 50, allow_nan=False, width=64)) if boundary == "constant" else 0.0
    return {
        "image": image,
        "kernel": kernel,
        "mode": mode,
        "padding": padding,
        "boundary": boundary,
        "cval": cval,
        "stride": draw(pair_or_int(1, 3)),
        "dilation": draw(pair_or_int(1, 3)),
        "correlate": draw(st.booleans()),
    }


@settings(max_examples=budget(1500), suppress_health_check=[HealthCheck.too_slow])
@given(filter_cases())
def test_filter2d_matches_reference(case):
    expected = reference_filter(
        case["image"],
        case["kernel"],
        mode=case["mode"],
        explicit=None if case["padding"] is None else padding_pairs(case["padding"]),
        boundary=case["boundary"],
        cval=case["cval"],
        stride=as_pair(case["stride"]),
        dilation=as_pair(case["dilation"]),
        correlate=case["correlate"],
    )
    kwargs = {name: case[name] for name in ("mode", "padding", "boundary", "cval", "stride", "dilation", "correlate")}
    try:
        got = filter2d(case["image"], case["kernel"], **kwargs)
    except GeometryError:
        assert expected is None, "convcli refused a geometry that the README's Output sizes give an output for"
        return
    assert expected is not None, f"the README's Output sizes give no output, convcli returned shape {got.shape}"
    assert got.shape == expected.shape
    assert_close_in_work_dtype(got, expected, case["image"], case["kernel"])


def window_centre(i: int, n: int, k: int, s: int, d: int, before: int, correlate: bool) -> int:
    """The input pixel at the centre of output ``i``'s window, clamped into the image (``edge``).

    The window's taps sit at input positions ``i·s − before + a·d``; their midpoint is the centre.
    Between two pixels (an even extent) the tie goes the way `same` at stride 1 makes the identity:
    down for correlation (``⌊P/2⌋`` before), up for convolution (``⌈P/2⌉`` before).
    """
    taps = [i * s - before + a * d for a in range(k)]
    twice = taps[0] + taps[-1]  # twice the midpoint
    centre = twice // 2 if correlate else -(-twice // 2)
    return min(max(centre, 0), n - 1)


@st.composite
def alpha_cases(draw):
    h, w = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    if draw(st.booleans()):
        mode, padding = draw(st.sampled_from(("same", "valid", "full"))), None
    else:
        mode, padding = "valid", draw(paddings)
    return {"shape": (h, w), "kernel_shape": (draw(st.integers(1, 5)), draw(st.integers(1, 5))), "mode": mode,
            "padding": padding, "stride": draw(pair_or_int(1, 3)), "dilation": draw(pair_or_int(1, 3)),
            "correlate": draw(st.booleans())}


@settings(max_examples=budget(1000))
@given(alpha_cases())
def test_alpha_is_the_alpha_at_the_centre_of_each_window(case):
    """Issue 10: alpha goes through a filter's geometry as the alpha of the pixel at the centre of
    each output's window, for every mode, stride, dilation, padding and kernel shape."""
    from convcli.ops.filter import filter_bank

    h, w = case["shape"]
    alpha = np.arange(h * w, dtype=np.float64).reshape(h, w)
    image = np.dstack([np.zeros((h, w)), alpha])  # grey + alpha
    explicit = None if case["padding"] is None else padding_pairs(case["padding"])
    geometry = {name: case[name] for name in ("mode", "padding", "stride", "dilation", "correlate")}
    kernel = np.ones(case["kernel_shape"])
    try:
        got = filter_bank(image, [kernel], has_alpha=True, **geometry)
    except GeometryError:
        return
    (sy, sx), (dy, dx), (kh, kw) = as_pair(case["stride"]), as_pair(case["dilation"]), case["kernel_shape"]
    rb, _, oh = conv_pads(h, kh, sy, dy, case["mode"], None if explicit is None else explicit[0], case["correlate"])
    cb, _, ow = conv_pads(w, kw, sx, dx, case["mode"], None if explicit is None else explicit[1], case["correlate"])
    expected = np.array([[alpha[window_centre(i, h, kh, sy, dy, rb, case["correlate"]),
                                window_centre(j, w, kw, sx, dx, cb, case["correlate"])]
                          for j in range(ow)] for i in range(oh)])
    np.testing.assert_array_equal(got[..., -1], expected)


@settings(max_examples=budget(300))
@given(images(max_side=8), kernels())
def test_filter2d_stride1_matches_scipy_signal(image, kernel):
    """README, Convolution or correlation: at stride 1 (zero boundary) convolution equals scipy.signal.convolve2d in every mode,
    and correlation equals scipy.signal.correlate2d."""
    from scipy.signal import convolve2d, correlate2d

    x = image.astype(np.float64)
    planes = [x] if x.ndim == 2 else [x[..., c] for c in range(x.shape[2])]
    for mode in ("same", "valid", "full"):
        if mode == "valid" and (image.shape[0] < kernel.shape[0] or image.shape[1] < kernel.shape[1]):
            continue
        for correlate, scipy_op in ((False, convolve2d), (True, correlate2d)):
            got = filter2d(image, kernel, mode=mode, correlate=correlate)
            want = np.stack([scipy_op(p, kernel, mode=mode) for p in planes], axis=-1)
            assert_close_in_work_dtype(got, want.reshape(got.shape), image, kernel)


# --- the pooling reference (README, Pooling, gradients and upsampling, written out) -------------


def pool_windows(n: int, k: int, s: int, mode: str, ceil: bool, explicit):
    """[(first, stop)] real-pixel ranges of each window along one axis, or None when none fits."""
    if mode == "same" and explicit is None:
        out = -(-n // s)  # Keras: ⌈n/s⌉, P = max((out − 1)·s + k − n, 0), ⌊P/2⌋ before
        total = max((out - 1) * s + k - n, 0)
        before = total // 2
    else:
        before, after = (0, 0) if explicit is None else explicit
        span = n + before + after - k
        if ceil:  # torch ceil_mode: ⌈span/s⌉ + 1, and the last window must start inside input + left pad
            out = -(-span // s) + 1
            if (out - 1) * s >= n + before:
                out -= 1
        else:
            out = span // s + 1
        if out < 1:  # torch: "Output size is too small"
            return None
    windows = []
    for i in range(out):
        start = i * s - before
        windows.append((max(start, 0), min(start + k, n)))
    return windows


def reference_pool(image, *, op, size, stride, mode, ceil, explicit):
    ky, kx = size
    sy, sx = stride
    h, w = image.shape[:2]
    rows = pool_windows(h, ky, sy, mode, ceil, None if explicit is None else explicit[0])
    cols = pool_windows(w, kx, sx, mode, ceil, None if explicit is None else explicit[1])
    if rows is None or cols is None:
        return None
    reduce = {"max": np.max, "min": np.min, "sum": np.sum, "avg": np.mean, "median": np.median}[op]
    integer_kept = op in ("max", "min") and image.dtype.kind in "ui"
    # README, Values, dtypes and --scale: max/min keep integers; the rest is NumPy's promotion with float32 (as PyTorch)
    float_dtype = np.result_type(image.dtype, np.float32)
    out = np.zeros((len(rows), len(cols)) + image.shape[2:], dtype=image.dtype if integer_kept else float_dtype)
    for i, (r0, r1) in enumerate(rows):
        for j, (c0, c1) in enumerate(cols):
            window = image[r0:r1, c0:c1]  # real pixels only
            assert window.shape[0] > 0 and window.shape[1] > 0, "a window holds no real pixel"
            flat = window.reshape((-1,) + image.shape[2:])
            if integer_kept:
                out[i, j] = reduce(flat, axis=0)
            else:
                out[i, j] = reduce(flat.astype(np.float64), axis=0)
    return out


@st.composite
def pool_cases(draw):
    image = draw(images())
    size = draw(pair_or_int(1, 4))
    ky, kx = as_pair(size)
    stride = draw(st.one_of(st.none(), pair_or_int(1, 3)))
    kind = draw(st.sampled_from(("valid", "same", "explicit")))
    padding = None
    if kind == "explicit":
        # PyTorch: at most half the window on each side.
        py, px = draw(st.integers(0, ky // 2)), draw(st.integers(0, kx // 2))
        shape = draw(st.sampled_from((1, 2, 4)))
        if shape == 1:
            padding = min(py, px)
        elif shape == 2:
            padding = (py, px)
        else:
            padding = (draw(st.integers(0, ky // 2)), py, draw(st.integers(0, kx // 2)), px)
    ceil = draw(st.booleans()) if kind != "same" else False
    return {"image": image, "op": draw(st.sampled_from(("max", "avg", "min", "sum", "median"))), "size": size,
                "stride": stride, "mode": "same" if kind == "same" else "valid", "ceil": ceil, "padding": padding}


@settings(max_examples=budget(1500), suppress_health_check=[HealthCheck.too_slow])
@given(pool_cases())
def test_pool2d_matches_reference(case):
    stride = case["stride"] if case["stride"] is not None else case["size"]
    expected = reference_pool(
        case["image"],
        op=case["op"],
        size=as_pair(case["size"]),
        stride=as_pair(stride),
        mode=case["mode"],
        ceil=case["ceil"],
        explicit=None if case["padding"] is None else padding_pairs(case["padding"]),
    )
    kwargs = {name: case[name] for name in ("op", "size", "stride", "mode", "ceil", "padding")}
    try:
        got = pool2d(case["image"], **kwargs)
    except GeometryError:
        assert expected is None, "convcli refused a pooling that the README's pooling rules give an output for"
        return
    assert expected is not None, f"the README's pooling rules give no output, convcli returned shape {got.shape}"
    assert got.dtype == expected.dtype
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-9)


def torch_avg_include_pad(image, *, size, stride, ceil, explicit):
    """torch's avg_pool2d with count_include_pad=True, as aten's cpu_avg_pool computes it (written
    out per axis for before/after padding): hstart = i·s − pb; hend = min(hstart + k, H + pa);
    divisor = (hend − hstart)·(wend − wstart); then the window is clipped to the input and summed."""
    (ky, kx), (sy, sx) = size, stride
    h, w = image.shape[:2]
    (rb, ra), (cb, ca) = explicit if explicit is not None else ((0, 0), (0, 0))
    rows = pool_windows(h, ky, sy, "valid", ceil, (rb, ra))
    cols = pool_windows(w, kx, sx, "valid", ceil, (cb, ca))
    if rows is None or cols is None:
        return None
    out = np.zeros((len(rows), len(cols)) + image.shape[2:], dtype=np.result_type(image.dtype, np.float32))
    for i in range(len(rows)):
        h0 = i * sy - rb
        h1 = min(h0 + ky, h + ra)
        for j in range(len(cols)):
            w0 = j * sx - cb
            w1 = min(w0 + kx, w + ca)
            divisor = (h1 - h0) * (w1 - w0)
            window = image[max(h0, 0) : min(h1, h), max(w0, 0) : min(w1, w)].astype(np.float64)
            out[i, j] = window.sum(axis=(0, 1)) / divisor
    return out


@settings(max_examples=budget(600), suppress_health_check=[HealthCheck.too_slow])
@given(pool_cases())
def test_avg_pool_count_include_pad_matches_torch_formula(case):
    """Issue 10: avg with count_include_pad=True divides as torch does, ceil windows included."""
    if case["mode"] == "same":
        return
    stride = case["stride"] if case["stride"] is not None else case["size"]
    explicit = None if case["padding"] is None else padding_pairs(case["padding"])
    expected = torch_avg_include_pad(case["image"], size=as_pair(case["size"]), stride=as_pair(stride),
                                     ceil=case["ceil"], explicit=explicit)
    try:
        got = pool2d(case["image"], op="avg", size=case["size"], stride=case["stride"], ceil=case["ceil"],
                     padding=case["padding"], count_include_pad=True)
    except GeometryError:
        assert expected is None
        return
    assert expected is not None and got.shape == expected.shape and got.dtype == expected.dtype
    np.testing.assert_allclose(got, expected, rtol=1e-6 if got.dtype == np.float32 else 1e-12, atol=1e-9)


@settings(max_examples=budget(200))
@given(images(), pair_or_int(1, 4), st.integers(0, 4))
def test_pool2d_padding_over_half_the_window_is_refused(image, size, pad):
    """PyTorch's rule (README, Pooling, gradients and upsampling: padding at most half the window):
    more than half the window is a ValueError, never a result; up to half, the reference's result."""
    ky, kx = as_pair(size)
    if 2 * pad > min(ky, kx):
        with pytest.raises(ValueError):
            pool2d(image, size=size, padding=pad)
        return
    # The default op (max) at the default stride (the window), padding `pad` on every side.
    expected = reference_pool(image, op="max", size=(ky, kx), stride=(ky, kx), mode="valid", ceil=False,
                              explicit=((pad, pad), (pad, pad)))
    try:
        got = pool2d(image, size=size, padding=pad)
    except GeometryError:
        assert expected is None, "convcli refused a pooling that the README's pooling rules give an output for"
        return
    assert expected is not None, f"the README's pooling rules give no output, convcli returned shape {got.shape}"
    assert got.dtype == expected.dtype and got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)


@settings(max_examples=budget(300))
@given(images(), pair_or_int(1, 4), st.one_of(st.none(), pair_or_int(1, 3)), st.booleans())
def test_pool2d_max_indices_point_at_the_maximum(image, size, stride, ceil):
    """return_indices: each index is a real pixel of its window holding exactly the pooled value."""
    try:
        values, indices = pool2d(image, size=size, stride=stride, ceil=ceil, return_indices=True)
    except GeometryError:
        return
    plain = pool2d(image, size=size, stride=stride, ceil=ceil)
    np.testing.assert_array_equal(values, plain)
    flat = image.reshape((image.shape[0] * image.shape[1],) + image.shape[2:])
    picked = np.take_along_axis(flat, indices.reshape((-1,) + indices.shape[2:]), axis=0) if image.ndim == 3 \
        else flat[indices.reshape(-1)]
    np.testing.assert_array_equal(picked.reshape(values.shape), values)


@settings(max_examples=budget(200))
@given(images(), st.sampled_from(("max", "avg", "min", "sum", "median")))
def test_global_pool_is_one_window_over_the_image(image, op):
    h, w = image.shape[:2]
    expected = reference_pool(image, op=op, size=(h, w), stride=(h, w), mode="valid", ceil=False, explicit=None)
    got = global_pool(image, op=op)
    assert got.shape == expected.shape and got.dtype == expected.dtype
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-9)
