"""The JSON Schema of pipeline files, made from the step kinds' declarations (convcli.steps).

``scripts/gen_schemas.py`` writes it to schemas/pipeline.schema.json, and tests/test_schemas.py
checks that the file is what this module makes, that it accepts and refuses what convcli does, and
that every example pipeline validates. Editors use the file; convcli itself does not read it.
"""

from __future__ import annotations

from typing import Any

from ..geometry import BOUNDARIES, BOUNDARY_ALIASES
from . import KINDS
from .base import (KEYS, Boundary, Choice, Flag, KernelSpec, LayerPadding, Number, Padding, Pair, RuleError, StepKind,
                   Value, Weights, Whole)

#: Where the generated schema lives in the repository.
PIPELINE_SCHEMA = "schemas/pipeline.schema.json"

_SAVE = {
    "description": "Also write this step's result: a file name with the fields of --name ({stem} {ext} {op} "
                   "{kernel} {index}); inside -O DIR when given.",
    "type": ["string", "null"],
    "pattern": "\\S",
}


def _grammar() -> dict[str, Any]:
    """The value grammars the options share, as ``$defs``."""
    from ..kernels import MAX_SIDE

    aliases = ", ".join(f"{alias} = {name}" for alias, name in BOUNDARY_ALIASES.items())
    return {
        "kernel": {
            "description": "A kernel: a name (sobel-x), a file beside the pipeline (.yaml .yml .npy .txt .csv), "
                           "an inline matrix as text ('1 0 -1; 2 0 -2; 1 0 -1', '[[1, 0], [0, 1]]'), a parametric "
                           "kernel (gaussian:sigma=1.5, box:5, box:3x5, log:sigma=1.4, dog:sigma1=1,sigma2=2, "
                           "disk:radius=3), or a matrix as a YAML list of rows.",
            "oneOf": [{"type": "string", "minLength": 1}, {"$ref": "#/$defs/matrix"}],
        },
        "matrix": {
            "description": f"A list of rows of numbers, e.g. [[1, 0, -1], [2, 0, -2], [1, 0, -1]] (rectangular, "
                           f"at most {MAX_SIDE} per side).",
            "type": "array", "minItems": 1, "maxItems": MAX_SIDE,
            "items": {"type": "array", "minItems": 1, "maxItems": MAX_SIDE, "items": {"type": "number"}},
        },
        "boundary": {
            "enum": [*BOUNDARIES, *BOUNDARY_ALIASES],
            "description": f"What the padding holds (numpy.pad names; {aliases}).",
        },
        "pair": _pair(1, "A whole number ≥ 1, or (rows, cols): [2, 1] or '2,1' (or '2x1')."),
        "pairFrom0": _pair(0, "A whole number ≥ 0, or [rows, cols], or '1,0'."),
        "padding": {
            "description": "Padding: P (all sides), [PH, PW] or [TOP, BOTTOM, LEFT, RIGHT], as a list or as text "
                           "'1,2', or Keras's [[TOP, BOTTOM], [LEFT, RIGHT]]; whole numbers ≥ 0.",
            "oneOf": [
                {"type": "integer", "minimum": 0},
                {"type": "array", "items": {"type": "integer", "minimum": 0},
                 "anyOf": [{"minItems": 1, "maxItems": 2}, {"minItems": 4, "maxItems": 4}]},
                {"type": "string", "pattern": "^\\s*[0-9]+\\s*(,\\s*[0-9]+\\s*|(,\\s*[0-9]+\\s*){3})?$"},
                {"type": "array", "minItems": 2, "maxItems": 2,
                 "items": {"type": "array", "minItems": 2, "maxItems": 2, "items": {"type": "integer", "minimum": 0}}},
            ],
        },
        "numbers": {
            "description": "A number, or a list of numbers or of such lists (an array of any shape).",
            "oneOf": [{"type": "number"}, {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/numbers"}}],
        },
        "weights": {
            "description": "A layer's numbers: nested lists, a file beside the pipeline (w.npy, model.npz:KEY, "
                           "model.safetensors:KEY), or, where the option takes one, an initialiser's name.",
            "oneOf": [{"type": "string", "minLength": 1}, {"$ref": "#/$defs/numbers"}],
        },
        "save": _SAVE,
    }


def _pair(minimum: int, description: str) -> dict[str, Any]:
    """Whole numbers ≥ ``minimum`` for (rows, cols): one for both, a list of one or two, or text '2,1'."""
    number = "0*[1-9][0-9]*" if minimum == 1 else "[0-9]+"
    return {
        "description": description,
        "oneOf": [
            {"type": "integer", "minimum": minimum},
            {"type": "array", "minItems": 1, "maxItems": 2, "items": {"type": "integer", "minimum": minimum}},
            {"type": "string", "pattern": f"^\\s*{number}\\s*([,x]\\s*{number}\\s*)?$"},
        ],
    }


def value_schema(value: Value) -> dict[str, Any]:
    """The schema of one option's value."""
    if isinstance(value, Choice):
        return {"enum": list(value.choices)}
    if isinstance(value, Boundary):
        return {"$ref": "#/$defs/boundary"}
    if isinstance(value, Pair):
        return {"$ref": "#/$defs/pair" if value.minimum == 1 else "#/$defs/pairFrom0"}
    if isinstance(value, Padding):
        return {"$ref": "#/$defs/padding"}
    if isinstance(value, Number):
        return {"type": "number", **({"exclusiveMinimum": 0} if value.positive else {})}
    if isinstance(value, Flag):
        return {"type": "boolean"}
    if isinstance(value, Whole):
        return {"type": "integer", "minimum": value.minimum}
    if isinstance(value, LayerPadding):
        return {"oneOf": [{"enum": list(value.words)}, {"$ref": "#/$defs/padding"}]}
    if isinstance(value, Weights):
        return {"$ref": "#/$defs/weights"}
    if isinstance(value, KernelSpec):
        kernel = {"$ref": "#/$defs/kernel"}
        return {"type": "array", "minItems": 1, "items": kernel} if value.many else kernel
    raise TypeError(f"no JSON Schema for {type(value).__name__}")  # pragma: no cover - a new value kind


def _needs_options(kind: StepKind) -> bool:
    """Whether a step of this kind must be written with options (its rules refuse none)."""
    try:
        kind.rules({}, KEYS)
    except RuleError:
        return True
    return False


def step_schema(kind: StepKind) -> dict[str, Any]:
    """One kind's options (each also spelled with dashes), and its rules as the kind states them."""
    properties: dict[str, Any] = {}
    for option in kind.options:
        described = dict(value_schema(option.value), description=option.help)
        properties[option.name] = described
        for other in (option.name, *option.aliases):
            if other != option.name:  # Keras's `strides` is read as `stride`
                properties[other] = dict(described, description=f"The same as {option.name}.")
            if "_" in other:  # `count-include-pad` is read as `count_include_pad`
                properties[other.replace("_", "-")] = dict(described, description=f"The same as {option.name}.")
    properties["save"] = {"$ref": "#/$defs/save"}
    schema: dict[str, Any] = {"description": kind.summary,
                              "type": "object" if _needs_options(kind) else ["object", "null"],
                              "additionalProperties": False, "properties": properties}
    schema.update(kind.schema_rules)
    return schema


def pipeline_schema() -> dict[str, Any]:
    """The whole schema of a pipeline file."""
    bare = [name for name, kind in KINDS.items() if not _needs_options(kind)]
    need = [name for name in KINDS if name not in bare]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "convcli pipeline",
        "description": (
            f"A convcli pipeline file (README, Pipelines): `steps:`, a list of {', '.join(KINDS)} steps, each "
            f"written as a bare name ({', '.join(f'`- {name}`' for name in bare)}) or a one-key mapping "
            "(`- filter: {kernel: box3}`) whose options are those of the commands. Editors: put "
            "`# yaml-language-server: $schema=<path or URL of this file>` as the first line of a pipeline (the "
            "YAML extension of VS Code, Neovim, Helix, ... then completes and checks it), or map files to it with "
            "the `yaml.schemas` setting. Made from convcli's step declarations by scripts/gen_schemas.py; "
            "convcli itself does not read it."),
        "$comment": (
            "What a schema cannot say, convcli still checks when it loads the file: inline matrices must be "
            "rectangular, finite and at most 1,000,000 values; kernel names and files must exist; `padding` takes "
            "whole numbers only (2.0 is refused); `boundary` is read in any letter case (the schema asks for "
            "lower case); an `upsample: {method: max-unpool}` needs a windowed max pool before it (the nearest "
            "pool step); and shapes must work out for the input (see `convcli pipeline FILE shape:HxW "
            "--dry-run`)."),
        "type": "object",
        "required": ["steps"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "description": "Optional name of the pipeline (not used by convcli)."},
            "description": {"type": "string",
                            "description": "Optional description of the pipeline (not used by convcli)."},
            "steps": {"type": "array", "minItems": 1, "description": "The steps, run in order on every input.",
                      "items": {"$ref": "#/$defs/step"}},
        },
        "$defs": {
            "step": {
                "description": f"{', '.join(f'`- {name}`' for name in bare)}, or a one-key mapping "
                               "`- OP: {option: value, ...}`.",
                "oneOf": [
                    {"type": "string", "enum": bare,
                     "description": f"A step without options ({', '.join(need)} need some: write them as "
                                    "`- filter: {kernel: box3}`)."},
                    {"type": "object", "minProperties": 1, "maxProperties": 1, "additionalProperties": False,
                     "properties": {name: {"$ref": f"#/$defs/{name}"} for name in KINDS}},
                ],
            },
            **{name: step_schema(kind) for name, kind in KINDS.items()},
            **_grammar(),
        },
    }


def render_pipeline_schema() -> str:
    """The schema as schemas/pipeline.schema.json holds it (``python scripts/gen_schemas.py`` writes it)."""
    import json

    return json.dumps(pipeline_schema(), indent=2, ensure_ascii=False) + "\n"
