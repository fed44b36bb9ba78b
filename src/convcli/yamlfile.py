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

It is the pure-Python PyYAML ``SafeLoader`` (subclassed): the C loader composes nodes inside libyaml,
where the anchor, tag, depth and node-count checks could not run before the tree is built. Inputs are
capped at 64 KiB, so speed does not matter.
"""

from __future__ import annotations

import math
import re
from typing import Any

import yaml
from yaml.events import AliasEvent, MappingStartEvent, SequenceStartEvent
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

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


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 core scalars and checks on every node as it is composed."""

    # A fresh table: none of PyYAML's YAML 1.1 resolvers (yes/no, octal, sexagesimal, timestamps, merge).
    yaml_implicit_resolvers: dict = {}

    def __init__(self, text: str, *, path: str, max_depth: int, max_nodes: int) -> None:
        super().__init__(text)
        self.convcli_path = path
        self.max_depth = max_depth
        self.max_nodes = max_nodes
        self.depth = 0
        self.nodes = 0

    def refuse(self, message: str, mark: Any) -> YamlError:
        return YamlError(message, path=self.convcli_path, line=None if mark is None else mark.line + 1)

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, AliasEvent):
            raise self.refuse(
                f"alias *{event.anchor} is not allowed; anchors and aliases are refused, "
                "write the value out in full",
                event.start_mark,
            )
        if event.anchor is not None:
            raise self.refuse(
                f"anchor &{event.anchor} is not allowed; anchors and aliases are refused, "
                "write the value out in full",
                event.start_mark,
            )
        if event.tag is not None:
            tag = event.tag
            if tag.startswith("tag:yaml.org,2002:"):
                tag = "!!" + tag[len("tag:yaml.org,2002:"):]
            raise self.refuse(
                f"tag {tag} is not allowed; only plain YAML values are accepted (remove the tag)",
                event.start_mark,
            )
        self.nodes += 1
        if self.nodes > self.max_nodes:
            raise self.refuse(
                f"more than {self.max_nodes} values; split the file or simplify it", event.start_mark
            )
        container = isinstance(event, (SequenceStartEvent, MappingStartEvent))
        if container:
            # Checked before descending, so deep nesting never reaches Python's recursion limit.
            self.depth += 1
            if self.depth > self.max_depth:
                raise self.refuse(
                    f"nesting deeper than {self.max_depth} levels; flatten the structure",
                    event.start_mark,
                )
        try:
            return super().compose_node(parent, index)
        finally:
            if container:
                self.depth -= 1


_StrictLoader.add_implicit_resolver(_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
_StrictLoader.add_implicit_resolver(_NULL, re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""])
_StrictLoader.add_implicit_resolver(_INT, re.compile(r"^[-+]?[0-9]+$"), list("-+0123456789"))
_StrictLoader.add_implicit_resolver(
    _FLOAT,
    re.compile(
        r"^(?:[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?[0-9]+[eE][-+]?[0-9]+"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)


def _scalar(node: ScalarNode) -> Any:
    value = node.value
    if node.tag == _INT:
        return int(value)  # decimal only: int("010") == 10, never octal
    if node.tag == _FLOAT:
        lower = value.lower()
        if lower.endswith(".inf"):
            return -math.inf if lower.startswith("-") else math.inf
        if lower == ".nan":
            return math.nan
        return float(value)
    if node.tag == _BOOL:
        return value.lower() == "true"
    if node.tag == _NULL:
        return None
    return value


def _build(node: Any, path: str) -> Any:
    if isinstance(node, ScalarNode):
        try:
            return _scalar(node)
        except (ValueError, OverflowError):  # e.g. an integer of more digits than Python converts
            raise YamlError(f"the number {node.value[:20]}… is too long to read", path=path,
                            line=node.start_mark.line + 1) from None
    if isinstance(node, SequenceNode):
        seq = LineList(_build(item, path) for item in node.value)
        seq.line = node.start_mark.line + 1
        seq.item_lines = [item.start_mark.line + 1 for item in node.value]
        return seq
    if isinstance(node, MappingNode):
        mapping = LineDict()
        mapping.line = node.start_mark.line + 1
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            key = _build(key_node, path) if isinstance(key_node, ScalarNode) else None
            if not isinstance(key, str):
                shown = key_node.value if isinstance(key_node, ScalarNode) else "a list or mapping"
                raise YamlError(
                    f"mapping key {shown!r} is not a string; keys must be text (quote it: \"{shown}\")"
                    if isinstance(key_node, ScalarNode)
                    else "a mapping key is a list or mapping; keys must be text",
                    path=path,
                    line=line,
                )
            if key in mapping:
                raise YamlError(
                    f"duplicate key {key!r} (first on line {mapping.key_lines[key]}); "
                    "each key may appear only once in a mapping",
                    path=path,
                    line=line,
                )
            mapping[key] = _build(value_node, path)
            mapping.key_lines[key] = line
        return mapping
    raise AssertionError(f"unexpected YAML node {node!r}")  # pragma: no cover


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
    loader = None
    try:
        loader = _StrictLoader(text, path=path, max_depth=max_depth, max_nodes=max_nodes)
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        problem = error.problem or error.context or "malformed YAML"
        if error.context and error.problem:
            if error.context.startswith("while"):
                problem = f"{problem} ({error.context})"
            else:
                problem = f"{error.context}, {problem}"
        raise YamlError(
            f"invalid YAML: {problem}", path=path, line=None if mark is None else mark.line + 1
        ) from None
    except yaml.reader.ReaderError as error:
        line = text.count("\n", 0, max(error.position, 0)) + 1
        raise YamlError(
            f"invalid YAML: character #x{error.character:04x} is not allowed ({error.reason})",
            path=path,
            line=line,
        ) from None
    except yaml.YAMLError as error:  # pragma: no cover - every PyYAML error above is marked
        raise YamlError(f"invalid YAML: {' '.join(str(error).split())}", path=path) from None
    finally:
        if loader is not None:
            loader.dispose()
    return None if node is None else _build(node, path)
