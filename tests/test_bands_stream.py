"""convcli.bands.stream: stream_chain against the whole run (pipeline.run, then map_values), its
errors from either thread, and auto_band_rows."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from convcli.bands.stream import BAND_ROUND, MappingTotals, auto_band_rows, map_band, stream_chain
from convcli.errors import ImageWriteError, NonFiniteError
from convcli.images import open_band_reader, open_band_writer, read_image
from convcli.pipeline import parse_pipeline, plan, run
from convcli.values import map_values

CHAIN = ("steps: [{filter: {kernel: box3, boundary: reflect}}, {pool: {op: avg, size: 2}}, "
         "{filter: {kernel: sobel-x, boundary: wrap}}]")


def _stream(tmp_path, image, steps, *, dtype, band_rows, **kwargs):
    np.save(tmp_path / "in.npy", image)
    out = tmp_path / "out.npy"
    with open_band_reader(tmp_path / "in.npy") as reader:
        shape = plan(steps, reader.shape, has_alpha=reader.has_alpha).shape
        with open_band_writer(out, shape=shape, dtype=dtype) as writer:
            summary = stream_chain(steps, reader, writer, band_rows=band_rows, **kwargs)
            writer.commit()
    return np.load(out), summary


@pytest.mark.parametrize("band_rows", [1, 3, 16, 100])
@pytest.mark.parametrize("dtype, scale", [("uint8", "clip"), ("uint8", "offset"), ("uint16", "abs"),
                                          ("float32", "clip")])
def test_streamed_result_is_the_whole_run_mapped(tmp_path, band_rows, dtype, scale):
    image = np.random.default_rng(0).integers(0, 256, (41, 29), dtype=np.uint8)
    steps = parse_pipeline(CHAIN, path="p.yaml")
    streamed, summary = _stream(tmp_path, image, steps, dtype=dtype, band_rows=band_rows, scale=scale)
    whole, mapping = map_values(run(steps, image)[0], dtype=dtype, scale=scale)
    np.testing.assert_array_equal(streamed, whole)
    assert streamed.dtype == whole.dtype
    for name in ("scale", "clipped", "clipped_below", "clipped_above"):
        assert summary[name] == mapping[name]
    assert summary["bands"] == {"rows": band_rows, "count": -(-20 // band_rows)}


def test_start_dtype_float64_computes_in_float64(tmp_path):
    image = np.random.default_rng(1).integers(0, 256, (12, 9), dtype=np.uint8)
    steps = parse_pipeline("steps: [{filter: {kernel: gaussian5}}]", path="p.yaml")
    streamed, _ = _stream(tmp_path, image, steps, dtype="float64", band_rows=5, start_dtype="float64")
    np.testing.assert_array_equal(streamed, run(steps, image.astype(np.float64))[0])


def test_on_band_reports_rows_written_of_all(tmp_path):
    seen = []
    steps = parse_pipeline("steps: [{filter: {kernel: box3}}]", path="p.yaml")
    _stream(tmp_path, np.zeros((10, 4), np.uint8), steps, dtype="uint8", band_rows=4,
            on_band=lambda done, total: seen.append((done, total)))
    assert seen == [(4, 10), (8, 10), (10, 10)]


def test_normalize_cannot_be_streamed(tmp_path):
    steps = parse_pipeline("steps: [{filter: {kernel: box3}}]", path="p.yaml")
    with pytest.raises(ValueError, match="`scale` normalize needs the whole result's range"):
        _stream(tmp_path, np.zeros((10, 4), np.uint8), steps, dtype="uint8", band_rows=4, scale="normalize")


def test_a_band_cast_to_inf_raises_and_nothing_is_kept(tmp_path):
    image = np.ones((20, 4))
    image[15:] = 1e300
    steps = parse_pipeline("steps: [{filter: {kernel: box3}}]", path="p.yaml")
    with pytest.raises(NonFiniteError, match="does not fit float32"):
        _stream(tmp_path, image, steps, dtype="float32", band_rows=4)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.npy"]


class _FailingWriter:
    """A writer whose second band fails, as a full disk would."""

    def __init__(self, shape, dtype):
        self.shape, self.dtype, self.rows_written = shape, dtype, 0

    def write_rows(self, band):
        if self.rows_written:
            raise ImageWriteError("cannot write: No space left on device", path="out.png")
        self.rows_written += band.shape[0]


def test_writer_error_is_raised_in_the_caller_and_the_thread_ends(tmp_path):
    np.save(tmp_path / "in.npy", np.zeros((50, 4), np.uint8))
    steps = parse_pipeline("steps: [{filter: {kernel: box3}}]", path="p.yaml")
    before = threading.active_count()
    with open_band_reader(tmp_path / "in.npy") as reader:
        with pytest.raises(ImageWriteError, match="No space left"):
            stream_chain(steps, reader, _FailingWriter((50, 4), "uint8"), band_rows=2)
    assert threading.active_count() == before


class _Reader:
    """Rows of an array; rows past ``fail_from`` fail to decode."""

    def __init__(self, image, fail_from):
        self.image, self.fail_from = image, fail_from
        self.shape, self.dtype, self.has_alpha = image.shape, str(image.dtype), False

    def read_rows(self, first, stop):
        if stop > self.fail_from:
            raise ImageWriteError("damaged", path="in.tif")
        return self.image[first:stop]


def test_read_error_is_raised_and_the_writer_thread_ends(tmp_path):
    steps = parse_pipeline("steps: [{filter: {kernel: box3}}]", path="p.yaml")
    before = threading.active_count()
    written = []

    class Writer(_FailingWriter):
        def write_rows(self, band):
            written.append(band.shape[0])

    with pytest.raises(ImageWriteError, match="damaged"):
        stream_chain(steps, _Reader(np.zeros((30, 4), np.uint8), 12), Writer((30, 4), "uint8"), band_rows=4)
    assert threading.active_count() == before
    assert sum(written) <= 12  # no band after the failure was written


def test_auto_band_rows_is_a_multiple_of_the_rounding_within_the_height():
    steps = parse_pipeline(CHAIN, path="p.yaml")
    for shape in [(4096, 4096), (40000, 40000), (3000, 300, 3), (100, 100)]:
        planned = plan(steps, shape, dtype="uint8")
        rows = auto_band_rows(planned)
        assert 1 <= rows <= planned.shape[0]
        assert rows == planned.shape[0] or rows % BAND_ROUND == 0
    # 2 MiB of float32 rows: 128 rows of 4096 pixels, 32 of 4096 RGBA pixels; a float64 chain half;
    # a 2× upsampling counts its result's rows (twice as wide), a 2× pooling its input's
    box = parse_pipeline("steps: [{filter: {kernel: box3}}]", path="p.yaml")
    assert auto_band_rows(plan(box, (4096, 4096), dtype="uint8")) == 128
    assert auto_band_rows(plan(box, (4096, 4096, 4), dtype="uint8", has_alpha=True)) == 32
    assert auto_band_rows(plan(box, (4096, 4096), dtype="float64")) == 64
    up = parse_pipeline("steps: [{upsample: {factor: 2}}]", path="p.yaml")
    assert auto_band_rows(plan(up, (2048, 2048), dtype="uint8")) == 128
    down = parse_pipeline("steps: [{pool: {op: avg, size: 2}}]", path="p.yaml")
    assert auto_band_rows(plan(down, (8192, 4096), dtype="uint8")) == 64
    with pytest.raises(ValueError, match="`band_bytes`"):
        auto_band_rows(plan(box, (10, 10)), band_bytes=0)


def test_streamed_png_output_reads_back_as_the_whole_result(tmp_path):
    image = np.random.default_rng(2).integers(0, 256, (33, 20, 3), dtype=np.uint8)
    np.save(tmp_path / "in.npy", image)
    steps = parse_pipeline(CHAIN, path="p.yaml")
    with open_band_reader(tmp_path / "in.npy") as reader:
        shape = plan(steps, reader.shape).shape
        with open_band_writer(tmp_path / "out.png", shape=shape, dtype="uint8") as writer:
            stream_chain(steps, reader, writer, band_rows=3, scale="abs")
            writer.commit()
    np.testing.assert_array_equal(read_image(str(tmp_path / "out.png"))[0],
                                  map_values(run(steps, image)[0], dtype="uint8", scale="abs")[0])


def test_rows_are_read_ahead_in_the_order_the_bands_read_them(tmp_path):
    """Reads happen on the reading thread, in run_banded's order; a read out of that order (a
    chain that runs whole reads everything at once) is read directly."""
    from convcli.bands import band_plan
    from convcli.bands.stream import _Prefetch, _read_order

    steps = parse_pipeline("steps: [{filter: {kernel: box3, boundary: wrap}}, {pool: {op: max, size: 2}}]",
                           path="p.yaml")
    order = _read_order(band_plan(steps, (20, 6), band_rows=3))
    # the first band's pool needs filter rows 0..5, which read rows 19 (wrap) and 0..6
    assert order[:2] == [(0, 7), (19, 20)]
    image = np.arange(120, dtype=np.uint8).reshape(20, 6)
    calls, threads = [], []

    def read(first, stop):
        calls.append((first, stop))
        threads.append(threading.current_thread().name)
        return image[first:stop]

    with _Prefetch(read, order) as prefetch:
        for first, stop in order:
            np.testing.assert_array_equal(prefetch.read(first, stop), image[first:stop])
        np.testing.assert_array_equal(prefetch.read(0, 20), image)  # past the plan: read here
    assert calls == [*order, (0, 20)]
    assert set(threads[:-1]) == {"convcli-band-reader"} and threads[-1] == threading.current_thread().name
    with _Prefetch(read, order) as prefetch:
        np.testing.assert_array_equal(prefetch.read(5, 9), image[5:9])  # out of order: read directly
        np.testing.assert_array_equal(prefetch.read(*order[0]), image[slice(*order[0])])


def test_a_band_is_mapped_value_by_value_and_its_clipping_counted():
    mapped, mapping = map_band(np.array([[-5.0, 0.0, 100.0, 300.0]]), dtype="uint8")
    assert mapped.tolist() == [[0, 0, 100, 255]] and mapped.dtype == np.uint8
    assert (mapping["clipped"], mapping["clipped_below"], mapping["clipped_above"]) == (2, 1, 1)
    with pytest.raises(NonFiniteError, match="does not fit float32"):
        map_band(np.array([[1e300]]), dtype="float32")


def test_mapping_totals_sum_the_bands_in_order_and_say_the_scale_of_none():
    totals = MappingTotals()
    for below, above in ((1, 0), (0, 3), (2, 2)):
        totals.add({"scale": "clip", "clipped": below + above, "clipped_below": below, "clipped_above": above})
    assert totals.summary(dtype="uint8", scale="clip", band_rows=4, count=3) == {
        "scale": "clip", "clipped": 8, "clipped_below": 3, "clipped_above": 5, "bands": {"rows": 4, "count": 3}}
    empty = MappingTotals().summary(dtype="float32", scale="clip", band_rows=4, count=0)
    assert empty["scale"] == map_values(np.zeros((0, 0)), dtype="float32", scale="clip")[1]["scale"]
    assert empty["clipped"] == 0
