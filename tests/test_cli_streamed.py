"""Streamed inputs through the command line (cli/streamed.py): read, computed and written band by
band, the files holding what the whole-image run writes; what runs whole; errors mid-stream leave
nothing; the progress bar by rows."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import tifffile

from convcli.images import encode_image, read_image
from helpers import png

PIPE = "steps: [{filter: {kernel: gaussian5, boundary: reflect}}, {pool: {op: max, size: 2}}]\n"


def _inputs(tmp_path, image):
    """The image as each kind of input: read by parts (.npy, tiled and stripped TIFF, Zarr) or whole (PNG)."""
    from convcli.images.zarr_io import write_whole

    np.save(tmp_path / "in.npy", image)
    tifffile.imwrite(tmp_path / "tiled.tif", image, tile=(16, 16), compression="zlib")
    tifffile.imwrite(tmp_path / "strips.tif", image, rowsperstrip=5)
    png(tmp_path / "in.png", image)
    write_whole(str(tmp_path / "in.zarr"), image)
    return ["in.npy", "tiled.tif", "strips.tif", "in.png", "in.zarr"]


def _entry(result):
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["files"][0]


@pytest.mark.parametrize("out", ["npy", "png", "tif", "zarr"])
def test_streamed_output_holds_what_the_whole_run_writes(run, tmp_path, out):
    image = np.random.default_rng(0).integers(0, 256, (45, 37), dtype=np.uint8)
    (tmp_path / "p.yaml").write_text(PIPE)
    names = _inputs(tmp_path, image)
    whole = _entry(run("pipeline", "p.yaml", "in.npy", "-o", f"whole.{out}", "--json"))
    assert "bands" not in whole  # a small image runs whole
    expected = read_image(str(tmp_path / f"whole.{out}"))[0]
    for name in names:
        entry = _entry(run("pipeline", "p.yaml", name, "-o", f"s-{name}.{out}", "--band-rows", "4", "--json"))
        # 45 rows → 22 after pooling: 6 bands of 4 rows
        assert entry["bands"] == {"rows": 4, "count": 6}, name
        assert entry["output_shape"] == whole["output_shape"] == [22, 18]
        assert entry["steps"] == whole["steps"] and entry["scale"] == whole["scale"]
        np.testing.assert_array_equal(read_image(str(tmp_path / f"s-{name}.{out}"))[0], expected, err_msg=name)
        if out in ("npy", "png"):  # the same encoder, fed by bands: the same bytes
            assert (tmp_path / f"s-{name}.{out}").read_bytes() == (tmp_path / f"whole.{out}").read_bytes()


def test_clipped_counts_are_summed_over_the_bands(run, tmp_path):
    image = np.random.default_rng(1).integers(0, 256, (30, 20), dtype=np.uint8)
    np.save(tmp_path / "in.npy", image)
    whole = _entry(run("filter", "in.npy", "-k", "sobel-x", "-o", "whole.png", "--json"))
    streamed = _entry(run("filter", "in.npy", "-k", "sobel-x", "-o", "bands.png", "--band-rows", "3", "--json"))
    # Sobel-x of noise goes far below 0 and above 255: counted as the whole image counts them
    assert whole["clipped"] > 0 and whole["clipped_below"] > 0 and whole["clipped_above"] > 0
    for name in ("clipped", "clipped_below", "clipped_above"):
        assert streamed[name] == whole[name]
    assert (tmp_path / "bands.png").read_bytes() == (tmp_path / "whole.png").read_bytes()


def test_alpha_and_uint16_stream_as_the_whole_run(run, tmp_path):
    rng = np.random.default_rng(2)
    image = rng.integers(0, 65536, (21, 17, 4), dtype=np.uint16)
    (tmp_path / "in.png").write_bytes(encode_image(image, format="png", has_alpha=True))
    for out in ("whole.png", "bands.png"):
        extra = ["--band-rows", "2"] if out == "bands.png" else []
        entry = _entry(run("filter", "in.png", "-k", "box3", "--boundary", "edge", "-o", out, "--json", *extra))
        assert entry["output_dtype"] == "uint16"
    assert (tmp_path / "bands.png").read_bytes() == (tmp_path / "whole.png").read_bytes()


@pytest.mark.parametrize("why, args", [
    ("normalize needs the whole range", ["-k", "box3", "--scale", "normalize", "-o", "out.png"]),
    ("a format written whole", ["-k", "box3", "-o", "out.jpg"]),
    ("a chain that runs whole", ["-k", "box3", "--stride", "1", "-o", "out.npy", "--sheet", "sheet.png"]),
    ("the image on standard output", ["-k", "box3", "-o", "-", "--format", "npy"]),
])
def test_what_cannot_stream_runs_whole(run, tmp_path, why, args):
    np.save(tmp_path / "in.npy", np.random.default_rng(3).integers(0, 256, (20, 20), dtype=np.uint8))
    result = run("filter", "in.npy", *args, "--band-rows", "3", "--report", "r.json")
    assert result.exit_code == 0, result.output
    entry = json.loads((tmp_path / "r.json").read_text())["files"][0]
    assert "bands" not in entry, why


def test_a_band_that_fails_leaves_no_file_and_the_old_one_in_place(run, tmp_path):
    image = np.ones((40, 10))
    image[30:] = 1e300  # float64 values float32 cannot hold: the 4th band of 8 rows fails when cast
    np.save(tmp_path / "in.npy", image)
    (tmp_path / "out.npy").write_bytes(b"old")
    result = run("filter", "in.npy", "-k", "box3", "-o", "out.npy", "--dtype", "float32", "--band-rows", "8")
    assert result.exit_code == 1
    assert "in.npy" in result.stderr and "does not fit float32" in result.stderr
    assert (tmp_path / "out.npy").read_bytes() == b"old"
    assert sorted(os.listdir(tmp_path)) == ["in.npy", "out.npy"]  # no temporary left


def test_interrupted_stream_leaves_nothing(run, tmp_path, monkeypatch):
    import convcli.bands as stream

    np.save(tmp_path / "in.npy", np.zeros((40, 10), np.uint8))
    real = stream.run_banded

    def interrupted(*args, **kwargs):
        for number, band in enumerate(real(*args, **kwargs)):
            if number == 2:
                raise KeyboardInterrupt
            yield band

    monkeypatch.setattr(stream, "run_banded", interrupted)
    result = run("filter", "in.npy", "-k", "box3", "-o", "out.png", "--band-rows", "5")
    assert result.exit_code == 130 and "interrupted" in result.stderr
    assert sorted(os.listdir(tmp_path)) == ["in.npy"]


def test_no_clobber_and_the_input_as_output_are_refused(run, tmp_path):
    np.save(tmp_path / "in.npy", np.zeros((20, 10), np.uint8))
    (tmp_path / "out.png").write_bytes(b"old")
    result = run("filter", "in.npy", "-k", "box3", "-o", "out.png", "--band-rows", "5", "--no-clobber")
    assert result.exit_code == 1 and "out.png" in result.stderr and "exists" in result.stderr
    assert (tmp_path / "out.png").read_bytes() == b"old"
    result = run("filter", "in.npy", "-k", "box3", "-o", "in.npy", "--band-rows", "5")
    assert result.exit_code == 2 and "refusing to overwrite a file this run reads" in result.stderr
    assert np.load(tmp_path / "in.npy").shape == (20, 10)


def test_streamed_inputs_are_held_to_the_band_plan_not_the_pixel_limit(run, tmp_path):
    image = np.random.default_rng(4).integers(0, 256, (64, 64), dtype=np.uint8)
    np.save(tmp_path / "in.npy", image)
    png(tmp_path / "in.png", image)
    # 4096 pixels over a limit of 1000: a .npy read by parts runs, a PNG decoded whole does not
    entry = _entry(run("filter", "in.npy", "-k", "box3", "-o", "a.npy", "--max-pixels", "1000", "--band-rows", "16",
                       "--json"))
    assert entry["bands"]["count"] == 4
    result = run("filter", "in.png", "-k", "box3", "-o", "b.npy", "--max-pixels", "1000", "--band-rows", "16")
    assert result.exit_code == 1 and "--max-pixels" in result.stderr
    # the memory the band plan needs is what --max-memory holds it to
    result = run("filter", "in.npy", "-k", "box3", "-o", "c.npy", "--max-memory", "1MiB", "--band-rows", "16")
    assert result.exit_code == 1 and "band plan" in result.stderr and "--max-memory" in result.stderr


def test_a_run_over_max_memory_whole_streams_in_bands_that_fit(run, tmp_path):
    """No --band-rows: an input whose whole run would pass --max-memory is streamed, in bands
    thin enough for the band plan to fit."""
    image = np.random.default_rng(5).integers(0, 256, (2000, 2000), dtype=np.uint8)
    np.save(tmp_path / "in.npy", image)
    (tmp_path / "p.yaml").write_text(PIPE)
    dry = _entry(run("pipeline", "p.yaml", "in.npy", "-o", "out.npy", "--dry-run", "--json"))
    limit = 32 << 20
    assert dry["memory"] > limit  # the whole run's estimate
    entry = _entry(run("pipeline", "p.yaml", "in.npy", "-o", "out.npy", "--max-memory", str(limit), "--json"))
    assert entry["memory"] <= limit and entry["bands"]["rows"] % 16 == 0
    # against the whole run: no --max-memory, small enough to run whole
    whole = _entry(run("pipeline", "p.yaml", "in.npy", "-o", "whole.npy", "--json"))
    assert "bands" not in whole
    assert (tmp_path / "out.npy").read_bytes() == (tmp_path / "whole.npy").read_bytes()


def test_one_input_shows_a_bar_by_rows_on_a_terminal_only(run, tmp_path, monkeypatch):
    import convcli.cli.batch as batch

    np.save(tmp_path / "in.npy", np.zeros((40, 10), np.uint8))
    seen: list[tuple[int, int]] = []

    class Bar:
        def __init__(self, command, color):
            self.command = command

        def update(self, done, total):
            seen.append((done, total))

        def stop(self):
            seen.append(("stopped", self.command))

    monkeypatch.setattr(batch, "BandProgressBar", Bar)
    assert run("filter", "in.npy", "-k", "box3", "-o", "a.npy", "--band-rows", "16").exit_code == 0
    assert seen == []  # standard error is not a terminal here
    monkeypatch.setattr(batch, "is_terminal", lambda stream: stream is not None)
    assert run("filter", "in.npy", "-k", "box3", "-o", "b.npy", "--band-rows", "16").exit_code == 0
    assert seen[:3] == [(16, 40), (32, 40), (40, 40)] and seen[-1] == ("stopped", "filter")


def test_the_estimate_counts_the_segments_the_reader_keeps(run, tmp_path):
    """A TIFF in strips of all its rows keeps a whole strip: the estimate, made again once the
    reader is open, says so (and --max-memory holds the run to it)."""
    image = np.random.default_rng(6).integers(0, 256, (2000, 1000), dtype=np.uint8)
    tifffile.imwrite(tmp_path / "tall.tif", image, rowsperstrip=2000, compression="zlib")
    tifffile.imwrite(tmp_path / "tiled.tif", image, tile=(16, 16), compression="zlib")
    tall = _entry(run("filter", "tall.tif", "-k", "box3", "-o", "a.npy", "--band-rows", "16", "--json"))
    tiled = _entry(run("filter", "tiled.tif", "-k", "box3", "-o", "b.npy", "--band-rows", "16", "--json"))
    # two rows of 2000-row strips against two of 16-row tiles: 2 × (2000 − 16) × 1000 bytes more
    assert tall["memory"] - tiled["memory"] >= 2 * 1984 * 1000
    assert (tmp_path / "a.npy").read_bytes() == (tmp_path / "b.npy").read_bytes()
    result = run("filter", "tall.tif", "-k", "box3", "-o", "c.npy", "--band-rows", "16",
                 "--max-memory", str(tiled["memory"] + 1000))
    assert result.exit_code == 1 and "band plan" in result.stderr and "--max-memory" in result.stderr
    assert not (tmp_path / "c.npy").exists()


def test_zarr_chunks_are_decoded_once_for_thin_bands(run, tmp_path, monkeypatch):
    from convcli.images import zarr_io

    image = np.random.default_rng(7).integers(0, 256, (100, 30), dtype=np.uint8)
    zarr_io.write_whole(str(tmp_path / "in.zarr"), image)  # chunks of 256 rows: one row of chunks
    reads = []
    real = zarr_io.rows

    def counting(array, info, r0, r1):
        reads.append((r0, r1))
        return real(array, info, r0, r1)

    monkeypatch.setattr(zarr_io, "rows", counting)
    entry = _entry(run("filter", "in.zarr", "-k", "gaussian5", "-o", "out.npy", "--band-rows", "16", "--json"))
    assert entry["bands"]["count"] == 7 and reads == [(0, 100)]
    assert "bands" not in _entry(run("filter", "in.zarr", "-k", "gaussian5", "-o", "whole.npy", "--json"))
    assert (tmp_path / "out.npy").read_bytes() == (tmp_path / "whole.npy").read_bytes()
