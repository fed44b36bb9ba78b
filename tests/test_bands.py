"""Banded execution (convcli.bands): the bands put together are exactly the whole-image run.

The reference is :func:`convcli.pipeline.run` on the whole image (the path every other test checks
against NumPy and SciPy); the bands must equal it bit for bit, same dtype, for every bandable kind,
random geometry and every band height down to one row. The halo arithmetic is checked against
hand-counted rows.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convcli.bands import band_plan, run_banded, whole_reason
from convcli.errors import GeometryError, NonFiniteError
from convcli.pipeline import PipelineError, parse_pipeline, parse_step, plan, run
from helpers import budget

BOUNDARIES = ("zero", "constant", "reflect", "symmetric", "edge", "wrap")


def banded(steps, image, band_rows, *, has_alpha=False, engine="auto"):
    """The bands of a banded run, checked to come in order and put together."""
    reads = []

    def read_rows(first, stop):
        reads.append((first, stop))
        return image[first:stop]

    pieces = list(run_banded(steps, read_rows, image.shape, band_rows=band_rows, has_alpha=has_alpha, engine=engine))
    starts = [start for start, _ in pieces]
    assert starts == list(range(0, len(starts) * band_rows, band_rows))
    return np.concatenate([band for _, band in pieces]), reads


def same_as_whole(steps, image, band_rows, *, has_alpha=False, engine="auto"):
    try:
        whole = run(steps, image, has_alpha=has_alpha, engine=engine)[0]
    except (GeometryError, PipelineError):
        return
    together, _ = banded(steps, image, band_rows, has_alpha=has_alpha, engine=engine)
    assert together.dtype == whole.dtype
    assert together.shape == whole.shape
    assert np.array_equal(together, whole, equal_nan=True)


# --- strategies -------------------------------------------------------------------------------------

pairs = st.tuples(st.integers(1, 3), st.integers(1, 3))


@st.composite
def conv_options(draw):
    options = {"kernel": draw(st.sampled_from(["box3", "1 2; 3 4", "1 0 -1", "gaussian:sigma=1", "1;2;-1;3",
                                               "1 2 3; 4 5 6; 7 8 9; 1 1 1", "laplacian"])),
               "stride": list(draw(pairs)), "dilation": list(draw(pairs)),
               "correlate": draw(st.booleans())}
    boundary = draw(st.sampled_from(BOUNDARIES))
    options["boundary"] = boundary
    if boundary == "constant":
        options["cval"] = draw(st.sampled_from([0.0, 3.0, 0.5]))
    if draw(st.booleans()):
        options["padding"] = list(draw(st.tuples(*[st.integers(0, 4)] * 4)))
    else:
        options["mode"] = draw(st.sampled_from(["same", "valid", "full"]))
    return options


@st.composite
def pool_options(draw):
    options = {"op": draw(st.sampled_from(["max", "avg", "min", "sum", "median"])),
               "size": list(draw(pairs)), "stride": list(draw(pairs))}
    choice = draw(st.sampled_from(["valid", "same", "padding", "ceil"]))
    if choice == "same":
        options["mode"] = "same"
    elif choice == "padding":
        options["padding"] = [draw(st.integers(0, side // 2)) for side in options["size"] for _ in (0, 1)]
    elif choice == "ceil":
        options["ceil"] = True
        if draw(st.booleans()):
            options["padding"] = [draw(st.integers(0, side // 2)) for side in options["size"] for _ in (0, 1)]
    if options["op"] == "avg" and "padding" in options:
        options["count_include_pad"] = draw(st.booleans())
    return options


@st.composite
def one_step(draw, alpha=False):
    kind = draw(st.sampled_from(["filter", "sobel", "pool", "upsample", "zero_pad", "crop", "rescale", "gray"]
                                + ([] if alpha else [ "activation", "batch_norm"])))
    if kind == "filter":
        return "filter", draw(conv_options())
    if kind == "sobel":
        options = draw(conv_options())
        del options["kernel"]
        # x and y: magnitude and direction run whole (and OpenCV's magnitude is not repeatable)
        options["component"] = draw(st.sampled_from(["x", "y"]))
        if draw(st.booleans()):
            options["threshold"] = 2.0
        return "sobel", options
    if kind == "pool":
        return "pool", draw(pool_options())
    if kind == "upsample":
        method = draw(st.sampled_from(["nearest", "zeros", "transpose", "bilinear"]))
        options = {"method": method, "factor": list(draw(pairs))}
        if method == "transpose":
            options["kernel"] = draw(st.sampled_from(["box3", "1 2; 3 4", "1;2;3;4", "1", "1 0 2"]))
            options["padding"] = list(draw(st.tuples(*[st.integers(0, 2)] * 4)))
            options["output_padding"] = [draw(st.integers(0, side - 1)) for side in options["factor"]]
        return "upsample", options
    if kind == "zero_pad":
        return "zero_pad", {"padding": list(draw(st.tuples(*[st.integers(0, 3)] * 4)))}
    if kind == "crop":
        return "crop", {"cropping": [draw(st.integers(0, 1)) for _ in range(4)]}
    if kind == "rescale":
        return "rescale", {"scale": 0.5, "offset": 1.0}
    if kind == "gray":
        return "gray", {}
    if kind == "activation":
        return "activation", {"function": draw(st.sampled_from(["relu", "sigmoid", "tanh", "softmax"]))}
    if kind == "batch_norm":
        return "batch_norm", {"moving_mean": 1.0, "moving_variance": 4.0}
    options = {"kernel_size": list(draw(pairs)), "stride": list(draw(pairs)), "dilation": list(draw(pairs)),
               "padding": draw(st.sampled_from(["valid", "same", [1, 0, 2, 1]])),
               "boundary": draw(st.sampled_from(BOUNDARIES)), "seed": 3}
    if kind == "conv2d":
        options["filters"] = draw(st.integers(1, 3))
    else:
        options["depth_multiplier"] = draw(st.integers(1, 2))
    return kind, options


def build(specs):
    steps = []
    for index, (op, options) in enumerate(specs):
        try:
            steps.append(parse_step(op, options, index=index))
        except (PipelineError, ValueError):
            return None
    return steps


def image_of(draw, *, channels, dtype):
    height, width = draw(st.integers(1, 14)), draw(st.integers(1, 9))
    seed = draw(st.integers(0, 2**16))
    shape = (height, width) + ((channels,) if channels else ())
    values = np.random.default_rng(seed).uniform(-50, 250, shape)
    return values.astype(dtype) if dtype != "uint8" else np.clip(values, 0, 255).astype(np.uint8)


# --- byte-identical ---------------------------------------------------------------------------------


@settings(max_examples=budget(600), suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(st.data())
def test_one_step_in_bands_is_the_whole_run(data):
    spec = data.draw(one_step())
    steps = build([spec])
    if steps is None:
        return
    dtype = data.draw(st.sampled_from(["uint8", "float32", "float64"]))
    channels = data.draw(st.sampled_from([0, 1, 3]))
    image = image_of(data.draw, channels=channels, dtype=dtype)
    same_as_whole(steps, image, data.draw(st.integers(1, 8)), engine=data.draw(st.sampled_from(["auto", "scipy"])))


@settings(max_examples=budget(400), suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(st.data())
def test_chains_in_bands_are_the_whole_run(data):
    specs = data.draw(st.lists(one_step(), min_size=2, max_size=3))
    steps = build(specs)
    if steps is None:
        return
    image = image_of(data.draw, channels=data.draw(st.sampled_from([0, 3])),
                     dtype=data.draw(st.sampled_from(["uint8", "float32"])))
    same_as_whole(steps, image, data.draw(st.sampled_from([1, 2, 3, 5, 7, 16])))


@settings(max_examples=budget(300), suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(st.data())
def test_alpha_in_bands_is_the_whole_run(data):
    specs = data.draw(st.lists(one_step(alpha=True), min_size=1, max_size=2))
    steps = build(specs)
    if steps is None:
        return
    image = image_of(data.draw, channels=data.draw(st.sampled_from([2, 4])), dtype="uint8")
    same_as_whole(steps, image, data.draw(st.integers(1, 7)), has_alpha=True)


@pytest.mark.parametrize("engine", ["opencv", "scipy"])
@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_every_band_edge_offset(engine, boundary):
    """Band heights 1 to 7 put band edges at every offset of a stride-2 dilated filter's windows."""
    steps = [parse_step("filter", {"kernel": "1 2 3; 4 5 6; 7 8 9", "stride": 2, "dilation": [2, 1],
                                   "boundary": boundary, "mode": "full"}),
             parse_step("filter", {"kernel": "box3", "boundary": boundary})]
    image = np.random.default_rng(1).uniform(0, 255, (23, 11)).astype(np.float32)
    for band_rows in range(1, 8):
        same_as_whole(steps, image, band_rows, engine=engine)


def test_large_separable_kernels_in_bands():
    """Rank-1 kernels of 5×5 and more are OpenCV's two 1-D passes (never its FFT): they run in bands."""
    image = np.random.default_rng(3).integers(0, 256, (40, 30), dtype=np.uint8)
    for kernel in ("box5", "gaussian:sigma=2", "box:9"):
        for boundary in ("zero", "reflect"):
            steps = [parse_step("filter", {"kernel": kernel, "boundary": boundary})]
            assert whole_reason(steps, plan(steps, image.shape)) is None
            for band_rows in (1, 7):
                same_as_whole(steps, image, band_rows)


@pytest.mark.parametrize("kernel", ["1 2 3; 4 5 6; 7 8 9", "1;2", "5"])
@pytest.mark.parametrize("factor", [1, 2, 3])
def test_transpose_upsampling_at_every_band_edge(kernel, factor):
    """Stamps that overlap (kernel taller than the factor), meet, and leave zero rows between them."""
    image = np.random.default_rng(2).uniform(-9, 9, (9, 5)).astype(np.float32)
    for padding, output_padding in (((0, 0, 0, 0), (0, 0)), ((1, 2, 0, 1), (factor - 1, 0))):
        steps = [parse_step("upsample", {"method": "transpose", "factor": factor, "kernel": kernel,
                                         "padding": list(padding), "output_padding": list(output_padding)})]
        for band_rows in range(1, 8):
            same_as_whole(steps, image, band_rows)


@pytest.mark.parametrize("factor", [1, 2, 4, 8])
def test_bilinear_by_powers_of_two_at_every_band_edge(factor):
    image = np.random.default_rng(4).uniform(-9, 9, (11, 4, 2)).astype(np.float32)
    steps = [parse_step("upsample", {"method": "bilinear", "factor": [factor, 3]})]
    assert whole_reason(steps, plan(steps, image.shape)) is None
    for band_rows in (*range(1, 8), 13, 40):
        same_as_whole(steps, image, band_rows)
        same_as_whole(steps, image.astype(np.float64), band_rows)


def test_bilinear_rows_counted_by_hand():
    # factor 2: output row r reads input rows ⌊max((r + ½)/2 − ½, 0)⌋ and the next; rows 4…5 read 1…3
    steps = [parse_step("upsample", {"method": "bilinear", "factor": 2})]
    need = band_plan(steps, (6, 3), band_rows=2).bands[2].need
    assert (need.rows.first, need.rows.stop, need.rows.out_first) == (1, 4, 2)


def test_transpose_rows_counted_by_hand():
    # factor 2, kernel 3 rows: output rows 4…5 are stamped by inputs 1 (rows 2…4) and 2 (rows 4…6)
    steps = [parse_step("upsample", {"method": "transpose", "factor": 2, "kernel": "1;2;3"})]
    need = band_plan(steps, (5, 3), band_rows=2).bands[2].need
    assert (need.rows.first, need.rows.stop, need.rows.out_first) == (1, 3, 2)


# --- which rows -------------------------------------------------------------------------------------


def test_rows_of_a_strided_filter_counted_by_hand():
    # 3 taps, stride 2, same: padding 1 above; output rows 2…3 read input rows 3…7, and the band starts one
    # stride early (at row 2) so that the step pads it as it pads the image; its first output is dropped.
    steps = [parse_step("filter", {"kernel": "1;2;1", "stride": [2, 1]})]
    need = band_plan(steps, (10, 4), band_rows=2).bands[1].need
    assert (need.rows.first, need.rows.stop, need.rows.out_first) == (2, 8, 1)
    assert need.ranges == [(2, 8)]


def test_zero_boundary_reads_no_row_past_the_edge_and_wrap_reads_the_far_edge():
    zero = [parse_step("filter", {"kernel": "box5"})]
    assert band_plan(zero, (9, 9), band_rows=3).bands[0].input_ranges() == [(0, 5)]
    wrap = [parse_step("filter", {"kernel": "box5", "boundary": "wrap"})]
    assert band_plan(wrap, (9, 9), band_rows=3).bands[0].input_ranges() == [(0, 5), (7, 9)]
    reflect = [parse_step("filter", {"kernel": "box5", "boundary": "reflect"})]
    assert band_plan(reflect, (9, 9), band_rows=3).bands[2].input_ranges() == [(4, 9)]


def test_upsample_and_pool_rows():
    steps = [parse_step("upsample", {"factor": 3}), parse_step("pool", {"size": 2})]
    # pool output rows 2…3 need upsampled rows 4…7, which are input rows 1…2
    need = band_plan(steps, (4, 4), band_rows=2).bands[1].need
    assert need.ranges == [(4, 8)] and need.sources[0].ranges == [(1, 3)]


def test_the_kinds_that_run_whole():
    whole = {
        "global pool": "steps: [{pool: {op: avg, global: true}}]",
        "max-unpool": "steps: [{pool: {op: max, size: 2}}, {upsample: {method: max-unpool}}]",
        "bilinear by 3": "steps: [{upsample: {method: bilinear, factor: 3}}]",
        "conv2d_transpose": "steps: [{conv2d_transpose: {filters: 1, kernel_size: 3, stride: 2, seed: 1}}]",
        "conv2d": "steps: [{conv2d: {filters: 2, kernel_size: 3, seed: 1}}]",
        "depthwise_conv2d": "steps: [{depthwise_conv2d: {kernel_size: 3, seed: 1}}]",
        "sobel blur": "steps: [{sobel: {blur: 1.0, component: x}}]",
        "bank of shapes": "steps: [{filter: {kernels: [box3, box5]}}]",
        "FFT-sized kernel": "steps: [{filter: {kernel: '" + "; ".join(["1 2 3 4 5 6 7 8"] * 6 + ["8 1 2 3 4 5 6 7"]) + "'}}]",
    }
    for what, text in whole.items():
        steps = parse_pipeline(text, path="p.yaml")
        assert whole_reason(steps, plan(steps, (8, 8))) is not None, what
        image = np.arange(64.0).reshape(8, 8)
        together, reads = banded(steps, image, 3)
        assert reads == [(0, 8)], what
        assert np.array_equal(together, run(steps, image)[0]), what


def test_an_overflow_in_a_band_is_the_whole_run_s_error():
    steps = parse_pipeline("steps: [{filter: {kernel: '1e308 1e308'}}, {pool: {size: 2}}]", path="big.yaml")
    image = np.ones((6, 6))
    with pytest.raises(NonFiniteError, match=r"big.yaml:1: step 1 \(filter\): float64 overflowed"):
        run(steps, image)
    with pytest.raises(NonFiniteError, match=r"big.yaml:1: step 1 \(filter\): float64 overflowed"):
        banded(steps, image, 2)


def test_bad_band_rows_and_a_bad_reader():
    steps = [parse_step("filter", {"kernel": "box3"})]
    for component in ("magnitude", "direction"):
        steps = [parse_step("sobel", {"component": component})]
        assert whole_reason(steps, plan(steps, (8, 8))) is not None
    steps = [parse_step("filter", {"kernel": "box3"})]
    with pytest.raises(ValueError, match="`band_rows` must be a whole number >= 1"):
        band_plan(steps, (4, 4), band_rows=0)
    with pytest.raises(ValueError, match=r"`read_rows\(0, 2\)` must give an array of shape \(2, 4\)"):
        list(run_banded(steps, lambda first, stop: np.zeros((1, 4)), (4, 4), band_rows=1))
