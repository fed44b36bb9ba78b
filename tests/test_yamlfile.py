"""Tests for convcli.yamlfile: YAML 1.2-core scalars, refusals with path:line, line numbers."""

from __future__ import annotations

import math
import pathlib

import pytest
from helpers import budget
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from convcli import yamlfile, yamlstrict
from convcli.errors import ConvcliError
from convcli.yamlfile import LineDict, LineList, YamlError, load


def value(text: str):
    return load(f"v: {text}\n", path="t.yaml")["v"]


# --- scalars --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1e-3", 0.001),
        ("-0.25", -0.25),
        ("1E3", 1000.0),
        (".5", 0.5),
        ("+1.5", 1.5),
        ("-.5e+2", -50.0),
        ("1.", 1.0),
        ("2.5e-1", 0.25),
    ],
)
def test_floats_follow_yaml_1_2(text, expected):
    result = value(text)
    assert type(result) is float
    assert result == expected


@pytest.mark.parametrize(("text", "expected"), [("0", 0), ("-7", -7), ("+5", 5), ("42", 42), ("010", 10)])
def test_ints_are_decimal_only(text, expected):
    result = value(text)
    assert type(result) is int
    assert result == expected


def test_inf_and_nan_stay_floats():
    assert value(".inf") == math.inf
    assert value("-.inf") == -math.inf
    assert value("+.Inf") == math.inf
    assert math.isnan(value(".nan"))


@pytest.mark.parametrize("text", ["yes", "no", "on", "off", "y", "n", "Yes", "1:30", "0x10", "0o7", "2001-12-14", "1_000"])
def test_yaml_1_1_surprises_stay_strings(text):
    assert value(text) == text


@pytest.mark.parametrize(("text", "expected"), [("true", True), ("false", False), ("True", True), ("FALSE", False)])
def test_booleans(text, expected):
    assert value(text) is expected


@pytest.mark.parametrize("text", ["null", "~", "", "Null"])
def test_nulls(text):
    assert value(text) is None


def test_quoted_numbers_stay_strings():
    assert value('"1e-3"') == "1e-3"
    assert value("'true'") == "true"


def test_empty_document_is_none():
    assert load("", path="t.yaml") is None
    assert load("# only a comment\n", path="t.yaml") is None


# --- line numbers ---------------------------------------------------------------------------------


def test_line_numbers_of_mappings_and_sequences():
    text = "# header\nname: k\nmatrix:\n  - [1, 2]\n  -\n    - 3\n    - 4\nnested:\n  a: 1\n"
    data = load(text, path="t.yaml")
    assert isinstance(data, LineDict) and isinstance(data, dict)
    assert data == {"name": "k", "matrix": [[1, 2], [3, 4]], "nested": {"a": 1}}
    assert data.line == 2
    assert data.key_lines == {"name": 2, "matrix": 3, "nested": 8}
    matrix = data["matrix"]
    assert isinstance(matrix, LineList) and isinstance(matrix, list)
    assert matrix.line == 4
    assert matrix.item_lines == [4, 6]
    assert matrix[0].item_lines == [4, 4]
    assert matrix[1].item_lines == [6, 7]
    assert data["nested"].line == 9
    assert data["nested"].key_lines == {"a": 9}


def test_plain_constructors_have_no_lines():
    assert LineDict(a=1).line is None and LineDict(a=1).key_lines == {}
    assert LineList([1]).line is None and LineList([1]).item_lines == []


# --- refusals -------------------------------------------------------------------------------------


def refused(text: str, **kwargs) -> YamlError:
    with pytest.raises(YamlError) as info:
        load(text, path="bad.yaml", **kwargs)
    error = info.value
    assert isinstance(error, ConvcliError) and isinstance(error, ValueError)
    assert error.path == "bad.yaml"
    assert "\n" not in str(error)
    return error


def test_duplicate_keys_refused():
    error = refused("a: 1\nb: 2\na: 3\n")
    assert error.line == 3
    assert "duplicate key 'a'" in str(error) and "line 1" in str(error)
    assert str(error).startswith("bad.yaml:3: ")


def test_duplicate_keys_in_nested_mapping_refused():
    assert refused("outer:\n  x: 1\n  x: 2\n").line == 3


def test_anchor_refused():
    error = refused("a: &x 1\nb: 2\n")
    assert error.line == 1 and "anchor &x" in str(error)


def test_alias_refused():
    # The anchor comes first and is refused first; an alias alone is refused too.
    error = refused("a: *x\n")
    assert error.line == 1 and "alias *x" in str(error)


def test_merge_key_without_alias_is_just_a_string_key():
    assert load("<<: 1\n", path="t.yaml") == {"<<": 1}


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("a: !!python/object/apply:os.system ['true']\n", "!!python/object/apply:os.system"),
        ("a: !!python/name:os.system\n", "!!python/name:os.system"),
        ("a: !!str 5\n", "!!str"),
        ("a: !custom x\n", "!custom"),
        ("a: !!binary aGVsbG8=\n", "!!binary"),
    ],
)
def test_tags_refused(text, shown):
    error = refused(text)
    assert error.line == 1
    assert f"tag {shown} is not allowed" in str(error)


def test_non_string_keys_refused():
    error = refused("a: 1\n1: x\n")
    assert error.line == 2 and "key '1' is not a string" in str(error)
    assert refused("true: x\n").line == 1
    assert refused("~: x\n").line == 1
    assert "list or mapping" in str(refused("? [1, 2]\n: x\n"))


def test_size_cap():
    error = refused("a: " + "x" * (64 * 1024) + "\n")
    assert "64 KiB" in str(error)
    # Bytes are counted, not characters: 22,000 three-byte characters exceed 64 KiB.
    assert "64 KiB" in str(refused("a: " + "€" * 22_000 + "\n"))
    assert load("a: " + "x" * 60_000 + "\n", path="t.yaml")["a"] == "x" * 60_000


def test_depth_cap():
    ok = load("[" * 32 + "]" * 32, path="t.yaml")
    assert isinstance(ok, LineList)
    assert "deeper than 32" in str(refused("[" * 33 + "]" * 33))
    # Very deep input is refused cleanly, never by Python's recursion limit.
    assert "deeper than 32" in str(refused("[" * 20_000 + "]" * 20_000))
    block = "".join("  " * i + f"k{i}:\n" for i in range(33)) + "  " * 33 + "v: 1\n"
    assert refused(block).line == 33


def test_node_cap():
    text = "[" + "1," * 120_000 + "]"
    error = refused(text, max_bytes=10**6)
    assert "more than 100000 values" in str(error)
    assert len(load("[" + "1," * 1000 + "]", path="t.yaml")) == 1000
    assert "more than 10 values" in str(refused("[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]", max_nodes=10))


def test_syntax_error_reports_problem_and_line():
    error = refused("a: 1\nb: [1, 2\nc: 3\n")
    assert str(error).startswith("bad.yaml:")
    assert "invalid YAML" in str(error)
    assert error.line is not None and error.line >= 2
    error = refused("a: 1\nb: c: d\n")
    assert error.line == 2 and "mapping values are not allowed here" in str(error)


def test_tab_indentation_refused_with_line():
    error = refused("a:\n\tb: 1\n")
    assert error.line == 2 and "invalid YAML" in str(error)


def test_control_character_refused_with_line():
    error = refused("a: 1\nb: \x07\n")
    assert error.line == 2 and "#x0007" in str(error)


def test_several_documents_refused():
    error = refused("--- 1\n--- 2\n")
    assert error.line == 2 and "single document" in str(error)


def test_bad_argument_types():
    with pytest.raises(TypeError, match="text must be str"):
        load(b"a: 1", path="t.yaml")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="path must be str"):
        load("a: 1", path=None)  # type: ignore[arg-type]




# --- the plain reader: the same values and lines as PyYAML's, or none at all ---------------------

REPO = pathlib.Path(__file__).resolve().parents[1]


def _shape(value):
    """A value with the lines LineDict and LineList carry, comparable with ==; NaN as a marker."""
    if isinstance(value, LineDict):
        return ("map", value.line, [(k, value.key_lines[k], _shape(v)) for k, v in value.items()])
    if isinstance(value, LineList):
        return ("seq", value.line, value.item_lines, [_shape(v) for v in value])
    if isinstance(value, float) and math.isnan(value):
        return ("nan",)
    return (type(value).__name__, value)


def _pyyaml(text):
    return yamlstrict.compose(text, path="t.yaml", max_depth=yamlfile.MAX_DEPTH, max_nodes=yamlfile.MAX_NODES)


def _plain(text):
    return yamlfile._plain_document(text, max_depth=yamlfile.MAX_DEPTH, max_nodes=yamlfile.MAX_NODES)


def _assert_same_or_declined(text):
    plain = _plain(text)
    try:
        reference = _pyyaml(text)
    except YamlError:
        assert plain is None, f"the plain reader took text PyYAML refuses: {text!r}"
        return
    assert plain is None or _shape(plain) == _shape(reference), text


def test_every_shipped_kernel_and_pipeline_file_is_read_plainly_as_pyyaml_reads_it():
    files = sorted([*(REPO / "kernels").glob("*.yaml"), *(REPO / "examples").rglob("*.yaml")])
    kernels = [file for file in files if file.parent == REPO / "kernels"]
    assert kernels, "the built-in library's files are missing"
    for file in files:
        _assert_same_or_declined(file.read_text(encoding="utf-8"))
    for file in kernels:  # the library itself never needs PyYAML
        assert _plain(file.read_text(encoding="utf-8")) is not None, file


PLAIN_TEXTS = [
    "name: k\nmatrix:\n  - [1, 2]\n  - [3, 4]\n",
    "name: k\n\nmatrix:\n\n  - [ 1,  -2]   \n\n  - [.5, 1e3]\nnormalize: true\n",
    "v: [a b, c-d, -1, +2, .inf, -.Inf, .nan, ~, null, True, yes, 010, 1_000, 0x10]\n",
    "description: 5x5 blur, [1, 4] x [1, 4] / 16 (sums to 1); a - b\ntags: [edge]\n",
    "# schema\na: 1\n  # indented\nb:\n# between\n  - [1]\n",
]


@pytest.mark.parametrize("text", PLAIN_TEXTS)
def test_plain_texts_are_read_without_pyyaml(text):
    assert _plain(text) is not None
    _assert_same_or_declined(text)


@pytest.mark.parametrize("text", [
    "a: 1\nb: -\n", "a: -x\n", "a: x:\n", "a: x: y\n", "a: [x:y]\n", "a: [1, ]\n", "a: []\n", "a: [[1]]\n",
    "a:\nb: 1\n", "a:\n", "a: 1\na: 2\n", "true: 1\n", "null: 1\n", "1: a\n", "a: 1 # note\n", "a: 'q'\n",
    "a: &x 1\n", "a: !!str 1\n", "a: |\n  x\n", "a: {b: 1}\n", "a:\n- [1]\n", "a:\n    - [1]\n", "a:\n  - 1\n",
    "a: b\n  c\n", "  a: 1\n", "a: 1\r\n", "a:\t1\n", "---\na: 1\n", "a: 1\n...\n", "a: é\n", "",
    "a: " + "9" * 5000 + "\n", "a: ?\n", "a: ,b\n", "a: b,\n", "a : 1\n", "a: [b]c]\n",
    # comments are text too (found in review): other line breaks, control characters; `?` in a flow
    "a: 1\n# x\rb: 2\n", "a: 1\n# x\x85b: 2\n", "a: 1\n# x\u2028b: 2\n", "a: 1\n# bell \x07\n", "m: [a?b, c]\n",
])
def test_plain_texts_and_near_misses(text):
    _assert_same_or_declined(text)


def test_the_plain_reader_takes_the_plain_form():
    text = "name: k\nmatrix:\n  - [1, 2]\n  - [3, 4]\ntags: [a, b]\nscale: 0.5\n"
    document = _plain(text)
    assert document is not None and _shape(document) == _shape(_pyyaml(text))
    assert document.key_lines == {"name": 1, "matrix": 2, "tags": 5, "scale": 6}
    assert document["matrix"].line == 3 and document["matrix"].item_lines == [3, 4]


def test_the_limits_hold_on_the_plain_path():
    with pytest.raises(YamlError, match="more than 3 values"):
        load("a: [1, 2, 3]\n", path="t.yaml", max_nodes=3)
    with pytest.raises(YamlError, match="nesting deeper than 2"):
        load("a:\n  - [1]\n", path="t.yaml", max_depth=2)


_PIECES = ["a", "b", "name", "true", "null", "1", "-1", "+.5", "1e3", ".inf", "x y", "-", ":", ": ", ",", "[", "]",
           " ", "  - ", "- ", "#", "'", "é", "\t", "~", "010", "a:b", "?", "|", "# c", "\r", "\x85", "\x07", "a?b"]


@given(st.lists(st.lists(st.sampled_from(_PIECES), max_size=6).map("".join), max_size=6).map("\n".join))
@hypothesis_settings(max_examples=budget(300))
def test_any_text_is_read_as_pyyaml_reads_it_or_left_to_pyyaml(text):
    _assert_same_or_declined(text)
