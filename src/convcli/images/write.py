"""Writing an image file from a result, as the command line writes it: :func:`write_image`."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from convcli.errors import ImageWriteError
from convcli.images.atomic import write_atomic
from convcli.images.encode import DEFAULT_PNG_COMPRESSION, encode_image
from convcli.images.formats import _check_format, _dtype_name, check_writable, default_dtype, format_from_path
from convcli.values import map_values


def write_image(
    path: str | os.PathLike[str],
    values: np.ndarray,
    *,
    dtype: str | None = None,
    scale: str = "clip",
    has_alpha: bool = False,
    kind: str = "values",
    format: str | None = None,
    input_dtype: str | None = None,
    png_compression: int = DEFAULT_PNG_COMPRESSION,
    no_clobber: bool = False,
    allow_nonfinite: bool = False,
) -> dict[str, Any]:
    """Write ``values`` to an image file exactly as the command line writes a result.

    The steps are the command line's, in its order: the format from ``path``'s extension (or
    ``format``); the output dtype (``dtype``, else :func:`~convcli.images.default_dtype` of the
    format, the input's dtype and the dtype of ``values``); :func:`~convcli.images.check_writable`;
    :func:`convcli.values.map_values` (``scale``, alpha, ``kind``); the check that a finite result
    did not become NaN or inf in the output dtype; :func:`~convcli.images.encode_image`; and
    :func:`~convcli.images.write_atomic` (a complete file or none). So ``convcli filter -k box3
    in.png -o out.png`` and ``write_image("out.png", filter2d(image, "box3"), input_dtype="uint8")``
    give the same bytes.

    Parameters
    ----------
    path : str or os.PathLike
        The output file; its extension names the format unless ``format`` is given.
    values : numpy.ndarray
        (H, W) or (H, W, C) of real numbers: the result to write.
    dtype : str, optional
        ``"uint8"``, ``"uint16"``, ``"float32"`` or ``"float64"`` (``--dtype``); None: the
        format's default for ``input_dtype`` (see :func:`~convcli.images.default_dtype`).
    scale : str, optional
        How an integer output maps the values, one of :data:`convcli.values.SCALES` (``--scale``);
        default ``"clip"``.
    has_alpha : bool, optional
        The last channel of ``values`` is alpha (only rounded and clipped, and tagged as alpha).
    kind : str, optional
        ``"values"``, ``"angle"`` (radians) or ``"mask"``, see :func:`convcli.values.map_values`.
    format : str, optional
        One of :data:`~convcli.images.FORMATS` (``--format``); None: from the extension.
    input_dtype : str, optional
        The dtype of the image ``values`` were computed from (``ImageInfo.dtype``): PNG and TIFF
        keep a 16-bit input 16-bit, and alpha is rescaled from its full scale. None: the dtype
        of ``values``.
    png_compression : int, optional
        zlib level of a PNG, 0..9 (``--png-compression``).
    no_clobber : bool, optional
        Refuse to replace an existing file (``--no-clobber``).
    allow_nonfinite : bool, optional
        Let a finite result that becomes NaN or inf in a float output through
        (``--allow-nonfinite``); by default that is refused.

    Returns
    -------
    dict
        What :func:`convcli.values.map_values` reports (``scale``, ``dtype`` and the clipped
        counts), as the command line's JSON report gives them.

    Raises
    ------
    ValueError
        A malformed argument, NaN or inf for an integer output.
    ImageWriteError
        The format cannot hold the result, the file exists under ``no_clobber``, or it cannot be
        written (with the OS's reason).
    NonFiniteError
        A finite result became NaN or inf in the output dtype (unless ``allow_nonfinite``).

    Examples
    --------
    >>> import numpy as np, os, tempfile
    >>> from convcli.images import read_image
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = os.path.join(folder, "out.png")
    ...     report = write_image(path, np.array([[-3.0, 0.5, 1.5, 300.0]]))
    ...     read_image(path)[0].tolist(), report["dtype"], report["clipped"]
    ([[0, 0, 2, 255]], 'uint8', 2)
    """
    if not isinstance(values, np.ndarray):
        raise ValueError(f"values must be a numpy array; got {type(values).__name__}")
    if format is None:
        format = format_from_path(path)
    else:
        _check_format(format)
    computed = values.dtype.name
    source_dtype = computed if input_dtype is None else _dtype_name(input_dtype, "input_dtype")
    if dtype is None:
        dtype = default_dtype(format, source_dtype, result_dtype=computed)
    try:
        check_writable(format, values.shape, dtype, has_alpha=has_alpha)
    except ImageWriteError as error:  # name the output, as the command line does
        raise ImageWriteError(error.message, path=error.path or os.fsdecode(os.fspath(path))) from None
    alpha_max = float(np.iinfo(source_dtype).max) if has_alpha and np.dtype(source_dtype).kind in "ui" else None
    with np.errstate(over="ignore", invalid="ignore"):  # a cast's overflow: check_output says it
        mapped, mapping = map_values(values, dtype=dtype, scale=scale, alpha=has_alpha, kind=kind, alpha_max=alpha_max)
    if not allow_nonfinite:
        from convcli.pipeline import check_output

        check_output(values, mapped)
    data = encode_image(mapped, format=format, has_alpha=has_alpha, png_compression=png_compression)
    del mapped
    write_atomic(path, data, no_clobber=no_clobber)
    return mapping
