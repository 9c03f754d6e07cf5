"""Build catalog entries from the configuration's ``table_schemas`` list.

Each entry describes one schema version of a super table or a normal table,
for tables whose CREATE/ALTER entries are no longer in the WAL::

    table_schemas:
      - super_table: meters              # or normal_table: <name> with uid: <uid>
        suid: 7890123456789012345
        sver: 1
        columns:                         # schema order; the first is the TIMESTAMP col_id 1
          - {name: ts, type: TIMESTAMP, col_id: 1}
          - {name: location, type: VARCHAR, col_id: 5, bytes: 18}
          - {name: amount, type: DECIMAL, col_id: 6, precision: 20, scale: 4}
        tags:                            # optional, same form as columns
          - {name: groupid, type: INT, col_id: 6}
        tables:                          # optional: child tables, uid → name
          - {name: d1001, uid: 7890123456789010001}

``type`` takes TDengine's names (``INT UNSIGNED`` or ``UINT``, ``BINARY`` for
VARCHAR, ``DECIMAL`` with ``precision`` and ``scale``).  ``bytes`` is the
stored width, including the 2-byte length header for variable-length types
(VARCHAR(16) → 18). It is required for those. For fixed types it is optional
and must equal the natural width.  ``primary_key: true`` marks a
composite primary-key column.  Every error is a ConfigError naming the key
path, the value and what is allowed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from connector.decode.catalog import SchemaCatalog
from connector.decode.model import Column, TableSchema, TdType
from connector.decode.types import (
    DECIMAL64_MAX_PRECISION,
    DECIMAL_MAX_PRECISION,
    TYPE_BYTES,
    VARSTR_HEADER_SIZE,
    is_var_type,
    type_from_name,
)
from connector.errors import ConfigError

__all__ = ["catalog_from_config", "load_table_schemas"]

# SSchema.flags bits (include/common/tmsg.h).
COL_SMA_ON: Final = 0x01
COL_IS_KEY: Final = 0x04

_ENTRY_KEYS: Final = frozenset({"super_table", "normal_table", "suid", "uid", "sver", "columns", "tags", "tables"})
_COLUMN_KEYS: Final = frozenset({"name", "type", "col_id", "bytes", "primary_key", "precision", "scale"})
_TABLE_KEYS: Final = frozenset({"name", "uid"})
_MAX_COL_ID: Final = 32767  # colId is an int16 in SSchema
_MAX_INT64: Final = 2**63 - 1
# Natural width of fixed types; a NCHAR/VARCHAR/... width is declared in the config.
_NATURAL_BYTES: Final = {TdType.DECIMAL: 16, TdType.DECIMAL64: 8, **TYPE_BYTES}


def catalog_from_config(entries: Sequence[Mapping[str, Any]] | None, *, path: str = "table_schemas") -> SchemaCatalog:
    """Return a new catalog holding the schemas and tables of a ``table_schemas`` list."""
    catalog = SchemaCatalog()
    load_table_schemas(catalog, entries, path=path)
    return catalog


def load_table_schemas(
    catalog: SchemaCatalog, entries: Sequence[Mapping[str, Any]] | None, *, path: str = "table_schemas"
) -> None:
    """Validate a ``table_schemas`` list and add its schemas and tables to ``catalog``.

    Nothing is added when any entry is invalid.
    """
    if entries is None:
        return
    if not isinstance(entries, Sequence) or isinstance(entries, (str, bytes)):
        raise ConfigError(f"{path}: expected a list of schema entries, got {entries!r}")
    parsed: list[tuple[TableSchema, list[tuple[int, str]]]] = []
    seen: dict[tuple[int, int], str] = {}
    for index, entry in enumerate(entries):
        entry_path = f"{path}[{index}]"
        schema, tables = _parse_entry(entry, entry_path)
        key = (schema.suid or schema.uid, schema.sver)
        if key in seen:
            raise ConfigError(f"{entry_path}: duplicate schema for id {key[0]} sver {key[1]}, already given at {seen[key]}")
        seen[key] = entry_path
        parsed.append((schema, tables))
    for schema, tables in parsed:
        catalog.add_schema(schema)
        for uid, name in tables:
            catalog.add_table(uid, name, suid=schema.suid)
        if not schema.suid and schema.name:
            catalog.add_table(schema.uid, schema.name)


def _parse_entry(entry: Any, path: str) -> tuple[TableSchema, list[tuple[int, str]]]:
    if not isinstance(entry, Mapping):
        raise ConfigError(f"{path}: expected a mapping with super_table or normal_table, got {entry!r}")
    _reject_unknown_keys(entry, _ENTRY_KEYS, path)
    has_super = "super_table" in entry
    has_normal = "normal_table" in entry
    if has_super == has_normal:
        raise ConfigError(f"{path}: expected exactly one of super_table or normal_table, got keys {sorted(entry)}")

    if has_super:
        name = _name(entry["super_table"], f"{path}.super_table")
        suid = _int(entry, "suid", path, minimum=1, maximum=_MAX_INT64)
        uid = 0
        if "uid" in entry:
            raise ConfigError(f"{path}.uid: not allowed for a super_table entry; use suid, and list child tables under tables")
    else:
        name = _name(entry["normal_table"], f"{path}.normal_table")
        uid = _int(entry, "uid", path, minimum=1, maximum=_MAX_INT64)
        suid = 0
        for key in ("suid", "tags", "tables"):
            if key in entry:
                raise ConfigError(f"{path}.{key}: not allowed for a normal_table entry")
    sver = _int(entry, "sver", path, minimum=0, maximum=2**31 - 1)

    columns = _parse_columns(entry.get("columns"), f"{path}.columns", is_tag=False)
    tags = _parse_columns(entry.get("tags", []), f"{path}.tags", is_tag=True) if "tags" in entry else ()
    ids = {column.col_id: f"{path}.columns" for column in columns}
    for index, tag in enumerate(tags):
        if tag.col_id in ids:
            raise ConfigError(f"{path}.tags[{index}].col_id: {tag.col_id} is already used by a column")
    tables = _parse_tables(entry.get("tables", []), f"{path}.tables")
    schema = TableSchema(
        suid=suid, uid=uid, sver=sver, columns=columns, tags=tags, name=name, tag_version=None
    )
    return schema, tables


def _parse_columns(items: Any, path: str, *, is_tag: bool) -> tuple[Column, ...]:
    if not isinstance(items, Sequence) or isinstance(items, (str, bytes)) or not items:
        raise ConfigError(f"{path}: expected a non-empty list of columns, got {items!r}")
    columns: list[Column] = []
    names: set[str] = set()
    ids: set[int] = set()
    for index, item in enumerate(items):
        column = _parse_column(item, f"{path}[{index}]")
        if column.name in names:
            raise ConfigError(f"{path}[{index}].name: {column.name!r} is used twice")
        if column.col_id in ids:
            raise ConfigError(f"{path}[{index}].col_id: {column.col_id} is used twice")
        names.add(column.name or "")
        ids.add(column.col_id)
        columns.append(column)
    if not is_tag:
        first = columns[0]
        if first.type != TdType.TIMESTAMP or first.col_id != 1:
            raise ConfigError(
                f"{path}[0]: the first column must be the TIMESTAMP with col_id 1,"
                f" got type {first.type.name} col_id {first.col_id}"
            )
    return tuple(columns)


def _parse_column(item: Any, path: str) -> Column:
    if not isinstance(item, Mapping):
        raise ConfigError(f"{path}: expected a mapping with name, type and col_id, got {item!r}")
    _reject_unknown_keys(item, _COLUMN_KEYS, path)
    name = _name(item.get("name"), f"{path}.name")
    type_text = item.get("type")
    if not isinstance(type_text, str):
        raise ConfigError(f"{path}.type: expected a TDengine type name such as TIMESTAMP or VARCHAR, got {type_text!r}")
    precision = _optional_int(item, "precision", path, minimum=1, maximum=DECIMAL_MAX_PRECISION)
    try:
        td_type = type_from_name(type_text, precision=precision)
    except ValueError as err:
        raise ConfigError(f"{path}.type: {err}") from None
    col_id = _int(item, "col_id", path, minimum=1, maximum=_MAX_COL_ID)

    scale = _optional_int(item, "scale", path, minimum=0, maximum=DECIMAL_MAX_PRECISION)
    if td_type in (TdType.DECIMAL, TdType.DECIMAL64):
        if precision is None or scale is None:
            raise ConfigError(f"{path}: a DECIMAL column needs both precision (1..38) and scale (0..precision)")
        if scale > precision:
            raise ConfigError(f"{path}.scale: {scale} is larger than precision {precision}")
        if td_type == TdType.DECIMAL64 and precision > DECIMAL64_MAX_PRECISION:
            raise ConfigError(f"{path}.precision: {precision} is too large for DECIMAL64; expected 1..18")
    elif precision is not None or scale is not None:
        raise ConfigError(f"{path}: precision and scale are allowed for DECIMAL columns only, not {type_text!r}")

    if is_var_type(td_type):
        if "bytes" not in item:
            raise ConfigError(
                f"{path}.bytes: missing; a {type_text} column needs its stored width including the"
                f" {VARSTR_HEADER_SIZE}-byte length header (VARCHAR(16) → 18, NCHAR(16) → 66)"
            )
        width = _int(item, "bytes", path, minimum=VARSTR_HEADER_SIZE + 1, maximum=2**31 - 1)
    else:
        natural = _NATURAL_BYTES[td_type]
        width = _optional_int(item, "bytes", path, minimum=1, maximum=2**31 - 1)
        if width is None:
            width = natural
        elif width != natural:
            raise ConfigError(f"{path}.bytes: {width} is invalid for {type_text}; expected {natural} or no bytes key")

    primary_key = item.get("primary_key", False)
    if not isinstance(primary_key, bool):
        raise ConfigError(f"{path}.primary_key: expected true or false, got {primary_key!r}")
    flags = COL_SMA_ON | (COL_IS_KEY if primary_key else 0)
    return Column(col_id=col_id, type=td_type, bytes=width, name=name, flags=flags, precision=precision, scale=scale)


def _parse_tables(items: Any, path: str) -> list[tuple[int, str]]:
    if not isinstance(items, Sequence) or isinstance(items, (str, bytes)):
        raise ConfigError(f"{path}: expected a list of {{name, uid}} mappings, got {items!r}")
    tables: list[tuple[int, str]] = []
    for index, item in enumerate(items):
        item_path = f"{path}[{index}]"
        if not isinstance(item, Mapping):
            raise ConfigError(f"{item_path}: expected a mapping with name and uid, got {item!r}")
        _reject_unknown_keys(item, _TABLE_KEYS, item_path)
        tables.append((_int(item, "uid", item_path, minimum=1, maximum=_MAX_INT64), _name(item.get("name"), f"{item_path}.name")))
    return tables


def _reject_unknown_keys(item: Mapping[str, Any], allowed: frozenset[str], path: str) -> None:
    unknown = sorted(str(key) for key in item if key not in allowed)
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {', '.join(unknown)}; allowed keys are {', '.join(sorted(allowed))}")


def _name(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{path}: expected a non-empty table or column name, got {value!r}")
    return value


def _int(item: Mapping[str, Any], key: str, path: str, *, minimum: int, maximum: int) -> int:
    if key not in item:
        raise ConfigError(f"{path}.{key}: missing; expected an integer in {minimum}..{maximum}")
    value = _optional_int(item, key, path, minimum=minimum, maximum=maximum)
    assert value is not None
    return value


def _optional_int(item: Mapping[str, Any], key: str, path: str, *, minimum: int, maximum: int) -> int | None:
    value = item.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise ConfigError(f"{path}.{key}: {value!r} is invalid; expected an integer in {minimum}..{maximum}")
    return value
