"""convcli: image convolution with exact, documented shape semantics.

The Python API mirrors the command line::

    >>> import numpy as np, convcli
    >>> convcli.filter2d(np.eye(3), "1 0 -1", mode="valid", correlate=True)
    array([[ 1.],
           [ 0.],
           [-1.]])
    >>> convcli.load_kernel("sobel-x").matrix
    array([[ 1.,  0., -1.],
           [ 2.,  0., -2.],
           [ 1.,  0., -1.]])

Images are read and written as the command line reads and writes them (``convcli.read_image``,
``convcli.write_image``: the dtype rule, value mapping, encoders and the atomic write).

Names are imported lazily so that ``convcli --help`` does not pay for numpy and SciPy.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs 7 ms to import; a run through the helper needs only _version
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any

from ._version import __version__

# public name -> module that defines it
_API = {
    "filter2d": "convcli.ops.filter",
    "filter_bank": "convcli.ops.filter",
    "to_gray": "convcli.ops.filter",
    "pool2d": "convcli.ops.pool",
    "global_pool": "convcli.ops.pool",
    "sobel": "convcli.ops.gradients",
    "gradients": "convcli.ops.gradients",
    "upsample": "convcli.ops.upsample",
    "conv2d": "convcli.ops.conv2d",
    "depthwise_conv2d": "convcli.ops.conv2d",
    "conv2d_transpose": "convcli.ops.conv2d_transpose",
    "activation": "convcli.ops.activations",
    "load_model": "convcli.models.steps",
    "Kernel": "convcli.kernels",
    "load_kernel": "convcli.kernels",
    "list_kernels": "convcli.kernels",
    "read_image": "convcli.images",
    "write_image": "convcli.images",
    "conv_geometry": "convcli.geometry",
}

__all__ = ["__version__", *_API]

if TYPE_CHECKING:  # pragma: no cover
    from .geometry import conv_geometry
    from .images import read_image, write_image
    from .kernels import Kernel, list_kernels, load_kernel
    from .ops.filter import filter2d, filter_bank, to_gray
    from .ops.gradients import gradients, sobel
    from .ops.pool import global_pool, pool2d
    from .models.steps import load_model
    from .ops.activations import activation
    from .ops.conv2d import conv2d, depthwise_conv2d
    from .ops.conv2d_transpose import conv2d_transpose
    from .ops.upsample import upsample


def __getattr__(name: str) -> Any:
    if name in _API:
        from importlib import import_module

        value = getattr(import_module(_API[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'convcli' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
