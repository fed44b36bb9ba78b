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

from .axes import (
    AXIS_NAMES,
    AxisGeometry,
    ReceptiveField,
    WindowAxis,
    as_padding,
    as_pair,
    chain_receptive_field,
    transposed_window,
)
from .boundaries import (
    AMBIGUOUS_BOUNDARIES,
    BOUNDARIES,
    BOUNDARY_ALIASES,
    resolve_boundary,
)
from .conv import MODES, conv_axis, conv_geometry
from .pool import check_pool_padding, pool_axis, pool_geometry
from .transpose import (
    TransposeAxis,
    check_output_padding,
    transpose_axis,
    transpose_output_shape,
)

__all__ = [
    "AMBIGUOUS_BOUNDARIES",
    "AXIS_NAMES",
    "BOUNDARIES",
    "BOUNDARY_ALIASES",
    "MODES",
    "AxisGeometry",
    "ReceptiveField",
    "TransposeAxis",
    "WindowAxis",
    "as_padding",
    "as_pair",
    "chain_receptive_field",
    "check_output_padding",
    "check_pool_padding",
    "conv_axis",
    "conv_geometry",
    "pool_axis",
    "pool_geometry",
    "resolve_boundary",
    "transpose_axis",
    "transpose_output_shape",
    "transposed_window",
]
