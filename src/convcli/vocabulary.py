"""The words convcli's operations and outputs accept, and the luminance weights, each written once.

No NumPy here: step declarations, the command line's choices, shell completion and help list these
without loading the ops, and the ops check their arguments against the same tuples. (Padding modes
and boundary names live with the shape rules, in :mod:`convcli.geometry`.)
"""

from __future__ import annotations

#: Pooling operations (pool's ``op``).
POOL_OPS = ("max", "avg", "min", "sum", "median")
#: Pooling's padding modes: PyTorch's (``valid``, with explicit padding) or Keras's ``same``.
POOL_MODES = ("valid", "same")
#: Gradient operators; each has built-in kernels ``NAME-x`` and ``NAME-y`` (smoothing 1 2 1, 3 10 3, 1 1 1).
OPERATORS = ("sobel", "scharr", "prewitt")
#: What the gradient step gives.
COMPONENTS = ("magnitude", "x", "y", "direction")
#: Upsampling methods of :func:`convcli.ops.upsample.upsample`, in the order the CLI lists them.
UPSAMPLE_METHODS = ("nearest", "zeros", "bilinear", "transpose")
#: Upsampling that undoes an earlier max pool (pipelines only: it needs that pool's argmax).
MAX_UNPOOL = "max-unpool"
#: What ``convcli animate`` draws (convcli.animate): a filter, a pooling, a transposed convolution, a max-unpool.
ANIMATE_OPS = ("conv", "pool", "transpose", "unpool")
#: Initialisers of untrained layers' weights (Keras's; see convcli.models.weights.initial_weights).
INITIALIZERS = ("glorot_uniform", "he_normal", "zeros")
#: Engines for stride-1, dilation-1 filtering (see convcli.ops.filter).
ENGINES = ("auto", "opencv", "scipy")
#: Output dtypes (``--dtype``).
OUTPUT_DTYPES = ("uint8", "uint16", "float32", "float64")
#: How values map into an integer output (``--scale``; see convcli.values.map_values).
SCALES = ("clip", "abs", "normalize", "offset")
#: How a contact sheet's tiles share a value scale (``--sheet-scale``; see convcli.sheet): each tile
#: its own min..max, or one min..max for every tile of the sheet (of a layer's block, in a layer sheet).
SHEET_SCALES = ("each", "shared")
#: CNN activations of :func:`convcli.ops.activations.activation`, with Keras's definitions.
ACTIVATIONS = ("relu", "leaky_relu", "sigmoid", "tanh", "softplus", "elu", "gelu", "linear")
#: The activations that take ``alpha``, and its value when none is given: leaky_relu's slope below 0
#: (``keras.activations.leaky_relu``'s ``negative_slope``, 0.2; Keras's ``LeakyReLU`` layer says its
#: own, 0.3 by default) and elu's scale.
ACTIVATION_ALPHA = {"leaky_relu": 0.2, "elu": 1.0}
#: Weight layouts of :func:`convcli.ops.conv2d.conv2d`: Keras (kh, kw, C_in/groups, C_out) and PyTorch
#: (C_out, C_in/groups, kh, kw).
CONV_LAYOUTS = ("hwio", "oihw")
#: Weight layouts of :func:`convcli.ops.conv2d_transpose.conv2d_transpose`: Keras ``Conv2DTranspose`` (kh, kw,
#: C_out/groups, C_in) and PyTorch ``ConvTranspose2d`` (C_in, C_out/groups, kh, kw).
TRANSPOSE_LAYOUTS = ("hwoi", "iohw")
#: The named paddings of the CNN layers (Keras's rules); explicit amounts are PyTorch's.
LAYER_PADDINGS = ("valid", "same")
#: The layers :func:`convcli.ops.layer_counts.layer_counts` counts parameters and multiply-adds of.
CONV_LAYERS = ("conv2d", "depthwise_conv2d", "conv2d_transpose")
#: Luminance weights of skimage.color.rgb2gray (ITU-R BT.709), for R, G and B.
GRAY_WEIGHTS = (0.2125, 0.7154, 0.0721)
#: The largest array (cells a side) ``convcli show`` and ``--preview`` draw as an annotated grid by default;
#: a larger one is a half-block preview (see convcli.show). The lecture's MNIST digit (28×28) fits.
SHOW_MAX_CELLS = 32
#: The most cells a side a grid may have: 128 cells of 48 pixels make a picture of about 6,000 pixels a side.
SHOW_MOST_CELLS = 128
#: A report entry's ``status`` for an output that ``update`` found at least as new as everything it
#: is made from (nothing read, nothing written); the report counts such inputs under ``up_to_date``.
UP_TO_DATE = "up-to-date"


def gray_formula() -> str:
    """The luminance formula as the reports and help write it.

    Examples
    --------
    >>> gray_formula()
    '0.2125 R + 0.7154 G + 0.0721 B'
    """
    return " + ".join(f"{weight} {channel}" for weight, channel in zip(GRAY_WEIGHTS, "RGB"))
