"""convcli.cli.wording: the core names options as parameters (`` `dtype: float64` ``, `` `mode: same` ``);
the command line says its own flags for them, while a pipeline file's keys stay keys."""

from pathlib import Path

import numpy as np

from convcli.cli.wording import worded


def test_the_core_names_parameters_and_the_command_line_its_flags(run):
    np.save("f.npy", np.full((4, 6), 2.0, np.float32))  # 2·3e38 + 2·3e38 is past float32's 3.4e38
    result = run("filter", "f.npy", "-k", "3e38 3e38", "--correlate", "-o", "o.npy")
    assert result.exit_code == 1
    assert "compute in float64 with --dtype float64 (to .npy or .tif), or let them through with " \
           "--allow-nonfinite" in result.stderr
    # in a pipeline the same error is about a line of the file, and still names the command's flags
    Path("ov.yaml").write_text("steps:\n  - filter: {kernel: '3e38 3e38', correlate: true}\n")
    result = run("pipeline", "ov.yaml", "f.npy", "-o", "o.npy")
    assert result.exit_code == 1 and "ov.yaml:2: step 1 (filter)" in result.stderr
    assert "--dtype float64" in result.stderr and "--allow-nonfinite" in result.stderr


def test_a_step_option_is_a_flag_for_a_command_and_a_key_in_a_pipeline(run):
    np.save("s.npy", np.zeros((3, 3)))
    result = run("filter", "s.npy", "-k", "box5", "--mode", "valid", "-o", "o.npy")
    assert result.exit_code == 1 and "use a smaller kernel, more padding or --mode same" in result.stderr
    Path("v.yaml").write_text("steps:\n  - filter: {kernel: box5, mode: valid}\n")
    result = run("pipeline", "v.yaml", "s.npy", "-o", "o.npy")
    assert result.exit_code == 1 and "use a smaller kernel, more padding or `mode: same`" in result.stderr


def test_a_kernel_file_key_is_not_taken_for_the_flag_of_the_same_name():
    class AtALine(ValueError):
        line = 2

    from convcli.cli.wording import error_text

    flags = {"normalize": ("--normalize", True), "max_pixels": ("--max-pixels", False)}
    text = error_text(AtALine("k.yaml:2: `normalize` must be true or false; raise `max_pixels`"), flags)
    assert text == "k.yaml:2: `normalize` must be true or false; raise --max-pixels"
    assert error_text(ValueError("`normalize` needs a kernel with a non-zero sum"), flags) == \
        "--normalize needs a kernel with a non-zero sum"


def test_a_switch_given_as_true_is_just_the_flag():
    assert worded("drop `global: true` and `size: 3`", {"global": ("--global", True), "size": ("--size", False)}) \
        == "drop --global and --size 3"


def test_normalize_of_a_zero_sum_kernel_names_the_flag(run):
    np.save("s.npy", np.zeros((3, 3)))
    result = run("filter", "s.npy", "-k", "sobel-x", "--normalize", "-o", "o.npy")
    assert result.exit_code == 2 and "kernel sobel-x sums to 0; --normalize needs a kernel with a non-zero sum" \
        in result.stderr
    Path("n.yaml").write_text("steps:\n  - filter: {kernel: sobel-x, normalize: true}\n")
    result = run("pipeline", "n.yaml", "s.npy", "-o", "o.npy")
    assert result.exit_code == 2 and "n.yaml:2: step 1 (filter): kernel sobel-x sums to 0; `normalize` needs" \
        in result.stderr
