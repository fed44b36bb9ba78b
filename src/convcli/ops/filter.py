"""2-D filtering (convolution and correlation) with exact mode, boundary, stride, padding and dilation.

One function, :func:`filter2d`, computes ``out[i, j] = Σ_a Σ_b k[a, b] · xp[i·sy + a·dy, j·sx + b·dx]``
on the padded image ``xp`` (correlation; true convolution uses ``k[::-1, ::-1]`` and mirrors the
``same`` split). Padding amounts come from :mod:`convcli.geometry`; what the padding holds is
``numpy.pad``'s job, named as ``numpy.pad`` names it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from ..dtypes import work_dtype
from ..errors import GeometryError
# The boundary names live with the shape rules (the command line reads them without NumPy);
# they stay importable from here.
from ..geometry import BOUNDARIES, BOUNDARY_ALIASES, conv_geometry, resolve_boundary
from ..vocabulary import ENGINES, GRAY_WEIGHTS
from .alpha import attach_alpha, carry_alpha
from .checks import as_image
from .engines import (
    MAX_INTERLEAVED,
    POLYPHASE_TAPS,
    all_finite,
    auto_engine,
    dilated_opencv,
    opencv_direct,
    polyphase,
    resolve_engine,
    spreads_past_taps,
    strided_taps,
    valid_correlate,
)

__all__ = ["BOUNDARIES", "BOUNDARY_ALIASES", "ENGINES", "resolve_engine", "attach_alpha", "bank_output_shape", "carry_alpha", "filter2d", "filter_bank", "gray_shape", "resolve_boundary", "pad_image", "to_gray"]



def pad_image(
    image: np.ndarray,
    pad_amounts: tuple[tuple[int, int], tuple[int, int]],
    *,
    boundary: str = "zero",
    cval: float = 0.0,
) -> np.ndarray:
    """Pad the first two axes of ``image`` as ``boundary`` says; channels are never padded.

    Examples
    --------
    >>> pad_image(np.array([[1, 2, 3, 4]]), ((0, 0), (2, 2)), boundary="symmetric")
    array([[2, 1, 1, 2, 3, 4, 4, 3]])
    """
    name = resolve_boundary(boundary)
    widths = [tuple(pad_amounts[0]), tuple(pad_amounts[1])] + [(0, 0)] * (image.ndim - 2)
    if not any(any(w) for w in widths):
        return image
    if BOUNDARIES[name] == "constant":
        fill = 0.0 if name == "zero" else cval
        return np.pad(image, widths, mode="constant", constant_values=fill)
    return np.pad(image, widths, mode=BOUNDARIES[name])


def gray_shape(shape: Sequence[int], *, has_alpha: bool = False) -> tuple[int, ...] | None:
    """Shape :func:`to_gray` gives for ``shape``, or None when the image is grey already.

    Examples
    --------
    >>> gray_shape((4, 5, 3)), gray_shape((4, 5, 4), has_alpha=True), gray_shape((4, 5))
    ((4, 5), (4, 5, 2), None)
    """
    alpha = 1 if has_alpha else 0
    if len(shape) == 2 or shape[2] - alpha == 1:
        return None
    if shape[2] - alpha != 3:
        raise ValueError(
            f"`gray` needs an RGB or RGBA image, got {shape[2]} channels"
            + ("" if has_alpha else " (none of them alpha)")
        )
    return tuple(shape[:2]) + ((2,) if has_alpha else ())


def to_gray(image: np.ndarray, *, has_alpha: bool = False) -> np.ndarray:
    """Luminance ``0.2125 R + 0.7154 G + 0.0721 B`` in the input's own units (:func:`work_dtype`).

    An alpha channel (``has_alpha``, RGBA input) is kept as a second channel: (H, W, 4) gives
    (H, W, 2). Grey input is returned unchanged.

    Examples
    --------
    >>> to_gray(np.array([[[100, 100, 100], [255, 0, 0]]], dtype=np.int64)).tolist()
    [[100.0, 54.1875]]
    """
    if gray_shape(image.shape, has_alpha=has_alpha) is None:
        return image
    work = work_dtype(image.dtype)
    gray = image[..., :3].astype(work) @ np.asarray(GRAY_WEIGHTS, dtype=work)
    if has_alpha:
        return np.stack([gray, image[..., 3].astype(work)], axis=-1)
    return gray


def filter2d(
    image: Any,
    kernel: Any,
    *,
    mode: str = "same",
    boundary: str = "zero",
    cval: float = 0.0,
    stride: int | Sequence[int] = 1,
    padding: int | Sequence[int] | None = None,
    dilation: int | Sequence[int] = 1,
    correlate: bool = False,
    normalize: bool = False,
    engine: str = "auto",
) -> np.ndarray:
    """Convolve (default) or correlate an image with a kernel, with exact shape semantics.

    Parameters
    ----------
    image : array_like, shape (H, W) or (H, W, C)
        Channels last; every channel is filtered with the same kernel. Computed in
        :func:`work_dtype` (float32 for images of 16 bits or less and float32; float64 otherwise);
        nothing is rescaled.
    kernel : str, Kernel or array_like
        A 2-D matrix, a :class:`convcli.kernels.Kernel`, or any spec :func:`convcli.load_kernel`
        accepts (``"sobel-x"``, ``"gaussian:sigma=1.5"``, ``"1 0 -1; 2 0 -2; 1 0 -1"``, a path).
    mode : {'same', 'valid', 'full'}
        Padding rule when ``padding`` is not given (see :mod:`convcli.geometry`).
    boundary : {'zero', 'constant', 'reflect', 'symmetric', 'edge', 'wrap'}
        What the padding holds, named as ``numpy.pad`` names it; ``constant`` uses ``cval``.
    cval : float
        Fill value for ``boundary='constant'``.
    stride, dilation : int or (int, int)
        Step between output pixels and between kernel taps, per axis.
    padding : int, (rows, cols) or (top, bottom, left, right), optional
        Explicit padding; replaces ``mode``.
    correlate : bool
        Cross-correlation (the CNN convention, ``torch.nn.functional.conv2d``) instead of true
        convolution (``scipy.signal.convolve2d``).
    normalize : bool
        Divide the kernel by its sum first.
    engine : {'auto', 'opencv', 'scipy'}
        What computes stride-1, dilation-1 filters (the common case): OpenCV's ``filter2D`` (what
        ``auto`` picks; it reads the unpadded image and fills zero, reflect, symmetric and edge
        borders itself) or SciPy's ``ndimage.correlate`` (the reference; in bands of rows on a
        thread per core). ``auto`` takes NumPy's strided views instead for a small filter of an
        integer image whose sums are exact in any order, while OpenCV is not imported: the same
        bits as OpenCV's, without its import (:func:`convcli.ops.engines.auto_engine`). Strides and dilations never inflate the kernel with zeros. On OpenCV a
        strided kernel under 10×10 whose border OpenCV fills itself is one stride-1 pass and a pick
        of every stride-th output (cheaper, measured, than gathering phase images for a
        memory-bound filter); any other strided filter is a sum of stride-1 correlations of phase
        sub-images with sub-kernels. A dilated filter on OpenCV views the column phases as channels
        (no copy) and filters each with the plain kernel; on SciPy it filters each phase sub-image.
        One both strided and dilated visits only the taps and output pixels that exist, with
        NumPy. An image holding NaN or inf is filtered by SciPy on any engine wherever OpenCV would
        carry NaN past the kernel's nonzero taps.

    Returns
    -------
    numpy.ndarray of :func:`work_dtype`, shape (H', W') or (H', W', C)

    Raises
    ------
    ValueError
        A parameter out of range (names it).
    GeometryError
        The window leaves no output pixel (e.g. ``valid`` with a kernel larger than the image).

    Examples
    --------
    >>> img = np.array([[0, 1, 2, 3]] * 3)
    >>> filter2d(img, "1 0 -1", mode="valid")          # true convolution: a rising ramp is positive
    array([[2., 2.],
           [2., 2.],
           [2., 2.]])
    >>> filter2d(img, "1 0 -1", mode="valid", correlate=True)
    array([[-2., -2.],
           [-2., -2.],
           [-2., -2.]])
    >>> filter2d(np.ones((4, 4)), "box:2", mode="valid", stride=2)
    array([[1., 1.],
           [1., 1.]])
    """
    from ..kernels import Kernel, applied_matrix, load_kernel

    array = as_image(image)
    if mode not in ("same", "valid", "full"):
        raise ValueError(f"`mode` must be one of same, valid, full, got {mode!r}")
    boundary_name = resolve_boundary(boundary)
    if not np.isfinite(cval):
        raise ValueError(f"`cval` must be a finite number, got {cval!r}")

    kern = kernel if isinstance(kernel, Kernel) else load_kernel(kernel)
    if normalize:
        kern = kern.normalized()
    weights = applied_matrix(np.asarray(kern.matrix, dtype=np.float64), correlate=correlate)

    rows, cols = conv_geometry(
        array.shape, weights.shape, mode=mode, stride=stride, dilation=dilation,
        padding=padding, correlate=correlate,
    )
    channels = array.shape[2] if array.ndim == 3 else 1
    if engine == "auto":  # NumPy for a small filter OpenCV would give the very same bits (exact sums)
        fill = float(cval) if BOUNDARIES[boundary_name] == "constant" and boundary_name != "zero" else 0.0
        padded = (rows.size + rows.before + rows.after) * (cols.size + cols.before + cols.after) * channels
        chosen = auto_engine(weights, array.dtype, padded=padded, outputs=rows.out * cols.out * channels, fill=fill)
    else:
        chosen = resolve_engine(engine)
    if chosen == "opencv" and array.dtype.kind == "f" and spreads_past_taps(weights) and not all_finite(array):
        # NaN and inf must reach only the outputs whose nonzero taps cover them; for this kernel
        # OpenCV would spread them further, so SciPy's direct sums take this image.
        chosen = "scipy"
    if array.dtype == bool:
        array = array.view(np.uint8)
    plain = rows.stride == cols.stride == rows.dilation == cols.dilation == 1
    if chosen == "opencv" and rows.dilation == cols.dilation == 1 and (plain or weights.size < POLYPHASE_TAPS):
        # Stride 1, or a strided small kernel: OpenCV's stride-1 pass over the unpadded image,
        # then every stride-th output (see POLYPHASE_TAPS for why that beats phase images here).
        dense = (replace(rows, stride=1, out=(rows.out - 1) * rows.stride + 1),
                 replace(cols, stride=1, out=(cols.out - 1) * cols.stride + 1))
        direct = opencv_direct(array, weights, *dense, boundary=boundary_name, cval=float(cval))
        if direct is not None:
            return direct if plain else np.ascontiguousarray(direct[:: rows.stride, :: cols.stride])
    interleave = (chosen == "opencv" and rows.stride == cols.stride == 1 and not plain
                  and cols.dilation * channels <= MAX_INTERLEAVED)
    # Interleaving column phases as channels needs a padded width that is a multiple of the dilation;
    # the extra columns are never read by an output that is kept.
    extra = -(cols.size + cols.before + cols.after) % cols.dilation if interleave else 0
    padded = pad_image(
        array.astype(work_dtype(array.dtype), copy=False),
        ((rows.before, rows.after), (cols.before, cols.after + extra)),
        boundary=boundary_name,
        cval=float(cval),
    )
    if chosen == "numpy":
        return strided_taps(padded, weights, rows, cols)
    if plain:
        return valid_correlate(padded, weights, (rows.out, cols.out), engine=chosen)
    if interleave:
        return dilated_opencv(padded, weights, rows, cols)
    if rows.dilation == cols.dilation == 1 or rows.stride == cols.stride == 1:
        return polyphase(padded, weights, rows, cols, engine=chosen)
    # Strided and dilated at once: touch only the taps and output pixels that exist.
    return strided_taps(padded, weights, rows, cols)


def filter_bank(
    image: Any,
    kernels: Sequence[Any],
    *,
    has_alpha: bool = False,
    boundary: str = "zero",
    normalize: bool = False,
    **geometry: Any,
) -> np.ndarray:
    """Filter every channel with every kernel: channel ``c·K + k`` is kernel ``k`` on channel ``c``.

    This is the order of TensorFlow's depthwise convolution (input-channel major) and of Keras
    ``Conv2D(K, ...)`` on a grey image. A grey image with one kernel gives (H', W'); otherwise
    (H', W', C·K).

    The alpha rule: with ``has_alpha`` the last channel is alpha. It is not filtered by the kernels;
    it goes through the same geometry (mode, stride, padding, dilation): each output takes the alpha
    of the pixel at the centre of its window (:func:`carry_alpha`; boundary ``edge``; the first
    kernel's window when the bank mixes shapes), and it comes back once, as the last channel. So at
    stride 1 in ``same`` mode alpha is exactly the input's alpha.

    Parameters
    ----------
    image : array_like, shape (H, W) or (H, W, C)
    kernels : sequence of kernels (anything :func:`filter2d` takes)
        All must give the same output shape (same kernel shape, or `same` mode at stride 1).
    has_alpha : bool
        The last channel is alpha (an image file's grey+alpha or RGBA, or a bank's result of one).
    boundary, normalize, **geometry
        As for :func:`filter2d`.

    Examples
    --------
    >>> img = np.arange(9.0).reshape(3, 3)
    >>> filter_bank(img, ["identity", "0 0 0; 0 2 0; 0 0 0"], mode="valid").tolist()
    [[[4.0, 8.0]]]
    >>> rgba = np.dstack([img, img, img, np.full((3, 3), 255.0)])
    >>> out = filter_bank(rgba, ["box3"], has_alpha=True)
    >>> out.shape, bool((out[..., 3] == 255).all())
    ((3, 3, 4), True)
    """
    from ..kernels import Kernel, load_kernel

    if not kernels:
        raise ValueError("`kernels` must hold at least one kernel")
    array = np.asarray(image)
    kerns = [k if isinstance(k, Kernel) else load_kernel(k) for k in kernels]
    if has_alpha and (array.ndim != 3 or array.shape[2] < 2):
        raise ValueError(f"`has_alpha` needs channels besides alpha, got shape {array.shape}")
    colour = array[..., :-1] if has_alpha else array
    # Checked from the arithmetic first: no kernel is run when the bank cannot be stacked.
    bank_output_shape(array.shape, [k.shape for k in kerns], names=[k.name for k in kerns], **geometry)
    # Each kernel's result goes straight into its channels of the stacked result, so the bank holds
    # the stacked result and one kernel's result, never a list of them all and their stack too.
    stacked: Any = None
    count = len(kerns)
    for index, kern in enumerate(kerns):
        result = filter2d(colour, kern, boundary=boundary, normalize=normalize, **geometry)
        if stacked is None:
            if count == 1 and not has_alpha:
                return result
            channels = 1 if result.ndim == 2 else result.shape[2]
            total = channels * count + (1 if has_alpha else 0)
            stacked = np.empty(result.shape[:2] + (total,), dtype=result.dtype)
        # channel c·K + k is kernel k on channel c
        stacked[..., index : channels * count : count] = result.reshape(result.shape[:2] + (channels,))
        result = None
    if not has_alpha:
        return stacked
    stacked[..., -1] = carry_alpha(array[..., -1], kernel_shape=kerns[0].shape, **geometry)
    return stacked


def bank_output_shape(
    shape: Sequence[int],
    kernel_shapes: Sequence[Sequence[int]],
    *,
    has_alpha: bool = False,
    names: Sequence[str] | None = None,
    **geometry: Any,
) -> tuple[int, ...]:
    """The shape :func:`filter_bank` returns for an image of ``shape``, from arithmetic alone.

    Used by ``--dry-run``, which reads only the file's header.

    Raises
    ------
    GeometryError
        The kernels give different output sizes for this input (each listed, by ``names`` if
        given), so their results cannot be stacked as channels of one image.

    Examples
    --------
    >>> bank_output_shape((50, 50), [(2, 2), (2, 2)], mode="valid", correlate=True)
    (49, 49, 2)
    >>> bank_output_shape((512, 512, 3), [(4, 4)], mode="valid", stride=2)
    (255, 255, 3)
    >>> bank_output_shape((50, 50), [(3, 3), (5, 5)], mode="valid", names=["box3", "box5"])
    Traceback (most recent call last):
    ...
    convcli.errors.GeometryError: the kernels of the bank give different output sizes (box3 3×3 → 48×48, box5 5×5 → 46×46), so their results cannot be stacked as channels of one image: filter them one at a time, or use mode same
    """
    wanted = {"mode", "stride", "dilation", "padding", "correlate"}
    kept = {k: v for k, v in geometry.items() if k in wanted}
    outs = [tuple(g.out for g in conv_geometry(shape, kernel_shape, **kept)) for kernel_shape in kernel_shapes]
    rows, cols = outs[0]
    if len(set(outs)) > 1:
        labels = names or [f"kernel {i + 1}" for i in range(len(kernel_shapes))]
        listing = ", ".join(f"{label} {kh}×{kw} → {oh}×{ow}"
                            for label, (kh, kw), (oh, ow) in zip(labels, kernel_shapes, outs))
        raise GeometryError(
            f"the kernels of the bank give different output sizes ({listing}), so their results cannot be "
            "stacked as channels of one image: filter them one at a time, or use mode same"
        )
    count = len(kernel_shapes)
    if len(shape) == 2:
        return (rows, cols) if count == 1 else (rows, cols, count)
    colours = shape[2] - (1 if has_alpha else 0)
    return (rows, cols, colours * count + (1 if has_alpha else 0))
