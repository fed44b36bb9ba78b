"""`convcli pipeline` through CliRunner: running, saving, planning from a shape, and refusals."""

import json
import os
from pathlib import Path

import numpy as np
from scipy import signal

from helpers import png


RNG = np.random.default_rng(3)


def write(name, text):
    Path(name).write_text(text)
    return name


def test_runs_a_chain_and_reports_every_step(run):
    image = RNG.normal(size=(16, 16))
    np.save("in.npy", image)
    write("net.yaml", "steps:\n  - filter: {kernel: box3}\n  - pool: {op: max, size: 2}\n  - filter: {kernel: box3}\n")
    result = run("pipeline", "net.yaml", "in.npy", "-o", "out.npy", "--report", "r.json")
    assert result.exit_code == 0, result.output
    box = np.ones((3, 3)) / 9
    first = signal.convolve2d(image, box, mode="same")
    expected = signal.convolve2d(first.reshape(8, 2, 8, 2).max(axis=(1, 3)), box, mode="same")
    np.testing.assert_allclose(np.load("out.npy"), expected, atol=1e-5)
    steps = json.loads(Path("r.json").read_text())["files"][0]["steps"]
    assert [s["op"] for s in steps] == ["filter", "pool", "filter"]
    assert [s["receptive_field"] for s in steps] == [[3, 3], [4, 4], [8, 8]]
    assert [s["jump"] for s in steps] == [[1, 1], [2, 2], [2, 2]]
    assert [s["out_shape"] for s in steps] == [[16, 16], [8, 8], [8, 8]]
    assert steps[0]["padding"] == [[1, 1], [1, 1]]


def test_dry_run_from_a_shape_is_a_calculator(run):
    write("net.yaml", "steps:\n  - filter: {kernels: [mean2, edge2], mode: valid, correlate: true}\n"
                      "  - pool: {op: max, size: 2}\n")
    result = run("pipeline", "net.yaml", "shape:50x50", "--dry-run")
    assert result.exit_code == 0
    assert "49×49×2" in result.stderr and "receptive field 3×3, jump 2×2" in result.stderr
    assert "50 → (50 − 2) + 1 = 49" in result.stderr
    assert os.listdir(".") == ["net.yaml"]


def test_shape_input_without_dry_run_fails_that_input(run):
    write("net.yaml", "steps:\n  - gray\n")
    result = run("pipeline", "net.yaml", "shape:4x4", "-o", "o.npy")
    assert result.exit_code == 1 and "use it with --dry-run" in result.stderr


def test_bad_shape_input(run):
    write("net.yaml", "steps:\n  - gray\n")
    result = run("pipeline", "net.yaml", "shape:4x", "--dry-run")
    assert result.exit_code == 1 and "not a shape like 224x224" in result.stderr


def test_save_writes_intermediates_with_name_fields(run):
    image = RNG.normal(size=(8, 8))
    np.save("a.npy", image)
    np.save("b.npy", image * 2)
    write("net.yaml", "steps:\n  - pool: {op: max, size: 2, save: '{stem}-pooled.npy'}\n"
                      "  - upsample: {factor: 2}\n")
    result = run("pipeline", "net.yaml", "a.npy", "b.npy", "-O", "out")
    assert result.exit_code == 0, result.output
    assert sorted(os.listdir("out")) == ["a-pooled.npy", "a.npy", "b-pooled.npy", "b.npy"]
    np.testing.assert_allclose(np.load("out/b-pooled.npy"), (image * 2).reshape(4, 2, 4, 2).max(axis=(1, 3)), atol=1e-5)
    assert np.load("out/a.npy").shape == (8, 8)


def test_save_names_that_collide_across_inputs_are_refused_up_front(run):
    np.save("a.npy", np.ones((4, 4)))
    np.save("b.npy", np.ones((4, 4)))
    write("net.yaml", "steps:\n  - pool: {op: max, size: 2, save: pooled.npy}\n")
    result = run("pipeline", "net.yaml", "a.npy", "b.npy", "-O", "out")
    assert result.exit_code == 2 and "both write" in result.stderr
    assert not os.path.exists("out")


def test_malformed_pipeline_is_exit_2_with_file_and_line(run):
    np.save("a.npy", np.ones((4, 4)))
    write("bad.yaml", "steps:\n  - gray\n  - filter: {kernel: box3, stride: 0}\n")
    result = run("pipeline", "bad.yaml", "a.npy", "-o", "o.npy")
    assert result.exit_code == 2 and "bad.yaml:3" in result.stderr and "`stride` must be >= 1" in result.stderr
    assert not os.path.exists("o.npy")


def test_boundary_names_in_a_pipeline_are_the_command_lines(run):
    np.save("a.npy", np.ones((4, 4)))
    write("typo.yaml", "steps:\n  - filter:\n      kernel: box3\n      boundary: reflct\n")
    result = run("pipeline", "typo.yaml", "a.npy", "-o", "o.npy")
    assert result.exit_code == 2
    assert "typo.yaml:4" in result.stderr and "got 'reflct'; did you mean 'reflect'" in result.stderr
    write("mirror.yaml", "steps:\n  - filter: {kernel: box3, boundary: mirror}\n")
    result = run("pipeline", "mirror.yaml", "a.npy", "-o", "o.npy")
    assert result.exit_code == 2
    assert "mirror.yaml:2" in result.stderr and "`mirror` is ambiguous: use `reflect`" in result.stderr
    assert not os.path.exists("o.npy")


def test_kernel_path_problems_are_warned_for_a_pipeline_too(run, tmp_path, monkeypatch):
    np.save("a.npy", np.ones((4, 4)))
    write("p.yaml", "steps:\n  - filter: {kernel: box3}\n")
    monkeypatch.setenv("CONVCLI_KERNEL_PATH", str(tmp_path / "gone"))
    result = run("pipeline", "p.yaml", "a.npy", "-o", "o.npy", "-q")
    assert result.exit_code == 0
    assert result.stderr == f"convcli: warning: CONVCLI_KERNEL_PATH: {str(tmp_path / 'gone')!r} does not exist; ignored\n"
    np.testing.assert_allclose(np.load("o.npy"), signal.convolve2d(np.ones((4, 4)), np.ones((3, 3)) / 9, mode="same"),
                               rtol=1e-6)


def test_missing_pipeline_file(run):
    result = run("pipeline", "nope.yaml", "sample:camera", "-o", "o.png")
    assert result.exit_code == 2 and "nope.yaml" in result.stderr


def test_kernel_files_beside_the_pipeline(run, tmp_path):
    os.mkdir("nets")
    write("nets/double.yaml", "matrix: [[2]]\n")
    write("nets/net.yaml", "steps:\n  - filter: {kernel: double.yaml}\n")
    np.save("a.npy", np.ones((3, 3)))
    assert run("pipeline", "nets/net.yaml", "a.npy", "-o", "o.npy").exit_code == 0
    np.testing.assert_array_equal(np.load("o.npy"), np.full((3, 3), 2.0))


def test_geometry_impossible_for_an_input_fails_only_that_input(run):
    np.save("small.npy", np.ones((3, 3)))
    np.save("big.npy", np.ones((9, 9)))
    write("net.yaml", "steps:\n  - filter: {kernel: box5, mode: valid}\n")
    result = run("pipeline", "net.yaml", "small.npy", "big.npy", "-O", "out", "--report", "r.json")
    assert result.exit_code == 1
    report = json.loads(Path("r.json").read_text())
    assert report["failed"] == 1 and "net.yaml:2" in report["files"][0]["error"]
    assert os.listdir("out") == ["big.npy"]


def test_more_than_four_channels_need_npy_or_tiff(run):
    np.save("rgb.npy", RNG.normal(size=(6, 6, 3)))
    write("net.yaml", "steps:\n  - filter: {kernels: [mean2, edge2], mode: valid, correlate: true}\n")
    result = run("pipeline", "net.yaml", "rgb.npy", "-o", "o.png")
    assert result.exit_code == 1 and "use .tif or .npy" in result.stderr
    assert run("pipeline", "net.yaml", "rgb.npy", "-o", "o.npy").exit_code == 0
    assert np.load("o.npy").shape == (5, 5, 6)


def test_sheet_is_a_labelled_8bit_contact_sheet(run):
    from helpers import read_png

    image = np.zeros((50, 50), np.float32)
    image[:, 25:] = 1
    np.save("step.npy", image)
    write("bank.yaml", "steps:\n  - filter: {kernels: [mean2, edge2], mode: valid, correlate: true}\n"
                       "  - filter: {kernels: [mean2, edge2], mode: valid, correlate: true}\n")
    result = run("pipeline", "bank.yaml", "step.npy", "-o", "out.npy", "--sheet", "{stem}-sheet.png",
                 "--report", "r.json")
    assert result.exit_code == 0, result.output
    sheet = read_png("step-sheet.png")
    assert sheet.dtype == np.uint8 and sheet.ndim == 3 and sheet.shape[2] == 3
    # four tiles of at least 48×48 each, and the label bands hold dark ink on white
    assert sheet.shape[0] > 2 * 48 and sheet.shape[1] > 2 * 48
    outputs = [f["output"] for f in json.loads(Path("r.json").read_text())["files"]]
    assert outputs == ["out.npy", "step-sheet.png"]
    dry = run("pipeline", "bank.yaml", "step.npy", "-o", "out2.npy", "--sheet", "s2.png", "--dry-run", "--json")
    shapes = [f["output_shape"] for f in json.loads(dry.stdout)["files"]]
    assert shapes[1] == list(sheet.shape) and not os.path.exists("s2.png")


def test_two_data_channels_into_png_are_refused_not_turned_into_alpha(run):
    np.save("grey.npy", RNG.normal(size=(6, 6)))
    write("b.yaml", "steps:\n  - filter: {kernels: [sobel-x, sobel-y]}\n")
    result = run("pipeline", "b.yaml", "grey.npy", "-o", "b.png")
    assert result.exit_code == 1 and "transparency" in result.stderr and "b.png" in result.stderr
    assert not os.path.exists("b.png")


def test_two_banks_on_an_image_with_alpha(run):
    from helpers import png, read_png

    rgba = np.dstack([RNG.integers(0, 256, size=(8, 8, 3)), np.full((8, 8), 200)]).astype(np.uint8)
    png("rgba.png", rgba)
    write("b.yaml", "steps:\n  - filter: {kernels: [mean2, edge2], mode: valid, correlate: true}\n"
                    "  - filter: {kernels: [mean2, edge2], mode: valid, correlate: true}\n")
    result = run("pipeline", "b.yaml", "rgba.png", "-o", "out.tif")
    assert result.exit_code == 0, result.output
    import tifffile

    out = np.moveaxis(tifffile.imread("out.tif"), 0, -1)  # more than 4 channels: a page each
    assert out.shape == (6, 6, 13)  # 3 colours × 4 chains + alpha
    np.testing.assert_array_equal(out[..., -1], 200)
    assert read_png("rgba.png").shape == (8, 8, 4)


def test_split_writes_one_grey_image_per_channel(run):
    from helpers import read_png

    rgb = RNG.integers(0, 256, size=(6, 6, 3)).astype(np.uint8)
    np.save("rgb.npy", rgb)
    write("b.yaml", "steps:\n  - filter: {kernels: [identity, '2'], correlate: true}\n")
    result = run("pipeline", "b.yaml", "rgb.npy", "-O", "out", "--name", "{stem}{ext}", "--format", "png",
                 "--split", "--report", "r.json")
    assert result.exit_code == 0, result.output
    assert sorted(os.listdir("out")) == [f"rgb-c{c}.png" for c in range(6)]
    for c in range(3):
        np.testing.assert_array_equal(read_png(f"out/rgb-c{2 * c}.png"), rgb[..., c])
        np.testing.assert_array_equal(read_png(f"out/rgb-c{2 * c + 1}.png"), np.clip(rgb[..., c].astype(int) * 2, 0, 255))
    assert len(json.loads(Path("r.json").read_text())["files"]) == 6
    result = run("pipeline", "b.yaml", "rgb.npy", "-o", "x{channel}.png", "--split")
    assert result.exit_code == 0 and sorted(p for p in os.listdir(".") if p.startswith("x")) == [
        f"x{c}.png" for c in range(6)]


def test_split_to_stdout_is_a_usage_error(run):
    np.save("a.npy", np.ones((4, 4, 3)))
    write("g.yaml", "steps:\n  - gray\n")
    assert run("pipeline", "g.yaml", "a.npy", "-o", "-", "--split").exit_code == 2


def test_an_image_where_the_pipeline_belongs_is_named(run):
    # `convcli pipeline small.png steps.yaml`: say the arguments are swapped, not "not UTF-8 text".
    png("small.png", np.zeros((6, 6), np.uint8))
    Path("steps.yaml").write_text("steps:\n  - filter: {kernel: box3}\n")
    result = run("pipeline", "small.png", "steps.yaml", "-o", "out.png")
    assert result.exit_code == 2
    assert "small.png: is an image (PNG), not a pipeline file; the pipeline file comes first" in result.stderr
    assert not Path("out.png").exists()
