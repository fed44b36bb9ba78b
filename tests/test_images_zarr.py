"""Zarr folder stores (convcli.images.zarr_io): read_image and probe of stores written by zarr
itself, write_image's stores read back by zarr, and hostile metadata refused in one line before
zarr opens the store."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from convcli import images
from convcli.errors import ImageReadError, ImageWriteError
from convcli.images.atomic import FolderData
from convcli.images.band_read import open_band_reader
from convcli.images.formats import FOLDER_FORMATS, sniff_folder
from convcli.images.limits import Limits
from convcli.images.zarr_io import ZARR_MAX_CHUNK_BYTES, _zarr

RNG = np.random.default_rng(2)


def _store(path, arr, *, zarr_format=3, chunks=None):
    zarr = _zarr()
    stored = zarr.create_array(store=str(path), shape=arr.shape, dtype=arr.dtype, zarr_format=zarr_format,
                               chunks=chunks or tuple(min(n, 16) for n in arr.shape), fill_value=0)
    stored[...] = arr
    return path


@pytest.mark.parametrize("zarr_format", [2, 3])
@pytest.mark.parametrize(("shape", "dtype"), [((30, 20), "uint8"), ((30, 20, 3), "uint16"), ((17, 9, 5), "float32"),
                                               ((12, 7), "float64"), ((12, 7), ">i4")])
def test_read_image_of_a_store_written_by_zarr(tmp_path, zarr_format, shape, dtype):
    if dtype.startswith(">") and zarr_format == 3:
        pytest.skip("zarr v3 stores big-endian data through the bytes codec, not the dtype")
    arr = RNG.integers(0, 200, shape).astype(dtype)
    path = _store(tmp_path / "a.zarr", arr, zarr_format=zarr_format)
    back, info = images.read_image(path)
    np.testing.assert_array_equal(back, arr)
    assert back.dtype == np.dtype(dtype).newbyteorder("=")
    assert info == images.probe(path)
    assert (info.format, info.has_alpha, info.shape) == ("zarr", False, shape)
    with open_band_reader(path) as reader:
        assert reader.streamed
        np.testing.assert_array_equal(reader.read_rows(5, 11), arr[5:11])


def test_stores_of_any_name_are_recognised_by_their_metadata(tmp_path):
    arr = RNG.integers(0, 9, (5, 6)).astype(np.uint8)
    _store(tmp_path / "images" / "plane", arr, zarr_format=2)
    assert sniff_folder(tmp_path / "images" / "plane") == "zarr" and FOLDER_FORMATS == ("zarr",)
    np.testing.assert_array_equal(images.read_image(tmp_path / "images" / "plane")[0], arr)
    assert sniff_folder(tmp_path) is None
    with pytest.raises(ImageReadError, match="is a folder, not an image file"):
        images.read_image(tmp_path)


def test_bool_and_half_stores_are_widened(tmp_path):
    bits = RNG.integers(0, 2, (6, 5)).astype(bool)
    back, info = images.read_image(_store(tmp_path / "b.zarr", bits))
    np.testing.assert_array_equal(back, bits.astype(np.uint8))
    assert info.notes == ("bool array read as 0 and 1",)
    half = RNG.normal(size=(6, 5)).astype(np.float16)
    np.testing.assert_array_equal(images.read_image(_store(tmp_path / "h.zarr", half))[0], half.astype(np.float32))


def test_nan_is_refused_unless_allowed(tmp_path):
    arr = np.zeros((4, 4), np.float32)
    arr[1, 1] = np.inf
    path = _store(tmp_path / "nan.zarr", arr)
    with pytest.raises(ImageReadError, match="holds NaN or inf"):
        images.read_image(path)
    assert np.isinf(images.read_image(path, limits=Limits(allow_nonfinite=True))[0][1, 1])


def test_limits_apply_to_stores(tmp_path):
    path = _store(tmp_path / "a.zarr", np.zeros((10, 300), np.uint8))
    with pytest.raises(ImageReadError, match="over the side limit of 100"):
        images.read_image(path, limits=Limits(max_side=100))
    with pytest.raises(ImageReadError, match="over the limit of 1,000; raise it with `max_pixels`"):
        images.read_image(path, limits=Limits(max_pixels=1000))
    with open_band_reader(path, limits=Limits(max_pixels=1000)) as reader:  # streamed: no pixel limit
        assert reader.read_rows(0, 10).shape == (10, 300)


# ----------------------------------------------------------------------------------------------
# Writing: write_image, encode_image + write_atomic
# ----------------------------------------------------------------------------------------------


def test_write_image_writes_a_v3_store_zarr_reads(tmp_path):
    values = RNG.normal(0, 1, (40, 300, 3))
    path = tmp_path / "out.zarr"
    images.write_image(path, values)
    stored = _zarr().open_array(str(path), mode="r")
    assert stored.metadata.zarr_format == 3 and stored.dtype == np.float32 and stored.chunks == (40, 256, 3)
    np.testing.assert_array_equal(stored[...], values.astype(np.float32))
    # replaced whole, never half: the old store is gone, and no temporary is left
    images.write_image(path, values[:10, :10, 0], dtype="uint8", scale="normalize")
    assert images.read_image(path)[0].shape == (10, 10)
    assert os.listdir(tmp_path) == ["out.zarr"]
    with pytest.raises(ImageWriteError, match="exists"):
        images.write_image(path, values, no_clobber=True)
    assert images.default_dtype("zarr", "uint8") == "float32" and images.format_from_path("a.ZARR") == "zarr"


def test_encode_image_gives_folder_data(tmp_path):
    data = images.encode_image(np.ones((3, 4), np.uint16), format="zarr")
    assert isinstance(data, FolderData) and data.label == "Zarr"
    images.write_atomic(tmp_path / "a.zarr", data)
    np.testing.assert_array_equal(images.read_image(tmp_path / "a.zarr")[0], np.ones((3, 4), np.uint16))
    with pytest.raises(ImageWriteError, match="a Zarr store is a folder; it cannot be written to a device"):
        images.write_atomic("/dev/null", data)


def test_a_failed_fill_leaves_nothing(tmp_path):
    def fill(folder):
        (open(os.path.join(folder, "zarr.json"), "w")).close()
        raise OSError(28, "No space left on device")

    with pytest.raises(ImageWriteError, match="cannot write: No space left on device"):
        images.write_atomic(tmp_path / "a.zarr", FolderData(fill=fill, label="Zarr"))
    assert os.listdir(tmp_path) == []


# ----------------------------------------------------------------------------------------------
# Hostile stores
# ----------------------------------------------------------------------------------------------


def _v2(folder, **changes):
    meta = {"zarr_format": 2, "shape": [4, 4], "chunks": [4, 4], "dtype": "|u1", "compressor": None,
            "fill_value": 0, "order": "C", "filters": None}
    meta.update(changes)
    folder.mkdir()
    (folder / ".zarray").write_text(json.dumps(meta))
    return folder


def _v3(folder, **changes):
    meta = {"zarr_format": 3, "node_type": "array", "shape": [4, 4], "data_type": "uint8",
            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [4, 4]}},
            "chunk_key_encoding": {"name": "default"}, "fill_value": 0,
            "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}]}
    meta.update(changes)
    folder.mkdir()
    (folder / "zarr.json").write_text(json.dumps(meta))
    return folder


@pytest.mark.parametrize(("make", "message"), [
    (lambda p: _v2(p, dtype="|O"), "holds Python objects"),
    (lambda p: _v2(p, dtype="<U4"), "convcli reads numeric arrays"),
    (lambda p: _v2(p, dtype=[["a", "<u1"]]), "is not a plain numeric dtype"),
    (lambda p: _v2(p, dtype="<c8"), "holds complex numbers"),
    (lambda p: _v2(p, filters=[{"id": "pickle"}]), "Zarr codec pickle is not one convcli reads"),
    (lambda p: _v2(p, compressor={"id": "msgpack2"}), "Zarr codec msgpack2 is not one convcli reads"),
    (lambda p: _v3(p, codecs=[{"name": "numcodecs.pickle"}]), "Zarr codec pickle is not one convcli reads"),
    (lambda p: _v3(p, codecs=[{"name": "sharding_indexed", "configuration": {
        "chunk_shape": [2, 2], "codecs": [{"name": "vlen-utf8"}]}}]), "Zarr codec vlen-utf8"),
    (lambda p: _v3(p, storage_transformers=[{"name": "x"}]), "storage transformers"),
    (lambda p: _v3(p, data_type="string"), "not a plain numeric dtype"),
    (lambda p: _v2(p, shape=[4]), r"has shape \(4,\); an image array must be"),
    (lambda p: _v2(p, shape=[2, 2, 2, 2], chunks=[1, 1, 1, 1]), "an image array must be"),
    (lambda p: _v2(p, shape=[0, 4]), "is empty"),
    (lambda p: _v2(p, shape="4x4"), "Zarr shape must be a list of integers"),
    (lambda p: _v2(p, chunks=[4]), "do not fit the shape"),
    (lambda p: _v2(p, shape=[60000, 60000], chunks=[60000, 60000]), "rechunk it"),
    (lambda p: _v2(p, shape=[60000, 60000], chunks=[1, 1]), "chunks, over"),
    (lambda p: _v3(p, chunk_grid={"name": "rectilinear"}), "chunk grid must be regular"),
    (lambda p: _v3(p, node_type="group"), "is a Zarr group"),
    (lambda p: (p.mkdir(), (p / ".zgroup").write_text("{}"), (p / ".zarray").write_text("[1]")),
     "is not a JSON object"),
    (lambda p: (p.mkdir(), (p / "zarr.json").write_text("{not json")), "is not valid JSON"),
])
def test_hostile_metadata_is_refused_in_one_line(tmp_path, make, message):
    path = tmp_path / "bad.zarr"
    make(path)
    for read in (images.read_image, images.probe, open_band_reader):
        with pytest.raises(ImageReadError, match=message) as caught:
            read(path)
        assert "\n" not in str(caught.value) and str(path) in str(caught.value)


def test_metadata_that_is_a_link_is_refused(tmp_path):
    target = _v2(tmp_path / "real.zarr")
    store = tmp_path / "link.zarr"
    store.mkdir()
    (store / ".zarray").symlink_to(target / ".zarray")
    assert sniff_folder(store) is None  # a link is not a marker
    (store / "zarr.json").write_text("{}")
    (store / "zarr.json").unlink()
    os.symlink(target / ".zarray", store / "zarr.json")
    with pytest.raises(ImageReadError, match="is a folder, not an image file"):
        images.read_image(store)


def test_oversized_chunks_are_named(tmp_path):
    side = int((ZARR_MAX_CHUNK_BYTES // 8) ** 0.5) + 1
    _v2(tmp_path / "big.zarr", shape=[side, side], chunks=[side, side], dtype="<f8")
    with pytest.raises(ImageReadError, match=f"a Zarr chunk \\({side}, {side}\\) is"):
        images.probe(tmp_path / "big.zarr", limits=Limits(max_side=None, max_pixels=None, max_memory=None))


def test_damaged_chunk_is_one_line(tmp_path):
    path = _store(tmp_path / "a.zarr", np.ones((8, 8), np.uint8), zarr_format=2, chunks=(4, 4))
    (path / "0.0").write_bytes(b"garbage")
    with pytest.raises(ImageReadError, match="cannot read Zarr") as caught:
        images.read_image(path)
    assert "\n" not in str(caught.value)


# ----------------------------------------------------------------------------------------------
# Temporary folders, and the command line's whole-image path
# ----------------------------------------------------------------------------------------------


def test_a_temporary_store_left_behind_is_swept(tmp_path):
    from convcli.images.atomic import AtomicFolder, sweep_temp_files

    target = AtomicFolder(str(tmp_path / "a.zarr"))
    (tmp_path / os.path.basename(target.temp_path) / "zarr.json").write_text("{}")
    assert sweep_temp_files([str(tmp_path)]) == 1
    assert os.listdir(tmp_path) == []


def test_cli_reads_and_writes_stores(run, tmp_path):
    arr = RNG.integers(0, 255, (20, 30)).astype(np.uint8)
    _store(tmp_path / "in.zarr", arr, zarr_format=2)
    result = run("filter", "in.zarr", "-k", "box3", "-o", "out.zarr", "--boundary", "nearest", "-q")
    assert result.exit_code == 0, result.output
    from scipy import ndimage

    expected = ndimage.uniform_filter(arr.astype(np.float64), 3, mode="nearest")
    np.testing.assert_allclose(_zarr().open_array(str(tmp_path / "out.zarr"), mode="r")[...], expected, rtol=1e-6)
    assert run("filter", "in.zarr", "-k", "box3", "-o", "out.zarr", "-q").exit_code == 0  # replaced
    result = run("filter", "in.zarr", "-k", "box3", "-o", "-", "--format", "zarr")
    assert result.exit_code == 2 and "a Zarr store is a folder; it cannot go to -: give -o NAME.zarr" in result.output
    result = run("filter", "in.zarr", "-k", "box3", "-o", "in.zarr")
    assert result.exit_code == 2 and "is the input" in result.output
    assert sorted(os.listdir(tmp_path)) == ["in.zarr", "out.zarr"]


def test_a_chunk_that_links_outside_the_store_is_refused(tmp_path):
    secret = tmp_path / "secret.bin"
    secret.write_bytes(bytes(range(16)))
    path = _v2(tmp_path / "a.zarr")  # 4×4 uint8, one chunk "0.0", no compressor
    os.symlink(secret, path / "0.0")
    with pytest.raises(ImageReadError, match="leads outside the store") as caught:
        images.read_image(path)
    assert "\n" not in str(caught.value)
    (path / "0.0").unlink()
    (path / "0.0").write_bytes(bytes(range(16)))  # the same bytes inside the store are read
    np.testing.assert_array_equal(images.read_image(path)[0], np.arange(16, dtype=np.uint8).reshape(4, 4))
