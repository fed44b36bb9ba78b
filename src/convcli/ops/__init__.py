"""Operations: arrays in, arrays out, one module per family behind one public function each.

The names are re-exported lazily (as :mod:`convcli.images` does): a command that filters imports
``ops.filter`` and ``ops.engines`` alone, not the pooling, upsampling and layer modules too.
"""

from __future__ import annotations

import sys
import types
from typing import TYPE_CHECKING, Any

from .._lazy import lazy_exports

# public name -> module (in this package) that defines it
_API = {
    "activation": "activations", "batch_norm": "activations", "crop": "activations", "rescale": "activations",
    "zero_pad": "activations", "conv2d": "conv2d", "depthwise_conv2d": "conv2d",
    "conv2d_transpose": "conv2d_transpose", "filter2d": "filter", "filter_bank": "filter", "to_gray": "filter",
    "gradients": "gradients", "sobel": "gradients", "global_pool": "pool", "max_unpool": "pool", "pool2d": "pool",
    "upsample": "upsample",
}

__all__ = sorted(_API)

if TYPE_CHECKING:  # pragma: no cover
    from .activations import activation, batch_norm, crop, rescale, zero_pad
    from .conv2d import conv2d, depthwise_conv2d
    from .conv2d_transpose import conv2d_transpose
    from .filter import filter2d, filter_bank, to_gray
    from .gradients import gradients, sobel
    from .pool import global_pool, max_unpool, pool2d
    from .upsample import upsample


__getattr__, __dir__ = lazy_exports(globals(), {name: f"{__name__}.{module}" for name, module in _API.items()})


class _Package(types.ModuleType):
    """Three functions share their module's name (conv2d, gradients, upsample). Importing such a
    module binds it on the package; the function keeps the name, as it did when this package
    imported every module up front."""

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and _API.get(name) == name:
            value = getattr(value, name, value)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
