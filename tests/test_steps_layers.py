"""The CNN layer step kinds (conv2d, depthwise_conv2d, activation, rescale, zero_pad, crop, batch_norm):
options, rules, planned shapes and parameter counts against Keras's and PyTorch's formulas worked by
hand, and the Keras-like layer table."""

import numpy as np
import pytest

from helpers import assert_pipeline_mistake

from convcli.pipeline import PipelineError, parse_step, plan, run
from convcli.report import layer_table


def planned(op, options, shape, **kwargs):
    return plan([parse_step(op, options)], shape, **kwargs).steps[0]


# --- conv2d: shapes and parameters ----------------------------------------------------------------


def test_lecture_conv2d_16_filters_5x5_stride_5_without_bias():
    # Conv2D(filters=16, kernel_size=(5, 5), strides=5, use_bias=False) on 1920×1080×3:
    # ⌊(1920 − 5)/5⌋ + 1 = 384, ⌊(1080 − 5)/5⌋ + 1 = 216; 5·5·3·16 = 1,200 weights.
    record = planned("conv2d", {"filters": 16, "kernel_size": [5, 5], "strides": 5}, (1920, 1080, 3))
    assert record["out_shape"] == [384, 216, 16]
    assert record["params"] == 1200
    assert record["macs"] == 384 * 216 * 16 * 5 * 5 * 3


def test_use_bias_adds_one_parameter_per_filter():
    record = planned("conv2d", {"filters": 16, "kernel_size": 3, "use_bias": True, "padding": "same"}, (28, 28))
    assert record["out_shape"] == [28, 28, 16]
    assert record["params"] == 3 * 3 * 1 * 16 + 16  # Keras: 160 for Conv2D(16, 3) on one channel


@pytest.mark.parametrize("n,k,s,d,before,after,out", [
    (28, 3, 1, 1, 1, 1, 28),   # stride 1: P = 2, split 1 + 1
    (28, 3, 2, 1, 0, 1, 14),   # ⌈28/2⌉ = 14; P = 13·2 + 3 − 28 = 1, the odd pixel after (TensorFlow)
    (7, 4, 1, 1, 1, 2, 7),     # even kernel: P = 3, 1 before, 2 after
    (10, 3, 3, 2, 2, 2, 4),    # dilation 2: e = 5; ⌈10/3⌉ = 4; P = 3·3 + 5 − 10 = 4
])
def test_same_padding_is_keras_rule(n, k, s, d, before, after, out):
    record = planned("conv2d", {"filters": 1, "kernel_size": k, "stride": s, "dilation_rate": d, "padding": "same"},
                     (n, n))
    assert record["padding"] == [[before, after], [before, after]]
    assert record["out_shape"][:2] == [out, out]


def test_explicit_padding_amounts_are_torch_padding():
    # torch conv2d(padding=(1, 2)): ⌊(10 + 2 − 3)/2⌋ + 1 = 5 rows, ⌊(9 + 4 − 3)/2⌋ + 1 = 6 cols
    record = planned("conv2d", {"filters": 2, "kernel_size": 3, "stride": 2, "padding": [1, 2]}, (10, 9, 3))
    assert record["padding"] == [[1, 1], [2, 2]]
    assert record["out_shape"] == [5, 6, 2]


def test_given_weights_set_the_shape_in_either_layout():
    hwio = np.zeros((3, 2, 4, 6), np.float32)
    record = planned("conv2d", {"weights": hwio}, (9, 9, 4))
    assert record["out_shape"] == [7, 8, 6] and record["weights_shape"] == [3, 2, 4, 6]
    oihw = np.zeros((6, 4, 3, 2), np.float32)
    assert planned("conv2d", {"weights": oihw, "layout": "oihw"}, (9, 9, 4))["weights_shape"] == [3, 2, 4, 6]


def test_groups_take_a_share_of_the_input_channels():
    # torch: Conv2d(6, 4, 3, groups=2) has weight (4, 3, 3, 3): 4·3·3·3 = 108 parameters
    record = planned("conv2d", {"weights": np.zeros((4, 3, 3, 3)), "layout": "oihw", "groups": 2}, (8, 8, 6))
    assert record["params"] == 108 and record["out_shape"] == [6, 6, 4]


@pytest.mark.parametrize("options,shape,message", [
    ({"weights": np.zeros((3, 3, 2, 4))}, (8, 8, 3), "take 2 input channels per group"),
    ({"weights": np.zeros((3, 3, 2, 4)), "groups": 2}, (8, 8, 3), "must divide both the 3 input"),
    ({"weights": np.zeros((3, 3, 1, 3)), "groups": 2}, (8, 8, 2), "and the 3 output channels"),
    ({"filters": 2, "kernel_size": 5}, (3, 3), "no output"),
    ({"filters": 2, "kernel_size": 3, "bias": [1.0, 2.0, 3.0]}, (8, 8), "`bias` holds 3 numbers for 2"),
])
def test_plan_refuses_what_the_input_cannot_take(options, shape, message):
    with pytest.raises((PipelineError, ValueError), match=message):
        plan([parse_step("conv2d", options)], shape)


def test_alpha_is_refused_by_layers():
    with pytest.raises(PipelineError, match="alpha is not one"):
        plan([parse_step("conv2d", {"filters": 2, "kernel_size": 3})], (8, 8, 4), has_alpha=True)


@pytest.mark.parametrize("text,line,message", [
    ("steps:\n  - conv2d: {padding: same}\n", 2, "give `filters: N` and `kernel_size: N`"),
    ("steps:\n  - conv2d: {weights: he_normal, filters: 4}\n", 2, "give `kernel_size: N`"),
    ("steps:\n  - conv2d: {filters: 4, kernel_size: 3, stride: 2, strides: 2}\n", 2, "another name for `stride`"),
    ("steps:\n  - conv2d: {filters: 4, kernel_size: 3, padding: sme}\n", 2, "did you mean 'same'"),
    ("steps:\n  - conv2d: {filters: 4, kernel_size: 3, alpha: 0.1}\n", 2, "`alpha` is the slope"),
    ("steps:\n  - conv2d: {filters: 4, kernel_size: 3, cval: 1}\n", 2, "`cval` needs `boundary: constant`"),
    ("steps:\n  - conv2d: {filters: 0, kernel_size: 3}\n", 2, "`filters` must be >= 1"),
    ("steps:\n  - conv2d: {filters: 2.5, kernel_size: 3}\n", 2, "`filters` must be a whole number"),
    ("steps:\n  - conv2d: {weights: [[1, 2], [3]]}\n", 2, "`weights` must be numbers"),
    ("steps:\n  - conv2d: {weights: [[[[1, .inf]]]]}\n", 2, "NaN or inf"),
    ("steps:\n  - conv2d: {weights: [[1, 2], [3, 4]]}\n", 2, "must have 4 axes"),
    ("steps:\n  - conv2d: {weights: [[[[1, 2]]]], filters: 3}\n", 2, "`filters` is 3 but the weights hold 2"),
    ("steps:\n  - conv2d: {filters: 2, kernel_size: 3, bias: [[1, 2]]}\n", 2, "one number per output channel"),
    ("steps:\n  - conv2d: {filters: 2, kernel_size: 3, activation: relu6}\n", 2, "`activation` must be one of"),
    ("steps:\n  - activation: {function: relu, alpha: 0.2}\n", 2, "`alpha` is the slope"),
    ("steps:\n  - batch_norm: {moving_mean: [0]}\n", 2, "give `moving_variance"),
    ("steps:\n  - batch_norm: {moving_mean: [0], moving_variance: [-1]}\n", 2, "cannot be negative"),
    ("steps:\n  - depthwise_conv2d: {padding: same}\n", 2, "give `kernel_size: N`"),
])
def test_layer_mistakes_name_file_line_and_fix(text, line, message):
    assert_pipeline_mistake(text, line, message)


def test_weights_file_is_found_beside_the_pipeline(tmp_path):
    weights = np.arange(2 * 2 * 1 * 3, dtype=np.float32).reshape(2, 2, 1, 3)
    np.save(tmp_path / "w.npy", weights)
    (tmp_path / "net.yaml").write_text("steps:\n  - conv2d: {weights: w.npy}\n")
    from convcli.pipeline import load_pipeline

    step = load_pipeline(str(tmp_path / "net.yaml"))[0]
    np.testing.assert_array_equal(step.options["weights"], weights)


# --- depthwise, and the layers that keep the geometry ----------------------------------------------


def test_depthwise_multiplies_the_channels():
    # DepthwiseConv2D((3, 3), depth_multiplier=2) on 3 channels: 3·3·3·2 = 54 weights + 6 biases
    record = planned("depthwise_conv2d", {"kernel_size": 3, "depth_multiplier": 2, "use_bias": True}, (10, 10, 3))
    assert record["out_shape"] == [8, 8, 6] and record["params"] == 60


def test_zero_pad_and_crop_change_the_shape_by_the_amounts():
    assert planned("zero_pad", {"padding": [1, 2]}, (5, 6, 3))["out_shape"] == [7, 10, 3]
    assert planned("zero_pad", {}, (5, 6))["out_shape"] == [7, 8]  # Keras's default: 1 on every side
    assert planned("crop", {"cropping": [1, 0, 2, 1]}, (5, 6, 3))["out_shape"] == [4, 3, 3]
    with pytest.raises(PipelineError, match="leaves nothing"):
        plan([parse_step("crop", {"cropping": 3})], (5, 6))


def test_batch_norm_counts_the_arrays_it_holds():
    per_channel = [0.0, 1.0]
    full = {"gamma": per_channel, "beta": per_channel, "moving_mean": per_channel, "moving_variance": [1.0, 2.0]}
    assert planned("batch_norm", full, (4, 4, 2))["params"] == 8  # Keras: 4·C
    assert planned("batch_norm", {"moving_mean": per_channel, "moving_variance": [1.0, 2.0]}, (4, 4, 2))["params"] == 4
    with pytest.raises(PipelineError, match="holds 2 numbers for 3 channels"):
        plan([parse_step("batch_norm", full)], (4, 4, 3))


def test_receptive_field_and_jump_through_layers():
    # conv 3×3 stride 1 → rf 3; max pool 2 → rf 4, jump 2; conv 3×3 → rf 4 + 2·2 = 8 (Araujo et al.)
    steps = [parse_step("conv2d", {"filters": 4, "kernel_size": 3, "padding": "same"}),
             parse_step("pool", {"op": "max", "size": 2}),
             parse_step("activation", {"function": "relu"}),
             parse_step("conv2d", {"filters": 4, "kernel_size": 3, "padding": "same"})]
    records = plan(steps, (28, 28)).steps
    assert [r["receptive_field"] for r in records] == [[3, 3], [4, 4], [4, 4], [8, 8]]
    assert records[-1]["jump"] == [2, 2]


def test_layer_table_is_keras_summary_with_receptive_fields():
    steps = [parse_step("conv2d", {"filters": 16, "kernel_size": 3, "padding": "same", "use_bias": True}),
             parse_step("pool", {"op": "max", "size": 2, "mode": "same"}),
             parse_step("conv2d", {"filters": 4, "kernel_size": 3, "padding": "same", "use_bias": True})]
    lines = layer_table(plan(steps, (28, 28)).steps, input_shape=(28, 28))
    assert lines[0].split() == ["Layer", "(type)", "Output", "Shape", "Param", "#", "Receptive", "field", "Jump",
                                "RF", "start"]
    assert lines[1].split() == ["input", "(None,", "28,", "28,", "1)", "0", "1×1", "1×1", "(0,", "0)"]
    # `same` pads 1 before a 3×3 window: output 0's field starts one pixel into the padding.
    assert lines[2].split() == ["conv2d_1", "(conv2d)", "(None,", "28,", "28,", "16)", "160", "3×3", "1×1",
                                "(−1,", "−1)"]
    assert lines[3].split() == ["pool_1", "(pool)", "(None,", "14,", "14,", "16)", "0", "4×4", "2×2",
                                "(−1,", "−1)"]
    # Keras: Conv2D(4, 3) on 16 channels: 3·3·16·4 + 4 = 580; its padding of 1 is one pool output,
    # two input pixels, before: −1 − 1·2 = −3 (and 4 + 2·2 = 8 pixels wide).
    assert lines[4].split() == ["conv2d_2", "(conv2d)", "(None,", "14,", "14,", "4)", "580", "8×8", "2×2",
                                "(−3,", "−3)"]
    assert lines[-1] == "Total params: 740"


def test_conv2d_transpose_field_starts_at_the_first_input_output_0_gathers():
    # out[i·s + a − before] += x[i]·k[a]. Rows: kernel 5, stride 2, padding 4: 2i + a = 4 for i = 0, 1, 2
    # (⌈(4 − 5 + 1)/2⌉ = 0, ⌈5/2⌉ = 3 taps). Columns: kernel 4, stride 2, padding 1: 2i + a = 1 for
    # i = 0 and −1, one column before the input (⌈(1 − 4 + 1)/2⌉ = −1, 2 taps).
    step = parse_step("conv2d_transpose", {"weights": np.ones((5, 4, 1, 1)).tolist(), "stride": 2,
                                           "padding": [4, 1]})
    record = plan([step], (9, 9)).steps[0]
    assert record["receptive_field_start"] == [0, -1]
    assert record["receptive_field"] == [3, 2] and record["jump"] == [0.5, 0.5]
    for axis, expected in ((0, [0, 1, 2]), (1, [0])):
        lit = []
        for index in range(9):
            image = np.zeros((9, 9, 1))
            image[(index, slice(None)) if axis == 0 else (slice(None), index)] = 1.0
            if run([step], image)[0][0, 0, 0] != 0:
                lit.append(index)
        assert lit == expected
