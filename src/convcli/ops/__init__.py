"""Operations: arrays in, arrays out, one module per family behind one public function each."""

from .activations import activation, batch_norm, crop, rescale, zero_pad
from .conv2d import conv2d, depthwise_conv2d
from .conv2d_transpose import conv2d_transpose
from .filter import filter2d, filter_bank, to_gray
from .gradients import gradients, sobel
from .pool import global_pool, max_unpool, pool2d
from .upsample import upsample

__all__ = [
    "activation", "batch_norm", "conv2d", "conv2d_transpose", "crop", "depthwise_conv2d", "filter2d", "filter_bank",
    "global_pool", "gradients", "max_unpool", "pool2d", "rescale", "sobel", "to_gray", "upsample", "zero_pad",
]
