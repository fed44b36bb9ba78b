"""Write the step image of the classic Keras lecture: 50×50, left half 0.0, right half 1.0 (float32).

Usage::

    python examples/step_image.py [OUTPUT.npy] [--size N]

The default output is ``step.npy`` in the current folder. Columns ``0 .. N/2 − 1`` hold 0.0 and
columns ``N/2 .. N − 1`` hold 1.0, so a left-to-right rise sits between columns 24 and 25. The same
without this script::

    python -c "import numpy as np; a = np.zeros((50, 50), np.float32); a[:, 25:] = 1; np.save('step.npy', a)"
"""

from __future__ import annotations

import argparse

import numpy as np


def step_image(size: int = 50) -> np.ndarray:
    """A ``size``×``size`` float32 image: 0.0 on the left half, 1.0 on the right half.

    Examples
    --------
    >>> step_image(4).tolist()
    [[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0]]
    """
    image = np.zeros((size, size), dtype=np.float32)
    image[:, size // 2:] = 1.0
    return image


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", nargs="?", default="step.npy", help="where to write the .npy (default step.npy)")
    parser.add_argument("--size", type=int, default=50, help="side of the square image (default 50)")
    args = parser.parse_args(argv)
    if args.size < 2:
        parser.error("--size must be at least 2")
    np.save(args.output, step_image(args.size))


if __name__ == "__main__":
    main()
