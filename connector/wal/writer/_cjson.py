"""The text cJSON 1.7.15 ``cJSON_Print`` produces, for the objects a WAL meta file holds.

TDengine writes ``meta-ver<N>`` with ``cJSON_Print`` (walMeta.c ``walSaveMeta``),
so byte-identical meta files need cJSON's exact formatting:

* an object is ``{``, a newline, then per member ``depth`` tabs, the key, ``:``,
  a tab, the value, ``,`` unless last, and a newline; it closes with
  ``depth - 1`` tabs and ``}``;
* an array is ``[``, its elements joined by ``, ``, then ``]``; an array does
  not add newlines, but it raises the depth of the objects inside it;
* there is no newline after the outermost ``}``.

Only dicts, lists and strings are supported: TDengine stores every number of
the meta file as a string.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

__all__ = ["cjson_print"]

_ESCAPES: Final = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_FIRST_PRINTABLE: Final = 0x20


def cjson_print(value: object) -> str:
    """Return ``value`` formatted as cJSON's ``cJSON_Print`` formats it."""
    parts: list[str] = []
    _print_value(value, 0, parts)
    return "".join(parts)


def _print_value(value: object, depth: int, parts: list[str]) -> None:
    if isinstance(value, str):
        parts.append(_quote(value))
    elif isinstance(value, Mapping):
        _print_object(value, depth, parts)
    elif isinstance(value, Sequence):
        _print_array(value, depth, parts)
    else:
        raise TypeError(f"cjson_print supports dict, list and str values, got {type(value).__name__}")


def _print_object(value: Mapping[str, object], depth: int, parts: list[str]) -> None:
    depth += 1
    parts.append("{\n")
    items = list(value.items())
    for index, (key, member) in enumerate(items):
        parts.append("\t" * depth)
        parts.append(_quote(key))
        parts.append(":\t")
        _print_value(member, depth, parts)
        if index + 1 < len(items):
            parts.append(",")
        parts.append("\n")
    parts.append("\t" * (depth - 1))
    parts.append("}")


def _print_array(value: Sequence[object], depth: int, parts: list[str]) -> None:
    depth += 1
    parts.append("[")
    for index, element in enumerate(value):
        if index:
            parts.append(", ")
        _print_value(element, depth, parts)
    parts.append("]")


def _quote(text: str) -> str:
    escaped = []
    for char in text:
        if char in _ESCAPES:
            escaped.append(_ESCAPES[char])
        elif ord(char) < _FIRST_PRINTABLE:
            escaped.append(f"\\u{ord(char):04x}")
        else:
            escaped.append(char)
    return '"' + "".join(escaped) + '"'
