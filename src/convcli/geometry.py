"""Shape arithmetic: padding amounts, output sizes, receptive field and jump; the names of modes and
boundaries.

Pure integer arithmetic, no arrays: the filter engine uses it to pad and slice, and reports and the
human summary use it to show their working. The command line takes its lists of modes and
boundaries from here (importing no NumPy). The rules are the README's (Output sizes):

- ``valid``: no padding; ``out = ⌊(n − e)/s⌋ + 1``, an error when that is below 1;
- ``full``: ``e − 1`` on both sides;
- ``same``: ``out = ⌈n/s⌉``, total padding ``P = max((out − 1)·s + e − n, 0)``, split ``⌊P/2⌋`` before
  for correlation (TensorFlow/Keras, PyTorch ``padding='same'``) and ``⌈P/2⌉`` before for true
  convolution (so stride-1 ``same`` equals ``scipy.signal.convolve2d(mode='same')``);
- explicit padding: ``out = ⌊(n + before + after − e)/s⌋ + 1``;

where ``e = d·(k − 1) + 1`` is the dilated kernel extent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .errors import GeometryError, did_you_mean

__all__ = [
    "AMBIGUOUS_BOUNDARIES",
    "AXIS_NAMES",
    "BOUNDARIES",
    "BOUNDARY_ALIASES",
    "MODES",
    "resolve_boundary",
    "AxisGeometry",
    "conv_axis",
    "conv_geometry",
    "chain_receptive_field",
    "check_output_padding",
    "check_pool_padding",
    "pool_axis",
    "pool_geometry",
    "TransposeAxis",
    "transpose_axis",
    "as_pair",
    "as_padding",
]

MODES = ("same", "valid", "full")
AXIS_NAMES = ("rows", "cols")

#: convcli's boundary names (README, Boundaries), each with the ``numpy.pad`` mode that fills the padding.
BOUNDARIES = {
    "zero": "constant",
    "constant": "constant",
    "reflect": "reflect",
    "symmetric": "symmetric",
    "edge": "edge",
    "wrap": "wrap",
}
#: Other libraries' names that mean exactly one of ours.
BOUNDARY_ALIASES = {
    "replicate": "edge",
    "nearest": "edge",
    "circular": "wrap",
    "symm": "symmetric",
    "fill": "constant",
}
#: Names refused with an explanation rather than guessed: not offered (help, completion), but
#: answered. `mirror` means `reflect` to scipy.ndimage but something else elsewhere.
AMBIGUOUS_BOUNDARIES = {
    "mirror": "`mirror` is ambiguous: use `reflect` (c b [a b c d] c b, scipy.ndimage 'mirror', "
    "OpenCV REFLECT_101) or `symmetric` (b a [a b c d] d c, scipy.ndimage 'reflect')",
}


def resolve_boundary(boundary: str) -> str:
    """Return convcli's name for ``boundary``, accepting unambiguous aliases (any case).

    Raises
    ------
    ValueError
        For an ambiguous name (:data:`AMBIGUOUS_BOUNDARIES`, with the names to use instead) or an
        unknown one (with the closest names).

    Examples
    --------
    >>> resolve_boundary("replicate")
    'edge'
    >>> resolve_boundary("Zero")
    'zero'
    >>> resolve_boundary("reflct")
    Traceback (most recent call last):
    ...
    ValueError: `boundary` must be one of zero, ... got 'reflct'; did you mean 'reflect' or 'replicate'?
    """
    name = str(boundary).lower()
    if name in BOUNDARIES:
        return name
    if name in BOUNDARY_ALIASES:
        return BOUNDARY_ALIASES[name]
    if name in AMBIGUOUS_BOUNDARIES:
        raise ValueError(AMBIGUOUS_BOUNDARIES[name])
    hint = did_you_mean(name, [*BOUNDARIES, *BOUNDARY_ALIASES])
    raise ValueError(
        f"`boundary` must be one of {', '.join(BOUNDARIES)} "
        f"(or {', '.join(BOUNDARY_ALIASES)}), got {boundary!r}" + (f"; {hint}" if hint else "")
    )


def _whole(value: Any) -> bool:
    """A whole number (``2``, ``2.0``), never inf, NaN or text."""
    try:
        return int(value) == value
    except (TypeError, ValueError, OverflowError):
        return False


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


@dataclass(frozen=True)
class AxisGeometry:
    """How one axis of an image maps through a sliding-window operation.

    Attributes
    ----------
    size : int
        Input length along the axis.
    kernel : int
        Number of kernel taps along the axis.
    stride, dilation : int
        Step between outputs and between taps.
    before, after : int
        Padding added before the first and after the last input pixel.
    out : int
        Output length.
    mode : str
        ``same``, ``valid``, ``full`` or ``explicit`` (``--padding`` given).
    """

    size: int
    kernel: int
    stride: int
    dilation: int
    before: int
    after: int
    out: int
    mode: str
    ceil: bool = False
    text: str | None = None  # the arithmetic, when the general formula would not show it
    declared_after: int | None = None  # pooling with ceil: the padding asked for, before ``after`` grew

    @property
    def padded_end(self) -> int:
        """End of the declared padded input, ``size + after`` as asked for (pooling's ``ceil`` may
        run windows past it; torch's ``count_include_pad`` divisor stops there)."""
        return self.size + (self.after if self.declared_after is None else self.declared_after)

    @property
    def extent(self) -> int:
        """Dilated kernel extent ``d·(k − 1) + 1``."""
        return self.dilation * (self.kernel - 1) + 1

    def formula(self) -> str:
        """The arithmetic that gives ``out``, as a learner would write it.

        Examples
        --------
        >>> conv_axis(512, kernel=4, stride=2, mode="valid").formula()
        '512 → ⌊(512 − 4)/2⌋ + 1 = 255'
        >>> conv_axis(512, kernel=3, mode="same").formula()
        '512 → ⌈512/1⌉ = 512  (padding 1 + 1: P = max((512 − 1)·1 + 3 − 512, 0) = 2)'
        >>> conv_axis(7, kernel=3, mode="full").formula()
        '7 → (7 + 2 + 2 − 3) + 1 = 9'
        """
        if self.text is not None:
            return self.text
        n, e, s = self.size, self.extent, self.stride
        if self.mode == "same":
            total = self.before + self.after
            return (
                f"{n} → ⌈{n}/{s}⌉ = {self.out}  (padding {self.before} + {self.after}: "
                f"P = max(({self.out} − 1)·{s} + {e} − {n}, 0) = {total})"
            )
        inner = f"{n}"
        if self.before or self.after or self.mode != "valid":
            inner += f" + {self.before} + {self.after}"
        inner += f" − {e}"
        if self.ceil:
            return f"{n} → ⌈({inner})/{s}⌉ + 1 = {self.out}"
        if s == 1:
            return f"{n} → ({inner}) + 1 = {self.out}"
        return f"{n} → ⌊({inner})/{s}⌋ + 1 = {self.out}"

    def extent_formula(self) -> str | None:
        """``e = d·(k − 1) + 1`` spelled out when dilation makes it differ from ``k``."""
        if self.dilation == 1:
            return None
        return f"e = {self.dilation}·({self.kernel} − 1) + 1 = {self.extent}"


def as_pair(value: int | Sequence[int], *, name: str, minimum: int = 1) -> tuple[int, int]:
    """Turn ``2`` or ``(2, 3)`` into a (rows, cols) pair of ints ``>= minimum``.

    Examples
    --------
    >>> as_pair(2, name="stride")
    (2, 2)
    >>> as_pair([1, 3], name="dilation")
    (1, 3)
    """
    if isinstance(value, bool) or value is None:
        raise ValueError(f"`{name}` must be a whole number or a (rows, cols) pair, got {value!r}")
    if isinstance(value, int | float):
        values = (value, value)
    else:
        values = tuple(value)
    if len(values) == 1:
        values = (values[0], values[0])
    if len(values) != 2:
        raise ValueError(f"`{name}` takes one value or two (rows, cols), got {len(values)}")
    out = []
    for v in values:
        if isinstance(v, bool) or not _whole(v):
            raise ValueError(f"`{name}` must be whole numbers, got {v!r}")
        if int(v) < minimum:
            raise ValueError(f"`{name}` must be >= {minimum}, got {int(v)}")
        out.append(int(v))
    return out[0], out[1]


def as_padding(value: int | Sequence[int]) -> tuple[tuple[int, int], tuple[int, int]]:
    """Turn 1, 2 or 4 padding values into ``((top, bottom), (left, right))``.

    One value pads every side; two are (rows, cols) as in PyTorch's ``padding=(ph, pw)``; four are
    top, bottom, left, right.

    Examples
    --------
    >>> as_padding(1)
    ((1, 1), (1, 1))
    >>> as_padding((1, 2))
    ((1, 1), (2, 2))
    >>> as_padding((0, 1, 1, 0))
    ((0, 1), (1, 0))
    """
    values = (value,) if isinstance(value, int) else tuple(value)
    for v in values:
        if isinstance(v, bool) or not _whole(v) or int(v) < 0:
            raise ValueError(f"`padding` must be whole numbers >= 0, got {v!r}")
    values = tuple(int(v) for v in values)
    if len(values) == 1:
        return (values[0], values[0]), (values[0], values[0])
    if len(values) == 2:
        return (values[0], values[0]), (values[1], values[1])
    if len(values) == 4:
        return (values[0], values[1]), (values[2], values[3])
    raise ValueError(
        f"`padding` takes 1 value (all sides), 2 (rows, cols) or 4 (top, bottom, left, right), got {len(values)}"
    )


def conv_axis(
    size: int,
    *,
    kernel: int,
    stride: int = 1,
    dilation: int = 1,
    mode: str = "same",
    padding: tuple[int, int] | None = None,
    correlate: bool = False,
    axis: str = "rows",
) -> AxisGeometry:
    """Padding and output length of one axis of a convolution.

    Parameters
    ----------
    size : int
        Input length.
    kernel, stride, dilation : int
        Kernel taps, step between outputs, step between taps.
    mode : {'same', 'valid', 'full'}
        Ignored when ``padding`` is given.
    padding : (int, int), optional
        Explicit (before, after) padding.
    correlate : bool
        Only matters for ``same`` with an odd total padding: correlation puts the extra pixel after,
        true convolution before.
    axis : str
        Name used in error messages.

    Raises
    ------
    GeometryError
        When the window does not fit and no output pixel would remain.

    Examples
    --------
    >>> g = conv_axis(6, kernel=2, mode="same")
    >>> (g.before, g.after, g.out)
    (1, 0, 6)
    >>> g = conv_axis(6, kernel=2, mode="same", correlate=True)
    >>> (g.before, g.after, g.out)
    (0, 1, 6)
    >>> conv_axis(10, kernel=3, stride=3, padding=(1, 2)).out
    4
    """
    if mode not in MODES:
        raise ValueError(f"`mode` must be one of {', '.join(MODES)}, got {mode!r}")
    extent = dilation * (kernel - 1) + 1
    if padding is not None:
        before, after = padding
        out = (size + before + after - extent) // stride + 1
        used_mode = "explicit"
    elif mode == "valid":
        before = after = 0
        out = (size - extent) // stride + 1
        used_mode = mode
    elif mode == "full":
        before = after = extent - 1
        out = (size + 2 * (extent - 1) - extent) // stride + 1
        used_mode = mode
    else:
        out = _ceil_div(size, stride)
        total = max((out - 1) * stride + extent - size, 0)
        before = total // 2 if correlate else _ceil_div(total, 2)
        after = total - before
        used_mode = mode
    if size + before + after < extent or out < 1:
        what = f"the kernel's extent {extent}" + (f" (dilation {dilation})" if dilation > 1 else "")
        raise GeometryError(
            f"{what} is larger than the {size} {axis} of the input"
            + (f" plus padding {before} + {after}" if before or after else "")
            + f"; {'this padding' if used_mode == 'explicit' else '`' + used_mode + '`'} leaves no output: "
            "use a smaller kernel, more padding or `mode: same`"
        )
    return AxisGeometry(size, kernel, stride, dilation, before, after, out, used_mode)


def conv_geometry(
    shape: Sequence[int],
    kernel_shape: Sequence[int],
    *,
    mode: str = "same",
    stride: int | Sequence[int] = 1,
    dilation: int | Sequence[int] = 1,
    padding: int | Sequence[int] | None = None,
    correlate: bool = False,
) -> tuple[AxisGeometry, AxisGeometry]:
    """Geometry of both axes of a 2-D convolution of an image of ``shape`` (H, W[, C]).

    Examples
    --------
    >>> rows, cols = conv_geometry((512, 512, 3), (4, 4), mode="valid", stride=2)
    >>> rows.out, cols.out
    (255, 255)
    """
    strides = as_pair(stride, name="stride")
    dilations = as_pair(dilation, name="dilation")
    pads = None if padding is None else as_padding(padding)
    if len(kernel_shape) != 2 or min(kernel_shape) < 1:
        raise ValueError(f"`kernel` must be a non-empty 2-D matrix, got shape {tuple(kernel_shape)}")
    if len(shape) < 2:
        raise ValueError(f"`image` must be 2-D (H, W) or 3-D (H, W, C), got shape {tuple(shape)}")
    rows, cols = (
        conv_axis(
            int(shape[i]),
            kernel=int(kernel_shape[i]),
            stride=strides[i],
            dilation=dilations[i],
            mode=mode,
            padding=None if pads is None else pads[i],
            correlate=correlate,
            axis=AXIS_NAMES[i],
        )
        for i in range(2)
    )
    return rows, cols


def chain_receptive_field(
    steps: Sequence[tuple[int, int]], *, start: tuple[int, int] = (1, 1)
) -> tuple[int, int]:
    """Receptive field and jump after a chain of (extent, stride) layers along one axis.

    Araujo et al., "Computing Receptive Fields of Convolutional Neural Networks" (Distill, 2019):
    ``r_out = r_in + (e − 1)·j_in`` and ``j_out = j_in·s``.

    Returns
    -------
    (receptive_field, jump)

    Examples
    --------
    >>> chain_receptive_field([(3, 1), (2, 2), (3, 1)])
    (8, 2)
    """
    field, jump = start
    for extent, stride in steps:
        field += (extent - 1) * jump
        jump *= stride
    return field, jump


def check_pool_padding(size: int, padding: tuple[int, int], *, axis: str = "rows") -> None:
    """PyTorch's rule: pooling padding is at most half the window (else a window holds no real pixel).

    Examples
    --------
    >>> check_pool_padding(3, (1, 1))
    >>> check_pool_padding(2, (0, 2))
    Traceback (most recent call last):
    ...
    ValueError: `padding` 2 is more than half the window 2 along the rows (PyTorch's rule: a window would hold no real pixel); use a smaller padding
    """
    if max(padding) * 2 > size:
        raise ValueError(
            f"`padding` {max(padding)} is more than half the window {size} along the {axis} "
            "(PyTorch's rule: a window would hold no real pixel); use a smaller padding"
        )


def check_output_padding(output_padding: int, *, factor: int, dilation: int = 1, axis: str = "rows") -> None:
    """PyTorch's rule for transposed convolution: output padding below the factor (or the dilation).

    Examples
    --------
    >>> check_output_padding(1, factor=2)
    >>> check_output_padding(2, factor=2)
    Traceback (most recent call last):
    ...
    ValueError: `output_padding` 2 must be smaller than the factor 2 along the rows (PyTorch's rule)
    """
    if output_padding >= max(factor, dilation):
        raise ValueError(
            f"`output_padding` {output_padding} must be smaller than the factor {factor}"
            + (f" or the dilation {dilation}" if dilation > 1 else "")
            + f" along the {axis} (PyTorch's rule)"
        )


def pool_axis(
    size: int,
    *,
    kernel: int,
    stride: int | None = None,
    mode: str = "valid",
    ceil: bool = False,
    padding: tuple[int, int] | None = None,
    axis: str = "rows",
) -> AxisGeometry:
    """Padding and output length of one axis of a pooling window (README, Pooling, gradients and upsampling).

    ``valid`` and explicit padding follow ``torch.nn.functional.max_pool2d``: ``⌊(n + p_b + p_a − k)/s⌋ + 1``,
    or ``⌈…⌉ + 1`` with ``ceil``, where the last window must start inside the input or its
    leading padding (torch's rule). ``same`` is Keras's: ``⌈n/s⌉`` with ``⌊P/2⌋`` before. With
    ``ceil``, ``after`` grows to cover the last window; padded cells never take part in any case.

    Examples
    --------
    >>> g = pool_axis(7, kernel=3, stride=2, ceil=True)
    >>> g.out, g.after
    (3, 0)
    >>> g = pool_axis(6, kernel=3, stride=2, ceil=True)
    >>> g.out, g.after, g.formula()
    (3, 1, '6 → ⌈(6 − 3)/2⌉ + 1 = 3')
    >>> pool_axis(5, kernel=2, stride=2, mode="same").out
    3
    """
    stride = kernel if stride is None else stride
    if kernel < 1 or stride < 1:
        raise ValueError(f"`size` and `stride` must be >= 1, got {kernel} and {stride}")
    if mode not in ("valid", "same"):
        raise ValueError(f"`mode` must be valid or same for pooling, got {mode!r}")
    if padding is not None:
        before, after = padding
        check_pool_padding(kernel, padding, axis=axis)
        used_mode = "explicit"
    elif mode == "same":
        if ceil:
            raise ValueError("`ceil` applies to valid or explicit padding; `same` already rounds up")
        out = _ceil_div(size, stride)
        total = max((out - 1) * stride + kernel - size, 0)
        return AxisGeometry(size, kernel, stride, 1, total // 2, total - total // 2, out, "same")
    else:
        before = after = 0
        used_mode = "valid"
    span = size + before + after - kernel
    # torch's pooling_output_shape: ⌊span/s⌋ + 1, or ⌈span/s⌉ + 1 with ceil_mode (so a window
    # wider than the input still gives one output when it starts inside it).
    out = (_ceil_div(span, stride) if ceil else span // stride) + 1
    text = None
    if ceil:
        text = f"{size} → ⌈({size}" + (f" + {before} + {after}" if before or after else "") + f" − {kernel})/{stride}⌉ + 1"
        if (out - 1) * stride >= size + before:  # the last window would start in the trailing padding
            text += f" − 1 (a window starting in the trailing padding is dropped) = {out - 1}"
            out -= 1
        else:
            text += f" = {out}"
    if out < 1:
        raise GeometryError(
            f"the pooling window {kernel} is larger than the {size} {axis} of the input"
            + (f" plus padding {before} + {after}" if before or after else "")
            + "; use a smaller `size`, `padding`, `ceil` or `mode: same`"
        )
    if not ceil:
        return AxisGeometry(size, kernel, stride, 1, before, after, out, used_mode)
    # The last window may reach past the padding; those cells take no part either.
    grown = max(after, (out - 1) * stride + kernel - size - before)
    return AxisGeometry(size, kernel, stride, 1, before, grown, out, used_mode, ceil, text, after)


def pool_geometry(
    shape: Sequence[int],
    size: int | Sequence[int],
    *,
    stride: int | Sequence[int] | None = None,
    mode: str = "valid",
    ceil: bool = False,
    padding: int | Sequence[int] | None = None,
) -> tuple[AxisGeometry, AxisGeometry]:
    """Geometry of both axes of a pooling of an image of ``shape`` (H, W[, C]).

    Examples
    --------
    >>> rows, cols = pool_geometry((512, 512), 4, stride=2)
    >>> rows.out, cols.out
    (255, 255)
    """
    sizes = as_pair(size, name="size")
    strides = sizes if stride is None else as_pair(stride, name="stride")
    pads = None if padding is None else as_padding(padding)
    if len(shape) < 2:
        raise ValueError(f"`image` must be 2-D (H, W) or 3-D (H, W, C), got shape {tuple(shape)}")
    rows, cols = (
        pool_axis(int(shape[i]), kernel=sizes[i], stride=strides[i], mode=mode, ceil=ceil,
                  padding=None if pads is None else pads[i], axis=AXIS_NAMES[i])
        for i in range(2)
    )
    return rows, cols


@dataclass(frozen=True)
class TransposeAxis:
    """One axis of a transposed convolution: each input pixel stamps the kernel at stride ``stride``.

    ``out = (n − 1)·s − before − after + e + output_padding`` (``torch.nn.functional.conv_transpose2d``).
    """

    size: int
    kernel: int
    stride: int
    dilation: int
    before: int
    after: int
    output_padding: int
    out: int

    @property
    def extent(self) -> int:
        return self.dilation * (self.kernel - 1) + 1

    def formula(self) -> str:
        """Examples
        --------
        >>> transpose_axis(4, kernel=3, stride=2, padding=(1, 1), output_padding=1).formula()
        '4 → (4 − 1)·2 − 1 − 1 + 3 + 1 = 8'
        """
        return (
            f"{self.size} → ({self.size} − 1)·{self.stride} − {self.before} − {self.after} + {self.extent}"
            f" + {self.output_padding} = {self.out}"
        )


def transpose_axis(
    size: int,
    *,
    kernel: int,
    stride: int,
    dilation: int = 1,
    padding: tuple[int, int] = (0, 0),
    output_padding: int = 0,
    axis: str = "rows",
) -> TransposeAxis:
    """Output length of one axis of a transposed convolution (docs/semantics.md §2).

    Examples
    --------
    >>> transpose_axis(3, kernel=2, stride=2).out
    6
    """
    if min(kernel, stride, dilation) < 1:
        raise ValueError("`kernel`, `factor` and `dilation` must be >= 1")
    if output_padding < 0 or min(padding) < 0:
        raise ValueError("`padding` and `output_padding` must be >= 0")
    check_output_padding(output_padding, factor=stride, dilation=dilation, axis=axis)
    extent = dilation * (kernel - 1) + 1
    out = (size - 1) * stride - padding[0] - padding[1] + extent + output_padding
    if out < 1:
        raise GeometryError(
            f"padding {padding[0]} + {padding[1]} removes every output {axis} "
            f"({(size - 1) * stride + extent + output_padding} before cropping); use less padding"
        )
    return TransposeAxis(size, kernel, stride, dilation, padding[0], padding[1], output_padding, out)
