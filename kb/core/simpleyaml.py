"""Frontmatter in the plain YAML kb writes, read without PyYAML, exactly as PyYAML reads it.

PyYAML builds a node graph and constructs it in Python even with libyaml's parser: about a
tenth of a millisecond a page, the largest part of structural lint at 10,000 pages once the
markdown is read line by line. The frontmatter kb writes (`yaml.dump` of `pages.frontmatter`)
and most that Obsidian writes is one `key: value` a line, a value being a scalar on one line, a
flow list of plain words (`[a, b]`) or a block list of scalars (`- a` lines under `key:`).
`load()` reads that; anything else (comments, blank lines, anchors, tags, block scalars,
multi-line or escaped scalars, nested structures, floats, octal numbers) it leaves to PyYAML by
returning None. A plain scalar's type is decided by PyYAML's own resolver, so `yes`, `~` and
`2026-11-01` mean what they mean there. tests/test_simpleyaml.py compares the two readings.
"""

from __future__ import annotations

import re
from datetime import date
from functools import lru_cache

import yaml

_KEY = re.compile(r"([A-Za-z_][A-Za-z0-9_-]*):(?: (.*))?\Z")
_ITEM = re.compile(r"( {0,2})- (.*)\Z")
_INDICATORS = frozenset("-?:,[]{}#&*!|>'\"%@`")  # a plain scalar does not start with these
_DECIMAL = re.compile(r"[-+]?(?:0|[1-9][0-9]*)\Z")
_DAY = re.compile(r"\d{4}-\d\d-\d\d\Z")
_TAG = "tag:yaml.org,2002:"
_NOT = object()  # not a scalar this module reads
_RESOLVERS = yaml.resolver.Resolver.yaml_implicit_resolvers  # first character -> [(tag, pattern)]


def _tag(text: str) -> str:
    """A plain scalar's type, as PyYAML's resolver decides it (its patterns are keyed by the
    first character, so most words need no match at all)."""
    if text[0] not in _RESOLVERS and None not in _RESOLVERS:
        return _TAG + "str"
    for tag, pattern in _RESOLVERS.get(text[0], []) + _RESOLVERS.get(None, []):
        if pattern.match(text):
            return tag
    return _TAG + "str"


def _scalar(text: str, flow: bool = False):
    """A scalar written on one line (stripped), or _NOT."""
    if not text or not text.isprintable():
        return _NOT
    c = text[0]
    if c == "'":
        inner = text[1:-1]
        return inner.replace("''", "'") if len(text) > 1 and text[-1] == "'" \
            and "'" not in inner.replace("''", "") else _NOT
    if c == '"':
        inner = text[1:-1]
        return inner if len(text) > 1 and text[-1] == '"' and '"' not in inner and "\\" not in inner else _NOT
    if c in _INDICATORS or ": " in text or " #" in text or text.endswith(":") or (flow and ":" in text):
        return _NOT
    tag = _tag(text)
    if tag == _TAG + "str":
        return text
    if tag == _TAG + "null":
        return None
    if tag == _TAG + "bool":
        return yaml.constructor.SafeConstructor.bool_values[text.lower()]
    if tag == _TAG + "int" and _DECIMAL.match(text):
        return int(text)
    if tag == _TAG + "timestamp" and _DAY.match(text):
        return date.fromisoformat(text)  # an impossible day raises, and PyYAML gets to say so
    return _NOT


def _value(text: str):
    if not text.startswith("["):
        return _scalar(text)
    inner = text[1:-1].strip(" ")
    if not text.endswith("]") or any(c in inner for c in "[]{}'\"#"):
        return _NOT
    items = tuple(_scalar(part.strip(" "), flow=True) for part in inner.split(",")) if inner else ()
    return _NOT if _NOT in items else items


@lru_cache(maxsize=4096)  # most lines recur across pages (type, tags, dates): read each once
def _entry(line: str) -> tuple[str, object] | None:
    """(key, value) of a `key: value` line, a list as a tuple; (key, _NOT) for a bare `key:`;
    None for any other line."""
    m = _KEY.match(line)
    if not m or _tag(m.group(1)) != _TAG + "str":
        return None
    rest = (m.group(2) or "").strip(" ")
    try:
        value = _value(rest) if rest else _NOT
    except ValueError:  # an impossible date
        return None
    return None if rest and value is _NOT else (m.group(1), value)


@lru_cache(maxsize=1024)
def _item(text: str):
    try:
        return _scalar(text.strip(" "))
    except ValueError:
        return _NOT


def load(raw: str) -> dict | None:
    """The mapping a frontmatter block holds, or None when PyYAML must read it."""
    lines = raw.split("\n")
    if lines[-1] == "":
        lines.pop()
    out: dict = {}
    i = 0
    while i < len(lines):
        entry = _entry(lines[i])
        if entry is None:
            return None
        key, value = entry
        i += 1
        if value is _NOT:  # a block list under the key, or nothing (null)
            value, indent = [], None
            while i < len(lines) and (item := _ITEM.match(lines[i])):
                if indent not in (None, item.group(1)):
                    return None
                indent = item.group(1)
                value.append(_item(item.group(2)))
                i += 1
            if _NOT in value:
                return None
            value = value or None
        elif type(value) is tuple:
            value = list(value)  # a fresh list for each page
        out[key] = value
    return out
