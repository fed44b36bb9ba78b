"""Speed of convcli's CNN layer (convcli.ops.conv2d.conv2d) against torch.nn.functional.conv2d on CPU.

Run by hand (not part of the test suite)::

    python bench/bench_layers.py                  # the two cases of issue 13, median of 7
    python bench/bench_layers.py --repeat 15
    python bench/bench_layers.py --scale 0.25     # every image side a quarter (a quick look)

Torch is optional: without it only convcli's times and memory are shown. Install it in a virtual
environment of its own, never the project's (``python3 -m venv /tmp/torch-venv &&
/tmp/torch-venv/bin/pip install torch numpy && /tmp/torch-venv/bin/pip install -e .``), and run this
script with that environment's Python.

Cases (float32, 3×3 weights, ``padding='same'``, i.e. torch's ``padding=1``, bias):

- C_in 3 → C_out 16 on 1024×1024;
- C_in 64 → C_out 64 on 256×256.

convcli takes and returns channels-last arrays (H, W, C); torch is timed on the NCHW tensors it
works in, without the conversions (``torch (NCHW)``, the ratio's reference), and with the
conversion from and back to channels-last (``torch + layout``). The target (issue 13): convcli at
most 2× ``torch (NCHW)``. The medians are taken with convcli and torch in turns, after a warm-up,
with torch on as many threads as the process may use. ``peak MB`` is the largest memory NumPy held
during one convcli call (tracemalloc), beside the input and output sizes.

Measured on the project's 2-core machine (AMD EPYC, shared with other jobs: load average 3.3 to 3.6
during these runs, so ±20 % from run to run), torch 2.13.0 CPU, NumPy 2.4 with OpenBLAS, two runs
of ``--repeat 9``:

| case | convcli | torch (NCHW) | ratio | torch + layout | peak MB (in + out) |
| --- | --- | --- | --- | --- | --- |
| 3→16, 3×3, 1024² | 170 ms | 175 ms | 0.97 | 241 ms | 92 (12 + 64) |
| 64→64, 3×3, 256² | 183 ms | 134 ms | 1.37 | 174 ms | 48 (16 + 16) |
| 3→16, 3×3, 1024² | 170 ms | 159 ms | 1.07 | 244 ms | 92 (12 + 64) |
| 64→64, 3×3, 256² | 149 ms | 132 ms | 1.13 | 164 ms | 48 (16 + 16) |

The peak is the padded channel planes (the input's size), the output and one band's patch matrix
(at most ``convcli.ops.conv2d.BAND_BYTES``, 16 MB); the input itself was allocated before.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))  # run from a checkout without installing

from convcli._system import usable_cpus  # noqa: E402
from convcli.ops.conv2d import conv2d  # noqa: E402

CASES = [(1024, 3, 16), (256, 64, 64)]
TARGET = 2.0


def _median_ms(function, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def _peak_mb(function) -> float:
    tracemalloc.start()
    try:
        function()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def run(repeat: int, scale: float) -> list[str]:
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        torch = None
    if torch is not None:
        torch.set_num_threads(usable_cpus())
    rng = np.random.default_rng(0)
    lines = ["| case | convcli | torch (NCHW) | ratio | torch + layout | peak MB (in + out) |",
             "| --- | --- | --- | --- | --- | --- |"]
    failed = False
    for side, c_in, c_out in CASES:
        side = max(8, int(side * scale))
        image = rng.random((side, side, c_in), dtype=np.float32)
        weights = rng.standard_normal((3, 3, c_in, c_out), dtype=np.float32)
        bias = rng.standard_normal(c_out, dtype=np.float32)

        def ours():
            return conv2d(image, weights, bias=bias, padding="same")

        ours()  # warm-up (and OpenBLAS's threads)
        ours_times, torch_times, layout_times = [], [], []
        if torch is not None:
            tensor = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))[None])
            kernel = torch.from_numpy(np.ascontiguousarray(weights.transpose(3, 2, 0, 1)))
            torch_bias = torch.from_numpy(bias)

            def theirs():
                with torch.no_grad():
                    return F.conv2d(tensor, kernel, torch_bias, padding=1)

            def theirs_with_layout():
                with torch.no_grad():
                    nchw = torch.from_numpy(image).permute(2, 0, 1)[None]
                    return F.conv2d(nchw, kernel, torch_bias, padding=1)[0].permute(1, 2, 0).contiguous().numpy()

            np.testing.assert_allclose(ours(), theirs_with_layout(), rtol=1e-3, atol=1e-3 * c_in)
            theirs()
            for _ in range(repeat):  # in turns, so that a busy moment of the machine hits both
                ours_times.append(_median_ms(ours, 1))
                torch_times.append(_median_ms(theirs, 1))
                layout_times.append(_median_ms(theirs_with_layout, 1))
        else:
            ours_times = [_median_ms(ours, 1) for _ in range(repeat)]
        mine = statistics.median(ours_times)
        peak = _peak_mb(ours)
        sizes = f"{image.nbytes / 2**20:.0f} + {side * side * c_out * 4 / 2**20:.0f}"
        case = f"{c_in}→{c_out}, 3×3, {side}²"
        if torch is None:
            lines.append(f"| {case} | {mine:.0f} ms | (torch not installed) | | | {peak:.0f} ({sizes}) |")
            continue
        reference = statistics.median(torch_times)
        ratio = mine / reference
        failed |= ratio > TARGET
        lines.append(f"| {case} | {mine:.0f} ms | {reference:.0f} ms | {ratio:.2f} | "
                     f"{statistics.median(layout_times):.0f} ms | {peak:.0f} ({sizes}) |")
    lines.append("")
    lines.append(f"target: convcli at most {TARGET:g}× torch (NCHW); " + (
        "torch not installed" if torch is None else ("a case is over it" if failed else "met")))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="timed runs of each (median)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every image side by this")
    arguments = parser.parse_args()
    print("\n".join(run(arguments.repeat, arguments.scale)))


if __name__ == "__main__":
    main()
