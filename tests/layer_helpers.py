"""Naive references of the CNN layers, one output value at a time, shared by the tests of
convcli.ops.conv2d and convcli.ops.conv2d_transpose."""

import itertools

import numpy as np


def naive_conv2d(x, w, *, bias=None, strides=(1, 1), dilation=(1, 1), pads=((0, 0), (0, 0)), groups=1,
                 mode="constant", cval=0.0):
    """out[i, j, o] = Σ over the taps and the input channels of o's group of w[a, b, c, o]·xp[...]."""
    x = x if x.ndim == 3 else x[:, :, None]
    kwargs = {"constant_values": cval} if mode == "constant" else {}
    xp = np.pad(x.astype(np.float64), [pads[0], pads[1], (0, 0)], mode=mode, **kwargs)
    kh, kw, group_in, c_out = w.shape
    group_out = c_out // groups
    (sy, sx), (dy, dx) = strides, dilation
    out_h = (xp.shape[0] - dy * (kh - 1) - 1) // sy + 1
    out_w = (xp.shape[1] - dx * (kw - 1) - 1) // sx + 1
    out = np.zeros((out_h, out_w, c_out))
    for i, j, o in itertools.product(range(out_h), range(out_w), range(c_out)):
        g = o // group_out
        total = 0.0 if bias is None else bias[o]
        for a, b, c in itertools.product(range(kh), range(kw), range(group_in)):
            total += w[a, b, c, o] * xp[i * sy + a * dy, j * sx + b * dx, g * group_in + c]
        out[i, j, o] = total
    return out


def naive_transpose(x, w, *, bias=None, strides=(1, 1), dilation=(1, 1), before=(0, 0), out_size=None, groups=1):
    """Every input value stamps its kernel: out[i·s + a·d − before, …, g·Cog + o] += x[i, j, c]·w[a, b, o, c]."""
    x = x if x.ndim == 3 else x[:, :, None]
    kh, kw, group_out, c_in = w.shape
    group_in = c_in // groups
    out = np.zeros(out_size + (group_out * groups,))
    for i, j, c, a, b, o in itertools.product(range(x.shape[0]), range(x.shape[1]), range(c_in), range(kh),
                                              range(kw), range(group_out)):
        r = i * strides[0] + a * dilation[0] - before[0]
        q = j * strides[1] + b * dilation[1] - before[1]
        if 0 <= r < out_size[0] and 0 <= q < out_size[1]:
            out[r, q, (c // group_in) * group_out + o] += x[i, j, c] * w[a, b, o, c]
    return out if bias is None else out + bias


def keras_same(n, k, s, d=1):
    """(before, after) of Keras's `same`: out = ⌈n/s⌉, P = max((out − 1)·s + e − n, 0), ⌊P/2⌋ before."""
    e = d * (k - 1) + 1
    out = -(-n // s)
    total = max((out - 1) * s + e - n, 0)
    return total // 2, total - total // 2
