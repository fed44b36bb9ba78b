"""Pipelines: strict checking with file:line, planning (shapes, receptive field, jump), running.

References are independent: scipy.signal.correlate2d, numpy formulas and hand-computed arrays;
receptive fields follow Araujo et al. (Distill 2019): r_out = r_in + (k − 1)·j_in, j_out = j_in·s.
"""

import numpy as np
import pytest
from scipy import signal
from helpers import assert_pipeline_mistake

from convcli.cli.wording import FLAGS
from convcli.errors import GeometryError, KernelError
from convcli.pipeline import (
    PipelineError,
    load_pipeline,
    parse_pipeline,
    parse_step,
    plan,
    result_dtype,
    run,
)
from convcli.steps.conv import zero_border_change

RNG = np.random.default_rng(5)


def steps_of(text, path="p.yaml"):
    return parse_pipeline(text, path=path)


# --- checking --------------------------------------------------------------------------------------


@pytest.mark.parametrize("text,line,message", [
    ("steps:\n  - blur\n", 2, "unknown step 'blur'"),
    ("steps:\n  - gray\n  - filter: {kernel: box3, strid: 2}\n", 3, "did you mean 'stride'"),
    ("steps:\n  - filter:\n      kernel: box3\n      stride: a\n", 4, "`stride`"),
    ("steps:\n  - filter: {kernel: box3, mode: half}\n", 2, "`mode` must be one of same, valid, full"),
    ("steps:\n  - filter: {mode: valid}\n", 2, "give `kernel: SPEC` or `kernels"),
    ("steps:\n  - filter: {kernel: box3, kernels: [box3]}\n", 2, "one of them"),
    ("steps:\n  - filter: {kernel: box3, mode: same, padding: 1}\n", 2, "`padding` replaces `mode`"),
    ("steps:\n  - filter: {kernel: box3, cval: 2}\n", 2, "`cval` needs `boundary: constant`"),
    ("steps:\n  - filter: {kernel: box3, boundary: mirror}\n", 2, "ambiguous"),
    ("steps:\n  - filter: {kernel: box3, correlate: yes}\n", 2, "true or false"),
    ("steps:\n  - sobel: {component: direction, threshold: 3}\n", 2, "not from direction"),
    ("steps:\n  - sobel: {blur: 0}\n", 2, "`blur` must be a sigma > 0"),
    ("steps:\n  - pool: {op: max}\n", 2, "`size: K`"),
    ("steps:\n  - pool: {op: avg, global: true, size: 2}\n", 2, "`global` pools the whole image"),
    ("steps:\n  - pool: {op: avg, size: 2, mode: same, ceil: true}\n", 2, "`ceil`"),
    ("steps:\n  - upsample: {method: transpose, factor: 2}\n", 2, "`method: transpose` needs a kernel: `kernel: KERNEL`"),
    # PyTorch's rules, checked before any image: padding up to half the window, output_padding below the factor
    ("steps:\n  - pool:\n      size: 2\n      padding: 2\n", 4, "`padding` 2 is more than half the window 2 along the rows"),
    ("steps:\n  - upsample:\n      method: transpose\n      kernel: box3\n      factor: 2\n      output_padding: [0, 2]\n",
     6, "`output_padding` 2 must be smaller than the factor 2 along the cols"),
    ("steps:\n  - upsample: {method: nearest, factor: 2, kernel: box3}\n", 2, "`kernel` only apply to `method: transpose`"),
    ("steps:\n  - upsample: {method: bilinear}\n", 2, "give `factor"),
    ("steps:\n  - upsample: {method: max-unpool}\n", 2, "put a pool with op: max"),
    ("steps:\n  - pool: {op: avg, size: 2}\n  - upsample: {method: max-unpool}\n", 3, "op: max"),
    ("steps:\n  - pool: {op: max, size: 2}\n  - upsample: {method: max-unpool, factor: 2}\n", 3, "drop `factor`"),
    ("steps:\n  - filter: [box3]\n", 2, "options must be a mapping"),
    ("steps:\n  - {gray: {}, pool: {}}\n", 2, "write a step as"),
    ("steps:\n  - gray: {save: 3}\n", 2, "`save` must be a file name"),
    ("steps: []\n", 1, "non-empty list"),
    ("stages:\n  - gray\n", 1, "unknown key 'stages'"),
    ("- gray\n", 1, "holds `steps:`"),
    ("steps:\n  - gray\n  - &a gray\n", 3, "anchor"),
    ("steps:\n  - filter: {kernel: box3\n", 3, "invalid YAML"),
])
def test_every_mistake_names_file_line_and_fix(text, line, message):
    assert_pipeline_mistake(text, line, message)


def test_kernel_errors_keep_their_own_file_and_line(tmp_path):
    (tmp_path / "ragged.yaml").write_text("matrix:\n  - [1, 2]\n  - [3]\n")
    (tmp_path / "net.yaml").write_text("steps:\n  - filter: {kernel: ragged.yaml}\n")
    with pytest.raises(KernelError) as caught:
        load_pipeline(str(tmp_path / "net.yaml"))
    assert caught.value.path.endswith("ragged.yaml") and caught.value.line == 3


def test_unknown_kernel_names_the_pipeline_line():
    with pytest.raises(PipelineError, match=r"step 2 \(filter\): unknown kernel") as caught:
        steps_of("steps:\n  - gray\n  - filter: {kernel: no-such-kernel}\n")
    assert caught.value.line == 3


def test_kernel_files_resolve_beside_the_pipeline(tmp_path, monkeypatch):
    (tmp_path / "k").mkdir()
    (tmp_path / "k" / "double.yaml").write_text("matrix: [[2]]\n")
    (tmp_path / "net.yaml").write_text("steps:\n  - filter: {kernel: k/double.yaml}\n")
    monkeypatch.chdir("/")
    (step,) = load_pipeline(str(tmp_path / "net.yaml"))
    assert step.options["kernels"][0].matrix.tolist() == [[2.0]]


def test_load_pipeline_file_problems(tmp_path):
    with pytest.raises(PipelineError, match="cannot read"):
        load_pipeline(str(tmp_path / "missing.yaml"))
    (tmp_path / "big.yaml").write_text("steps:\n" + "  - gray\n" * 10000)
    with pytest.raises(PipelineError, match="KiB"):
        load_pipeline(str(tmp_path / "big.yaml"))
    (tmp_path / "latin.yaml").write_bytes(b"steps:\n  - gray # \xe9\n")
    with pytest.raises(PipelineError, match="UTF-8"):
        load_pipeline(str(tmp_path / "latin.yaml"))


def test_option_spellings():
    step = parse_step("upsample", {"method": "transpose", "kernel": [[1, 1], [1, 1]], "factor": "2,3",
                                   "output-padding": [1, 0], "padding": "0,1,1,0"})
    assert step.options["factor"] == (2, 3)
    assert step.options["output_padding"] == (1, 0)
    assert step.options["padding"] == (0, 1, 1, 0)
    assert step.options["kernel"].matrix.tolist() == [[1.0, 1.0], [1.0, 1.0]]


# --- planning --------------------------------------------------------------------------------------


def test_receptive_field_and_jump_follow_distill():
    steps = steps_of(
        "steps:\n"
        "  - filter: {kernel: box5, stride: 2}\n"        # k 5, s 2
        "  - pool: {op: max, size: 3, stride: 2}\n"      # k 3, s 2
        "  - filter: {kernel: box3, dilation: 2}\n"      # e 5, s 1
        "  - upsample: {factor: 2, method: nearest}\n"   # 1 tap, jump / 2
    )
    p = plan(steps, (64, 64, 3))
    rf, jump = 1, 1
    expected = []
    for extent, stride in [(5, 2), (3, 2), (5, 1)]:
        rf, jump = rf + (extent - 1) * jump, jump * stride
        expected.append((rf, jump))
    assert [(s["receptive_field"][0], s["jump"][0]) for s in p.steps[:3]] == expected
    assert p.steps[3]["receptive_field"] == [rf, rf] and p.steps[3]["jump"] == [jump // 2, jump // 2]
    assert p.shape == (30, 30, 3)
    assert [s["out_shape"] for s in p.steps] == [[32, 32, 3], [15, 15, 3], [15, 15, 3], [30, 30, 3]]


def _field_by_index_maps(layers):
    """Which input positions output 0 of a chain of (kernel, stride, dilation, before) windows
    reads, mapping index sets back one layer at a time (padding positions as indices < 0 or past the end)."""
    positions = {0}
    for kernel, stride, dilation, before in reversed(layers):
        positions = {o * stride - before + a * dilation for o in positions for a in range(kernel)}
    return min(positions), max(positions) - min(positions) + 1


def test_receptive_field_start_and_size_match_index_maps_of_random_chains():
    rng = np.random.default_rng(2019)
    for _ in range(150):
        steps, layers = [], ([], [])
        for _ in range(int(rng.integers(1, 5))):
            if rng.random() < 0.6:  # a filter: valid or padded, strided, dilated, rows and columns apart
                kernel = int(rng.integers(1, 5))
                stride, dilation = [int(n) for n in rng.integers(1, 3, 2)], [int(n) for n in rng.integers(1, 3, 2)]
                top, bottom, left, right = (int(n) for n in rng.integers(0, 3, 4))
                steps.append(parse_step("filter", {"kernel": f"box:{kernel}", "stride": stride,
                                                   "dilation": dilation, "padding": [top, bottom, left, right]}))
                layers[0].append((kernel, stride[0], dilation[0], top))
                layers[1].append((kernel, stride[1], dilation[1], left))
            else:  # a pool: stride 1 or strided, padded up to half its window
                size = [int(n) for n in rng.integers(1, 4, 2)]
                stride = [int(n) for n in rng.integers(1, 4, 2)]
                top, left = int(rng.integers(0, size[0] // 2 + 1)), int(rng.integers(0, size[1] // 2 + 1))
                steps.append(parse_step("pool", {"op": "max", "size": size, "stride": stride,
                                                 "padding": [top, top, left, left]}))
                layers[0].append((size[0], stride[0], 1, top))
                layers[1].append((size[1], stride[1], 1, left))
        record = plan(steps, (64, 64)).steps[-1]
        for axis in (0, 1):
            start, size = _field_by_index_maps(layers[axis])
            assert record["receptive_field_start"][axis] == start, (layers[axis], record)
            assert record["receptive_field"][axis] == size, (layers[axis], record)


@pytest.mark.parametrize("text, start, size", [
    # crop 3 rows (1 column), box3 valid, max pool 2, box3 valid: from 3 (1), 3 + 1·1 + 2·2 = 8 wide
    ("  - crop: {cropping: [3, 0, 1, 0]}\n  - filter: {kernel: box3, mode: valid}\n"
     "  - pool: {op: max, size: 2}\n  - filter: {kernel: box3, mode: valid}\n", [3, 1], [8, 8]),
    # box3 padded 1, max pool 2, box3 padded 1: from −1 − 1·2 = −3, so only rows 0…4 are in the image
    ("  - filter: {kernel: box3, padding: 1}\n  - pool: {op: max, size: 2}\n"
     "  - filter: {kernel: box3, padding: 1}\n", [-3, -3], [8, 8]),
])
def test_receptive_field_start_is_the_first_pixel_output_0_depends_on(text, start, size):
    # Light up one row (column) at a time and run the chain itself: output (0, 0) changes for the
    # rows of its field that are in the image.
    steps = steps_of("steps:\n" + text)
    record = plan(steps, (20, 20)).steps[-1]
    assert record["receptive_field_start"] == start and record["receptive_field"] == size
    for axis in (0, 1):
        lit = []
        for index in range(20):
            image = np.zeros((20, 20))
            image[(index, slice(None)) if axis == 0 else (slice(None), index)] = 1.0
            if run(steps, image)[0][0, 0] != 0:
                lit.append(index)
        assert lit == list(range(max(start[axis], 0), start[axis] + size[axis]))


def test_receptive_field_start_of_every_step_kind():
    steps = steps_of(
        "steps:\n"
        "  - gray: {}\n"                                            # keeps it: 0
        "  - zero_pad: {padding: [2, 0, 1, 0]}\n"                   # output 0 is a zero 2 (1) before: −2, −1
        "  - filter: {kernel: box3, padding: 1, dilation: 2}\n"     # 1 more before, dilation does not move it
        "  - pool: {op: max, size: 2}\n"                            # jump 2
        "  - upsample: {factor: 2, method: nearest}\n"              # reads input 0: jump 1
        "  - upsample: {factor: 2, method: bilinear}\n"             # reads input 0 (clamped) and 1: jump 1/2
        "  - sobel: {mode: same}\n"                                 # 1 before: half an input pixel
        "  - upsample: {factor: 2, method: zeros}\n"                # jump 1/4
        # a transposed box:4 padded 1 gathers, for output 0, inputs ⌈(1 − 3)/2⌉ = −1 and 0
        "  - upsample: {factor: 2, method: transpose, kernel: 'box:4', padding: 1}\n"
        "  - crop: {cropping: [4, 0, 4, 0]}\n"                      # 4 outputs of 1/8 on: +0.5
        "  - activation: {function: relu}\n"
    )
    records = plan(steps, (32, 32, 3)).steps
    starts = [record["receptive_field_start"][0] for record in records]
    assert starts == [0, -2, -3, -3, -3, -3, -3.5, -3.5, -3.75, -3.25, -3.25]
    assert [record["receptive_field_start"][1] for record in records][:3] == [0, -1, -2]
    assert records[-1]["jump"] == [0.125, 0.125]


def test_plan_reports_padding_used():
    steps = steps_of("steps:\n  - filter: {kernel: box:4, correlate: true, stride: 2}\n")
    (step,) = plan(steps, (9, 9)).steps
    # ⌈9/2⌉ = 5 outputs; P = (5 − 1)·2 + 4 − 9 = 3; correlation puts ⌊3/2⌋ = 1 before
    assert step["padding"] == [[1, 2], [1, 2]] and step["out_shape"] == [5, 5]


def test_impossible_geometry_names_the_step_before_any_pixel():
    steps = steps_of("steps:\n  - pool: {op: max, size: 4}\n  - filter: {kernel: box5, mode: valid}\n")
    with pytest.raises(GeometryError, match=r"step 2 \(filter\).*larger than") as caught:
        plan(steps, (16, 16))
    assert caught.value.line == 3


def test_unpool_channel_mismatch_is_refused():
    steps = steps_of("steps:\n  - pool: {op: max, size: 2}\n  - filter: {kernels: [box3, box3]}\n"
                     "  - upsample: {method: max-unpool}\n")
    with pytest.raises(PipelineError, match="channels its max pool saw"):
        plan(steps, (8, 8))


# --- running ---------------------------------------------------------------------------------------


def test_keras_lecture_bank_twice():
    image = np.zeros((50, 50))
    image[:, 25:] = 1.0
    steps = steps_of("steps:\n"
                     "  - filter: {kernels: [mean2, edge2], mode: valid, correlate: true}\n"
                     "  - filter: {kernels: [mean2, edge2], mode: valid, correlate: true}\n")
    out, planned, _ = run(steps, image)
    assert out.shape == (48, 48, 4) and planned.shape == (48, 48, 4)
    mean2, edge2 = np.full((2, 2), 0.25), np.array([[-1.0, 1.0], [-1.0, 1.0]])
    first = [signal.correlate2d(image, k, mode="valid") for k in (mean2, edge2)]
    second = [signal.correlate2d(c, k, mode="valid") for c in first for k in (mean2, edge2)]
    for channel, expected in enumerate(second):
        np.testing.assert_allclose(out[..., channel], expected, atol=1e-12)


def test_chain_equals_the_ops_composed_by_hand():
    rgb = RNG.uniform(0, 255, size=(12, 10, 3))
    kernel = RNG.normal(size=(3, 3))
    text = ("steps:\n  - gray\n  - filter: {kernel: '%s', boundary: symmetric}\n"
            "  - pool: {op: max, size: 2}\n  - upsample: {factor: 2, method: nearest}\n"
            % "; ".join(" ".join(repr(float(v)) for v in row) for row in kernel))
    out, _, _ = run(steps_of(text), rgb)
    gray = rgb @ np.array([0.2125, 0.7154, 0.0721])
    filtered = signal.convolve2d(gray, kernel, mode="same", boundary="symm")
    pooled = filtered.reshape(6, 2, 5, 2).max(axis=(1, 3))
    np.testing.assert_allclose(out, np.repeat(np.repeat(pooled, 2, 0), 2, 1), atol=1e-9)


def test_max_unpool_puts_values_back():
    image = np.array([[1.0, 5.0, 2.0, 0.0], [3.0, 2.0, 9.0, 8.0]])
    steps = steps_of("steps:\n  - pool: {op: max, size: 2}\n  - upsample: {method: max-unpool}\n")
    out, _, _ = run(steps, image)
    np.testing.assert_array_equal(out, [[0, 5, 0, 0], [0, 0, 9, 0]])


def test_max_unpool_after_a_ceil_pool_wider_than_the_input():
    # torch: max_pool2d(x, 4, ceil_mode=True, return_indices=True) of 9×1 1..9 → [[4], [8], [9]] at 3, 7, 8
    image = np.arange(1.0, 10.0).reshape(9, 1)
    steps = steps_of("steps:\n  - pool: {op: max, size: 4, ceil: true}\n  - upsample: {method: max-unpool}\n")
    out, planned, _ = run(steps, image)
    assert planned.steps[0]["out_shape"] == [3, 1]
    np.testing.assert_array_equal(out.ravel(), [0, 0, 0, 4, 0, 0, 0, 8, 9])


def test_pool_count_include_pad_key():
    image = np.arange(1.0, 7.0)[None, :]
    steps = steps_of("steps:\n  - pool: {op: avg, size: [1, 3], stride: [1, 2], padding: [0, 1], ceil: true,"
                     " count_include_pad: true}\n")
    out, planned, _ = run(steps, image)
    np.testing.assert_array_equal(out, [[1, 3, 5, 3]])  # torch: the last window's divisor is 2
    assert planned.steps[0]["count_include_pad"] is True
    with pytest.raises(PipelineError, match=r"`count_include_pad: true` sets the divisor of `op: avg`"):
        steps_of("steps:\n  - pool: {size: 2, count_include_pad: true}\n")


def test_plan_of_a_bank_of_different_sizes_reports_each_kernel():
    steps = steps_of("steps:\n  - filter: {kernels: [box3, box5]}\n  - pool: {op: max, size: 2}\n")
    planned = plan(steps, (10, 10))
    first = planned.steps[0]
    assert [(k["kernel_shape"], k["padding"]) for k in first["bank"]] == [
        ([3, 3], [[1, 1], [1, 1]]), ([5, 5], [[2, 2], [2, 2]])]
    assert first["receptive_field"] == [5, 5]
    # r = r_prev + (e − 1)·j_prev: the pool builds on the bank's largest field, 5 + 1 = 6
    assert planned.steps[1]["receptive_field"] == [6, 6]
    # full: e − 1 on each side, (10 + 2(k − 1) − k) + 1 = 10 + k − 1 outputs: 12 and 14 — refused
    with pytest.raises(GeometryError, match=r"different output sizes \(box3 3×3 → 12×12, box5 5×5 → 14×14\)"):
        plan(steps_of("steps:\n  - filter: {kernels: [box3, box5], mode: full}\n"), (10, 10))


def test_saved_intermediates():
    steps = steps_of("steps:\n  - pool: {op: max, size: 2, save: p.npy}\n  - upsample: {factor: 2}\n")
    image = RNG.normal(size=(4, 4))
    out, _, saved = run(steps, image)
    (step, array), = saved
    assert step.save == "p.npy" and array.shape == (2, 2) and out.shape == (4, 4)
    np.testing.assert_array_equal(array, image.reshape(2, 2, 2, 2).max(axis=(1, 3)))


def test_sobel_step_kind_and_alpha():
    rgba = np.dstack([RNG.uniform(0, 255, size=(6, 6, 3)), np.full((6, 6), 200.0)])
    steps = steps_of("steps:\n  - gray\n  - sobel: {component: direction}\n")
    out, planned, _ = run(steps, rgba, has_alpha=True)
    assert out.shape == (6, 6, 2) and planned.kind == "angle"
    np.testing.assert_array_equal(out[..., 1], 200.0)


@pytest.mark.parametrize(("yaml_step", "dtype", "want"), [
    ("{filter: {kernel: box3}}", "uint8", "float32"),
    ("{filter: {kernel: box3}}", "uint16", "float32"),
    ("{filter: {kernel: box3}}", "float64", "float64"),
    ("{filter: {kernel: box3}}", "int64", "float64"),
    ("{sobel: {}}", "uint8", "float32"),
    ("{sobel: {threshold: 10}}", "uint8", "bool"),
    ("{pool: {op: max, size: 2}}", "uint8", "uint8"),
    ("{pool: {op: min, size: 2}}", "int32", "int32"),
    ("{pool: {op: max, size: 2}}", "float16", "float32"),
    ("{pool: {op: avg, size: 2}}", "uint8", "float32"),
    ("{upsample: {method: nearest, factor: 2}}", "uint16", "uint16"),
    ("{upsample: {method: zeros, factor: 2}}", "uint8", "uint8"),
    ("{upsample: {method: bilinear, factor: 2}}", "uint8", "float32"),
])
def test_result_dtype_follows_the_ops(yaml_step, dtype, want):
    """The planned dtype is what the op really returns (checked on a small array)."""
    import numpy as np

    steps = parse_pipeline(f"steps: [{yaml_step}]", path="p.yaml")
    assert result_dtype(steps[0], dtype) == want
    image = np.ones((6, 6), dtype=dtype)
    result, _, _ = run(steps, image)
    assert str(result.dtype) == want


def test_result_dtype_of_gray_and_the_plan():
    steps = parse_pipeline("steps: [gray, {pool: {op: max, size: 2}}]", path="p.yaml")
    assert result_dtype(steps[0], "uint8", changed=False) == "uint8"   # grey already
    assert plan(steps, (8, 8, 3), dtype="uint8").dtype == "float32"    # luminance, then max keeps it
    assert plan(steps, (8, 8), dtype="uint8").dtype == "uint8"
    assert plan(steps, (8, 8)).dtype is None                           # no dtype given: none said



@pytest.mark.parametrize(("yaml_step", "want"), [
    ("{pool: {op: max, size: 2}}", "float32"), ("{sobel: {threshold: 10}}", "float32"),
    ("{filter: {kernel: box3}}", "float32"), ("{upsample: {method: nearest, factor: 2}}", "uint8")])
def test_result_dtype_with_alpha(yaml_step, want):
    """Filters, Sobel and pooling carry alpha through their geometry in floating point, so the result
    joined with it is floating point; upsampling repeats alpha with the colours."""
    import numpy as np

    steps = parse_pipeline(f"steps: [{yaml_step}]", path="p.yaml")
    image = np.full((6, 6, 2), 200, dtype=np.uint8)
    result, _, _ = run(steps, image, has_alpha=True)
    assert str(result.dtype) == result_dtype(steps[0], "uint8", has_alpha=True) == want
    assert plan(steps, (6, 6, 2), has_alpha=True, dtype="uint8").dtype == want


@pytest.mark.parametrize(("op", "options", "as_flags", "as_keys"), [
    ("pool", {"global": True, "size": 2, "stride": 2}, "--global pools the whole image; drop --size, --stride",
     "`global` pools the whole image; drop `size`, `stride`"),
    ("pool", {"op": "max"}, "give the window with --size K (or KY,KX), or --global",
     "give the window with `size: K` (or [KY, KX]), or `global: true`"),
    ("pool", {"size": 3, "mode": "same", "padding": 1}, "--padding replaces --mode; drop --mode same",
     "`padding` replaces `mode`; drop `mode: same`"),
    ("upsample", {"method": "transpose", "factor": 2}, "--method transpose needs a kernel: --kernel KERNEL",
     "`method: transpose` needs a kernel: `kernel: KERNEL`"),
    ("upsample", {"factor": 2, "output_padding": 1}, "--output-padding only apply to --method transpose",
     "`output_padding` only apply to `method: transpose`"),
    ("upsample", {"method": "nearest"}, "give --factor F (or FY,FX)", "give `factor: F` (or [FY, FX])"),
])
def test_option_conflicts_are_worded_for_flags_or_keys(op, options, as_flags, as_keys):
    """One check serves the commands and pipeline files; only the naming of the options differs."""
    with pytest.raises(PipelineError) as from_cli:
        parse_step(op, options, wording=FLAGS)
    assert from_cli.value.message == f"{op}: {as_flags}"
    with pytest.raises(PipelineError) as from_yaml:
        parse_step(op, options)
    assert from_yaml.value.message == f"{op}: {as_keys}"


# --- non-finite results ----------------------------------------------------------------------------


def test_overflow_names_the_step_and_never_warns():
    from convcli.errors import NonFiniteError

    steps = steps_of("steps:\n  - pool: {op: max, size: 2}\n  - filter: {kernel: '3e38 3e38', correlate: true}\n")
    image = np.full((4, 6), 2.0, np.float32)  # 2·3e38 + 2·3e38 is past float32's 3.4e38
    with pytest.raises(NonFiniteError) as caught:  # pytest turns any RuntimeWarning into an error
        run(steps, image)
    assert str(caught.value) == ("p.yaml:3: step 2 (filter): float32 overflowed: its result holds 6 inf from "
                                 "finite values; compute in float64 with `dtype: float64` (to .npy or .tif), or let them "
                                 "through with `allow_nonfinite`")  # the core's wording; the CLI says --dtype float64
    out, _, _ = run(steps, image, allow_nonfinite=True)
    # reference: one column sees the zero padding (one tap: 2·3e38 = 6e38), the others two taps
    assert np.isposinf(out).all() and out.dtype == np.float32
    assert sorted(run(steps, image.astype(np.float64))[0][0].tolist()) == [6e38, 1.2e39, 1.2e39]


# --- the zero boundary's frame (zero_border_change) ---


def _strided_correlation(padded, kernel, stride, dilation):
    """y[i, j] = Σ padded[i·s + a·d, j·s + b·d] · kernel[a, b], by hand."""
    kh, kw = kernel.shape
    (sy, sx), (dy, dx) = stride, dilation
    rows = (padded.shape[0] - (kh - 1) * dy - 1) // sy + 1
    cols = (padded.shape[1] - (kw - 1) * dx - 1) // sx + 1
    out = np.zeros((rows, cols))
    for a in range(kh):
        for b in range(kw):
            out += kernel[a, b] * padded[a * dy : a * dy + (rows - 1) * sy + 1 : sy,
                                         b * dx : b * dx + (cols - 1) * sx + 1 : sx]
    return out


@pytest.mark.parametrize("size, kernel_shape, stride, dilation, pads", [
    ((40, 50), (3, 3), (1, 1), (1, 1), (1, 1, 1, 1)),
    ((41, 37), (5, 4), (2, 3), (1, 1), (2, 2, 1, 2)),
    ((60, 45), (3, 5), (3, 2), (2, 3), (3, 1, 6, 0)),
    ((12, 9), (3, 3), (1, 1), (1, 1), (1, 1, 1, 1)),   # too small for strips: the whole image
    ((50, 50), (7, 7), (4, 4), (1, 1), (0, 6, 3, 3)),
])
def test_zero_border_change_is_the_frame_of_the_full_results(size, kernel_shape, stride, dilation, pads):
    rng = np.random.default_rng(sum(size))
    image = rng.uniform(0, 255, size)
    kernel = rng.normal(size=kernel_shape)
    step = parse_step("filter", {"kernel": kernel.tolist(), "padding": list(pads), "stride": list(stride),
                                 "dilation": list(dilation), "correlate": True})
    top, bottom, left, right = pads
    zero = _strided_correlation(np.pad(image, ((top, bottom), (left, right))), kernel, stride, dilation)
    continued = _strided_correlation(np.pad(image, ((top, bottom), (left, right)), mode="reflect"),
                                     kernel, stride, dilation)
    extent = [(k - 1) * d + 1 for k, d in zip(kernel_shape, dilation)]
    row = np.arange(zero.shape[0]) * stride[0]
    col = np.arange(zero.shape[1]) * stride[1]
    frame = ((row < top) | (row + extent[0] > size[0] + top))[:, None] | \
            ((col < left) | (col + extent[1] > size[1] + left))[None, :]
    difference = np.abs(zero - continued)[frame]
    change = zero_border_change(step, image, engine="scipy", full_scale=1e-9)
    assert change["outputs"] == frame.sum()
    assert change["mean"] == pytest.approx(difference.mean(), rel=1e-5)
    assert change["max"] == pytest.approx(difference.max(), rel=1e-5)


def test_zero_border_change_is_none_when_nothing_moves():
    flat = np.full((30, 30), 100.0)
    identity = parse_step("filter", {"kernel": [[0, 0, 0], [0, 1, 0], [0, 0, 0]]})
    assert zero_border_change(identity, flat, full_scale=255) is None  # its padded taps weigh 0
    assert zero_border_change(parse_step("filter", {"kernel": "box3", "mode": "valid"}), flat) is None
    dark = np.zeros((30, 30))
    dark[10:20, 10:20] = 200  # black at the edge: zero padding continues it
    assert zero_border_change(parse_step("filter", {"kernel": "box3"}), dark, full_scale=255) is None
    # 1 % of 255 (2.55) on average is the line: box3 on a flat v moves edges by v/3, corners by 5v/9
    assert zero_border_change(parse_step("filter", {"kernel": "box3"}), np.full((30, 30), 7.0),
                              full_scale=255) is None  # 2.4 on average
    assert zero_border_change(parse_step("filter", {"kernel": "box3"}), np.full((30, 30), 8.0),
                              full_scale=255)["mean"] == pytest.approx((112 * 8 / 3 + 4 * 40 / 9) / 116)


def test_only_a_boundary_nobody_gave_is_measured():
    given = parse_step("filter", {"kernel": "box3", "boundary": "zero"})
    defaulted = parse_step("filter", {"kernel": "box3"})
    assert "boundary" not in given.defaulted and "boundary" in defaulted.defaulted
    flat = np.full((20, 20), 90, dtype=np.uint8)
    assert "zero_border" not in run([given], flat)[1].steps[0]
    change = run([defaulted], flat)[1].steps[0]["zero_border"]
    # edges 90·6/9 = 60 (moved 30), corners 90·4/9 = 40 (moved 50): 72 edges, 4 corners
    assert change == {"mean": pytest.approx((72 * 30 + 4 * 50) / 76, rel=1e-6), "max": 50, "outputs": 76}


def test_a_mistyped_choice_value_gets_a_suggestion():
    with pytest.raises(PipelineError, match=r"got 'vaild'; did you mean 'valid'\?"):
        parse_pipeline("steps: [{filter: {kernel: box3, mode: vaild}}]", path="p.yaml")
    with pytest.raises(PipelineError, match=r"got 'medain'; did you mean 'median'"):
        parse_pipeline("steps: [{pool: {op: medain, size: 2}}]", path="p.yaml")


def test_a_plan_is_typed_stages_and_the_report_records_are_theirs():
    steps = parse_pipeline("steps: [gray, {pool: {op: max, size: 2}}, {filter: {kernel: box3, mode: valid}}]",
                           path="p.yaml")
    planned = plan(steps, (10, 12, 3), dtype="uint8")
    assert [stage.step.op for stage in planned.stages] == ["gray", "pool", "filter"]
    assert [stage.in_shape for stage in planned.stages] == [(10, 12, 3), (10, 12), (5, 6)]
    assert [stage.out_shape for stage in planned.stages] == [(10, 12), (5, 6), (3, 4)]
    assert [stage.dtype for stage in planned.stages] == ["float32", "float32", "float32"]
    # a 2×2 pool then a 3×3 window: each output sees 2 + (3 − 1)·2 = 6 input pixels a side, 2 apart
    assert planned.stages[2].receptive_field == (6, 6) and planned.stages[2].jump == (2, 2)
    assert planned.steps == [stage.record for stage in planned.stages]
    assert planned.steps[2]["out_shape"] == [3, 4] and planned.steps[2]["receptive_field"] == [6, 6]


def test_run_keeps_the_results_of_the_steps_asked_for():
    from convcli.pipeline import layer_positions

    steps = parse_pipeline("steps:\n  - conv2d: {filters: 3, kernel_size: 3, seed: 1}\n"
                           "  - activation: {function: relu}\n"
                           "  - conv2d: {filters: 2, kernel_size: 2, seed: 2, save: s.npy}\n"
                           "  - pool: {op: max, size: 2}\n", path="k.yaml")
    image = np.random.default_rng(3).normal(size=(12, 14)).astype(np.float32)
    assert layer_positions(steps) == [0, 2]
    result, _, kept = run(steps, image, keep=[0, 2])
    assert [step.op for step, _ in kept] == ["conv2d", "conv2d"]  # step 3 saves and is kept: once
    for (_, array), end in zip(kept, (1, 3)):  # each is what the chain up to that step gives
        np.testing.assert_array_equal(array, run(steps[:end], image)[0])
    assert [step.op for step, _ in run(steps, image)[2]] == ["conv2d"]  # without keep: the saved only
    np.testing.assert_array_equal(result, run(steps, image)[0])


@pytest.mark.parametrize("keep", [[4], [-1], [True], ["0"]])
def test_run_keep_names_step_positions(keep):
    steps = parse_pipeline("steps: [gray, {pool: {op: max, size: 2}}]", path="p.yaml")
    with pytest.raises(ValueError, match=r"`keep` must list positions of steps, 0 to 1"):
        run(steps, np.zeros((4, 4)), keep=keep)


@pytest.mark.parametrize(("shape", "has_alpha", "dtype"), [
    ((4, 5, 2), True, "uint8"),    # grey + alpha: kept as it is
    ((4, 5, 4), True, "float32"),  # RGBA: luminance in float, alpha with it
    ((4, 5, 3), False, "float32"),
    ((4, 5), False, "uint8"),
])
def test_gray_plans_the_dtype_it_gives(shape, has_alpha, dtype):
    from convcli.pipeline import parse_step, plan, run

    steps = [parse_step("gray", {})]
    image = np.zeros(shape, np.uint8)
    result, _, _ = run(steps, image, has_alpha=has_alpha)
    assert str(result.dtype) == dtype
    assert plan(steps, shape, has_alpha=has_alpha, dtype="uint8").dtype == dtype
