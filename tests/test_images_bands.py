"""Band readers and writers (convcli.images.band_read, band_write, tiff_bands): rows equal to the
arrays the files were written from (by tifffile, Pillow, NumPy, zarr: never by the reader) and to
read_image's; writers' files read back by those libraries; atomicity; memory held to a band."""

from __future__ import annotations

import io
import os
import tracemalloc

import numpy as np
import pytest
import tifffile
from PIL import Image

from convcli import images
from convcli.errors import ImageReadError, ImageWriteError
from convcli.images.band_read import open_band_reader
from convcli.images.band_write import open_band_writer
from convcli.images.limits import Limits
from convcli._system import usable_cpus
from convcli.images.band_write import TIFF_TILES_PER_WORKER
from convcli.images.png import _png_encode
from convcli.images.zarr_io import _zarr

RNG = np.random.default_rng(15)


def _values(shape, dtype):
    if np.dtype(dtype).kind == "f":
        return RNG.normal(0, 100, shape).astype(dtype)
    top = 256 if np.dtype(dtype).itemsize == 1 else 65536
    return RNG.integers(0, top, shape).astype(dtype)


def _bands(reader, size):
    return np.concatenate([reader.read_rows(r, min(r + size, reader.shape[0])) for r in range(0, reader.shape[0], size)])


def _check_rows(path, expected, *, streamed=True):
    whole, info = images.read_image(path)
    np.testing.assert_array_equal(whole, expected)
    with open_band_reader(path) as reader:
        assert (reader.shape, reader.dtype, reader.has_alpha) == (info.shape, info.dtype, info.has_alpha)
        assert reader.streamed is streamed
        for size in (1, 5, 16, 1000):
            band = _bands(reader, size)
            assert band.dtype == expected.dtype and band.flags.c_contiguous and band.flags.writeable
            np.testing.assert_array_equal(band, expected)
        h = expected.shape[0]
        np.testing.assert_array_equal(reader.read_rows(h // 3, h // 3 + 2), expected[h // 3 : h // 3 + 2])
        assert reader.read_rows(2, 2).shape == (0, *expected.shape[1:])


# ----------------------------------------------------------------------------------------------
# Reading TIFF by strips or tiles
# ----------------------------------------------------------------------------------------------

TIFF_LAYOUTS = {
    "strips": {"rowsperstrip": 7},
    "one-strip": {},
    "strips-deflate": {"rowsperstrip": 5, "compression": "zlib"},
    "strips-deflate-predictor": {"rowsperstrip": 9, "compression": "zlib", "predictor": True},
    "tiles": {"tile": (16, 32)},
    "tiles-deflate": {"tile": (32, 16), "compression": "zlib"},
    "bigtiff-tiles": {"tile": (16, 16), "compression": "zlib", "bigtiff": True},
    "big-endian": {"rowsperstrip": 7, "byteorder": ">"},
}


@pytest.mark.parametrize("layout", TIFF_LAYOUTS)
@pytest.mark.parametrize(("shape", "dtype", "extra"), [
    ((45, 70), "uint8", {}),
    ((45, 70, 3), "uint8", {"photometric": "rgb"}),
    ((45, 70, 4), "uint8", {"photometric": "rgb", "extrasamples": ["unassalpha"]}),
    ((45, 70, 3), "uint16", {"photometric": "rgb"}),
    ((45, 70), "uint16", {}),
    ((45, 70), "float32", {}),
    ((45, 70, 2), "float32", {"photometric": "minisblack", "planarconfig": "contig"}),
])
def test_tiff_rows_by_segments_equal_the_written_array(tmp_path, layout, shape, dtype, extra):
    if "predictor" in layout and dtype == "float32":
        pytest.skip("tifffile's floating-point predictor needs imagecodecs")
    arr = _values(shape, dtype)
    path = tmp_path / "a.tif"
    tifffile.imwrite(path, arr, metadata=None, **extra, **TIFF_LAYOUTS[layout])
    _check_rows(path, arr)


def test_tiff_separate_planes_and_1_bit_and_miniswhite(tmp_path):
    rgb = _values((33, 40, 3), "uint8")
    tifffile.imwrite(tmp_path / "planes.tif", np.moveaxis(rgb, -1, 0), photometric="rgb", planarconfig="separate",
                     rowsperstrip=4, compression="zlib")
    _check_rows(tmp_path / "planes.tif", rgb)
    bits = RNG.integers(0, 2, (33, 41)).astype(bool)
    tifffile.imwrite(tmp_path / "bits.tif", bits, photometric="minisblack", rowsperstrip=5)
    _check_rows(tmp_path / "bits.tif", bits.astype(np.uint8) * 255)
    grey = _values((33, 40), "uint8")
    tifffile.imwrite(tmp_path / "white.tif", grey, photometric="miniswhite", rowsperstrip=4)
    _check_rows(tmp_path / "white.tif", 255 - grey)


def test_tiff_palette_rows(tmp_path):
    index = RNG.integers(0, 4, (20, 30)).astype(np.uint8)
    colours = np.array([[0, 0, 0], [255, 0, 0], [0, 255, 0], [0, 0, 255]], np.uint8)
    cmap = np.zeros((3, 256), np.uint16)
    cmap[:, :4] = colours.T.astype(np.uint16) * 257
    tifffile.imwrite(tmp_path / "pal.tif", index, photometric="palette", colormap=cmap, rowsperstrip=3)
    _check_rows(tmp_path / "pal.tif", colours[index])


def test_tiff_channel_stack_is_read_by_pages(tmp_path):
    arr = _values((25, 30, 6), "float32")
    path = tmp_path / "stack.tif"
    images.write_atomic(path, images.encode_image(arr, format="tiff"))
    _check_rows(path, arr)


def test_tiff_lzw_and_cmyk_are_decoded_whole(tmp_path):
    rgb = _values((20, 30, 3), "uint8")
    Image.fromarray(rgb).save(tmp_path / "lzw.tif", compression="tiff_lzw")
    _check_rows(tmp_path / "lzw.tif", rgb, streamed=False)
    cmyk = Image.fromarray(rgb).convert("CMYK")
    cmyk.save(tmp_path / "cmyk.tif")
    _check_rows(tmp_path / "cmyk.tif", np.asarray(cmyk.convert("RGB")), streamed=False)


def test_tiff_multi_page_gives_the_first_page(tmp_path):
    first, second = _values((20, 30, 3), "uint8"), _values((10, 10), "uint8")
    with tifffile.TiffWriter(tmp_path / "pages.tif") as tif:
        tif.write(first, photometric="rgb", rowsperstrip=3)
        tif.write(second)
    _check_rows(tmp_path / "pages.tif", first)
    with open_band_reader(tmp_path / "pages.tif") as reader:
        assert any("2 pages" in note for note in reader.info.notes)


def test_tiff_truncated_segment_is_one_line(tmp_path):
    arr = _values((64, 64), "uint8")
    path = tmp_path / "cut.tif"
    tifffile.imwrite(path, arr, rowsperstrip=8, compression="zlib")
    with tifffile.TiffFile(path) as tif:
        offset = int(tif.pages[0].dataoffsets[-1])
    data = bytearray(path.read_bytes())
    data[offset : offset + 8] = bytes(8)  # the last strip's deflate stream, damaged
    path.write_bytes(bytes(data))
    with open_band_reader(path) as reader:
        np.testing.assert_array_equal(reader.read_rows(0, 8), arr[:8])  # strips before it are fine
        with pytest.raises(ImageReadError, match=r"cannot read TIFF") as caught:
            reader.read_rows(60, 64)
    assert "\n" not in str(caught.value)


def test_side_and_file_size_limits_hold_only_inputs_decoded_whole(tmp_path):
    arr = np.zeros((16, 300), np.uint8)
    tifffile.imwrite(tmp_path / "a.tif", arr, rowsperstrip=16)
    np.save(tmp_path / "a.npy", arr)
    Image.fromarray(arr).save(tmp_path / "a.png")
    for limits in (Limits(max_side=200), Limits(max_file_size=100)):
        for name in ("a.tif", "a.npy"):  # read by parts: never whole, so no side or size to refuse
            with open_band_reader(tmp_path / name, limits=limits) as reader:
                np.testing.assert_array_equal(reader.read_rows(0, 16), arr)
    with pytest.raises(ImageReadError, match="over the side limit of 200; raise it with `max_side`"):
        open_band_reader(tmp_path / "a.png", limits=Limits(max_side=200))
    Image.fromarray(_values((16, 300), "uint8")).save(tmp_path / "noisy.png")  # more than 100 bytes
    with pytest.raises(ImageReadError, match="file-size limit"):
        open_band_reader(tmp_path / "noisy.png", limits=Limits(max_file_size=100))


def test_npy_rows_are_read_in_the_dtype_read_image_gives(tmp_path):
    flags = np.array([[True, False], [False, True], [True, True]])
    np.save(tmp_path / "b.npy", flags)
    np.save(tmp_path / "h.npy", np.array([[0.5, 1.5], [2.5, -1.0]], np.float16))
    np.save(tmp_path / "be.npy", np.arange(6, dtype=">u2").reshape(3, 2))
    np.save(tmp_path / "f.npy", np.asfortranarray(np.arange(12, dtype=np.uint8).reshape(3, 4)))
    with open_band_reader(tmp_path / "b.npy") as reader:
        assert reader.read_rows(1, 3).tolist() == [[0, 1], [1, 1]] and reader.read_rows(0, 1).dtype == np.uint8
    with open_band_reader(tmp_path / "h.npy") as reader:
        assert reader.read_rows(0, 2).dtype == np.float32 and reader.read_rows(1, 2).tolist() == [[2.5, -1.0]]
    with open_band_reader(tmp_path / "be.npy") as reader:
        band = reader.read_rows(1, 3)
        assert band.dtype.isnative and band.tolist() == [[2, 3], [4, 5]]
    with open_band_reader(tmp_path / "f.npy") as reader:
        assert reader.read_rows(1, 3).tolist() == [[4, 5, 6, 7], [8, 9, 10, 11]]


def test_npy_shorter_than_its_header_is_an_error(tmp_path):
    np.save(tmp_path / "a.npy", np.zeros((10, 10), np.uint8))
    data = (tmp_path / "a.npy").read_bytes()
    (tmp_path / "a.npy").write_bytes(data[:-25])
    with pytest.raises(ImageReadError, match="cannot read .npy: its header promises 100 bytes of data, the file "
                                             "holds 75"):
        open_band_reader(tmp_path / "a.npy")


def test_streamed_inputs_have_no_pixel_limit_but_whole_ones_do(tmp_path):
    arr = _values((40, 50), "uint8")
    tifffile.imwrite(tmp_path / "a.tif", arr, tile=(16, 16))
    np.save(tmp_path / "a.npy", arr)
    Image.fromarray(arr).save(tmp_path / "a.png")
    small = Limits(max_pixels=100)
    for name in ("a.tif", "a.npy"):
        with open_band_reader(tmp_path / name, limits=small) as reader:
            np.testing.assert_array_equal(reader.read_rows(0, 40), arr)
    with pytest.raises(ImageReadError, match="`max_pixels`"):
        open_band_reader(tmp_path / "a.png", limits=small)
    # the memory a plan needs, when the caller gives it, still applies
    planned = Limits(max_pixels=100, max_memory=1000, memory=lambda info: (5000, "the plan's bands"))
    with pytest.raises(ImageReadError, match="the plan's bands"):
        open_band_reader(tmp_path / "a.npy", limits=planned)


# ----------------------------------------------------------------------------------------------
# .npy, other formats, sources
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("stored", "expected_dtype"), [
    ("uint8", "uint8"), ("uint16", "uint16"), ("float32", "float32"), ("float64", "float64"),
    (">u2", "uint16"), ("bool", "uint8"), ("float16", "float32"), ("int32", "int32"),
])
def test_npy_rows_are_memory_mapped(tmp_path, stored, expected_dtype):
    arr = _values((30, 20, 3), "uint8").astype(stored)
    np.save(tmp_path / "a.npy", arr)
    _check_rows(tmp_path / "a.npy", arr.astype(expected_dtype))


def test_npy_fortran_order(tmp_path):
    arr = np.asfortranarray(_values((30, 20), "float32"))
    np.save(tmp_path / "f.npy", arr)
    _check_rows(tmp_path / "f.npy", np.ascontiguousarray(arr))


def test_nonfinite_rows_are_refused_unless_allowed(tmp_path):
    arr = np.zeros((10, 4), np.float32)
    arr[7, 2] = np.nan
    np.save(tmp_path / "nan.npy", arr)
    with open_band_reader(tmp_path / "nan.npy") as reader:
        reader.read_rows(0, 7)
        with pytest.raises(ImageReadError, match="NaN or inf"):
            reader.read_rows(5, 9)
    with open_band_reader(tmp_path / "nan.npy", limits=Limits(allow_nonfinite=True)) as reader:
        assert np.isnan(reader.read_rows(7, 8)[0, 2])


def test_formats_decoded_whole_equal_read_image(tmp_path):
    rgba = _values((21, 17, 4), "uint8")
    Image.fromarray(rgba).save(tmp_path / "a.png")
    _check_rows(tmp_path / "a.png", rgba, streamed=False)
    Image.fromarray(rgba[..., :3]).save(tmp_path / "a.jpg", quality=90)
    with Image.open(tmp_path / "a.jpg") as decoded:
        _check_rows(tmp_path / "a.jpg", np.asarray(decoded), streamed=False)
    Image.fromarray(rgba[..., 0]).save(tmp_path / "a.bmp")
    _check_rows(tmp_path / "a.bmp", rgba[..., 0], streamed=False)
    buffer = io.BytesIO()
    np.save(buffer, rgba)
    with open_band_reader(buffer.getvalue()) as reader:  # standard input's bytes: no file to map
        assert not reader.streamed and reader.has_alpha is False
        np.testing.assert_array_equal(reader.read_rows(3, 9), rgba[3:9])
    with open_band_reader("sample:camera") as reader:
        np.testing.assert_array_equal(reader.read_rows(100, 108), images.read_image("sample:camera")[0][100:108])
    with open_band_reader(tmp_path / "a.png") as reader:
        assert reader.has_alpha is True


def test_reader_errors(tmp_path):
    with pytest.raises(ImageReadError, match="no such file"):
        open_band_reader(tmp_path / "missing.tif")
    (tmp_path / "text.tif").write_bytes(b"hello, world")
    with pytest.raises(ImageReadError, match="not a supported image"):
        open_band_reader(tmp_path / "text.tif")
    np.save(tmp_path / "a.npy", np.zeros((4, 4), np.uint8))
    with open_band_reader(tmp_path / "a.npy") as reader:
        for r0, r1 in ((-1, 2), (3, 2), (0, 5)):
            with pytest.raises(ValueError, match=r"0 <= r0 <= r1 <= 4"):
                reader.read_rows(r0, r1)
        with pytest.raises(ValueError, match="`r0` must be a row number"):
            reader.read_rows(1.5, 2)
    reader.close()
    reader.close()


# ----------------------------------------------------------------------------------------------
# Memory: a band, never the image
# ----------------------------------------------------------------------------------------------


def _peak(action):
    tracemalloc.start()
    try:
        action()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_reading_8_rows_of_large_inputs_holds_far_less_than_the_image(tmp_path):
    arr = np.tile(np.arange(4096, dtype=np.uint8), (4096, 1))  # 16 MiB
    tifffile.imwrite(tmp_path / "tiled.tif", arr, tile=(256, 256), compression="zlib")
    tifffile.imwrite(tmp_path / "striped.tif", arr, rowsperstrip=16, compression="zlib")
    tifffile.imwrite(tmp_path / "raw.tif", arr)  # one uncompressed strip: read by rows
    np.save(tmp_path / "a.npy", arr)
    zarr = _zarr()
    zarr.create_array(store=str(tmp_path / "a.zarr"), shape=arr.shape, dtype="uint8", chunks=(64, 1024))[...] = arr
    for name in ("tiled.tif", "striped.tif", "raw.tif", "a.npy", "a.zarr"):
        with open_band_reader(tmp_path / name) as reader:
            band = []
            peak = _peak(lambda reader=reader, band=band: band.append(reader.read_rows(2000, 2008)))
            np.testing.assert_array_equal(band[0], arr[2000:2008])
        assert peak < arr.nbytes // 8, (name, peak)


@pytest.mark.parametrize("fmt", ["npy", "png", "tiff", "zarr"])
def test_writing_band_by_band_never_holds_the_image(tmp_path, fmt):
    shape, rows = (8000, 4000), 64
    band = np.tile(np.arange(4000, dtype=np.uint16).astype(np.uint8), (rows, 1))
    path = tmp_path / f"big{images.EXTENSIONS[fmt]}"

    def write():
        with open_band_writer(path, shape=shape, dtype="uint8") as writer:
            for r in range(0, shape[0], rows):
                writer.write_rows(band[: shape[0] - r])
            writer.commit()

    peak = _peak(write)
    # the image is 32 MB; a TIFF's tiles are deflated in batches of a fixed number per thread
    batch = 2 * TIFF_TILES_PER_WORKER * usable_cpus() * 256 * 256 if fmt == "tiff" else 0
    assert peak < band.nbytes + 6 * 2**20 + batch, peak
    with open_band_reader(path) as reader:
        np.testing.assert_array_equal(reader.read_rows(3990, 4000), band[22:32])  # 3990 = 62 × 64 + 22


# ----------------------------------------------------------------------------------------------
# Writers: the files, read back by their own libraries
# ----------------------------------------------------------------------------------------------


def _write_bands(path, arr, size=13, **options):
    with open_band_writer(path, shape=arr.shape, dtype=arr.dtype.name, **options) as writer:
        for r in range(0, arr.shape[0], size):
            writer.write_rows(arr[r : r + size])
        writer.commit()


@pytest.mark.parametrize("level", [0, 1, 6, 9])
@pytest.mark.parametrize("filter_type", [0, 1, 2, 3, 4])
@pytest.mark.parametrize(("shape", "dtype"), [((50, 37, 3), "uint8"), ((41, 23), "uint16"), ((30, 9, 4), "uint16"),
                                               ((3, 5, 2), "uint8")])
def test_png_band_writer_gives_the_whole_image_encoders_bytes(tmp_path, level, filter_type, shape, dtype):
    arr = np.cumsum(_values(shape, dtype) % 7, axis=1).astype(dtype)
    _write_bands(tmp_path / "a.png", arr, png_compression=level, png_filter=filter_type)
    data = (tmp_path / "a.png").read_bytes()
    assert data == _png_encode(arr, level, filter_type=filter_type)
    with Image.open(io.BytesIO(data)) as im:
        if dtype == "uint8":
            np.testing.assert_array_equal(np.asarray(im), arr)


def test_png_band_writer_over_many_idat_bands(tmp_path):
    arr = _values((1200, 1000, 3), "uint8")  # 3 MB of filtered rows: IDAT bands of 1 MiB
    _write_bands(tmp_path / "a.png", arr, size=100, png_filter=4)
    assert (tmp_path / "a.png").read_bytes() == _png_encode(arr, 1, filter_type=4)
    with Image.open(tmp_path / "a.png") as im:
        np.testing.assert_array_equal(np.asarray(im), arr)


def test_npy_band_writer_gives_numpy_save_bytes(tmp_path):
    for dtype in ("uint8", "uint16", "float32", "float64"):
        arr = _values((23, 7, 3), dtype)
        _write_bands(tmp_path / "a.npy", arr, size=5)
        buffer = io.BytesIO()
        np.save(buffer, arr)
        assert (tmp_path / "a.npy").read_bytes() == buffer.getvalue()


@pytest.mark.parametrize(("shape", "dtype"), [((300, 270, 3), "uint8"), ((100, 40), "float32"),
                                               ((50, 60, 4), "uint16"), ((40, 30, 6), "float64")])
def test_tiff_band_writer_writes_tiled_deflate(tmp_path, shape, dtype):
    arr = _values(shape, dtype)
    _write_bands(tmp_path / "a.tif", arr, size=37)
    with tifffile.TiffFile(tmp_path / "a.tif") as tif:
        page = tif.pages[0]
        assert page.is_tiled and (page.tilelength, page.tilewidth) == (256, 256)
        assert page.compression == tifffile.COMPRESSION.ADOBE_DEFLATE and not tif.is_bigtiff
        back = page.asarray()
    np.testing.assert_array_equal(back, arr)
    np.testing.assert_array_equal(images.read_image(tmp_path / "a.tif")[0], arr)
    with open_band_reader(tmp_path / "a.tif") as reader:
        assert reader.streamed and reader.has_alpha is (len(shape) == 3 and shape[2] == 4)


def test_tiff_band_writer_bigtiff_and_tiles_asked(tmp_path):
    arr = _values((70, 50), "uint8")
    _write_bands(tmp_path / "a.tif", arr, bigtiff=True, tile=(32, 16))
    with tifffile.TiffFile(tmp_path / "a.tif") as tif:
        assert tif.is_bigtiff and (tif.pages[0].tilelength, tif.pages[0].tilewidth) == (32, 16)
        np.testing.assert_array_equal(tif.pages[0].asarray(), arr)
    rgba = _values((20, 20, 4), "uint8")
    _write_bands(tmp_path / "data.tif", rgba, has_alpha=False)
    assert images.probe(tmp_path / "data.tif").has_alpha is False


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_zarr_band_writer(tmp_path, zarr_format):
    zarr = _zarr()
    arr = _values((300, 40, 3), "uint16")
    _write_bands(tmp_path / "a.zarr", arr, size=70, zarr_format=zarr_format, chunks=(64, 40, 3))
    stored = zarr.open_array(str(tmp_path / "a.zarr"), mode="r")
    assert stored.metadata.zarr_format == zarr_format and stored.chunks == (64, 40, 3)
    np.testing.assert_array_equal(stored[...], arr)
    assert os.listdir(tmp_path) == ["a.zarr"]


# ----------------------------------------------------------------------------------------------
# Atomicity and bad arguments
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["npy", "png", "tiff", "zarr"])
def test_failure_midway_leaves_no_file_and_no_temporary(tmp_path, fmt):
    path = tmp_path / f"out{images.EXTENSIONS[fmt]}"
    arr = _values((40, 30), "uint8")
    with pytest.raises(RuntimeError, match="the chain failed"):
        with open_band_writer(path, shape=arr.shape, dtype="uint8") as writer:
            writer.write_rows(arr[:20])
            raise RuntimeError("the chain failed")
    assert os.listdir(tmp_path) == []
    with open_band_writer(path, shape=arr.shape, dtype="uint8") as writer:
        writer.write_rows(arr[:20])
        with pytest.raises(ImageWriteError, match="only 20 of 40 rows were written; nothing was kept"):
            writer.commit()
    assert os.listdir(tmp_path) == []
    with open_band_writer(path, shape=arr.shape, dtype="uint8") as writer:
        writer.write_rows(arr)
    assert os.listdir(tmp_path) == []  # no commit: nothing kept


@pytest.mark.parametrize("fmt", ["npy", "png", "tiff", "zarr"])
def test_an_existing_output_is_kept_until_commit(tmp_path, fmt):
    path = tmp_path / f"out{images.EXTENSIONS[fmt]}"
    old, new = _values((10, 8), "uint8"), _values((10, 8), "uint8")
    _write_bands(path, old)
    with open_band_writer(path, shape=new.shape, dtype="uint8") as writer:
        writer.write_rows(new[:5])
        np.testing.assert_array_equal(images.read_image(path)[0], old)
        writer.write_rows(new[5:])
        writer.commit()
    np.testing.assert_array_equal(images.read_image(path)[0], new)
    assert os.listdir(tmp_path) == [path.name]
    with pytest.raises(ImageWriteError, match="exists"):
        open_band_writer(path, shape=new.shape, dtype="uint8", no_clobber=True)


def test_writer_argument_errors(tmp_path):
    path = tmp_path / "a.npy"
    with pytest.raises(ValueError, match="`format` 'jpeg' is not written band by band"):
        open_band_writer(tmp_path / "a.jpg", shape=(4, 4), dtype="uint8")
    with pytest.raises(ImageWriteError, match="PNG cannot hold float32"):
        open_band_writer(tmp_path / "a.png", shape=(4, 4), dtype="float32")
    with pytest.raises(ValueError, match="`tile` must be two multiples of 16"):
        open_band_writer(tmp_path / "a.tif", shape=(4, 4), dtype="uint8", tile=(10, 16))
    with pytest.raises(ValueError, match="`png_filter` must be a PNG filter type"):
        open_band_writer(tmp_path / "a.png", shape=(4, 4), dtype="uint8", png_filter=7)
    with pytest.raises(ValueError, match="`zarr_format` must be 2 or 3"):
        open_band_writer(tmp_path / "a.zarr", shape=(4, 4), dtype="uint8", zarr_format=4)
    with pytest.raises(ImageWriteError, match="does not exist"):
        open_band_writer(tmp_path / "no" / "a.npy", shape=(4, 4), dtype="uint8")
    assert sorted(os.listdir(tmp_path)) == []
    with open_band_writer(path, shape=(4, 4), dtype="uint8") as writer:
        with pytest.raises(ValueError, match=r"`band` must be uint8, the writer's dtype"):
            writer.write_rows(np.zeros((2, 4), np.float32))
        with pytest.raises(ValueError, match=r"`band` must be \(n, 4\) like the image"):
            writer.write_rows(np.zeros((2, 5), np.uint8))
        with pytest.raises(ValueError, match="`band` has 5 rows but only 4 of 4 are left"):
            writer.write_rows(np.zeros((5, 4), np.uint8))
        writer.write_rows(np.zeros((4, 4), np.uint8))
        writer.commit()
        with pytest.raises(ValueError, match="committed or aborted"):
            writer.write_rows(np.zeros((1, 4), np.uint8))
    assert os.listdir(tmp_path) == ["a.npy"]


def test_a_strip_of_many_rows_is_decoded_once_for_its_bands(tmp_path, monkeypatch):
    from convcli.images import tiff_bands

    arr = _values((64, 50, 3), "uint8")
    tifffile.imwrite(tmp_path / "a.tif", arr, photometric="rgb", rowsperstrip=32, compression="zlib")
    decoded = []
    original = tiff_bands._segment
    monkeypatch.setattr(tiff_bands, "_segment", lambda tif, page, index: decoded.append(index) or original(tif, page, index))
    with open_band_reader(tmp_path / "a.tif") as reader:
        np.testing.assert_array_equal(_bands(reader, 8), arr)
    assert decoded == [0, 1]


def test_a_truncated_uncompressed_tiff_is_one_line(tmp_path):
    arr = _values((64, 64), "uint8")
    path = tmp_path / "cut.tif"
    tifffile.imwrite(path, arr, rowsperstrip=64)
    with tifffile.TiffFile(path) as tif:
        end = int(tif.pages[0].dataoffsets[0]) + 32 * 64
    path.write_bytes(path.read_bytes()[:end])
    # refused when opened, before a band is read: the strip ends past the file's end
    with pytest.raises(ImageReadError, match=f"cannot read TIFF: its pixel data ends at byte {end + 32 * 64:,} "
                                             f"but the file has {end:,} bytes") as caught:
        open_band_reader(path)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("level", [0, 1, 9])
def test_png_band_writer_with_the_heuristics_filter_is_encode_images_file(tmp_path, level):
    from convcli.images.png import _png_choose_filter

    arr = np.cumsum(_values((80, 61, 3), "uint8") % 5, axis=0).astype(np.uint8)
    chosen = 0 if level == 0 else _png_choose_filter(arr, 61 * 3, 3)  # what the whole-image encoder picks
    _write_bands(tmp_path / "a.png", arr, size=7, png_compression=level, png_filter=chosen)
    assert (tmp_path / "a.png").read_bytes() == images.encode_image(arr, format="png", png_compression=level)


def test_each_tile_is_decoded_once_when_bands_reach_back_into_the_row_above(tmp_path, monkeypatch):
    import convcli.images.tiff_bands as tiff_bands

    arr = _values((64, 48), "uint8")
    tifffile.imwrite(tmp_path / "a.tif", arr, tile=(16, 16), compression="zlib")
    decoded = []
    real = tiff_bands._segment

    def counting(tif, page, index):
        decoded.append(index)
        return real(tif, page, index)

    monkeypatch.setattr(tiff_bands, "_segment", counting)
    with open_band_reader(tmp_path / "a.tif") as reader:
        for first in range(0, 64, 5):  # bands of 5 rows, each with 2 rows of halo above and below
            r0, r1 = max(first - 2, 0), min(first + 7, 64)
            np.testing.assert_array_equal(reader.read_rows(r0, r1), arr[r0:r1])
    assert sorted(decoded) == list(range(12))  # 4 rows of 3 tiles, each decoded once
