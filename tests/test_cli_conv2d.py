"""``convcli conv2d`` and ``convcli pipeline MODEL.keras``: numbers against a direct NumPy loop of the
layer's definition and the frameworks' fixtures, exit codes and one-line errors."""

import os
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from helpers_frameworks import RTOL, fixture_input, fixture_output, model_file


def layer_reference(image, weights, bias=None, stride=1):
    """Keras Conv2D, valid padding: out[i, j, o] = Σ_{a, b, c} x[i·s + a, j·s + b, c]·w[a, b, c, o] + bias[o]."""
    image = image if image.ndim == 3 else image[..., None]
    kh, kw, channels, filters = weights.shape
    rows = (image.shape[0] - kh) // stride + 1
    cols = (image.shape[1] - kw) // stride + 1
    out = np.zeros((rows, cols, filters))
    for i in range(rows):
        for j in range(cols):
            window = image[i * stride:i * stride + kh, j * stride:j * stride + kw, :]
            for o in range(filters):
                out[i, j, o] = (window * weights[..., o]).sum() + (0 if bias is None else bias[o])
    return out


@pytest.fixture
def rgb(run):
    image = np.random.default_rng(3).integers(0, 256, (9, 11, 3)).astype(np.uint8)
    np.save("in.npy", image)
    return image


def test_weights_and_bias_files_give_the_layer(run, rgb):
    weights = np.random.default_rng(4).normal(size=(3, 2, 3, 5)).astype(np.float32)
    bias = np.arange(5, dtype=np.float32)
    np.savez("model.npz", **{"conv1/kernel": weights, "conv1/bias": bias})
    result = run("conv2d", "in.npy", "--weights", "model.npz:conv1/kernel", "--bias", "model.npz:conv1/bias",
                 "--strides", "2", "-o", "out.npy")
    assert result.exit_code == 0, result.output
    np.testing.assert_allclose(np.load("out.npy"), layer_reference(rgb.astype(np.float64), weights, bias, stride=2),
                               rtol=1e-5)


def test_torch_layout_and_relu(run, rgb):
    weights = np.random.default_rng(5).normal(size=(3, 3, 3, 4))
    np.save("w.npy", weights.transpose(3, 2, 0, 1))  # (C_out, C_in, kh, kw), as torch holds it
    result = run("conv2d", "in.npy", "--weights", "w.npy", "--layout", "oihw", "--activation", "relu", "-o", "out.npy")
    assert result.exit_code == 0, result.output
    np.testing.assert_allclose(np.load("out.npy"), np.maximum(layer_reference(rgb.astype(np.float64), weights), 0),
                               rtol=1e-5, atol=1e-3)


def test_an_initialiser_is_seeded_and_counted(run, rgb):
    for name in ("a.npy", "b.npy", "c.npy"):
        seed = "2" if name == "c.npy" else "1"
        assert run("conv2d", "in.npy", "--filters", "4", "--kernel-size", "3", "--seed", seed, "-o", name).exit_code == 0
    assert np.array_equal(np.load("a.npy"), np.load("b.npy"))
    assert not np.array_equal(np.load("a.npy"), np.load("c.npy"))
    zeros = run("conv2d", "in.npy", "--weights", "zeros", "--filters", "2", "--kernel-size", "3", "--bias", "b.npy",
                "-o", "z.npy")
    assert zeros.exit_code == 2 and "`bias` holds" not in zeros.stderr  # b.npy is a (7, 9, 4) map, not a bias
    assert "--bias must be one number per output channel" in zeros.stderr


def test_summary_is_the_keras_table_and_needs_no_output(run):
    # the lecture's layer: Conv2D(16, (5, 5), strides=5, use_bias=False) on 1920×1080×3
    result = run("conv2d", "shape:1920x1080x3", "--filters", "16", "--kernel-size", "5", "--strides", "5", "--summary")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[3].split() == ["conv2d_1", "(conv2d)", "(None,", "384,", "216,", "16)", "1,200", "5×5", "5×5",
                                "(0,", "0)"]
    assert lines[-1] == "Total params: 1,200"
    assert os.listdir(".") == []


@pytest.mark.parametrize("args,message", [
    (["--weights", "missing.npy"], "missing.npy"),
    (["--weights", "w.npz:nope"], "nope"),
    (["--filters", "4"], "--kernel-size"),
    (["--filters", "4", "--kernel-size", "3", "--padding", "sam"], "did you mean 'same'"),
    (["--filters", "4", "--kernel-size", "3", "--alpha", "0.1"], "--alpha is the slope"),
    (["--filters", "4", "--kernel-size", "3", "--activation", "relu6"], "relu6"),
    (["--filters", "0", "--kernel-size", "3"], "0"),
])
def test_usage_errors_exit_2_with_one_line(run, rgb, args, message):
    np.savez("w.npz", kernel=np.zeros((3, 3, 3, 2)))
    result = run("conv2d", "in.npy", *args, "-o", "out.npy")
    assert result.exit_code == 2, result.output
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not os.path.exists("out.npy")


def test_an_input_the_weights_do_not_fit_fails_that_input_only(run, rgb):
    np.save("grey.npy", np.zeros((9, 9)))
    np.save("w.npy", np.zeros((3, 3, 3, 2)))
    result = run("conv2d", "grey.npy", "in.npy", "--weights", "w.npy", "-O", "out")
    assert result.exit_code == 1
    assert "grey.npy" in result.stderr and "the image has 1 channel" in result.stderr
    assert sorted(os.listdir("out")) == ["in.png"] or sorted(os.listdir("out")) == ["in.npy"]


# --- Keras model files through `convcli pipeline` -------------------------------------------------


def test_a_keras_model_runs_on_an_image_with_keras_numbers(run):
    np.save("digit.npy", fixture_input("autoencoder"))
    shutil.copy(model_file("autoencoder"), "model.keras")
    result = run("pipeline", "model.keras", "digit.npy", "--until", "encode_pool", "-o", "maps.npy")
    assert result.exit_code == 0, result.output
    np.testing.assert_allclose(np.load("maps.npy"), fixture_output("autoencoder", "encode_pool"), rtol=RTOL,
                               atol=1e-5)
    assert "encode_pool" not in result.stdout


def test_keras_summary_table(run):
    shutil.copy(model_file("autoencoder"), "model.keras")
    result = run("pipeline", "model.keras", "shape:28x28x1", "--summary", "-q")
    assert result.exit_code == 0, result.output
    rows = [line.split() for line in result.stdout.splitlines()[2:-1]]
    # Keras's model.summary(): Param # 160, 0, 580, 0
    assert [(row[0], row[-5]) for row in rows[1:]] == [("encode_conv", "160"), ("encode_pool", "0"),
                                                      ("decode_conv", "580"), ("decode_upsample", "0")]
    assert result.stdout.splitlines()[-1] == "Total params: 740"


def test_a_layer_convcli_cannot_run_is_named_before_any_pixel(run):
    shutil.copy(model_file("global_max_dense"), "model.keras")
    np.save("x.npy", fixture_input("global_max_dense"))
    result = run("pipeline", "model.keras", "x.npy", "-o", "out.npy")
    assert result.exit_code == 2
    assert "'dense' (Dense, 4 of 4)" in result.stderr and "--until" in result.stderr
    assert len(result.stderr.strip().splitlines()[-1]) > 0 and not os.path.exists("out.npy")
    stopped = run("pipeline", "model.keras", "x.npy", "--until", "global_max", "-o", "out.npy")
    assert stopped.exit_code == 0, stopped.output


def hostile(kind):
    with zipfile.ZipFile("evil.keras", "w") as archive:
        if kind == "traversal":
            archive.writestr("../../config.json", "{}")
        elif kind == "lambda":
            archive.writestr("config.json", '{"class_name": "Sequential", "config": {"layers": [{"class_name": '
                                            '"Lambda", "config": {"name": "l", "function": "x"}}]}}')
            archive.writestr("model.weights.h5", b"")
            archive.writestr("metadata.json", '{"keras_version": "3.15.1"}')
        elif kind == "bomb":
            archive.writestr(zipfile.ZipInfo("config.json"), b"{" + b" " * (200 << 20) + b"}",
                             compress_type=zipfile.ZIP_DEFLATED)


@pytest.mark.parametrize("kind", ["traversal", "lambda", "bomb", "garbage"])
def test_hostile_model_files_get_one_line(run, kind):
    if kind == "garbage":
        Path("evil.keras").write_bytes(b"PK\x03\x04 not really a zip")
    else:
        hostile(kind)
    result = run("pipeline", "evil.keras", "shape:8x8", "--dry-run")
    assert result.exit_code == 2, result.output
    error = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(error) == 1 and "evil.keras" in error[0] and "Traceback" not in result.stderr


def test_an_output_never_writes_over_the_weights_it_reads(run, rgb):
    np.save("w.npy", np.ones((3, 3, 3, 2)))
    before = Path("w.npy").read_bytes()
    result = run("conv2d", "in.npy", "--weights", "w.npy", "-o", "w.npy")
    assert result.exit_code == 2 and "w.npy" in result.stderr
    assert Path("w.npy").read_bytes() == before
