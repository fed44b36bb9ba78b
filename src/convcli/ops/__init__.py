"""Operations: arrays in, arrays out. Each module holds one family (filter now; pool, gradients,
upsample later) behind one public function."""

from .filter import filter2d, to_gray

__all__ = ["filter2d", "to_gray"]
