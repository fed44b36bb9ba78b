"""One libvips job in a process of its own, for bench/streaming.py when no ``vips`` program is installed.

Run as ``python bench/_vips_job.py JOB INPUT OUTPUT [--level N]`` with pyvips (and a libvips, e.g. the
``pyvips-binary`` wheel) installed; the time and memory measured include this Python's start-up and
``import pyvips`` (bench/streaming.py measures that on its own, so it can be subtracted). Jobs:

- ``sobel-x`` / ``gaussian5``: one convolution (``conv``, integer precision, 8-bit result);
- ``pipeline``: ``gaussian5``, a 2×2 max pool (``rank`` 2×2, the largest of 4, then ``subsample`` 2),
  ``gaussian5``: the closest libvips has to convcli's conv → pool(max 2) → conv.

The input is opened for sequential access, so libvips streams it; a ``.png`` output is written at
zlib level ``--level``, a ``.tif`` one as tiled (256×256) BigTIFF, deflate at level 6.
"""

from __future__ import annotations

import argparse

#: libvips masks as (rows, scale). libvips correlates (it does not rotate the mask), so these are
#: convcli's kernels as applied: sobel-x rotated 180°, the symmetric Gaussian as it is.
MASKS = {
    "sobel-x": ([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], 1),
    "gaussian5": ([[a * b for b in (1, 4, 6, 4, 1)] for a in (1, 4, 6, 4, 1)], 256),
}

#: zlib level of TIFF outputs: 6, zlib's default, which libvips and tifffile (convcli's TIFF writer) use.
TIFF_DEFLATE_LEVEL = 6

#: What the 2×2 max pool of the pipeline job is in libvips.
MAX_POOL_TEXT = "rank 2×2 (largest of 4) then subsample 2×2"


def mask_file_text(name: str) -> str:
    """The mask as a libvips matrix file (``W H scale offset`` then the rows), for the ``vips`` program."""
    rows, scale = MASKS[name]
    return f"{len(rows[0])} {len(rows)} {scale} 0\n" + "\n".join(" ".join(map(str, row)) for row in rows) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("job", choices=[*MASKS, "pipeline"])
    parser.add_argument("input")
    parser.add_argument("output")
    parser.add_argument("--level", type=int, default=6, help="zlib level of a PNG output (default 6)")
    args = parser.parse_args()

    import pyvips

    def mask(name: str) -> pyvips.Image:
        rows, scale = MASKS[name]
        return pyvips.Image.new_from_array(rows, scale=scale, offset=0)

    image = pyvips.Image.new_from_file(args.input, access="sequential")
    if args.job == "pipeline":
        gauss = mask("gaussian5")
        image = image.conv(gauss, precision="integer").rank(2, 2, 3).subsample(2, 2).conv(gauss, precision="integer")
    else:
        image = image.conv(mask(args.job), precision="integer")
    image = image.cast("uchar")  # integer precision keeps 8 bits already; this makes it explicit
    if args.output.endswith((".tif", ".tiff")):
        image.tiffsave(args.output, tile=True, tile_width=256, tile_height=256, bigtiff=True,
                       compression="deflate", level=TIFF_DEFLATE_LEVEL)
    else:
        image.write_to_file(args.output, compression=args.level)


if __name__ == "__main__":
    main()
