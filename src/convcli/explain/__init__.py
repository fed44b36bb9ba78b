"""How one output value is made (README, Learning with convcli): the input window, with the cells
that are padding marked and the values the boundary gives them, the kernel as applied (rotated 180°
under convolution, taps spread by the dilation), each product and their sum — which equals the
computed output — or, for pooling, the window, the winner or the count divided by; for upsampling
the input pixels (and kernel taps) that contribute; for a CNN layer the sum per input channel, the
bias and the activation.

Each explanation is a frozen dataclass whose ``to_dict()`` is plain JSON-ready data, so a front end
draws a table and prints JSON from the same object. :func:`explain_step` explains one step of a
pipeline from that step's input.
"""

from .base import Explanation
from .layers import LayerExplanation, PointExplanation, explain_conv2d, explain_conv2d_transpose, explain_depthwise
from .steps import explain_step
from .upsample import Contribution, TransposeExplanation, UpsampleExplanation, explain_transpose, explain_upsample
from .windows import (
    FilterExplanation,
    GradientExplanation,
    PoolExplanation,
    explain_filter,
    explain_gradient,
    explain_pool,
)

__all__ = [
    "Contribution",
    "Explanation",
    "FilterExplanation",
    "GradientExplanation",
    "LayerExplanation",
    "PointExplanation",
    "PoolExplanation",
    "TransposeExplanation",
    "UpsampleExplanation",
    "explain_conv2d",
    "explain_conv2d_transpose",
    "explain_depthwise",
    "explain_filter",
    "explain_gradient",
    "explain_pool",
    "explain_step",
    "explain_transpose",
    "explain_upsample",
]
