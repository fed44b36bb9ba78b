"""A strict, safe YAML reader for convcli's own files (kernel and pipeline files).

It reads a small, predictable subset of YAML and refuses the rest with a one-line error that names the
file and line:

* scalars follow the YAML 1.2 core schema, not PyYAML's YAML 1.1 defaults: ``1e-3``, ``1E3``, ``.5``,
  ``+1.5``, ``-0.25`` are floats; ``.inf``/``.nan`` are floats too (so that a caller can refuse them with
  its own message); integers are decimal only (``010`` is 10, not 8; ``0x10`` and ``1:30`` stay
  strings); booleans are only ``true``/``false`` (also ``True``/``TRUE``...), so ``yes``, ``no``, ``on``,
  ``off`` stay strings; ``null``, ``~`` and an empty value are ``None``; dates stay strings;
* refused: duplicate keys, non-string keys, anchors and aliases (``&a``, ``*a``, and so ``<<`` merges),
  any explicit tag (``!!python/object``, ``!!str``, ``!foo``), more than one document, text larger than
  64 KiB, nesting deeper than 32 containers, more than 100,000 nodes, and YAML syntax errors;
* mappings come back as :class:`LineDict` and sequences as :class:`LineList`, which remember the
  (1-based) line they start on and the line of each key or item, so callers can point at a line.

Two readers give the same values and lines. The plain form (top-level ``key: value``, ``key: [a, b]``
and ``key:`` over ``  - [a, b]`` rows, whole-line comments, no quotes: the built-in kernel library's files) is
read here, without importing PyYAML (a small job's start-up); everything else is read by
:mod:`convcli.yamlstrict`, PyYAML's pure-Python ``SafeLoader`` with the checks above.
"""

from __future__ import annotations

import math
import re
from typing import Any

from convcli.errors import ConvcliError

__all__ = ["MAX_BYTES", "MAX_DEPTH", "MAX_NODES", "LineDict", "LineList", "YamlError", "load"]

MAX_BYTES = 64 * 1024
MAX_DEPTH = 32
MAX_NODES = 100_000

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"


class YamlError(ConvcliError, ValueError):
    """A YAML text that is malformed or uses a feature convcli refuses (one line, with ``path:line``)."""


class LineDict(dict):
    """A ``dict`` read from YAML that remembers where it came from.

    Attributes
    ----------
    line : int or None
        1-based line where the mapping starts (``None`` if not read from a file).
    key_lines : dict of str to int
        1-based line of each key.

    Examples
    --------
    >>> d = load("a: 1\\nb: 2\\n", path="x.yaml")
    >>> d == {"a": 1, "b": 2}, d.line, d.key_lines["b"]
    (True, 1, 2)
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.line: int | None = None
        self.key_lines: dict[str, int] = {}


class LineList(list):
    """A ``list`` read from YAML that remembers where it came from.

    Attributes
    ----------
    line : int or None
        1-based line where the sequence starts (``None`` if not read from a file).
    item_lines : list of int
        1-based line of each item.

    Examples
    --------
    >>> s = load("- 1\\n- [2, 3]\\n", path="x.yaml")
    >>> s == [1, [2, 3]], s.line, s.item_lines
    (True, 1, [1, 2])
    """

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.line: int | None = None
        self.item_lines: list[int] = []


#: How a plain scalar is resolved: the YAML 1.2 core schema, as (tag, pattern, first characters) in
#: the order PyYAML tries them; a scalar no rule matches is a string. Both readers use these rules.
SCALAR_RULES = (
    (_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), tuple("tTfF")),
    (_NULL, re.compile(r"^(?:~|null|Null|NULL|)$"), ("~", "n", "N", "")),
    (_INT, re.compile(r"^[-+]?[0-9]+$"), tuple("-+0123456789")),
    (
        _FLOAT,
        re.compile(
            r"^(?:[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?"
            r"|[-+]?[0-9]+[eE][-+]?[0-9]+"
            r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
        ),
        tuple("-+0123456789."),
    ),
)


def scalar_tag(value: str) -> str:
    """The tag :data:`SCALAR_RULES` give the plain scalar ``value`` (PyYAML's resolution)."""
    for tag, pattern, first in SCALAR_RULES:
        if value[:1] in first and pattern.match(value):
            return tag
    return _STR


def scalar_value(tag: str, value: str) -> Any:
    """The Python value of a plain scalar ``value`` resolved as ``tag``.

    Examples
    --------
    >>> [scalar_value(scalar_tag(text), text) for text in ("010", "1e3", "-.inf", "yes", "True", "~")]
    [10, 1000.0, -inf, 'yes', True, None]
    """
    if tag == _INT:
        return int(value)  # decimal only: int("010") == 10, never octal
    if tag == _FLOAT:
        lower = value.lower()
        if lower.endswith(".inf"):
            return -math.inf if lower.startswith("-") else math.inf
        if lower == ".nan":
            return math.nan
        return float(value)
    if tag == _BOOL:
        return value.lower() == "true"
    if tag == _NULL:
        return None
    return value


# The plain form: the built-in library's and most users' kernel files, read without PyYAML. Every
# line is a whole-line comment, or printable ASCII without the characters that start comments, quotes, anchors, tags, block
# scalars or flow mappings; top-level `key: scalar`, `key: [a, b]`, or `key:` followed by
# `  - [a, b]` rows. Anything else (and any duplicate key, non-string key, empty value, limit
# exceeded or unreadable number) goes to PyYAML, which reads it or says what is wrong.
_PLAIN_LINE = re.compile(r"[ -~]*\Z")
#: The whole text, comments included: printable ASCII and newlines only (PyYAML refuses control
#: characters and takes \r, \x85, \u2028 and \u2029 as line breaks, even inside a comment).
_PLAIN_TEXT = re.compile(r"[\n -~]*\Z")
_NOT_PLAIN = frozenset("#'\"&*!|>%@`{}\\")
#: Characters that end or break a plain scalar inside ``[...]`` in PyYAML (``[a?b]`` is an error there).
_FLOW_STOPS = frozenset(":[]?")
_KEY_LINE = re.compile(r"([A-Za-z_][A-Za-z0-9_-]*):(?: +(.*))?\Z")
_ROW_LINE = re.compile(r"  - \[(.*)\]\Z")


class _NotPlain(Exception):
    """The text is not of the plain form: PyYAML reads it."""


def _plain_scalar(text: str, *, flow: bool) -> Any:
    """The value of one plain scalar of the plain form (block context, or inside ``[...]``)."""
    if (not text or text[0] in "?:,[]" or (text[0] == "-" and text[1:2] in ("", " "))
            or ": " in text or text.endswith(":") or (flow and not _FLOW_STOPS.isdisjoint(text))):
        raise _NotPlain
    try:
        return scalar_value(scalar_tag(text), text)
    except (ValueError, OverflowError):  # a number too long to read: PyYAML's path says so
        raise _NotPlain from None


def _flow_row(inner: str, line: int) -> LineList:
    """``[a, b, c]`` (its inside, ``inner``) on ``line``, as a LineList."""
    row = LineList(_plain_scalar(item.strip(" "), flow=True) for item in inner.split(","))
    row.line, row.item_lines = line, [line] * len(row)
    return row


def _plain_document(text: str, *, max_depth: int, max_nodes: int) -> LineDict | None:
    """``text`` read as the plain form, exactly as PyYAML reads it (values and lines), or None
    when it is not of that form."""
    try:
        return _read_plain(text, max_depth=max_depth, max_nodes=max_nodes)
    except _NotPlain:
        return None


def _read_plain(text: str, *, max_depth: int, max_nodes: int) -> LineDict:
    if not _PLAIN_TEXT.match(text):
        raise _NotPlain
    document = LineDict()
    nodes, depth = 1, 1
    rows: LineList | None = None  # the block rows of the key before, while they go on
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.rstrip(" ")
        if not line or line.lstrip(" ").startswith("#"):  # blank, or a whole-line comment
            continue
        if not _PLAIN_LINE.match(line) or not _NOT_PLAIN.isdisjoint(line):
            raise _NotPlain
        row = _ROW_LINE.match(line)
        if row is not None and rows is not None:
            rows.append(_flow_row(row.group(1), number))
            rows.item_lines.append(number)
            if rows.line is None:
                rows.line = number
            nodes, depth = nodes + 1 + len(rows[-1]), max(depth, 3)
            continue
        key = _KEY_LINE.match(line)
        if key is None or (rows is not None and not rows) or key.group(1) in document:
            raise _NotPlain
        name, value = key.group(1), key.group(2)
        if scalar_tag(name) != _STR:
            raise _NotPlain
        if document.line is None:
            document.line = number
        document.key_lines[name] = number
        nodes += 2
        if value is None:
            rows = document[name] = LineList()
            depth = max(depth, 2)
        elif value.startswith("[") and value.endswith("]"):
            rows = None
            document[name] = _flow_row(value[1:-1], number)
            nodes, depth = nodes + len(document[name]), max(depth, 2)
        else:
            rows = None
            document[name] = _plain_scalar(value, flow=False)
    if not document or (rows is not None and not rows) or nodes > max_nodes or depth > max_depth:
        raise _NotPlain
    return document

def load(
    text: str,
    *,
    path: str,
    max_bytes: int = MAX_BYTES,
    max_depth: int = MAX_DEPTH,
    max_nodes: int = MAX_NODES,
) -> Any:
    """Read one YAML document strictly and safely.

    Parameters
    ----------
    text : str
        The YAML text (already decoded).
    path : str
        Where the text came from; used only in error messages.
    max_bytes, max_depth, max_nodes : int, optional
        Limits on the UTF-8 size (default 64 KiB), container nesting (default 32) and number of nodes
        (default 100,000).

    Returns
    -------
    LineDict, LineList, str, int, float, bool or None
        The document (``None`` for an empty one). Containers are :class:`LineDict` / :class:`LineList`.

    Raises
    ------
    YamlError
        Malformed YAML or a refused feature (see the module docstring), with ``path`` and ``line``.

    Examples
    --------
    >>> d = load("scale: 1e-3\\nnormalize: yes\\nm: [010, -.5, .inf]\\n", path="k.yaml")
    >>> d["scale"], d["normalize"], d["m"]
    (0.001, 'yes', [10, -0.5, inf])
    >>> load("a: 1\\na: 2\\n", path="k.yaml")
    Traceback (most recent call last):
    ...
    convcli.yamlfile.YamlError: k.yaml:2: duplicate key 'a' (first on line 1); each key may appear only once in a mapping
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be str (decoded YAML), not {type(text).__name__}; decode bytes first")
    if not isinstance(path, str):
        raise TypeError(f"path must be str, not {type(path).__name__}")
    # len(text) <= UTF-8 size, so the cheap test first avoids encoding huge strings.
    if len(text) > max_bytes or len(text.encode("utf-8", "surrogatepass")) > max_bytes:
        raise YamlError(
            f"file is larger than {max_bytes // 1024} KiB; convcli's YAML files must be small", path=path
        )
    plain = _plain_document(text, max_depth=max_depth, max_nodes=max_nodes)
    if plain is not None:
        return plain
    from .yamlstrict import compose  # lazy: PyYAML only for what the plain reader does not take

    return compose(text, path=path, max_depth=max_depth, max_nodes=max_nodes)
