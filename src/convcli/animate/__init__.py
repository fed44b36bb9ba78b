"""Animations of sliding-window operations, one frame per output cell, as Dumoulin & Visin's
conv_arithmetic draws them (README, Learning with convcli; docs/animate.md).

- :mod:`~convcli.animate.scenes`: what is shown (:func:`animation` and one function per operation),
  windows from :mod:`convcli.geometry`, values from :mod:`convcli.ops`;
- :mod:`~convcli.animate.frames`: the frames, drawn with :func:`convcli.drawing.grid_picture`;
- :mod:`~convcli.animate.files`: an animated GIF or a folder of PNG frames, written atomically.

Examples
--------
>>> from convcli.animate import animation, animation_frames
>>> a = animation("conv", (5, 5), kernel_size=3, padding=1, stride=2)
>>> a.frame_count, len(animation_frames(a, cell=16).pixels)
(9, 9)
"""

from __future__ import annotations

from .files import FRAME_NAME, gif_bytes, write_frames, write_gif
from .frames import CURRENT_OUTLINE, WINDOW_OUTLINE, WINNER_OUTLINE, Frames, animation_frames
from .scenes import (
    EMPTY_FILL,
    INPUT_FILL,
    MAX_FRAMES,
    MAX_SIDE,
    OUTPUT_FILL,
    PADDING_FILL,
    Animation,
    Step,
    animation,
    conv_animation,
    pool_animation,
    transpose_animation,
    unpool_animation,
)

__all__ = [
    "CURRENT_OUTLINE", "EMPTY_FILL", "FRAME_NAME", "INPUT_FILL", "MAX_FRAMES", "MAX_SIDE", "OUTPUT_FILL",
    "PADDING_FILL", "WINDOW_OUTLINE", "WINNER_OUTLINE", "Animation", "Frames", "Step", "animation",
    "animation_frames", "conv_animation", "gif_bytes", "pool_animation", "transpose_animation",
    "unpool_animation", "write_frames", "write_gif",
]
