"""JSON forms of schemas and tag values, used to persist a SchemaCatalog.

Tag values that JSON cannot hold exactly are wrapped in a one-key object:
bytes as ``{"hex": …}``, floats as ``{"float": float.hex()}`` (exact, and
covers NaN and infinities) and decimals as ``{"decimal": [unscaled, precision,
scale]}``.  Integers, strings, booleans and None are stored as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connector.decode.model import Column, DecimalValue, TableSchema, TdType

__all__ = ["schema_from_dict", "schema_to_dict", "value_from_json", "value_to_json"]


def _column_to_dict(column: Column) -> dict[str, Any]:
    item: dict[str, Any] = {
        "colId": column.col_id,
        "type": int(column.type),
        "bytes": column.bytes,
        "name": column.name,
        "flags": column.flags,
    }
    if column.precision is not None:
        item["precision"] = column.precision
        item["scale"] = column.scale
    return item


def _column_from_dict(item: Mapping[str, Any]) -> Column:
    return Column(
        col_id=int(item["colId"]),
        type=TdType(int(item["type"])),
        bytes=int(item["bytes"]),
        name=item.get("name"),
        flags=int(item.get("flags", 0)),
        precision=item.get("precision"),
        scale=item.get("scale"),
    )


def schema_to_dict(schema: TableSchema) -> dict[str, Any]:
    """Return the JSON-able form of one schema version."""
    return {
        "suid": schema.suid,
        "uid": schema.uid,
        "sver": schema.sver,
        "name": schema.name,
        "tagVersion": schema.tag_version,
        "columns": [_column_to_dict(column) for column in schema.columns],
        "tags": [_column_to_dict(column) for column in schema.tags],
    }


def schema_from_dict(item: Mapping[str, Any]) -> TableSchema:
    """Rebuild a schema saved by ``schema_to_dict``."""
    return TableSchema(
        suid=int(item["suid"]),
        uid=int(item["uid"]),
        sver=int(item["sver"]),
        columns=tuple(_column_from_dict(column) for column in item["columns"]),
        tags=tuple(_column_from_dict(column) for column in item.get("tags", ())),
        name=item.get("name"),
        tag_version=item.get("tagVersion"),
    )


def value_to_json(value: object) -> object:
    """Return a JSON-able form of a cell or tag value that ``value_from_json`` restores exactly."""
    if isinstance(value, bytes):
        return {"hex": value.hex()}
    if isinstance(value, float):
        return {"float": value.hex()}
    if isinstance(value, DecimalValue):
        return {"decimal": [value.unscaled, value.precision, value.scale]}
    return value


def value_from_json(value: object) -> object:
    """Invert ``value_to_json``."""
    if isinstance(value, dict):
        if "hex" in value:
            return bytes.fromhex(value["hex"])
        if "float" in value:
            return float.fromhex(value["float"])
        if "decimal" in value:
            unscaled, precision, scale = value["decimal"]
            return DecimalValue(unscaled=unscaled, precision=precision, scale=scale)
        raise ValueError(f"unknown tagged value {value!r}; expected a 'hex', 'float' or 'decimal' key")
    return value
