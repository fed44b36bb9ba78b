"""`--explain` through click's CliRunner: the value explained is the value the written .npy holds
at that position (read back with NumPy), the table is on standard output (standard error with
-o -), --json carries the same data, and every bad request is one usage error (exit 2)."""

import json
import os

import numpy as np
import pytest

RNG = np.random.default_rng(11)


@pytest.fixture
def image(tmp_path):
    array = RNG.integers(0, 50, size=(9, 11, 3)).astype(np.float64)
    np.save(tmp_path / "in.npy", array)
    return array


def explained(result):
    assert result.exit_code == 0, result.output
    entry = json.loads(result.stdout)["files"][0]
    return entry["explain"]


@pytest.mark.parametrize("args", [
    ["filter", "-k", "sobel-x", "--dilation", "2", "--stride", "2"],
    ["filter", "-k", "1 2; 3 4", "--correlate", "--boundary", "reflect"],
    ["filter", "-k", "box3", "-k", "1 -1"],  # a bank: channel c·K + k
    ["sobel", "--boundary", "edge"],
    ["sobel", "--component", "direction", "--mode", "valid"],
    ["pool", "--op", "avg", "--size", "3", "--stride", "2", "--padding", "1", "--count-include-pad"],
    ["pool", "--op", "max", "--size", "2"],
    ["upsample", "--factor", "2,3", "--method", "bilinear"],
    ["upsample", "--factor", "2", "--method", "transpose", "-k", "1 2; 3 4", "--padding", "1"],
    ["conv2d", "--filters", "3", "--kernel-size", "3", "--padding", "same", "--activation", "elu", "--use-bias"],
])
def test_the_json_value_is_the_value_written(run, image, args):
    result = run(*args, "in.npy", "-o", "out.npy", "--explain", "2,1", "--json")
    explanation = explained(result)
    written = np.load("out.npy")
    written = written if written.ndim == 3 else written[..., None]
    assert explanation["position"] == [2, 1] and len(explanation["channels"]) == written.shape[2]
    for data in explanation["channels"]:
        assert data["value"] == pytest.approx(float(written[2, 1, data["channel"]]), rel=1e-5, abs=1e-4)


def test_a_pipeline_step_is_explained_from_its_own_input(run, image, tmp_path):
    (tmp_path / "net.yaml").write_text("steps:\n  - gray\n  - filter: {kernel: box3, save: mid.npy}\n"
                                       "  - pool: {op: max, size: 2}\n")
    result = run("pipeline", "net.yaml", "in.npy", "-o", "out.npy", "--explain", "3:1,2", "--json")
    data = explained(result)
    assert data["step"] == 3 and data["op"] == "pool"
    pool = data["channels"][0]
    mid = np.load("mid.npy")
    # the window is read from the filter's result: rows 2..3, cols 4..5
    np.testing.assert_allclose(pool["window"], mid[2:4, 4:6], rtol=1e-6)
    assert pool["value"] == pytest.approx(float(np.load("out.npy")[1, 2]))
    by_kind = run("pipeline", "net.yaml", "in.npy", "--explain", "filter:0,0", "--json")
    assert explained(by_kind)["step"] == 2


def test_the_table_is_printed_and_nothing_written_without_o(run, image, tmp_path):
    result = run("filter", "in.npy", "-k", "1 0 -1", "--explain", "0,0", "--explain-channel", "1", "-q")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "output[0, 0, 1]" in out and "kernel as applied" in out and "0ᵖ" in out  # zero padding marked
    # rotated 180°: -1 0 1 against the window's columns -1, 0, 1
    assert "sum = " in out and sorted(p.name for p in tmp_path.iterdir()) == ["in.npy"]


def test_with_o_dash_the_table_goes_to_standard_error(run, image):
    result = run("pool", "in.npy", "--op", "max", "--size", "2", "-o", "-", "--format", "npy", "--explain", "0,0")
    assert result.exit_code == 0, result.stderr
    assert result.stdout_bytes.startswith(b"\x93NUMPY") and "window (max" in result.stderr


@pytest.mark.parametrize("args,message", [
    (["filter", "in.npy", "in.npy", "-k", "box3", "-O", "out"], "one input; got 2 inputs"),
    (["filter", "in.npy", "-k", "box3", "--mode", "valid", "--explain", "7,0"],
     "--explain (7, 0) is outside the output, which is 7×9"),
    (["filter", "in.npy", "-k", "box3", "--explain", "1,x"], "is not whole numbers"),
    (["filter", "in.npy", "-k", "box3", "--explain-channel", "3", "--explain", "0,0"], "has 3 channels (0..2)"),
    (["filter", "in.npy", "-k", "box3", "--explain-channel", "1"], "add --explain ROW,COL"),
    (["filter", "in.npy", "-k", "box3", "--dry-run"], "a dry run computes nothing"),
    (["pool", "in.npy", "--op", "max", "--global"], "--explain: a global pool has one value per channel"),
])
def test_bad_requests_are_usage_errors(run, image, args, message):
    if "--explain" not in args and "--explain-channel" not in args or "--dry-run" in args or "--global" in args:
        args = [*args, "--explain", "0,0"]
    if "-O" in args:
        args = [*args[:-2], "--explain", "0,0"]
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr and len(result.stderr.strip().splitlines()[-1]) > 0


@pytest.mark.parametrize("spec,message", [
    ("9:0,0", "the pipeline has steps 1 to 4"),
    ("poool:0,0", "no step is 'poool'; did you mean 'pool'?"),
    ("0,0", "give STEP:ROW,COL"),
    ("1:0,0", "moves values without computing them"),
    ("4:0,0", "step 4 (upsample): a max-unpool puts each pooled value back where its max pool took it"),
])
def test_pipeline_steps_that_cannot_be_explained(run, image, tmp_path, spec, message):
    (tmp_path / "net.yaml").write_text("steps:\n  - zero_pad: {padding: 1}\n  - pool: {op: max, size: 2}\n"
                                       "  - filter: {kernel: box3}\n  - upsample: {method: max-unpool}\n")
    result = run("pipeline", "net.yaml", "in.npy", "--explain", spec)
    assert result.exit_code == 2 and message in result.stderr, result.output


# --- --explain-png ---------------------------------------------------------------------------------


def _png(path):
    from PIL import Image

    with Image.open(path) as picture:
        return picture.mode, np.asarray(picture.convert("RGB"))


def test_explain_png_draws_the_products_the_json_gives(run, image):
    from convcli.drawing import value_colours

    result = run("filter", "in.npy", "-k", "sobel-x", "-o", "out.npy", "--explain", "0,0", "--explain-channel", "1",
                 "--explain-png", "why.png", "--json")
    [channel] = explained(result)["channels"]
    assert channel["value"] == pytest.approx(np.load("out.npy")[0, 0, 1])
    mode, picture = _png("why.png")
    assert mode == "RGB"
    for colour in value_colours(np.array(channel["products"])).reshape(-1, 3):
        rgb = np.clip(np.rint(colour), 0, 255).astype(np.uint8)
        assert (picture == rgb).all(axis=2).sum() >= 100, colour


def test_explain_png_of_every_channel_and_a_pipeline_step(run, image, tmp_path):
    assert run("pool", "in.npy", "--size", "2", "--explain", "1,1", "--explain-png", "pool.png", "-q").exit_code == 0
    one = _png("pool.png")[1]
    assert run("pool", "in.npy", "--size", "2", "--explain", "1,1", "--explain-channel", "0",
               "--explain-png", "pool1.png", "-q").exit_code == 0
    assert one.shape[0] > 2 * _png("pool1.png")[1].shape[0]  # three channels, each under its heading
    (tmp_path / "p.yaml").write_text("steps:\n  - filter: {kernel: box3}\n  - pool: {size: 2}\n")
    result = run("pipeline", "p.yaml", "in.npy", "--explain", "1:0,0", "--explain-png", "step.png", "-q")
    assert result.exit_code == 0, result.output
    assert _png("step.png")[1].shape[2] == 3


@pytest.mark.parametrize(("args", "message"), [
    (["filter", "-k", "box3", "--explain-png", "x.png"], "--explain-png goes with --explain"),
    (["filter", "-k", "box3", "--explain", "0,0", "--explain-png", "-"], "--explain-png names a file"),
    (["upsample", "--factor", "2", "--explain", "0,0", "--explain-png", "x.png"],
     "--explain-png draws filter, sobel, pool, conv2d, depthwise_conv2d steps; upsample is written out by the table"),
])
def test_explain_png_refusals(run, image, args, message):
    result = run(args[0], "in.npy", *args[1:])
    assert result.exit_code == 2
    assert message in result.stderr
    assert not os.path.exists("x.png")
