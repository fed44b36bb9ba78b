"""Keras models and PyTorch weights run as convcli steps, against the frameworks' own outputs and
model.summary() (the fixtures in tests/fixtures/frameworks/, made with Keras and PyTorch by
scripts/make_framework_fixtures.py; float32, rtol 1e-4)."""

import numpy as np
import pytest
from helpers_frameworks import (KERAS_MODELS, RTOL, TORCH_MODULES, fixture_arrays, fixture_input, fixture_output,
                                model_file, torch_config)

from convcli.models.steps import model_steps
from convcli.pipeline import PipelineError, load_pipeline, parse_step, plan, run
from convcli.report import layer_table

RUNNABLE = [name for name in KERAS_MODELS if name != "global_max_dense"]


def keras_shaped(result, want):
    """convcli's (H, W) for a one-channel map and (1, 1, C) after global pooling, as Keras's shapes."""
    if want.ndim == 1:
        return result.reshape(-1)
    return result[..., None] if result.ndim == 2 and want.ndim == 3 else result


@pytest.mark.parametrize("name", RUNNABLE)
def test_every_layer_equals_keras(name):
    steps, _ = model_steps(str(model_file(name)))
    image = fixture_input(name)
    for count in range(1, len(steps) + 1):
        result, _, _ = run(steps[:count], image)
        want = fixture_output(name, steps[count - 1].layer[0])
        got = keras_shaped(result, want)
        assert got.shape == want.shape, steps[count - 1].layer
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=1e-5, err_msg=str(steps[count - 1].layer))


@pytest.mark.parametrize("name", RUNNABLE)
def test_plan_and_table_equal_keras_summary(name):
    arrays = fixture_arrays(name)
    steps, input_shape = model_steps(str(model_file(name)))
    records = plan(steps, input_shape).steps
    for step, record in zip(steps, records):
        layer = step.layer[0]
        shape = record["out_shape"][2:] if record["op"] == "global_pool" else record["out_shape"]
        assert list(shape) == arrays[f"summary/{layer}/shape"].tolist(), layer
        assert record.get("params", 0) == int(arrays[f"summary/{layer}/params"]), layer
    table = layer_table(records, input_shape=input_shape)
    total = sum(int(arrays[key]) for key in arrays if key.endswith("/params"))
    assert table[-1] == f"Total params: {total:,}"
    for step, line in zip(steps, table[2:]):
        layer = step.layer[0]
        keras_shape = "(None, " + ", ".join(map(str, arrays[f"summary/{layer}/shape"].tolist())) + ")"
        assert line.startswith(f"{layer} ({step.layer[1]})") and keras_shape in line, line


def test_lecture_layer_fed_back_gives_the_four_maps():
    # notes 001: each output channel of Conv2D(2, (2, 2)) fed through the same layer again
    steps, _ = model_steps(str(model_file("lecture_conv")))
    arrays = fixture_arrays("lecture_conv")
    first, _, _ = run(steps, fixture_input("lecture_conv"))
    for channel in (0, 1):
        again, _, _ = run(steps, first[..., channel:channel + 1])
        np.testing.assert_allclose(again, arrays[f"again/{channel}"], rtol=RTOL, atol=1e-5)


def test_until_stops_after_the_named_layer_and_lets_later_layers_be_anything():
    steps, _ = model_steps(str(model_file("global_max_dense")), until="global_max")
    assert [step.layer[1] for step in steps][-1] == "GlobalMaxPooling2D"
    result, _, _ = run(steps, fixture_input("global_max_dense"))
    np.testing.assert_allclose(result.reshape(-1), fixture_output("global_max_dense", "global_max"), rtol=RTOL)
    with pytest.raises(Exception, match="'dense' \\(Dense"):
        model_steps(str(model_file("global_max_dense")))


def test_load_pipeline_reads_a_keras_file_and_until_only_there(tmp_path):
    steps = load_pipeline(str(model_file("autoencoder")), until="encode_pool")
    assert [step.op for step in steps] == ["conv2d", "pool"]
    (tmp_path / "p.yaml").write_text("steps:\n  - gray\n")
    with pytest.raises(PipelineError, match="`until` names a layer of a Keras model"):
        load_pipeline(str(tmp_path / "p.yaml"), until="x")


def test_a_layer_error_names_the_layer():
    steps, _ = model_steps(str(model_file("autoencoder")))
    with pytest.raises(PipelineError, match="layer 1 'encode_conv' \\(Conv2D\\): .*the image has 3 channels"):
        plan(steps, (28, 28, 3))


# --- PyTorch weights from a state_dict saved with safetensors ----------------------------------------


def torch_step(module):
    config = torch_config(module)
    spec = f"{model_file('torch_modules')}:{module}"
    options = {"weights": f"{spec}.weight", "stride": config["stride"], "dilation": config["dilation"],
               "groups": config["groups"], "padding": config["padding"]}
    if f"weight/{module}.bias" in fixture_arrays("torch_modules"):
        options["bias"] = f"{spec}.bias"
    if module.startswith("conv_transpose"):
        return parse_step("conv2d_transpose", dict(options, layout="iohw", output_padding=config["output_padding"]))
    return parse_step("conv2d", dict(options, layout="oihw"))


@pytest.mark.parametrize("module", TORCH_MODULES)
def test_torch_modules_from_safetensors_equal_torch(module):
    result, _, _ = run([torch_step(module)], fixture_input("torch_modules"))
    np.testing.assert_allclose(result, fixture_output("torch_modules", module), rtol=RTOL, atol=1e-5)
