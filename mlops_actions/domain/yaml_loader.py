"""Reading the YAML files a user writes (the config, data schemas, DVC pointers): safe, and strict about keys.

A mapping that names the same key twice is refused, with the key path and both lines, at any depth: YAML
itself would keep the last value silently, so the file would not mean what it says.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from mlops_actions.errors import ConfigError, MlopsError

MERGE_TAG = "tag:yaml.org,2002:merge"


class DuplicateKeyError(yaml.YAMLError):
    """A mapping names the same key twice; ``key_path`` is like ``gate.rules[0].min``, lines are 1-based."""

    def __init__(self, key_path: str, first_line: int, second_line: int):
        self.key_path = key_path
        self.first_line = first_line
        self.second_line = second_line
        super().__init__(f"duplicate key {key_path!r} at lines {first_line} and {second_line}")


def _index(path: str, position: int) -> str:
    return f"{path}[{position}]"


def _member(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


class UniqueKeySafeLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a mapping with a repeated key (checked on the node tree, with marks)."""

    def construct_document(self, node: yaml.Node) -> Any:
        self._check_unique_keys(node)
        return super().construct_document(node)

    def _check_unique_keys(self, root: yaml.Node) -> None:
        seen: set[int] = set()  # anchored nodes are checked once, so aliases cannot make this walk explode
        pending: list[tuple[yaml.Node, str]] = [(root, "")]  # depth first, in document order
        while pending:
            node, path = pending.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            children: list[tuple[yaml.Node, str]] = []
            if isinstance(node, yaml.SequenceNode):
                children = [(item, _index(path, i)) for i, item in enumerate(node.value)]
            elif isinstance(node, yaml.MappingNode):
                first_lines: dict[Any, int] = {}
                for key_node, value_node in node.value:
                    if key_node.tag == MERGE_TAG:
                        children.append((value_node, path))
                        continue
                    key = self._hashable_key(key_node)
                    key_path = _member(path, key[1].strip() if isinstance(key, tuple) else key)
                    line = key_node.start_mark.line + 1
                    if key in first_lines:
                        raise DuplicateKeyError(key_path, first_lines[key], line)
                    first_lines[key] = line
                    children.append((value_node, key_path))
            pending.extend(reversed(children))

    def _hashable_key(self, key_node: yaml.Node) -> Any:
        if isinstance(key_node, yaml.ScalarNode):
            value = self.construct_object(key_node)
            if _is_hashable(value):
                return value
        return ("node", yaml.serialize(key_node))  # a complex key: compare its text form


def _is_hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def parse_yaml(text: str, source: str | Path, *, error: type[MlopsError] = ConfigError) -> Any:
    """Parse YAML text safely; ``error`` (one line naming ``source``, the line and the problem) when it is not."""
    try:
        return yaml.load(text, Loader=UniqueKeySafeLoader)  # a SafeLoader subclass: no arbitrary objects
    except DuplicateKeyError as problem:
        raise error(f"{source}: {problem}") from None
    except yaml.YAMLError as problem:
        mark = getattr(problem, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        reason = getattr(problem, "problem", None) or (str(problem).splitlines() or ["unreadable"])[0]
        raise error(f"{source}{where}: invalid YAML: {reason}") from None


def read_yaml(path: str | Path, *, what: str, error: type[MlopsError] = ConfigError) -> Any:
    """Read and parse a user's YAML file; ``error`` names the file when it is a folder, unreadable or invalid."""
    path = Path(path)
    if path.is_dir():
        raise error(f"{path}: is a folder, expected a {what} file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as problem:
        raise error(f"{path}: cannot read {what}: {problem}") from None
    return parse_yaml(text, path, error=error)
