"""convcli.models.weights: weight arrays from .npy/.npz/.safetensors files (written here with NumPy, by
hand, or by the framework fixtures' script) and the Keras initialisers (against Keras's formulas)."""

import json
import math
import struct

import numpy as np
import pytest

from convcli.errors import ModelFileError
from convcli.models.weights import initial_weights, keras_fans, load_array, split_spec
from helpers_frameworks import fixture_weights, model_file


def one_line(error):
    message = str(error.value)
    assert "\n" not in message
    return message


def safetensors_file(path, tensors):
    """A .safetensors file written by hand (8-byte header length, JSON header, raw data), so any dtype
    name can be declared; ``tensors``: name -> (dtype name, shape, bytes)."""
    header, offset, data = {}, 0, b""
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        data += raw
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + data)
    return path


def test_npy_file(tmp_path):
    array = np.arange(12, dtype=np.float32).reshape(2, 2, 1, 3)
    np.save(tmp_path / "kernel.npy", array)
    assert np.array_equal(load_array("kernel.npy", base_dir=tmp_path), array)
    assert np.array_equal(load_array(str(tmp_path / "kernel.npy")), array)


def test_npz_with_key_and_the_only_array_without_one(tmp_path):
    kernel, bias = np.ones((3, 3, 1, 4), np.float32), np.array([1.0, 2.0, 3.0, 4.0])
    np.savez(tmp_path / "model.npz", **{"conv1/kernel": kernel, "conv1/bias": bias})
    np.savez(tmp_path / "one.npz", kernel=kernel)
    assert np.array_equal(load_array("model.npz:conv1/bias", base_dir=tmp_path), bias)
    assert np.array_equal(load_array("model.npz:conv1/kernel", base_dir=tmp_path), kernel)
    assert np.array_equal(load_array("one.npz", base_dir=tmp_path), kernel)


def test_missing_key_names_file_key_and_keys(tmp_path):
    np.savez(tmp_path / "model.npz", **{f"layer{n}": np.zeros(2) for n in range(12)})
    with pytest.raises(ModelFileError) as error:
        load_array("model.npz:layer99", base_dir=tmp_path)
    message = one_line(error)
    assert "model.npz" in message and "'layer99'" in message and "'layer0'" in message
    assert "and 2 more" in message  # at most ten keys are listed
    with pytest.raises(ModelFileError, match=r"holds 12 arrays; name one as FILE:KEY \(keys: 'layer0'"):
        load_array("model.npz", base_dir=tmp_path)


def test_npy_takes_no_key_and_other_files_are_refused(tmp_path):
    np.save(tmp_path / "kernel.npy", np.zeros(3))
    (tmp_path / "kernel.txt").write_text("1 2 3")
    with pytest.raises(ModelFileError, match="holds one array; drop the key 'a'"):
        load_array("kernel.npy:a", base_dir=tmp_path)
    with pytest.raises(ModelFileError, match=r"kernel.txt: is not a weight file .*\.npy, \.npz, \.safetensors"):
        load_array("kernel.txt", base_dir=tmp_path)
    with pytest.raises(ModelFileError, match="absent.npz: no such file"):
        load_array("absent.npz:k", base_dir=tmp_path)
    with pytest.raises(ModelFileError, match="empty key"):
        np.savez(tmp_path / "m.npz", a=np.zeros(1))
        load_array("m.npz:", base_dir=tmp_path)
    with pytest.raises(ValueError, match="`spec`"):
        load_array("")


def test_pickled_objects_and_huge_headers_are_refused_before_reading(tmp_path):
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ModelFileError, match="objects.npy: has dtype object"):
        load_array("objects.npy", base_dir=tmp_path)
    np.savez(tmp_path / "objects.npz", bad=np.array([None, 1], dtype=object))
    with pytest.raises(ModelFileError, match="'bad' has dtype object"):
        load_array("objects.npz:bad", base_dir=tmp_path)
    # A header that declares 2^40 float32 values, with no data behind it.
    with open(tmp_path / "huge.npy", "wb") as file:
        np.lib.format.write_array_header_1_0(file, {"descr": "<f4", "fortran_order": False,
                                                    "shape": (1 << 20, 1 << 20)})
    with pytest.raises(ModelFileError, match=r"huge.npy: declares shape \(1048576, 1048576\)"):
        load_array("huge.npy", base_dir=tmp_path)
    (tmp_path / "garbage.npy").write_bytes(b"not an array")
    with pytest.raises(ModelFileError, match="garbage.npy: is not a readable .npy array"):
        load_array("garbage.npy", base_dir=tmp_path)
    (tmp_path / "garbage.npz").write_bytes(b"not a zip")
    with pytest.raises(ModelFileError, match="garbage.npz: is not a .npz file"):
        load_array("garbage.npz:k", base_dir=tmp_path)


def test_safetensors_from_a_torch_state_dict():
    stored = fixture_weights("torch_modules", "conv_groups")
    kernel = load_array(f"{model_file('torch_modules')}:conv_groups.weight")
    assert kernel.shape == (6, 2, 3, 3) and kernel.dtype == np.float32  # (C_out, C_in/groups, kh, kw)
    assert np.array_equal(kernel, stored["weight"])
    assert np.array_equal(load_array(f"{model_file('torch_modules')}:conv_groups.bias"), stored["bias"])
    with pytest.raises(ModelFileError) as error:
        load_array(f"{model_file('torch_modules')}:features.0.weight")
    assert "'features.0.weight'" in one_line(error) and "'conv_groups.weight'" in one_line(error)
    with pytest.raises(ModelFileError, match="holds 7 arrays"):
        load_array(str(model_file("torch_modules")))


def test_safetensors_written_by_hand(tmp_path):
    values = np.array([[1.5, -2.0], [0.25, 3.0]], np.float32)
    safetensors_file(tmp_path / "one.safetensors", {"w": ("F32", (2, 2), values.tobytes())})
    assert np.array_equal(load_array("one.safetensors", base_dir=tmp_path), values)
    safetensors_file(tmp_path / "bf16.safetensors", {"w": ("BF16", (2,), b"\x80\x3f\x00\x40")})
    with pytest.raises(ModelFileError) as error:
        load_array("bf16.safetensors:w", base_dir=tmp_path)
    assert "bf16.safetensors" in one_line(error) and "'w' has dtype BF16, which NumPy cannot hold" in one_line(error)
    safetensors_file(tmp_path / "f8.safetensors", {"w": ("F8_E4M3", (2,), b"\x01\x02")})
    with pytest.raises(ModelFileError, match="F8_E4M3, which NumPy cannot hold"):
        load_array("f8.safetensors", base_dir=tmp_path)
    (tmp_path / "bad.safetensors").write_bytes(b"\xff" * 16)
    with pytest.raises(ModelFileError, match="bad.safetensors: is not a readable .safetensors file"):
        load_array("bad.safetensors:w", base_dir=tmp_path)


def test_split_spec(tmp_path):
    assert split_spec("model.safetensors:features.0.weight") == (split_spec("model.safetensors")[0],
                                                                 "features.0.weight")
    assert split_spec("a.NPZ:conv1/kernel")[1] == "conv1/kernel"
    assert split_spec("weights.npz:a:b")[1] == "a:b"
    odd = tmp_path / "odd.npz:x.npy"  # a file whose whole name is the spec is taken as it is
    odd.write_bytes(b"")
    assert split_spec("odd.npz:x.npy", base_dir=tmp_path) == (odd, None)


def test_keras_fans_for_conv_kernels_and_vectors():
    # Hand values of Keras's compute_fans: receptive field 3*3=9, times C_in=1 and C_out=16.
    assert keras_fans((3, 3, 1, 16)) == (9, 144)
    assert keras_fans((5, 5, 3, 16)) == (75, 400)
    assert keras_fans((8, 4)) == (8, 4)
    assert keras_fans((7,)) == (7, 7)
    assert keras_fans(()) == (1, 1)


def test_glorot_uniform():
    shape = (5, 5, 3, 16)
    kernel = initial_weights("glorot_uniform", shape, seed=3)
    limit = math.sqrt(6 / (75 + 400))
    assert kernel.shape == shape and kernel.dtype == np.float32
    assert np.abs(kernel).max() <= limit and np.abs(kernel).max() > 0.9 * limit
    assert np.array_equal(kernel, initial_weights("glorot_uniform", shape, seed=3))
    assert not np.array_equal(kernel, initial_weights("glorot_uniform", shape, seed=4))
    # Uniform on [-limit, limit]: variance limit²/3.
    wide = initial_weights("glorot_uniform", (200, 500), seed=0)
    assert abs(wide.var() - (6 / 700) / 3) < 0.03 * (6 / 700) / 3
    explicit = initial_weights("glorot_uniform", (4, 4), seed=0, fan_in=1, fan_out=5)
    assert np.abs(explicit).max() <= 1.0 and np.abs(explicit).max() > 0.5


def test_he_normal_is_keras_truncated_normal():
    fan_in = 3 * 3 * 64
    kernel = initial_weights("he_normal", (3, 3, 64, 256), seed=1)
    # Keras draws N(0, s / 0.87962566103423978), s = sqrt(2 / fan_in), cut at two of its stddevs; what
    # is kept has stddev s.
    spread = math.sqrt(2 / fan_in) / 0.87962566103423978
    assert np.abs(kernel).max() <= 2 * spread * (1 + 1e-6)
    assert abs(kernel.std() - math.sqrt(2 / fan_in)) < 0.02 * math.sqrt(2 / fan_in)
    assert abs(kernel.mean()) < 0.01 * math.sqrt(2 / fan_in)
    assert np.array_equal(kernel, initial_weights("he_normal", (3, 3, 64, 256), seed=1))


def test_zeros_and_bad_arguments():
    assert np.array_equal(initial_weights("zeros", (2, 3), seed=0), np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="`name` must be one of glorot_uniform, he_normal, zeros.*did you mean 'he_normal'"):
        initial_weights("he_normall", (2, 2), seed=0)
    with pytest.raises(ValueError, match="`shape` sizes must be positive"):
        initial_weights("zeros", (0, 2), seed=0)
    with pytest.raises(ValueError, match="`shape` must be a sequence"):
        initial_weights("zeros", "3x3", seed=0)
    with pytest.raises(ValueError, match="`shape` .* has more than"):
        initial_weights("zeros", (1 << 20, 1 << 20), seed=0)
    with pytest.raises(ValueError, match="`seed` must be a non-negative integer"):
        initial_weights("zeros", (2,), seed=-1)
    with pytest.raises(ValueError, match="`fan_in` must be a positive integer"):
        initial_weights("he_normal", (2,), seed=0, fan_in=0)


def test_npz_member_that_lies_about_its_size(tmp_path):
    # A member whose header declares 2^40 values is refused from the header, before its data is read.
    import io
    import zipfile

    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (1 << 40,)})
    with zipfile.ZipFile(tmp_path / "lie.npz", "w") as archive:
        archive.writestr("w.npy", header.getvalue() + bytes(64))
    with pytest.raises(ModelFileError, match=r"lie.npz: 'w' declares shape \(1099511627776,\)"):
        load_array("lie.npz:w", base_dir=tmp_path)
    with zipfile.ZipFile(tmp_path / "short.npz", "w") as archive:
        archive.writestr("w.npy", header.getvalue()[:20])
    with pytest.raises(ModelFileError, match="short.npz: 'w' is not a readable .npy array"):
        load_array("short.npz:w", base_dir=tmp_path)


def torch_conv(x, weight, bias, stride, padding, dilation, groups):
    """PyTorch's Conv2d by a naive loop: weight (C_out, C_in/groups, kh, kw), explicit padding."""
    c_out, c_in_group, kh, kw = weight.shape
    x = np.pad(x, ((padding[0], padding[0]), (padding[1], padding[1]), (0, 0)))
    rows = (x.shape[0] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    cols = (x.shape[1] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    out = np.zeros((rows, cols, c_out)) + (0 if bias is None else bias)
    per_group = c_out // groups
    for o in range(c_out):
        g = o // per_group
        for i in range(kh):
            for j in range(kw):
                patch = x[i * dilation[0]:i * dilation[0] + (rows - 1) * stride[0] + 1:stride[0],
                          j * dilation[1]:j * dilation[1] + (cols - 1) * stride[1] + 1:stride[1],
                          g * c_in_group:(g + 1) * c_in_group]
                out[..., o] += patch @ weight[o, :, i, j]
    return out


def torch_conv_transpose(x, weight, bias, stride, padding, output_padding, dilation, groups):
    """PyTorch's ConvTranspose2d by stamping: weight (C_in, C_out/groups, kh, kw)."""
    c_in, c_out_group, kh, kw = weight.shape
    size = [(n - 1) * s - 2 * p + d * (k - 1) + op + 1 for n, s, p, d, k, op in
            zip(x.shape[:2], stride, padding, dilation, (kh, kw), output_padding)]
    full = np.zeros((size[0] + 2 * padding[0], size[1] + 2 * padding[1], c_out_group * groups))
    per_group = c_in // groups
    for r in range(x.shape[0]):
        for c in range(x.shape[1]):
            for ci in range(c_in):
                g = ci // per_group
                for i in range(kh):
                    for j in range(kw):
                        full[r * stride[0] + i * dilation[0], c * stride[1] + j * dilation[1],
                             g * c_out_group:(g + 1) * c_out_group] += x[r, c, ci] * weight[ci, :, i, j]
    out = full[padding[0]:padding[0] + size[0], padding[1]:padding[1] + size[1]]
    return out + (0 if bias is None else bias)


@pytest.mark.parametrize("module", ["conv_groups", "conv_same", "conv_transpose", "conv_transpose_dilated"])
def test_torch_state_dict_weights_reproduce_torch(module):
    from helpers_frameworks import fixture_arrays, torch_config

    arrays, config = fixture_arrays("torch_modules"), torch_config(module)
    weight = load_array(f"{model_file('torch_modules')}:{module}.weight")
    stored = fixture_weights("torch_modules", module)
    bias = load_array(f"{model_file('torch_modules')}:{module}.bias") if "bias" in stored else None
    x = arrays["input"].astype(np.float64)
    if "output_padding" in config:
        mine = torch_conv_transpose(x, weight, bias, config["stride"], config["padding"], config["output_padding"],
                                    config["dilation"], config["groups"])
    else:
        padding = config["padding"]
        if padding == "same":  # stride 1: (k - 1)·d in all, the smaller half first (PyTorch's rule)
            total = [d * (k - 1) for d, k in zip(config["dilation"], config["kernel_size"])]
            x = np.pad(x, ((total[0] // 2, total[0] - total[0] // 2), (total[1] // 2, total[1] - total[1] // 2), (0, 0)))
            padding = (0, 0)
        mine = torch_conv(x, weight, bias, config["stride"], padding, config["dilation"], config["groups"])
    np.testing.assert_allclose(mine, arrays[f"output/{module}"], rtol=1e-4, atol=1e-5)
