"""convcli.steps: a toy step kind added through the recipe of docs/architecture.md (a module that
declares it, and the registry line) is read, checked, planned and run by the pipeline, gets its
JSON Schema and its command-line options, with no other change anywhere.

The toy multiplies by a factor; its numbers are checked against NumPy.
"""

import click
import numpy as np
import pytest
from click.testing import CliRunner

from convcli import steps
from convcli.cli.options import pop_step_options, step_option
from convcli.memory import estimate_memory
from convcli.pipeline import PipelineError, parse_pipeline, parse_step, run
from convcli.steps.base import Choice, Number, Option, RuleError, StepKind


def _plan(step, state, planning):
    return state.shape, {"op": "scale", "in_shape": list(state.shape), "out_shape": list(state.shape),
                         "receptive_field": list(state.receptive_field), "jump": list(state.jump),
                         "receptive_field_start": list(state.receptive_field_start)}


def _run(step, array, running):
    sign = 1 if step.options["sign"] == "plus" else -1
    return array * (sign * step.options["factor"])


def _rules(options, say):
    if options.get("factor") == 0 and "sign" in options:
        raise RuleError(f"{say('sign')} means nothing with {say('factor', '0')}", option="sign")


TOY = StepKind(
    name="scale",
    summary="Multiply by a factor.",
    options=(Option("factor", Number(), 1.0, "What to multiply by."),
             Option("sign", Choice(("plus", "minus")), "plus", "Keep or flip the sign.")),
    plan=_plan, run=_run, rules=_rules,
    memory=lambda step, record, sizes: 10 * sizes.result,  # a toy that needs ten results' worth
    schema_rules={"not": {"required": ["factor", "sign"], "properties": {"factor": {"const": 0}}}},
)


@pytest.fixture
def toy(monkeypatch):
    monkeypatch.setitem(steps.KINDS, "scale", TOY)  # the registry line of the recipe
    return TOY


def test_a_new_kind_is_read_planned_and_run_in_a_chain(toy):
    chain = parse_pipeline("steps:\n  - scale: {factor: 2.5, sign: minus}\n  - pool: {op: max, size: 2}\n",
                           path="toy.yaml")
    image = np.arange(16, dtype=np.float64).reshape(4, 4)
    result, planned, _ = run(chain, image)
    expected = (-2.5 * image).reshape(2, 2, 2, 2).max(axis=(1, 3))
    np.testing.assert_array_equal(result, expected)
    assert [record["op"] for record in planned.steps] == ["scale", "pool"]
    assert planned.shape == (2, 2)


def test_its_declared_defaults_fill_in_and_say_what_was_not_given(toy):
    step = parse_step("scale", {"factor": 3})
    assert step.options == {"factor": 3.0, "sign": "plus"}
    assert step.defaulted == {"sign"}
    bare = parse_pipeline("steps: [scale]", path="bare.yaml")[0]  # no option is needed
    assert bare.options == {"factor": 1.0, "sign": "plus"}


@pytest.mark.parametrize(("text", "line", "message"), [
    ("steps:\n  - scale:\n      factor: 0\n      sign: minus\n", 4, "`sign` means nothing with `factor: 0`"),
    ("steps:\n  - scale: {sign: minnus}\n", 2, "`sign` must be one of plus, minus, got 'minnus'; did you mean 'minus'?"),
    ("steps:\n  - scale: {facter: 2}\n", 2, "unknown option 'facter' for scale; did you mean 'factor'?"),
    ("steps:\n  - scale: {factor: .inf}\n", 2, "`factor` must be a finite number"),
])
def test_its_mistakes_name_the_file_and_line(toy, text, line, message):
    with pytest.raises(PipelineError) as caught:
        parse_pipeline(text, path="toy.yaml")
    assert caught.value.path == "toy.yaml" and caught.value.line == line
    assert message in str(caught.value)


def test_its_json_schema_comes_from_the_declaration(toy):
    jsonschema = pytest.importorskip("jsonschema")
    from convcli.steps.schema import pipeline_schema

    schema = pipeline_schema()
    declared = schema["$defs"]["scale"]
    assert declared["properties"]["sign"] == {"enum": ["plus", "minus"], "description": "Keep or flip the sign."}
    assert declared["properties"]["factor"]["type"] == "number"
    assert "scale" in schema["$defs"]["step"]["oneOf"][0]["enum"]  # written bare: needs no option
    validator = jsonschema.Draft202012Validator(schema)
    assert validator.is_valid({"steps": [{"scale": {"factor": 2}}], "name": "x"})
    assert validator.is_valid({"steps": ["scale"]})
    assert not validator.is_valid({"steps": [{"scale": {"factor": 0, "sign": "minus"}}]})  # the rule
    assert not validator.is_valid({"steps": [{"scale": {"sign": "up"}}]})


def test_its_command_line_options_come_from_the_declaration(toy):
    seen = {}

    @click.command()
    @step_option("scale", "factor")
    @step_option("scale", "sign")
    def command(**params):
        seen.update(pop_step_options(params, "scale"))

    runner = CliRunner()
    shown = runner.invoke(command, ["--help"])
    assert "--sign [plus|minus]" in shown.output and "Keep or flip the sign." in shown.output
    assert "[default: plus]" in shown.output
    assert runner.invoke(command, ["--factor", "2"]).exit_code == 0
    assert seen == {"factor": 2.0}  # only what was given: the step holds its defaults
    mistyped = runner.invoke(command, ["--sign", "minnus"])
    assert mistyped.exit_code == 2 and "did you mean 'minus'?" in mistyped.output


def test_its_memory_counts_in_the_estimate(toy):
    from convcli.memory import MEMORY_MARGIN, MEMORY_OVERHEAD

    estimate = estimate_memory([[parse_step("scale", {"factor": 2})]], (1000, 1000), "float64")
    # at the step: the float64 input (8 MB) and the toy's ten results (80 MB), the busiest moment
    assert estimate.where == "step 1 (scale)"
    assert estimate.bytes == int((8_000_000 + 80_000_000) * MEMORY_MARGIN + MEMORY_OVERHEAD)
