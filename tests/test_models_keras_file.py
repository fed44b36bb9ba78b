"""convcli.models.keras_file: the framework fixtures (saved by Keras 3) read without Keras, checked against
the layers the fixture script builds and the weights Keras gave; hostile files crafted here with zipfile
and h5py."""

import json
import zipfile

import h5py
import numpy as np
import pytest

from convcli.errors import ModelFileError
from convcli.models import keras_file
from convcli.models.keras_file import read_keras_model
from helpers_frameworks import KERAS_MODELS, fixture_arrays, fixture_weights, model_file

# What scripts/make_framework_fixtures.py builds, written out by hand: (name, Keras class, op).
AUTOENCODER = [("input", "InputLayer", None), ("encode_conv", "Conv2D", "conv2d"),
               ("encode_pool", "MaxPooling2D", "pool"), ("decode_conv", "Conv2D", "conv2d"),
               ("decode_upsample", "UpSampling2D", "upsample")]
EVERY_LAYER = [
    ("input", "InputLayer", None), ("rescale", "Rescaling", "rescale"), ("zero_pad", "ZeroPadding2D", "zero_pad"),
    ("conv_stride", "Conv2D", "conv2d"), ("conv_groups", "Conv2D", "conv2d"),
    ("batch_norm", "BatchNormalization", "batch_norm"), ("leaky", "LeakyReLU", "activation"),
    ("depthwise", "DepthwiseConv2D", "depthwise_conv2d"), ("crop", "Cropping2D", "crop"),
    ("conv_1x1", "Conv2D", "conv2d"), ("avg_pool", "AveragePooling2D", "pool"),
    ("conv_transpose", "Conv2DTranspose", "conv2d_transpose"),
    ("conv_transpose_op", "Conv2DTranspose", "conv2d_transpose"),
    ("upsample_bilinear", "UpSampling2D", "upsample"), ("max_pool", "MaxPooling2D", "pool"),
    ("relu", "ReLU", "activation"), ("gelu", "Activation", "activation"), ("linear", "Activation", "activation"),
    ("global_avg", "GlobalAveragePooling2D", "pool")]


def layer(records, name):
    return next(record for record in records if record.name == name)


def without_arrays(options):
    return {key: value for key, value in options.items() if not isinstance(value, np.ndarray)}


@pytest.mark.parametrize("name", KERAS_MODELS[:-1])
def test_weights_equal_keras_get_weights(name):
    records = read_keras_model(model_file(name))
    stored = fixture_arrays(name)
    assert [record.index for record in records] == list(range(len(records)))
    for record in records:
        expected = fixture_weights(name, record.name)
        assert len(record.arrays) == len(expected), record.name
        for mine, theirs in zip(record.arrays, expected):
            assert mine.shape == theirs.shape and np.array_equal(mine, theirs)
        if record.op is not None and record.class_name != "InputLayer":
            assert f"output/{record.name}" in stored  # every record has the framework's output to compare with


def test_autoencoder_records():
    for name, decoder in (("autoencoder", ("Conv2D", "conv2d")),
                          ("autoencoder_transpose", ("Conv2DTranspose", "conv2d_transpose"))):
        records = read_keras_model(model_file(name))
        expected = list(AUTOENCODER)
        expected[3] = ("decode_conv", *decoder)
        assert [(r.name, r.class_name, r.op) for r in records] == expected
        assert records[0].options == {"shape": (28, 28, 1)}
        conv = records[1].options
        assert conv["weights"].shape == (3, 3, 1, 16) and conv["bias"].shape == (16,)
        assert without_arrays(conv) == {"layout": "hwio", "strides": (1, 1), "dilation": (1, 1),
                                        "padding": "same", "groups": 1, "activation": "relu"}
        assert records[2].options == {"op": "max", "size": (2, 2), "stride": (2, 2), "mode": "same"}
        assert records[4].options == {"method": "nearest", "factor": (2, 2)}
    decode = layer(records, "decode_conv").options  # Conv2DTranspose(4, (3, 3)) after 16 channels
    assert decode["weights"].shape == (3, 3, 4, 16) and decode["layout"] == "hwoi"
    assert without_arrays(decode)["output_padding"] is None


def test_lecture_conv_has_the_hand_set_kernels():
    (_, conv) = read_keras_model(model_file("lecture_conv"))
    kernel = conv.options["weights"]
    assert kernel.shape == (2, 2, 1, 2)
    assert np.array_equal(kernel[:, :, 0, 0], [[0.25, 0.25], [0.25, 0.25]])
    assert np.array_equal(kernel[:, :, 0, 1], [[-1.0, 1.0], [-1.0, 1.0]])
    assert np.array_equal(conv.options["bias"], [0.0, 0.0]) and conv.options["padding"] == "valid"


def test_every_layer_records():
    records = read_keras_model(model_file("every_layer"))
    assert [(r.name, r.class_name, r.op) for r in records] == EVERY_LAYER
    options = {record.name: record.options for record in records}
    assert options["rescale"] == {"scale": pytest.approx(1 / 127.5), "offset": -1.0}
    assert options["zero_pad"] == {"padding": ((1, 2), (0, 1))}
    assert options["crop"] == {"cropping": ((1, 0), (0, 1))}
    assert without_arrays(options["conv_stride"])["strides"] == (2, 2)
    groups = options["conv_groups"]
    assert groups["weights"].shape == (3, 2, 4, 8)  # 8 channels in, groups=2: C_in/groups = 4
    assert (groups["dilation"], groups["groups"], groups["padding"], groups["activation"]) == ((2, 2), 2, "same", "tanh")
    norm = options["batch_norm"]
    gamma, beta, mean, variance = fixture_weights("every_layer", "batch_norm")
    assert all(np.array_equal(norm[key], value) for key, value in
               (("gamma", gamma), ("beta", beta), ("moving_mean", mean), ("moving_variance", variance)))
    assert norm["epsilon"] == pytest.approx(1e-3)
    assert options["leaky"] == {"function": "leaky_relu", "alpha": pytest.approx(0.2)}
    depthwise = options["depthwise"]
    assert depthwise["weights"].shape == (3, 3, 8, 2) and depthwise["bias"].shape == (16,)
    assert "layout" not in depthwise and depthwise["activation"] == "sigmoid"
    assert options["conv_1x1"]["bias"] is None and options["conv_1x1"]["activation"] == "softplus"
    assert options["avg_pool"] == {"op": "avg", "size": (2, 2), "stride": (2, 2), "mode": "same"}
    assert without_arrays(options["conv_transpose"]) == {
        "layout": "hwoi", "strides": (2, 2), "dilation": (1, 1), "padding": "same",
        "output_padding": None, "activation": "elu", "alpha": 1.0}
    assert options["conv_transpose"]["weights"].shape == (3, 3, 5, 6)
    assert options["conv_transpose_op"]["output_padding"] == (1, 1)
    assert options["upsample_bilinear"] == {"method": "bilinear", "factor": (2, 1)}
    assert options["max_pool"] == {"op": "max", "size": (3, 3), "stride": (2, 2), "mode": "valid"}
    assert options["relu"] == {"function": "relu"} and options["gelu"] == {"function": "gelu"}
    assert options["global_avg"] == {"op": "avg", "global": True}


def test_until_stops_before_a_layer_convcli_cannot_run():
    with pytest.raises(ModelFileError) as error:
        read_keras_model(model_file("global_max_dense"))
    message = str(error.value)
    assert "\n" not in message and message.startswith(str(model_file("global_max_dense")))
    assert "layer 'dense' (Dense, 4 of 4) cannot be run" in message
    records = read_keras_model(model_file("global_max_dense"), until="global_max")
    assert [(r.name, r.op, r.options.get("global")) for r in records][-1] == ("global_max", "pool", True)
    assert layer(records, "global_max").options == {"op": "max", "global": True}
    assert [r.name for r in read_keras_model(model_file("autoencoder"), until="encode_pool")] == \
        ["input", "encode_conv", "encode_pool"]
    with pytest.raises(ModelFileError, match=r"has no layer 'encode' for `until`; its layers: 'input', "
                                             r"'encode_conv'.*did you mean"):
        read_keras_model(model_file("autoencoder"), until="encode")


# --- hostile and broken files, crafted from a fixture ------------------------------------------------

def members(name="autoencoder"):
    with zipfile.ZipFile(model_file(name)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def write_zip(path, files, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return path


def crafted(tmp_path, edit_config=None, edit_h5=None, name="autoencoder", extra=None):
    """A copy of a fixture with its config (a dict, edited in place) and/or HDF5 file (h5py, r+) changed."""
    files = members(name)
    if edit_config:
        config = json.loads(files["config.json"])
        edit_config(config)
        files["config.json"] = json.dumps(config).encode()
    if edit_h5:
        h5_path = tmp_path / "weights.h5"
        h5_path.write_bytes(files["model.weights.h5"])
        with h5py.File(h5_path, "r+") as h5:
            edit_h5(h5)
        files["model.weights.h5"] = h5_path.read_bytes()
    files.update(extra or {})
    return write_zip(tmp_path / "crafted.keras", files)


def refused(path, match, **kwargs):
    with pytest.raises(ModelFileError, match=match) as error:
        read_keras_model(path, **kwargs)
    message = str(error.value)
    assert "\n" not in message and message.startswith(f"{path}: ")
    return message


def config_layer(config, name):
    return next(layer for layer in config["config"]["layers"] if layer["config"]["name"] == name)


def test_not_a_keras_archive(tmp_path):
    (tmp_path / "model.keras").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 64)
    refused(tmp_path / "model.keras", "not a zip archive")
    refused(write_zip(tmp_path / "empty.keras", {"metadata.json": b"{}"}), "has no config.json")
    files = members()
    del files["model.weights.h5"]
    refused(write_zip(tmp_path / "noweights.keras", files), "has no model.weights.h5: missing weights")
    refused(write_zip(tmp_path / "bad.keras", {**members(), "config.json": b"{not json"}), "config.json is not valid JSON")
    refused(write_zip(tmp_path / "old.keras", {**members(), "metadata.json": b'{"keras_version": "2.15.0"}'}),
            "saved by Keras 2.15.0")
    refused(tmp_path / "absent.keras", "no such file")


@pytest.mark.parametrize("member", ["../evil.json", "/etc/evil", "a/../../evil", "C:\\evil", "dir\\..\\..\\x"])
def test_names_that_climb_out_of_the_archive(tmp_path, member):
    refused(write_zip(tmp_path / "m.keras", {**members(), member: b"x"}), "path traversal")


def test_zip_bomb_and_oversized_members(tmp_path, monkeypatch):
    # 4 MiB of zeros deflate to a few KiB: far beyond the ratio a .keras member has.
    bomb = write_zip(tmp_path / "bomb.keras", {**members(), "model.weights.h5": bytes(4 << 20)}, zipfile.ZIP_DEFLATED)
    refused(bomb, r"model.weights.h5 declares 4194304 bytes from \d+ stored \(a zip bomb\)")
    monkeypatch.setattr(keras_file, "MAX_CONFIG_BYTES", 1000)
    refused(model_file("autoencoder").resolve(), r"config.json declares \d+ bytes; at most 1000 are read")


def test_huge_shapes_declared_in_the_config(tmp_path):
    def huge(config):
        config_layer(config, "encode_conv")["config"]["filters"] = 1 << 26
    refused(crafted(tmp_path, huge), r"layer 'encode_conv' \(Conv2D, 2 of 5\): kernel declares shape \(3, 3, 1, 67108864\)")

    def huge_input(config):
        config_layer(config, "input")["config"]["batch_shape"] = [None, 1 << 40, 28, 1]
    refused(crafted(tmp_path, huge_input), "its input shape .* is not")


def test_huge_shapes_declared_in_the_hdf5_file(tmp_path):
    def huge(h5):
        del h5["layers/conv2d/vars/0"]
        # Declared 2^34 elements, nothing written: the file stays small.
        h5.create_dataset("layers/conv2d/vars/0", shape=(1 << 17, 1 << 17), dtype="float32", chunks=(64, 64))
    refused(crafted(tmp_path, edit_h5=huge), r"'encode_conv' \(Conv2D, 2 of 5\): kernel declares shape \(131072, 131072\)")


def test_weights_that_disagree_with_the_config_or_are_missing(tmp_path):
    def wrong(h5):
        del h5["layers/conv2d/vars/0"]
        h5["layers/conv2d/vars/0"] = np.zeros((3, 3, 1, 8), np.float32)
    refused(crafted(tmp_path, edit_h5=wrong), r"'encode_conv' .*kernel has shape \(3, 3, 1, 8\) in model.weights.h5 "
                                              r"but config.json needs \(3, 3, 1, 16\)")

    def missing(h5):
        del h5["layers/conv2d_1"]
    refused(crafted(tmp_path, edit_h5=missing), r"'decode_conv' .*holds 0 weights where config.json needs 2 "
                                                r"\(kernel, bias\); missing weights")

    def no_bias(h5):
        del h5["layers/conv2d/vars/1"]
    refused(crafted(tmp_path, edit_h5=no_bias), "holds 1 weights where config.json needs 2")

    def swapped(h5):
        h5["layers/conv2d/vars"].attrs["name"] = "decode_conv"
    refused(crafted(tmp_path, edit_h5=swapped), "does not match config.json: .*finds the weights of 'decode_conv'")


def test_links_out_of_the_hdf5_file_are_not_followed(tmp_path):
    def external(h5):
        del h5["layers/conv2d/vars/0"]
        h5["layers/conv2d/vars/0"] = h5py.ExternalLink("/etc/secret.h5", "/data")
    refused(crafted(tmp_path, edit_h5=external), "weight 0 is not a dataset stored in model.weights.h5")

    def soft(h5):
        del h5["layers/conv2d_1"]
        h5["layers/conv2d_1"] = h5py.SoftLink("/layers/conv2d")
    refused(crafted(tmp_path, edit_h5=soft), "links 'layers/conv2d_1/vars' elsewhere")

    def raw_file(h5):
        del h5["layers/conv2d/vars/0"]
        h5.create_dataset("layers/conv2d/vars/0", shape=(3, 3, 1, 16), dtype="float32",
                          external=[("/etc/passwd", 0, 3 * 3 * 16 * 4)])
    refused(crafted(tmp_path, edit_h5=raw_file), "weight 0 is not a dataset stored in model.weights.h5")


def test_code_and_custom_layers_are_refused(tmp_path):
    def lambda_layer(config):
        layer = config_layer(config, "encode_pool")
        layer["class_name"] = "Lambda"
        layer["config"]["function"] = {"class_name": "__lambda__", "config": {"code": "4wEAAAAA"}}
    refused(crafted(tmp_path, lambda_layer), r"layer 'encode_pool' \(Lambda, 3 of 5\) is code")
    # ... even after `until`? No: `until` stops before it, so it is never looked at.
    assert len(read_keras_model(crafted(tmp_path, lambda_layer), until="encode_conv")) == 2

    def custom(config):
        layer = config_layer(config, "encode_pool")
        layer["module"], layer["registered_name"] = "my_package", "Custom>MaxPooling2D"
    refused(crafted(tmp_path, custom), "is a custom layer")

    def custom_activation(config):
        config_layer(config, "encode_conv")["config"]["activation"] = {
            "module": "builtins", "class_name": "function", "config": "evil", "registered_name": "evil"}
    refused(crafted(tmp_path, custom_activation), "custom function")

    def unsupported_activation(config):
        config_layer(config, "encode_conv")["config"]["activation"] = "softmax"
    refused(crafted(tmp_path, unsupported_activation), r"activation 'softmax' is not supported \(convcli runs relu")

    def subclassed(config):
        config["class_name"] = "MyModel"
    refused(crafted(tmp_path, subclassed), "holds a MyModel model")


def test_channels_first_and_unsupported_options(tmp_path):
    def channels_first(config):
        config_layer(config, "encode_conv")["config"]["data_format"] = "channels_first"
    refused(crafted(tmp_path, channels_first), r"'encode_conv' \(Conv2D, 2 of 5\) has data_format='channels_first'")

    def bicubic(config):
        config_layer(config, "decode_upsample")["config"]["interpolation"] = "bicubic"
    refused(crafted(tmp_path, bicubic), "interpolation 'bicubic' is not supported")

    def bad_strides(config):
        config_layer(config, "encode_conv")["config"]["strides"] = [0, 1]
    refused(crafted(tmp_path, bad_strides), "strides must be two integers")


def test_branching_and_multi_input_models(tmp_path):
    def branch(config):
        # decode_upsample reads encode_pool too: encode_pool now feeds two layers.
        node = config_layer(config, "decode_upsample")["inbound_nodes"][0]["args"][0]
        node["config"]["keras_history"] = ["encode_pool", 0, 0]
    refused(crafted(tmp_path, branch), r"branches after layer 'encode_pool' \(into 'decode_conv', 'decode_upsample'\)")
    assert [r.name for r in read_keras_model(crafted(tmp_path, branch), until="encode_pool")][-1] == "encode_pool"

    def two_inputs(config):
        node = config_layer(config, "decode_conv")["inbound_nodes"][0]
        node["args"] = [[node["args"][0], node["args"][0]]]
    refused(crafted(tmp_path, two_inputs), "layer 'decode_conv' takes 2 inputs")

    def shared(config):
        layer = config_layer(config, "decode_conv")
        layer["inbound_nodes"].append(layer["inbound_nodes"][0])
    refused(crafted(tmp_path, shared), "uses layer 'decode_conv' 2 times")

    def several_inputs(config):
        config["config"]["input_layers"] = [["input", 0, 0], ["other", 0, 0]]
    refused(crafted(tmp_path, several_inputs), "takes 2 inputs; convcli runs single-input models")

    def second_input(config):  # a second InputLayer feeding a layer of its own, off the main path
        layers = config["config"]["layers"]
        other = json.loads(json.dumps(config_layer(config, "input")))
        other["name"] = other["config"]["name"] = "other"
        side = json.loads(json.dumps(config_layer(config, "encode_pool")))
        side["name"] = side["config"]["name"] = "side_pool"
        side["inbound_nodes"][0]["args"][0]["config"]["keras_history"] = ["other", 0, 0]
        layers.extend([other, side])
    refused(crafted(tmp_path, second_input), r"takes several inputs \('input', 'other'\)")

    def loop(config):  # two layers feeding each other, reachable from no input
        layers = config["config"]["layers"]
        for name, source in (("loop_a", "loop_b"), ("loop_b", "loop_a")):
            layer = json.loads(json.dumps(config_layer(config, "encode_pool")))
            layer["name"] = layer["config"]["name"] = name
            layer["inbound_nodes"][0]["args"][0]["config"]["keras_history"] = [source, 0, 0]
            layers.append(layer)
    refused(crafted(tmp_path, loop), "has layers off its single path")
    refused(crafted(tmp_path, loop), r"layer 'loop_a' \(`until`\) is not on the path", until="loop_a")


def test_sequential_without_input_layer_takes_channels_from_the_weights(tmp_path):
    def drop_input(config):
        config["config"]["layers"] = config["config"]["layers"][1:]
        config["config"].pop("build_input_shape", None)
        for layer in config["config"]["layers"]:
            layer.pop("build_config", None)
    records = read_keras_model(crafted(tmp_path, drop_input, name="lecture_conv"))
    assert [r.name for r in records] == ["conv"] and records[0].options["weights"].shape == (2, 2, 1, 2)


def test_hdf5_that_is_not_hdf5(tmp_path):
    refused(write_zip(tmp_path / "m.keras", {**members(), "model.weights.h5": b"not hdf5 at all"}),
            "model.weights.h5 is not a readable HDF5 file")


def test_outputs_off_the_path(tmp_path):
    def two_outputs(config):
        config["config"]["output_layers"] = [["decode_upsample", 0, 0], ["encode_pool", 0, 0]]
    refused(crafted(tmp_path, two_outputs), "gives 2 outputs")

    def early_output(config):
        config["config"]["output_layers"] = ["decode_conv", 0, 0]
    refused(crafted(tmp_path, early_output), "has layers off its single path")


# --- the records hold everything Keras computed with -------------------------------------------------
# Each layer is run from its record by a naive NumPy loop written here (Keras's rules: TF "same"
# padding, half-pixel bilinear resizing, average pooling over real pixels only) and compared with the
# output Keras gave. This checks the reader's options and layouts, not convcli's ops.

def same_padding(size, kernel, stride, dilation=1):
    reach = (kernel - 1) * dilation + 1
    total = max((-(-size // stride) - 1) * stride + reach - size, 0)
    return total // 2, total - total // 2


def window_starts(size, kernel, stride, dilation, padding):
    (before, after) = same_padding(size, kernel, stride, dilation) if padding == "same" else (0, 0)
    reach = (kernel - 1) * dilation + 1
    return before, after, (size + before + after - reach) // stride + 1


def naive_conv(x, weights, bias, strides, dilation, padding, groups=1, depthwise=False):
    kh, kw = weights.shape[:2]
    top, bottom, rows = window_starts(x.shape[0], kh, strides[0], dilation[0], padding)
    left, right, cols = window_starts(x.shape[1], kw, strides[1], dilation[1], padding)
    padded = np.pad(x, ((top, bottom), (left, right), (0, 0)))
    channels = x.shape[2]
    out_channels = channels * weights.shape[3] if depthwise else weights.shape[3]
    out = np.zeros((rows, cols, out_channels))
    for i in range(kh):
        for j in range(kw):
            patch = padded[i * dilation[0]:i * dilation[0] + (rows - 1) * strides[0] + 1:strides[0],
                           j * dilation[1]:j * dilation[1] + (cols - 1) * strides[1] + 1:strides[1]]
            if depthwise:  # output channel c·M + m
                out += (patch[..., :, None] * weights[i, j]).reshape(rows, cols, -1)
                continue
            c_in, c_out = channels // groups, out_channels // groups
            for g in range(groups):
                out[..., g * c_out:(g + 1) * c_out] += patch[..., g * c_in:(g + 1) * c_in] @ weights[i, j, :, g * c_out:(g + 1) * c_out]
    return out if bias is None else out + bias


def transpose_length(size, kernel, stride, padding, output_padding):
    if output_padding is None:
        return size * stride + (max(kernel - stride, 0) if padding == "valid" else 0)
    return (size - 1) * stride + kernel - 2 * (kernel // 2 if padding == "same" else 0) + output_padding


def naive_conv_transpose(x, weights, bias, strides, padding, output_padding):
    kh, kw, c_out, _ = weights.shape
    out_h = transpose_length(x.shape[0], kh, strides[0], padding, None if output_padding is None else output_padding[0])
    out_w = transpose_length(x.shape[1], kw, strides[1], padding, None if output_padding is None else output_padding[1])
    # Stamp each input pixel's kernel (Keras kernel (kh, kw, C_out, C_in)), then cut the window a forward
    # conv of the output size would have read (TF "same" offsets).
    full = np.zeros(((x.shape[0] - 1) * strides[0] + kh + out_h, (x.shape[1] - 1) * strides[1] + kw + out_w, c_out))
    for r in range(x.shape[0]):
        for c in range(x.shape[1]):
            full[r * strides[0]:r * strides[0] + kh, c * strides[1]:c * strides[1] + kw] += weights @ x[r, c]
    top = same_padding(out_h, kh, strides[0])[0] if padding == "same" else 0
    left = same_padding(out_w, kw, strides[1])[0] if padding == "same" else 0
    out = full[top:top + out_h, left:left + out_w]
    return out if bias is None else out + bias


def naive_pool(x, op, size, stride, mode):
    top, bottom, rows = window_starts(x.shape[0], size[0], stride[0], 1, mode)
    left, right, cols = window_starts(x.shape[1], size[1], stride[1], 1, mode)
    padded = np.pad(x, ((top, bottom), (left, right), (0, 0)), constant_values=np.nan)
    out = np.zeros((rows, cols, x.shape[2]))
    for r in range(rows):
        for c in range(cols):
            window = padded[r * stride[0]:r * stride[0] + size[0], c * stride[1]:c * stride[1] + size[1]]
            out[r, c] = np.nanmax(window, axis=(0, 1)) if op == "max" else np.nanmean(window, axis=(0, 1))
    return out


def naive_bilinear(x, factor):
    for axis in (0, 1):
        size = x.shape[axis]
        source = np.clip((np.arange(size * factor[axis]) + 0.5) / factor[axis] - 0.5, 0, size - 1)
        low = np.floor(source).astype(int)
        high = np.minimum(low + 1, size - 1)
        weight = (source - low).reshape((-1, 1, 1) if axis == 0 else (1, -1, 1))
        x = np.take(x, low, axis=axis) * (1 - weight) + np.take(x, high, axis=axis) * weight
    return x


def naive_activation(x, function, alpha=None):
    from scipy.special import erf

    return {"linear": lambda: x, "relu": lambda: np.maximum(x, 0), "sigmoid": lambda: 1 / (1 + np.exp(-x)),
            "tanh": lambda: np.tanh(x), "softplus": lambda: np.logaddexp(0, x),
            "leaky_relu": lambda: np.where(x > 0, x, alpha * x),
            "elu": lambda: np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0))),
            "gelu": lambda: 0.5 * x * (1 + erf(x / np.sqrt(2)))}[function]()


def naive_layer(record, x):
    o = record.options
    if record.op in ("conv2d", "depthwise_conv2d"):
        x = naive_conv(x, o["weights"], o["bias"], o["strides"], o["dilation"], o["padding"],
                       groups=o.get("groups", 1), depthwise=record.op == "depthwise_conv2d")
        return naive_activation(x, o["activation"], o.get("alpha"))
    if record.op == "conv2d_transpose":
        x = naive_conv_transpose(x, o["weights"], o["bias"], o["strides"], o["padding"], o["output_padding"])
        return naive_activation(x, o["activation"], o.get("alpha"))
    if record.op == "pool":
        if o.get("global"):
            return x.max(axis=(0, 1)) if o["op"] == "max" else x.mean(axis=(0, 1))
        return naive_pool(x, o["op"], o["size"], o["stride"], o["mode"])
    if record.op == "upsample":
        if o["method"] == "nearest":
            return x.repeat(o["factor"][0], axis=0).repeat(o["factor"][1], axis=1)
        return naive_bilinear(x, o["factor"])
    if record.op == "activation":
        return naive_activation(x, o["function"], o.get("alpha"))
    if record.op == "rescale":
        return x * o["scale"] + o["offset"]
    if record.op == "zero_pad":
        return np.pad(x, (*o["padding"], (0, 0)))
    if record.op == "crop":
        (top, bottom), (left, right) = o["cropping"]
        return x[top:x.shape[0] - bottom, left:x.shape[1] - right]
    assert record.op == "batch_norm"
    return (x - o["moving_mean"]) / np.sqrt(o["moving_variance"] + o["epsilon"]) * o["gamma"] + o["beta"]


@pytest.mark.parametrize("name", KERAS_MODELS[:-1])
def test_records_reproduce_keras_layer_by_layer(name):
    stored = fixture_arrays(name)
    records = read_keras_model(model_file(name))
    for previous, record in zip(records, records[1:]):
        # Each layer from Keras's own input to it, so an error cannot hide behind an earlier one.
        before = stored["input"] if previous.class_name == "InputLayer" else stored[f"output/{previous.name}"]
        mine = naive_layer(record, before.astype(np.float64))
        np.testing.assert_allclose(mine, stored[f"output/{record.name}"], rtol=1e-4, atol=1e-5, err_msg=record.name)


def test_lecture_conv_fed_back_through_itself():
    stored = fixture_arrays("lecture_conv")
    conv = read_keras_model(model_file("lecture_conv"))[1]
    for channel in (0, 1):
        mine = naive_layer(conv, stored["output/conv"][..., channel:channel + 1].astype(np.float64))
        np.testing.assert_allclose(mine, stored[f"again/{channel}"], rtol=1e-4, atol=1e-5)
        assert mine.shape == (48, 48, 2)


def test_global_max_record_reproduces_keras():
    stored = fixture_arrays("global_max_dense")
    conv, pool = read_keras_model(model_file("global_max_dense"), until="global_max")[1:]
    np.testing.assert_allclose(naive_layer(conv, stored["input"].astype(np.float64)), stored["output/conv"],
                               rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(naive_layer(pool, stored["output/conv"]), stored["output/global_max"], rtol=1e-6)
