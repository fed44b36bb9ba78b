"""What an animation shows, before any pixel is drawn: the input board (the padded input, or for a
transposed convolution the zero-inserted input), the output board, and one step per frame: the
window read and the output cell written (docs/animate.md).

The windows are placed from the shape arithmetic of :mod:`convcli.geometry` (the padding, stride
and dilation the ops compute with), and the values written come from convcli's own ops
(:func:`~convcli.ops.filter.filter2d`, :func:`~convcli.ops.pool.pool2d`,
:func:`~convcli.ops.upsample.upsample`, :func:`~convcli.ops.pool.max_unpool`), so an animation
shows exactly the numbers the commands compute. A shape without values (``(5, 5)``) gives the
same boards with filled cells and no numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..vocabulary import ANIMATE_OPS, POOL_OPS

__all__ = [
    "EMPTY_FILL", "INPUT_FILL", "MAX_FRAMES", "MAX_SIDE", "OUTPUT_FILL", "PADDING_FILL",
    "Animation", "Step", "animation", "conv_animation", "pool_animation", "transpose_animation",
    "unpool_animation",
]

#: The largest input side drawn (a bigger board is no longer readable cell by cell).
MAX_SIDE = 32
#: The most frames (output cells) an animation may have.
MAX_FRAMES = 400
#: Conv_arithmetic's look (Dumoulin & Visin): blue input cells, pale padding (and inserted zeros),
#: teal output cells; with values, input and output cells take the values' colours instead.
INPUT_FILL = (91, 155, 213)
PADDING_FILL = (255, 244, 214)
OUTPUT_FILL = (64, 180, 170)
#: An output cell not written yet.
EMPTY_FILL = (236, 236, 246)


@dataclass(frozen=True)
class Step:
    """One frame: the window read and the output cell written.

    Attributes
    ----------
    output : (int, int)
        The output-board cell written in this frame.
    window : tuple of (int, int)
        The input-board cells read (the kernel's taps: dilation gaps are not among them).
    winner : (int, int) or None
        max and min pooling: the input-board cell whose value is taken.
    source : tuple of (int, int)
        max-unpool: the output-board cells of the pooling window the value came from.
    caption : str
        ``output (r, c) = ...``, with the value when there are values.
    """

    output: tuple[int, int]
    window: tuple[tuple[int, int], ...]
    winner: tuple[int, int] | None = None
    source: tuple[tuple[int, int], ...] = ()
    caption: str = ""


@dataclass(frozen=True)
class Animation:
    """An operation laid out for drawing (see the module docstring).

    Attributes
    ----------
    op : str
        One of :data:`convcli.vocabulary.ANIMATE_OPS`.
    title : str
        The operation and its geometry, as the caption's first line.
    input_fills, output_fills : numpy.ndarray, shape (rows, cols, 3)
        Cell colours of the input board and of the finished output board.
    input_texts, output_texts : list of list of str, or None
        The numbers written in the cells (None: a shape without values).
    padding : numpy.ndarray of bool
        Input-board cells that are no input pixel (padding, or zeros inserted between inputs).
    steps : tuple of Step
        One per frame, in order (row-major over the output, or over the input for max-unpool).
    labels : (str, str)
        What the two boards are.
    blank_text : str
        What an output cell not written yet shows (max-unpool: "0", what stays there).
    """

    op: str
    title: str
    input_fills: np.ndarray
    input_texts: list[list[str]] | None
    padding: np.ndarray
    output_fills: np.ndarray
    output_texts: list[list[str]] | None
    steps: tuple[Step, ...]
    labels: tuple[str, str]
    blank_text: str = ""

    @property
    def frame_count(self) -> int:
        """The number of frames: one per step."""
        return len(self.steps)


def _board(shape: tuple[int, int], *, real: Sequence[tuple[int, int]],
           values: np.ndarray | None, board_values: np.ndarray | None, blank_padding: bool = False
           ) -> tuple[np.ndarray, list[list[str]] | None, np.ndarray]:
    """Fills, texts and padding mask of an input board of ``shape`` whose real cells are ``real``
    (board coordinates, row-major over the input's pixels); ``board_values`` the values every cell
    shows (None: shape only), ``blank_padding``: padding shows no number (pooling: it takes no part)."""
    from ..drawing import value_colours, value_texts

    padding = np.ones(shape, dtype=bool)
    fills = np.empty(shape + (3,))
    fills[...] = PADDING_FILL
    rows, cols = zip(*real)
    padding[rows, cols] = False
    fills[rows, cols] = INPUT_FILL if values is None else value_colours(values).reshape(-1, 3)
    if board_values is None:
        return fills, None, padding
    texts = value_texts(board_values)
    if blank_padding:
        texts = [[text if not padding[i, j] else "" for j, text in enumerate(row)] for i, row in enumerate(texts)]
    return fills, texts, padding


def _output_board(result: np.ndarray | None, shape: tuple[int, int]) -> tuple[np.ndarray, list[list[str]] | None]:
    from ..drawing import value_colours, value_texts

    if result is None:
        fills = np.empty(shape + (3,))
        fills[...] = OUTPUT_FILL
        return fills, None
    return value_colours(result), value_texts(result)


def _input(image: Any) -> tuple[np.ndarray | None, tuple[int, int]]:
    """``image`` as (values or None, (H, W)): an array of one channel, or a shape ``(H, W)``."""
    from ..ops.checks import as_image

    if isinstance(image, tuple) and all(isinstance(n, int | np.integer) and not isinstance(n, bool) for n in image):
        shape = image[:2] if len(image) == 3 and image[2] == 1 else image
        if len(shape) != 2 or min(shape) < 1:
            raise ValueError(f"`image` as a shape must be (H, W) with H, W >= 1, got {image}")
        values = None
    else:
        array = as_image(image)
        if array.ndim == 3:
            if array.shape[2] != 1:
                raise ValueError(f"`image` must have one channel, got shape {array.shape}; "
                                 "take one channel (image[..., c]) or make it grey first")
            array = array[..., 0]
        values, shape = array, array.shape
    shape = (int(shape[0]), int(shape[1]))
    if max(shape) > MAX_SIDE:
        raise ValueError(f"`image` is {shape[0]}×{shape[1]}; an animation draws inputs of at most "
                         f"{MAX_SIDE}×{MAX_SIDE} (crop it, or give a smaller shape)")
    return values, shape


def _check_frames(count: int) -> None:
    if count > MAX_FRAMES:
        raise ValueError(f"the animation would have {count} frames (one per output cell), more than "
                         f"{MAX_FRAMES}; use a smaller input or a larger `stride`")


def _kernel(kernel: Any, kernel_size: Any) -> tuple[Any, tuple[int, int]]:
    """The kernel (a Kernel, or None for a size alone) and its (rows, cols)."""
    from ..geometry import as_pair
    from ..kernels import Kernel, load_kernel

    if (kernel is None) == (kernel_size is None):
        raise ValueError("give `kernel` (its values) or `kernel_size` (a shape alone), one of them")
    if kernel is None:
        return None, as_pair(kernel_size, name="kernel_size")
    kern = kernel if isinstance(kernel, Kernel) else load_kernel(kernel)
    return kern, (int(kern.shape[0]), int(kern.shape[1]))


def _options(function: Any, given: dict[str, Any], caller: str, leave_out: Sequence[str] = ()) -> dict[str, Any]:
    """``function``'s keyword defaults updated with ``given`` (an unknown keyword refused)."""
    from ..ops.checks import check_keywords, keyword_defaults

    options = keyword_defaults(function, leave_out=leave_out)
    check_keywords(given, tuple(options), caller=caller)
    options.update(given)
    return options


def _sides(pair: tuple[int, int]) -> str:
    return f"{pair[0]}" if pair[0] == pair[1] else f"{pair[0]},{pair[1]}"


def _caption(position: tuple[int, int], how: str, texts: list[list[str]] | None) -> str:
    value = "" if texts is None else f" = {texts[position[0]][position[1]]}"
    return f"output {position} = {how}{value}"


def conv_animation(image: Any, kernel: Any = None, *, kernel_size: Any = None, **options: Any) -> Animation:
    """A filter (:func:`convcli.ops.filter.filter2d`, its keywords and defaults: ``mode``,
    ``boundary``, ``cval``, ``stride``, ``padding``, ``dilation``, ``correlate``), one frame per
    output cell.

    ``image`` is a one-channel array (the values) or a shape ``(H, W)``; ``kernel`` anything
    :func:`convcli.load_kernel` takes, or ``kernel_size`` (rows, cols) alone. An input with values
    shows them (the padding what the boundary puts there); the output's numbers need the kernel's
    values too.

    Examples
    --------
    >>> a = conv_animation((5, 5), kernel_size=3, padding=1, stride=2)
    >>> a.frame_count, a.padding.shape, a.steps[1].window[:3]
    (9, (7, 7), ((0, 2), (0, 3), (0, 4)))
    >>> a = conv_animation(np.arange(9.0).reshape(3, 3), "1 1; 1 1", mode="valid", correlate=True)
    >>> a.steps[0].caption
    'output (0, 0) = sum(window * kernel) = 8'
    """
    from ..geometry import conv_geometry
    from ..ops.filter import filter2d, pad_image

    given = _options(filter2d, options, "conv_animation", leave_out=("normalize", "engine"))
    values, shape = _input(image)
    kern, kshape = _kernel(kernel, kernel_size)
    rows, cols = conv_geometry(shape, kshape, mode=given["mode"], stride=given["stride"],
                               dilation=given["dilation"], padding=given["padding"], correlate=given["correlate"])
    _check_frames(rows.out * cols.out)
    board_values = result = None
    if values is not None:
        board_values = pad_image(values.astype(np.float64), ((rows.before, rows.after), (cols.before, cols.after)),
                                 boundary=given["boundary"], cval=given["cval"])
    if values is not None and kern is not None:
        result = filter2d(values, kern, **given)
    real = [(i + rows.before, j + cols.before) for i in range(shape[0]) for j in range(shape[1])]
    board_shape = (shape[0] + rows.before + rows.after, shape[1] + cols.before + cols.after)
    fills, texts, padding = _board(board_shape, real=real,
                                   values=values, board_values=board_values)
    out_fills, out_texts = _output_board(result, (rows.out, cols.out))
    how = "sum(window * kernel)" if given["correlate"] else "sum(window * kernel rotated 180)"
    steps = tuple(
        Step((r, c), tuple((r * rows.stride + a * rows.dilation, c * cols.stride + b * cols.dilation)
                           for a in range(kshape[0]) for b in range(kshape[1])),
             caption=_caption((r, c), how, out_texts))
        for r in range(rows.out) for c in range(cols.out))
    geometry = [f"stride {_sides((rows.stride, cols.stride))}"]
    if rows.dilation > 1 or cols.dilation > 1:
        geometry.append(f"dilation {_sides((rows.dilation, cols.dilation))}")
    geometry.append(f"padding {rows.before}+{rows.after}, {cols.before}+{cols.after}"
                    + ("" if rows.mode == "explicit" else f" ({rows.mode})"))
    if values is not None and (rows.before or rows.after or cols.before or cols.after):
        geometry.append(f"boundary {given['boundary']}")
    title = (f"{'correlate' if given['correlate'] else 'convolve'} {kshape[0]}x{kshape[1]}, {', '.join(geometry)}: "
             f"{shape[0]}x{shape[1]} -> {rows.out}x{cols.out}")
    return Animation("conv", title, fills, texts, padding, out_fills, out_texts, steps, ("input + padding", "output"))


def _pooling(image: Any, options: dict[str, Any], caller: str, *, leave_out: Sequence[str]
             ) -> tuple[dict[str, Any], np.ndarray | None, tuple[int, int], tuple[Any, Any]]:
    """What pool and max-unpool start from: pool2d's keywords, the input and the pooling geometry."""
    from ..geometry import pool_geometry
    from ..ops.pool import pool2d

    if "size" not in options:
        raise ValueError("`size` is needed: the pooling window")
    given = _options(pool2d, options, caller, leave_out=leave_out)
    if given.get("op", "max") not in POOL_OPS:
        raise ValueError(f"`op` must be one of {', '.join(POOL_OPS)}, got {given['op']!r}")
    values, shape = _input(image)
    geometry = pool_geometry(shape, given["size"], stride=given["stride"], mode=given["mode"],
                             ceil=given["ceil"], padding=given["padding"])
    _check_frames(geometry[0].out * geometry[1].out)
    return given, values, shape, geometry


def pool_animation(image: Any, **options: Any) -> Animation:
    """A pooling (:func:`convcli.ops.pool.pool2d`, its keywords and defaults: ``op``, ``size``,
    ``stride``, ``mode``, ``ceil``, ``padding``, ``count_include_pad``), one frame per output cell;
    max and min mark the cell taken (as :func:`convcli.explain.explain_pool` finds it). Padding
    cells show no number: they never take part.

    Examples
    --------
    >>> a = pool_animation(np.array([[1.0, 5.0], [4.0, 3.0]]), size=2)
    >>> a.frame_count, a.steps[0].winner, a.steps[0].caption
    (1, (0, 1), 'output (0, 0) = max(window) = 5')
    """
    from ..explain import explain_pool
    from ..ops.pool import pool2d

    given, values, shape, (rows, cols) = _pooling(image, options, "pool_animation", leave_out=("return_indices",))
    board_values = result = None
    if values is not None:
        board_values = np.zeros((shape[0] + rows.before + rows.after, shape[1] + cols.before + cols.after))
        board_values[rows.before:rows.before + shape[0], cols.before:cols.before + shape[1]] = values
        result = pool2d(values, **given)
    real = [(i + rows.before, j + cols.before) for i in range(shape[0]) for j in range(shape[1])]
    board_shape = (shape[0] + rows.before + rows.after, shape[1] + cols.before + cols.after)
    fills, texts, padding = _board(board_shape, real=real,
                                   values=values, board_values=board_values, blank_padding=True)
    out_fills, out_texts = _output_board(result, (rows.out, cols.out))
    steps = []
    for r in range(rows.out):
        for c in range(cols.out):
            winner = None
            if values is not None and given["op"] in ("max", "min"):
                found = explain_pool(values, position=(r, c), **given).winner
                winner = None if found is None else (found[0] + rows.before, found[1] + cols.before)
            window = tuple((r * rows.stride + a, c * cols.stride + b) for a in range(rows.kernel) for b in range(cols.kernel))
            steps.append(Step((r, c), window, winner, caption=_caption((r, c), f"{given['op']}(window)", out_texts)))
    title = (f"{given['op']} pool {rows.kernel}x{cols.kernel}, stride {_sides((rows.stride, cols.stride))}, padding "
             f"{rows.before}+{rows.after}, {cols.before}+{cols.after}{', ceil' if given['ceil'] else ''}: "
             f"{shape[0]}x{shape[1]} -> {rows.out}x{cols.out}")
    return Animation("pool", title, fills, texts, padding, out_fills, out_texts, tuple(steps),
                     ("input + padding (takes no part)", "output"))


def transpose_animation(image: Any, kernel: Any = None, *, kernel_size: Any = None, factor: Any,
                        padding: Any = 0, output_padding: Any = 0) -> Animation:
    """A transposed convolution (:func:`convcli.ops.upsample.upsample` with ``method='transpose'``)
    drawn as Dumoulin & Visin draw it: ``factor − 1`` zeros inserted between the input pixels,
    ``e − 1 − padding`` zeros around them (``+ output_padding`` after; a negative amount crops),
    then a stride-1 correlation with the kernel rotated 180°, one frame per output cell.

    Examples
    --------
    >>> a = transpose_animation(np.array([[1.0, 10.0]]), "1 2 3", factor=(1, 2))
    >>> a.input_texts
    [['0', '0', '1', '0', '10', '0', '0']]
    >>> [step.caption for step in a.steps][2]
    'output (0, 2) = sum(window * kernel rotated 180) = 13'
    """
    from ..geometry import transpose_output_shape
    from ..ops.upsample import upsample

    values, shape = _input(image)
    kern, kshape = _kernel(kernel, kernel_size)
    _, (rows, cols) = transpose_output_shape(shape, kshape, factor=factor, padding=padding,
                                             output_padding=output_padding)
    _check_frames(rows.out * cols.out)
    # Board index of input pixel i: i·s + (e − 1 − before); the board is out + e − 1 long.
    lead = (rows.extent - 1 - rows.before, cols.extent - 1 - cols.before)
    board_shape = (rows.out + rows.extent - 1, cols.out + cols.extent - 1)
    placed = [(i, j, i * rows.stride + lead[0], j * cols.stride + lead[1]) for i in range(shape[0]) for j in range(shape[1])]
    inside = [(i, j, r, c) for i, j, r, c in placed if 0 <= r < board_shape[0] and 0 <= c < board_shape[1]]
    if not inside:
        raise ValueError("`padding` crops every input pixel from the drawing; use less padding")
    real = [(r, c) for _, _, r, c in inside]
    board_values = result = None
    shown = None if values is None else np.array([values[i, j] for i, j, _, _ in inside], dtype=np.float64)
    if values is not None:
        board_values = np.zeros(board_shape)
        board_values[tuple(zip(*real))] = shown
    if values is not None and kern is not None:
        result = upsample(values, factor=factor, method="transpose", kernel=kern, padding=padding,
                          output_padding=output_padding)
    fills, texts, mask = _board(board_shape, real=real, values=shown, board_values=board_values)
    out_fills, out_texts = _output_board(result, (rows.out, cols.out))
    steps = tuple(
        Step((r, c), tuple((r + a, c + b) for a in range(kshape[0]) for b in range(kshape[1])),
             caption=_caption((r, c), "sum(window * kernel rotated 180)", out_texts))
        for r in range(rows.out) for c in range(cols.out))
    title = (f"transposed conv {kshape[0]}x{kshape[1]}, stride {_sides((rows.stride, cols.stride))}, padding "
             f"{rows.before}+{rows.after}, {cols.before}+{cols.after}"
             + (f", output padding {_sides((rows.output_padding, cols.output_padding))}"
                if rows.output_padding or cols.output_padding else "")
             + f": {shape[0]}x{shape[1]} -> {rows.out}x{cols.out}")
    return Animation("transpose", title, fills, texts, mask, out_fills, out_texts, steps,
                     (f"input, {rows.stride - 1},{cols.stride - 1} zeros between, "
                      f"k-1-p = {lead[0]},{lead[1]} around", "output"))


def unpool_animation(image: Any, **options: Any) -> Animation:
    """Max-unpooling (:func:`convcli.ops.pool.max_unpool`) of ``image``'s max pooling
    (:func:`convcli.ops.pool.pool2d` keywords ``size``, ``stride``, ``mode``, ``ceil``,
    ``padding``): the input board is the pooled values, the output board the unpooled image;
    one frame per pooled value, placed where the pooling found it (its window outlined), zeros
    elsewhere. Needs values: the places are the pooling's argmax.

    Examples
    --------
    >>> a = unpool_animation(np.array([[1.0, 5.0], [4.0, 3.0]]), size=2)
    >>> a.frame_count, a.steps[0].output, a.steps[0].caption
    (1, (0, 1), 'output (0, 1) = input (0, 0) = 5')
    """
    from ..drawing import value_colours, value_texts
    from ..ops.pool import max_unpool, pool2d

    given, values, shape, (rows, cols) = _pooling(image, options, "unpool_animation",
                                                  leave_out=("return_indices", "op", "count_include_pad"))
    if values is None:
        raise ValueError("max-unpool needs values, not a shape alone: where each value goes is the max pool's argmax")
    pooled, indices = pool2d(values, op="max", return_indices=True, **given)
    result = max_unpool(pooled, indices, output_shape=shape)
    fills, texts, padding = _board(pooled.shape, real=[(r, c) for r in range(rows.out) for c in range(cols.out)],
                                   values=pooled, board_values=pooled)
    out_fills, out_texts = value_colours(result), value_texts(result)
    steps = []
    for r in range(rows.out):
        for c in range(cols.out):
            target = divmod(int(indices[r, c]), shape[1])
            source = tuple((i, j) for a in range(rows.kernel) for b in range(cols.kernel)
                           if 0 <= (i := r * rows.stride + a - rows.before) < shape[0]
                           and 0 <= (j := c * cols.stride + b - cols.before) < shape[1])
            steps.append(Step(target, ((r, c),), source=source,
                              caption=f"output {target} = input {(r, c)} = {texts[r][c]}"))
    title = (f"max-unpool of max pool {rows.kernel}x{cols.kernel}, stride {_sides((rows.stride, cols.stride))}: "
             f"{rows.out}x{cols.out} -> {shape[0]}x{shape[1]}, zeros elsewhere")
    return Animation("unpool", title, fills, texts, padding, out_fills, out_texts, tuple(steps),
                     ("pooled values", "unpooled (each value where the max was)"), blank_text="0")


def animation(op: str, image: Any, /, **options: Any) -> Animation:
    """The animation of ``op`` (one of :data:`convcli.vocabulary.ANIMATE_OPS`) with ``options``: the
    keywords of :func:`conv_animation`, :func:`pool_animation`, :func:`transpose_animation` or
    :func:`unpool_animation`.

    Examples
    --------
    >>> animation("pool", (4, 4), size=2).frame_count
    4
    >>> animation("warp", (4, 4))
    Traceback (most recent call last):
    ...
    ValueError: `op` must be one of conv, pool, transpose, unpool, got 'warp'
    """
    makers = {"conv": conv_animation, "pool": pool_animation, "transpose": transpose_animation,
              "unpool": unpool_animation}
    if op not in ANIMATE_OPS:
        raise ValueError(f"`op` must be one of {', '.join(ANIMATE_OPS)}, got {op!r}")
    return makers[op](image, **options)
