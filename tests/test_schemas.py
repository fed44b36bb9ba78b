"""schemas/*.schema.json: valid JSON Schemas that say exactly what convcli accepts, and cannot drift.

Every pipeline and kernel file of the repository (and of the conformance kit, when present) must
validate; a table of snippets must get the same verdict from the schema and from convcli itself;
and the pipeline schema is made from the step kinds' declarations (scripts/gen_schemas.py), so its
options and choices equal ``convcli.pipeline.OPTIONS`` and ``CHOICES`` (checked too).
"""

import json
import re
from pathlib import Path

import pytest

from convcli.steps import KINDS

jsonschema = pytest.importorskip("jsonschema")

from convcli import yamlfile
from convcli.errors import ConvcliError
from convcli.kernels import parse_kernel_yaml
from convcli.kernels.files import YAML_KEYS
from convcli.ops.filter import BOUNDARIES, BOUNDARY_ALIASES
from convcli.pipeline import CHOICES, OPS, OPTIONS, parse_pipeline

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT / "schemas"
KIT_DATA = ROOT / "tests" / "conformance" / "data"


def _schema(name):
    return json.loads((SCHEMAS / f"{name}.schema.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def pipeline_validator():
    return jsonschema.Draft202012Validator(_schema("pipeline"))


@pytest.fixture(scope="module")
def kernel_validator():
    return jsonschema.Draft202012Validator(_schema("kernel"))


def _load(path):
    return yamlfile.load(Path(path).read_text(encoding="utf-8"), path=str(path))


def _errors(validator, instance):
    return [error.message for error in validator.iter_errors(instance)]


def _pipeline_files():
    files = sorted((ROOT / "examples").glob("*.yaml"))
    if KIT_DATA.is_dir():
        files += [path for path in sorted(KIT_DATA.glob("*.yaml")) if "steps" in (_load(path) or {})]
    return files


def _kernel_files():
    return sorted((ROOT / "kernels").glob("*.yaml")) + sorted((ROOT / "examples").glob("**/kernels/*.yaml"))


def test_pipeline_schema_is_made_from_the_step_declarations():
    from convcli.steps.schema import PIPELINE_SCHEMA, render_pipeline_schema

    assert (ROOT / PIPELINE_SCHEMA).read_text(encoding="utf-8") == render_pipeline_schema(), (
        "schemas/pipeline.schema.json is out of date: run `python scripts/gen_schemas.py`")


@pytest.mark.parametrize("name", ["pipeline", "kernel"])
def test_schemas_are_valid_draft_2020_12(name):
    schema = _schema(name)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    assert "yaml-language-server: $schema=" in schema["description"]  # says how editors use it


def test_there_are_files_to_check():
    assert len(_pipeline_files()) >= 3 and len(_kernel_files()) >= 15


@pytest.mark.parametrize("path", _pipeline_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_pipeline_validates(path, pipeline_validator):
    assert _errors(pipeline_validator, _load(path)) == []


@pytest.mark.parametrize("path", _kernel_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_kernel_file_validates(path, kernel_validator):
    assert _errors(kernel_validator, _load(path)) == []


@pytest.mark.parametrize("path", sorted((ROOT / "examples").glob("**/*.yaml")), ids=lambda p: p.name)
def test_examples_name_their_schema_for_editors(path):
    first = path.read_text(encoding="utf-8").splitlines()[0]
    match = re.fullmatch(r"# yaml-language-server: \$schema=(\S+)", first)
    assert match, f"{path.name} should start with '# yaml-language-server: $schema=...'"
    target = (path.parent / match.group(1)).resolve()
    kind = "kernel" if path.parent.name == "kernels" else "pipeline"
    assert target == SCHEMAS / f"{kind}.schema.json"


# --- schema and convcli agree ------------------------------------------------------------------------

VALID_PIPELINES = [
    "steps: [gray]",
    "steps: [sobel, gray]",
    "steps: [{gray: null}, {sobel: null}]",
    "name: n\ndescription: d\nsteps: [{gray: {save: 'g-{stem}.npy'}}]",
    "steps: [{filter: {kernel: box3}}]",
    "steps: [{filter: {kernel: '1 0 -1; 2 0 -2; 1 0 -1', correlate: true, normalize: false}}]",
    "steps: [{filter: {kernel: [[1, 2], [3, 4.5]], mode: full, boundary: reflect}}]",
    "steps: [{filter: {kernels: [mean2, edge2, 'gaussian:sigma=1.5', [[1]]], mode: valid}}]",
    "steps: [{filter: {kernel: box3, stride: '2,1', dilation: [2], mode: same}}]",
    "steps: [{filter: {kernel: box3, stride: '2x3', dilation: 2.0}}]",
    "steps: [{filter: {kernel: box3, padding: [0, 1, 1, 0]}}]",
    "steps: [{filter: {kernel: box3, padding: '1,2', mode: valid}}]",
    "steps: [{filter: {kernel: box3, boundary: fill, cval: 3}}]",
    "steps: [{filter: {kernel: box3, boundary: constant, cval: -0.5}}]",
    "steps: [{sobel: {operator: scharr, component: x, blur: 0.5, threshold: 10, boundary: replicate}}]",
    "steps: [{sobel: {component: direction, padding: 1, stride: 2}}]",
    "steps: [{pool: {op: avg, size: 2}}]",
    "steps: [{pool: {op: median, size: [3, 2], stride: 1, ceil: true, padding: 1}}]",
    "steps: [{pool: {size: 3, mode: same, ceil: false}}]",
    "steps: [{pool: {global: true, op: avg}}]",
    "steps: [{pool: {op: avg, size: 3, padding: 1, count_include_pad: true, ceil: true}}]",
    "steps: [{pool: {op: max, size: 2, count_include_pad: false}}]",
    "steps: [{pool: {op: avg, size: 2, mode: same, count-include-pad: true}}]",
    "steps: [{pool: {global: false, size: 2}}]",
    "steps: [{upsample: {factor: 2}}]",
    "steps: [{upsample: {method: bilinear, factor: '2,3'}}]",
    "steps: [{upsample: {method: transpose, factor: 2, kernel: box3, padding: 1, output-padding: 1}}]",
    "steps: [{upsample: {method: transpose, factor: [2, 1], kernel: [[1, 1]], output_padding: [1, 0]}}]",
    "steps: [{pool: {op: max, size: 2}}, {upsample: {method: max-unpool, save: 'u.npy'}}]",
]

INVALID_PIPELINES = [
    "",
    "[gray]",
    "name: x",
    "steps: []",
    "steps: gray",
    "steps: [gray]\nversion: 2",
    "steps: [blur]",
    "steps: [filter]",
    "steps: [pool]",
    "steps: [upsample]",
    "steps: [{filter: null}]",
    "steps: [{gray: 1}]",
    "steps: [{gray: {}, sobel: {}}]",
    "steps: [{gray: {mode: same}}]",
    "steps: [[gray]]",
    "steps: [{filter: {kernal: box3}}]",
    "steps: [{filter: {kernel: box3, mode: wide}}]",
    "steps: [{filter: {kernel: box3, boundary: mirror}}]",
    "steps: [{filter: {kernel: box3, boundary: 0}}]",
    "steps: [{filter: {kernel: box3, stride: 0}}]",
    "steps: [{filter: {kernel: box3, stride: 1.5}}]",
    "steps: [{filter: {kernel: box3, stride: '0'}}]",
    "steps: [{filter: {kernel: box3, stride: '2,1,1'}}]",
    "steps: [{filter: {kernel: box3, stride: [1, 1, 1]}}]",
    "steps: [{filter: {kernel: box3, stride: true}}]",
    "steps: [{filter: {kernel: box3, dilation: [0, 1]}}]",
    "steps: [{filter: {kernel: box3, padding: [1, 2, 3]}}]",
    "steps: [{filter: {kernel: box3, padding: -1}}]",
    "steps: [{filter: {kernel: box3, padding: '1;2'}}]",
    "steps: [{filter: {kernel: box3, padding: 1, mode: same}}]",
    "steps: [{filter: {kernel: box3, cval: 1}}]",
    "steps: [{filter: {kernel: box3, boundary: reflect, cval: 1}}]",
    "steps: [{filter: {kernel: box3, cval: x, boundary: constant}}]",
    "steps: [{filter: {kernel: box3, kernels: [box3]}}]",
    "steps: [{filter: {mode: valid}}]",
    "steps: [{filter: {kernels: []}}]",
    "steps: [{filter: {kernels: box3}}]",
    "steps: [{filter: {kernel: 5}}]",
    "steps: [{filter: {kernel: ''}}]",
    "steps: [{filter: {kernel: []}}]",
    "steps: [{filter: {kernel: [1, 2, 3]}}]",
    "steps: [{filter: {kernel: [[1, x]]}}]",
    "steps: [{filter: {kernel: [[true]]}}]",
    "steps: [{filter: {kernel: box3, correlate: 'yes'}}]",
    "steps: [{filter: {kernel: box3, normalize: 1}}]",
    "steps: [{filter: {kernel: box3, save: ''}}]",
    "steps: [{filter: {kernel: box3, save: 3}}]",
    "steps: [{sobel: {component: direction, threshold: 1}}]",
    "steps: [{sobel: {operator: canny}}]",
    "steps: [{sobel: {blur: 0}}]",
    "steps: [{sobel: {kernel: box3}}]",
    "steps: [{pool: {op: max}}]",
    "steps: [{pool: {op: mean, size: 2}}]",
    "steps: [{pool: {size: 2, mode: full}}]",
    "steps: [{pool: {global: true, size: 2}}]",
    "steps: [{pool: {global: true, ceil: false}}]",
    "steps: [{pool: {size: 2, ceil: true, mode: same}}]",
    "steps: [{pool: {size: 2, padding: 1, mode: same}}]",
    "steps: [{pool: {size: 2, boundary: zero}}]",
    "steps: [{pool: {size: 2, count_include_pad: true}}]",
    "steps: [{pool: {op: sum, size: 2, count_include_pad: true}}]",
    "steps: [{pool: {op: avg, global: true, count_include_pad: false}}]",
    "steps: [{pool: {op: avg, size: 2, count_include_pad: 1}}]",
    "steps: [{upsample: {method: nearest}}]",
    "steps: [{upsample: {method: cubic, factor: 2}}]",
    "steps: [{upsample: {factor: 2, kernel: box3}}]",
    "steps: [{upsample: {method: zeros, factor: 2, padding: 1}}]",
    "steps: [{upsample: {factor: 2, output-padding: 1}}]",
    "steps: [{upsample: {method: transpose, factor: 2}}]",
    "steps: [{upsample: {method: transpose, kernel: box3}}]",
    "steps: [{upsample: {method: transpose, kernel: box3, factor: 2, output_padding: -1}}]",
    "steps: [{pool: {op: max, size: 2}}, {upsample: {method: max-unpool, factor: 2}}]",
]


@pytest.mark.parametrize("text", VALID_PIPELINES)
def test_pipelines_convcli_accepts_validate(text, pipeline_validator):
    parse_pipeline(text, path="p.yaml")
    assert _errors(pipeline_validator, yamlfile.load(text, path="p.yaml")) == []


@pytest.mark.parametrize("text", INVALID_PIPELINES)
def test_pipelines_convcli_refuses_do_not_validate(text, pipeline_validator):
    with pytest.raises(ConvcliError):
        parse_pipeline(text, path="p.yaml")
    assert _errors(pipeline_validator, yamlfile.load(text, path="p.yaml"))


VALID_KERNELS = [
    "matrix: [[1]]",
    "name: k\nmatrix: [[1, 0, -1], [2, 0, -2]]",
    "name: k\ndescription: a kernel\nmatrix:\n  - [1, 2]\n  - [3, 4]\nscale: 0.5\nnormalize: true\ntags: [a, b]",
    "matrix: [[1e-3, -.5]]\ntags: []\nscale: 2",
]

INVALID_KERNELS = [
    "",
    "[[1, 2]]",
    "name: k",
    "matrix: [1, 2, 3]",
    "matrix: []",
    "matrix: [[]]",
    "matrix: [[1, a]]",
    "matrix: [[1, true]]",
    "matrix: '1 0 -1'",
    "matrix: [[1]]\nsize: 3",
    "matrix: [[1]]\nnormalize: 'yes'",
    "matrix: [[1]]\nscale: big",
    "matrix: [[1]]\ntags: edge",
    "matrix: [[1]]\ntags: [1]",
    "matrix: [[1]]\ndescription:",
    "matrix: [[1]]\nname: 5",
]


@pytest.mark.parametrize("text", VALID_KERNELS)
def test_kernels_convcli_accepts_validate(text, kernel_validator):
    parse_kernel_yaml(text, path="k.yaml")
    assert _errors(kernel_validator, yamlfile.load(text, path="k.yaml")) == []


@pytest.mark.parametrize("text", INVALID_KERNELS)
def test_kernels_convcli_refuses_do_not_validate(text, kernel_validator):
    with pytest.raises(ConvcliError):
        parse_kernel_yaml(text, path="k.yaml")
    assert _errors(kernel_validator, yamlfile.load(text, path="k.yaml"))


# --- no drift: the schema's names and choices are convcli's ------------------------------------------


def _resolve(schema, node):
    while "$ref" in node:
        node = schema["$defs"][node["$ref"].removeprefix("#/$defs/")]
    return node


def test_step_names_are_convcli_ops():
    schema = _schema("pipeline")
    bare, mapping = schema["$defs"]["step"]["oneOf"]
    assert tuple(mapping["properties"]) == OPS
    assert set(bare["enum"]) <= set(OPS)
    # A bare step is one that needs no option: exactly those convcli accepts without any.
    for op in OPS:
        try:
            parse_pipeline(f"steps: [{op}]", path="p.yaml")
        except ConvcliError:
            assert op not in bare["enum"]
        else:
            assert op in bare["enum"]


@pytest.mark.parametrize("op", OPS)
def test_step_options_equal_convcli_options(op):
    schema = _schema("pipeline")
    step = _resolve(schema, schema["$defs"]["step"]["oneOf"][1]["properties"][op])
    assert step["additionalProperties"] is False
    names = {name.replace("-", "_") for name in step["properties"]}
    assert names == {*OPTIONS[op], *KINDS[op].aliases, "save"}


@pytest.mark.parametrize("op", OPS)
def test_step_choices_equal_convcli_choices(op):
    schema = _schema("pipeline")
    step = _resolve(schema, schema["$defs"]["step"]["oneOf"][1]["properties"][op])
    for name, prop in step["properties"].items():
        prop = _resolve(schema, prop)
        if name == "boundary":
            assert set(prop["enum"]) == set(BOUNDARIES) | set(BOUNDARY_ALIASES)
        elif "enum" in prop:
            assert (op, name) in CHOICES, f"{op}.{name} has an enum in the schema but no CHOICES in convcli"
            assert tuple(prop["enum"]) == CHOICES[(op, name)]
        else:
            assert (op, name) not in CHOICES, f"{op}.{name} has CHOICES in convcli but no enum in the schema"


def test_kernel_keys_equal_convcli_keys():
    schema = _schema("kernel")
    assert schema["additionalProperties"] is False
    assert set(schema["properties"]) == set(YAML_KEYS)
    assert schema["required"] == ["matrix"]
    pipeline = _schema("pipeline")
    assert pipeline["$defs"]["matrix"] == schema["properties"]["matrix"] | {
        "description": pipeline["$defs"]["matrix"]["description"]}
