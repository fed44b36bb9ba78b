"""Operations: arrays in, arrays out, one module per family behind one public function each."""

from .filter import filter2d, filter_bank, to_gray
from .gradients import gradients, sobel
from .pool import global_pool, max_unpool, pool2d
from .upsample import upsample

__all__ = ["filter2d", "filter_bank", "global_pool", "gradients", "max_unpool", "pool2d", "sobel", "to_gray", "upsample"]
