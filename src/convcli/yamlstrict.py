"""The PyYAML side of :mod:`convcli.yamlfile`: any text the plain reader does not take.

:func:`compose` reads one document with the pure-Python PyYAML ``SafeLoader`` (subclassed): the C
loader composes nodes inside libyaml, where the anchor, tag, depth and node-count checks could not run
before the tree is built. Scalars are resolved by :data:`convcli.yamlfile.SCALAR_RULES` and converted
by :func:`convcli.yamlfile.scalar_value`, as the plain reader does; PyYAML is imported only here.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.events import AliasEvent, MappingStartEvent, SequenceStartEvent
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from .yamlfile import SCALAR_RULES, LineDict, LineList, YamlError, scalar_value

__all__ = ["compose"]


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


for _tag, _pattern, _first in SCALAR_RULES:
    _StrictLoader.add_implicit_resolver(_tag, _pattern, list(_first))


def _build(node: Any, path: str) -> Any:
    if isinstance(node, ScalarNode):
        try:
            return scalar_value(node.tag, node.value)
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




def compose(text: str, *, path: str, max_depth: int, max_nodes: int) -> Any:
    """The document of ``text`` (checked as :func:`convcli.yamlfile.load` says), read by PyYAML."""
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
