"""What every axis of a sliding-window operation shares: the window (:class:`WindowAxis`), the
geometry of a convolution or pooling axis (:class:`AxisGeometry`), pairs and padding amounts, and
receptive field and jump along a chain."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

AXIS_NAMES = ("rows", "cols")

Axis = TypeVar("Axis", bound="WindowAxis")


def _whole(value: Any) -> bool:
    """A whole number (``2``, ``2.0``), never inf, NaN or text."""
    try:
        return int(value) == value
    except (TypeError, ValueError, OverflowError):
        return False


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


@dataclass(frozen=True)
class WindowAxis:
    """The window of one axis of a sliding-window operation: what every kind of axis shares.

    Attributes
    ----------
    size, kernel : int
        Input length along the axis, and the number of kernel taps along it.
    stride, dilation : int
        Step between outputs (or, transposed, between stamped inputs) and between taps.
    before, after : int
        Padding added before the first and after the last input pixel (transposed: cropped).
    """

    size: int
    kernel: int
    stride: int
    dilation: int
    before: int
    after: int

    @property
    def extent(self) -> int:
        """Dilated kernel extent ``d·(k − 1) + 1``."""
        return self.dilation * (self.kernel - 1) + 1


@dataclass(frozen=True)
class AxisGeometry(WindowAxis):
    """How one axis of an image maps through a sliding-window operation (the fields of
    :class:`WindowAxis`, then these).

    Attributes
    ----------
    out : int
        Output length.
    mode : str
        ``same``, ``valid``, ``full`` or ``explicit`` (``--padding`` given).
    """

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

    def formula(self) -> str:
        """The arithmetic that gives ``out``, as a learner would write it.

        Examples
        --------
        >>> from convcli.geometry import conv_axis
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


@dataclass(frozen=True)
class ReceptiveField:
    """The receptive field of output pixel 0 along one axis of a chain, in the chain's input pixels.

    Araujo, Norris & Sim, "Computing Receptive Fields of Convolutional Neural Networks" (Distill,
    2019), read forward one layer at a time: a layer whose output 0 reads its own input pixels
    ``first, first + 1, …, first + taps − 1`` (a window of extent ``e`` with padding ``p`` before
    it: ``taps = e``, ``first = −p``), output ``y`` of it sitting ``stride/factor`` input pixels
    after output ``y − 1``, gives

    ``size = size + (taps − 1)·jump``, ``start = start + first·jump``, ``jump = jump·stride/factor``.

    Attributes
    ----------
    size : float
        Receptive field: how many input pixels output 0 spans.
    jump : float
        Input pixels between neighbouring outputs (below 1 after upsampling).
    start : float
        Input coordinate of the first pixel of output 0's field (0 is the first input pixel;
        negative reaches into padding; a fraction once an upsampling made ``jump`` below 1). Output
        ``y`` starts at ``start + y·jump`` (dilation spreads the taps, it does not move the first).

    Examples
    --------
    >>> field = ReceptiveField().through(taps=3, first=-1).through(taps=2, stride=2)
    >>> field.size, field.jump, field.start
    (4, 2, -1)
    """

    size: float = 1
    jump: float = 1
    start: float = 0

    def through(self, *, taps: int, stride: int = 1, first: int = 0, factor: int = 1) -> ReceptiveField:
        """The field after one more layer (see the class for ``taps``, ``stride``, ``first``, ``factor``)."""
        jump = self.jump * stride / factor if factor != 1 else self.jump * stride
        return ReceptiveField(size=_tidy(self.size + (taps - 1) * self.jump), jump=_tidy(jump),
                              start=_tidy(self.start + first * self.jump))


def _tidy(value: float) -> float:
    """A whole number as an int (reports show 2, not 2.0)."""
    return int(value) if float(value).is_integer() else float(value)


def transposed_window(extent: int, stride: int, before: int) -> tuple[int, int]:
    """``(taps, first)`` of a transposed convolution axis for :meth:`ReceptiveField.through`.

    Input pixel ``i`` stamps the kernel on outputs ``i·s − before … i·s − before + e − 1``, so output
    ``y`` gathers the inputs ``⌈(y + before − e + 1)/s⌉ … ⌊(y + before)/s⌋``: at most ``⌈e/s⌉`` of
    them (``taps``), the first of output 0's being ``first = ⌈(before − e + 1)/s⌉`` (negative:
    before the first input pixel). Dilation may leave some of those inputs between the taps.

    Examples
    --------
    >>> transposed_window(4, 2, 1)  # kernel 4, stride 2, padding 1: output 0 gathers inputs 0 and -1
    (2, -1)
    """
    return _ceil_div(extent, stride), -((extent - 1 - before) // stride)


def chain_receptive_field(
    steps: Sequence[tuple[int, int]], *, start: tuple[int, int] = (1, 1)
) -> tuple[int, int]:
    """Receptive field and jump after a chain of (extent, stride) layers along one axis.

    Araujo et al., "Computing Receptive Fields of Convolutional Neural Networks" (Distill, 2019):
    ``r_out = r_in + (e − 1)·j_in`` and ``j_out = j_in·s`` (:class:`ReceptiveField`, which also
    carries where the field starts).

    Returns
    -------
    (receptive_field, jump)

    Examples
    --------
    >>> chain_receptive_field([(3, 1), (2, 2), (3, 1)])
    (8, 2)
    """
    field = ReceptiveField(size=start[0], jump=start[1])
    for extent, stride in steps:
        field = field.through(taps=extent, stride=stride)
    return field.size, field.jump


def per_axis(make: Callable[..., Axis], shape: Sequence[int], **pairs: Sequence[Any] | None) -> tuple[Axis, Axis]:
    """Both axes of an image of ``shape`` (H, W[, C]): ``make(size, axis=NAME, **values)`` for the rows,
    then the columns, each of ``pairs`` a (rows, cols) pair whose item for that axis is passed (None
    passes None to both).

    Examples
    --------
    >>> from functools import partial
    >>> from convcli.geometry import conv_axis
    >>> rows, cols = per_axis(partial(conv_axis, mode="valid"), (7, 9), kernel=(3, 5), stride=(1, 2))
    >>> rows.out, cols.out
    (5, 3)
    """
    if len(shape) < 2:
        raise ValueError(f"`image` must be 2-D (H, W) or 3-D (H, W, C), got shape {tuple(shape)}")
    rows, cols = (
        make(int(shape[i]), axis=AXIS_NAMES[i], **{key: None if pair is None else pair[i] for key, pair in pairs.items()})
        for i in range(2)
    )
    return rows, cols
