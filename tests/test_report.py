"""convcli.report: where a receptive field starts, in the human summary of a pipeline and in the
layer table (the numbers themselves are checked against index maps in test_pipeline.py)."""

from convcli.pipeline import parse_step, plan
from convcli.report import build_report, carry_field, file_entry, layer_table, start_text, summary_lines


def test_start_text_writes_a_minus_sign_and_fractions():
    assert start_text([0, 0]) == "(0, 0)"
    assert start_text([-3, 2]) == "(−3, 2)"
    assert start_text([-0.5, -3.25]) == "(−0.5, −3.25)"


def test_carry_field_moves_the_start_by_first_jumps():
    previous = {"receptive_field": [4, 4], "jump": [2, 2], "receptive_field_start": [-1, 0]}
    # a 3-tap window padded 1 (2) before, stride 2: start −1 − 1·2 = −3 (0 − 2·2 = −4), size 4 + 2·2 = 8
    assert carry_field(previous, taps=(3, 3), stride=(2, 2), first=(-1, -2)) == {
        "receptive_field": [8, 8], "jump": [4, 4], "receptive_field_start": [-3, -4]}
    # a step that keeps pixels where they are keeps all three
    assert carry_field(previous) == previous


def test_pipeline_summary_says_where_the_field_starts():
    steps = [parse_step("filter", {"kernel": "box3", "padding": 1}), parse_step("pool", {"op": "max", "size": 2}),
             parse_step("filter", {"kernel": "box3", "padding": 1})]
    planned = plan(steps, (16, 16))
    entry = file_entry(input="a.png", output="b.png", input_shape=(16, 16), input_dtype="uint8",
                       output_shape=planned.shape, output_dtype="uint8", steps=planned.steps)
    lines = summary_lines(build_report("pipeline", [entry]))
    fields = [line.strip() for line in lines if line.strip().startswith("receptive field")]
    # box3 padded 1 starts one pixel before the image; the second, one pool output (2 pixels) further
    assert fields == ["receptive field 3×3, jump 1×1, from (−1, −1)",
                      "receptive field 4×4, jump 2×2, from (−1, −1)",
                      "receptive field 8×8, jump 2×2, from (−3, −3)"]
    # other commands show no receptive field lines
    assert not any("receptive field" in line for line in summary_lines(build_report("filter", [entry])))


def test_layer_table_has_an_rf_start_column():
    steps = [parse_step("conv2d", {"filters": 2, "kernel_size": 3, "strides": 2, "padding": "same"})]
    lines = layer_table(plan(steps, (9, 9)).steps, input_shape=(9, 9))
    header = lines[0]
    assert header.endswith("Jump  RF start")
    column = header.index("RF start")
    # `same` for 9 with kernel 3, stride 2: P = (5 − 1)·2 + 3 − 9 = 2, 1 before
    assert [line[column:] for line in lines[1:3]] == ["(0, 0)", "(−1, −1)"]


def test_the_summary_key_equals_where_json_writes_the_same():
    """The summary lists one entry per distinct (input shape, steps): the key it compares is equal
    exactly when json.dumps(..., sort_keys=True) writes the same text (the reference)."""
    import json

    from convcli.report import _canonical

    values = [1, 1.0, True, None, "1", float("nan"), float("inf"), [1, 2], (1, 2), [2, 1], {"a": 1, "b": [1]},
              {"b": (1,), "a": 1}, {"a": True, "b": [1]}, [[], {}], [(), {}], {"1": 0}, {1: 0}]
    for left in values:
        for right in values:
            same_json = json.dumps(left, sort_keys=True) == json.dumps(right, sort_keys=True)
            assert (_canonical(left) == _canonical(right)) == same_json, (left, right)
            hash(_canonical(left))
