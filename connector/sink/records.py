"""Turn decoded WAL messages into the record contract of ``schemas/wal_record_value.avsc``.

One WAL version yields one record per SUBMIT table block and one per table of
a DELETE; every record carries (vgId, walVersion, blockIndex, blockCount) so
consumers can tell the records of a version apart and deduplicate them.
Entries that carry no data (DDL, no-ops) yield no record, but their version
still advances the checkpoint.

Cells are built in fastavro's tuple notation, ``(branch name, value)``, so the
union branch is chosen by the column type and never guessed from the value.
"""

from __future__ import annotations

from dataclasses import dataclass

from connector.decode.model import (
    NONE,
    Column,
    DecimalValue,
    DeleteMessage,
    SubmitMessage,
    TableBlock,
    TdType,
)

__all__ = ["OutRecord", "RecordContext", "build_records", "cell_to_avro", "gap_record",
           "handoff_record", "renumber_blocks", "split_rows"]

NAMESPACE = "io.tdengine.walconnector"
_UINT64 = f"{NAMESPACE}.UInt64"
_DECIMAL = f"{NAMESPACE}.Decimal"
_UNSET = f"{NAMESPACE}.Unset"
_TIMESTAMP_BRANCHES = {
    "ms": f"{NAMESPACE}.TimestampMillis",
    "us": f"{NAMESPACE}.TimestampMicros",
    "ns": f"{NAMESPACE}.TimestampNanos",
}

_PRECISION_SYMBOLS = {"ms": "MILLISECONDS", "us": "MICROSECONDS", "ns": "NANOSECONDS"}

_LONG_TYPES = frozenset({
    TdType.TINYINT, TdType.SMALLINT, TdType.INT, TdType.BIGINT,
    TdType.UTINYINT, TdType.USMALLINT, TdType.UINT,
})


@dataclass(frozen=True, slots=True)
class RecordContext:
    """Facts about the task that go into every record's ``source``."""

    connector: str
    task: str
    vg_id: int
    precision: str | None = None  # "ms", "us", "ns" or None when unknown


@dataclass(frozen=True, slots=True)
class OutRecord:
    """A record ready for serialization: Avro key and value data plus Kafka headers."""

    key: dict[str, object]
    value: dict[str, object]
    headers: tuple[tuple[str, bytes], ...]
    version: int


def cell_to_avro(column: Column, value: object, precision: str | None = None) -> object:
    """Return the Avro union datum for one cell of ``column``.

    ``precision`` ("ms", "us", "ns" or None) picks the branch of a TIMESTAMP cell.
    """
    if value is None:
        return None
    if value is NONE:
        return (_UNSET, {})
    column_type = column.type
    if column_type == TdType.BOOL:
        return ("boolean", bool(value))
    if column_type in _LONG_TYPES:
        return ("long", value)
    if column_type == TdType.TIMESTAMP:
        branch = _TIMESTAMP_BRANCHES.get(precision) if precision else None
        return (branch, {"value": value}) if branch else ("long", value)
    if column_type == TdType.UBIGINT:
        return (_UINT64, int(value).to_bytes(8, "big", signed=False))
    if column_type == TdType.FLOAT:
        # NOTE: a float32 signaling NaN arrives here already quieted, because
        # widening it to a Python float sets the quiet bit; every other bit
        # pattern, other NaN payloads included, survives the float32 round trip.
        return ("float", value)
    if column_type == TdType.DOUBLE:
        return ("double", value)
    if column_type == TdType.VARCHAR:
        raw = bytes(value)  # type: ignore[arg-type]
        try:
            return ("string", raw.decode("utf-8"))
        except UnicodeDecodeError:
            return ("bytes", raw)
    if column_type == TdType.NCHAR:
        return ("string", value)
    if column_type in (TdType.VARBINARY, TdType.GEOMETRY):
        return ("bytes", bytes(value))  # type: ignore[arg-type]
    if column_type in (TdType.DECIMAL, TdType.DECIMAL64):
        assert isinstance(value, DecimalValue)
        width = max(1, (value.unscaled.bit_length() + 8) // 8)
        return (_DECIMAL, {
            "unscaled": value.unscaled.to_bytes(width, "big", signed=True),
            "precision": value.precision,
            "scale": value.scale,
        })
    raise ValueError(f"column {column.col_id} has type {column_type!r}, which has no Avro mapping")


def _column_descriptor(column: Column) -> dict[str, object]:
    return {
        "colId": column.col_id,
        "name": column.name,
        "type": column.type.name,
        "typeId": int(column.type),
        "bytes": column.bytes,
        "precision": column.precision,
        "scale": column.scale,
        "primaryKey": column.primary_key,
    }


def _source(ctx: RecordContext, *, version: int, ingest_ts: int, msg_type: int,
            msg_type_name: str, index: int, count: int) -> dict[str, object]:
    return {
        "connector": ctx.connector,
        "task": ctx.task,
        "vgId": ctx.vg_id,
        "walVersion": version,
        "ingestTs": ingest_ts,
        "msgType": msg_type,
        "msgTypeName": msg_type_name,
        "blockIndex": index,
        "blockCount": count,
        "precision": _PRECISION_SYMBOLS.get(ctx.precision) if ctx.precision else None,
    }


def _headers(version: int, kind: str) -> tuple[tuple[str, bytes], ...]:
    return (("wal.version", str(version).encode()), ("wal.op", kind.encode()))


def _submit_value(block: TableBlock, precision: str | None) -> dict[str, object]:
    columns = block.columns
    return {
        "kind": "SUBMIT",
        "table": {
            "suid": block.suid,
            "uid": block.uid,
            "sver": block.sver,
            "tableName": block.table_name,
            "superTableName": block.super_table_name,
        },
        "columns": [_column_descriptor(column) for column in columns],
        "rows": [[cell_to_avro(column, value, precision) for column, value in zip(columns, row)]
                 for row in block.rows],
        "delete": None,
        "gap": None,
        "handoff": None,
    }


def _delete_values(message: DeleteMessage) -> list[tuple[int, dict[str, object]]]:
    values = []
    names = message.table_names or (None,) * len(message.uids)
    for uid, name in zip(message.uids, names):
        values.append((uid, {
            "kind": "DELETE",
            "table": {"suid": message.suid, "uid": uid, "sver": -1,
                      "tableName": name, "superTableName": message.super_table_name},
            "columns": [],
            "rows": [],
            "delete": {
                "startTs": message.skey,
                "endTs": message.ekey,
                "affectedRows": message.affected_rows,
                "tsColumnName": message.ts_col_name,
                "targetName": message.table_fname,
            },
            "gap": None,
            "handoff": None,
        }))
    return values


def build_records(ctx: RecordContext, *, version: int, ingest_ts: int, msg_type: int,
                  msg_type_name: str, message: object) -> list[OutRecord]:
    """Build the records of one WAL entry; an entry that carries no data yields none."""
    parts: list[tuple[int, str, dict[str, object]]] = []
    if isinstance(message, SubmitMessage):
        parts = [(block.uid, "SUBMIT", _submit_value(block, ctx.precision))
                 for block in message.blocks]
    elif isinstance(message, DeleteMessage):
        parts = [(uid, "DELETE", value) for uid, value in _delete_values(message)]

    records = []
    for index, (uid, kind, value) in enumerate(parts):
        value["source"] = _source(ctx, version=version, ingest_ts=ingest_ts, msg_type=msg_type,
                                  msg_type_name=msg_type_name, index=index, count=len(parts))
        records.append(OutRecord(
            key={"vgId": ctx.vg_id, "uid": uid},
            value=value,
            headers=_headers(version, kind),
            version=version,
        ))
    return records


def split_rows(record: OutRecord, parts: int) -> list[OutRecord]:
    """Split a SUBMIT record into ``parts`` records with consecutive slices of its rows.

    Block index and count are left for ``renumber_blocks``.
    """
    rows = record.value["rows"]
    assert isinstance(rows, list) and 1 < parts <= len(rows)
    size, extra = divmod(len(rows), parts)
    pieces = []
    start = 0
    for part in range(parts):
        end = start + size + (1 if part < extra else 0)
        value = dict(record.value)
        value["rows"] = rows[start:end]
        value["source"] = dict(record.value["source"])  # type: ignore[arg-type]
        pieces.append(OutRecord(key=record.key, value=value, headers=record.headers,
                                version=record.version))
        start = end
    return pieces


def renumber_blocks(records: list[OutRecord]) -> None:
    """Set blockIndex and blockCount so each version's records count 0..n-1 again."""
    counts: dict[int, int] = {}
    for record in records:
        counts[record.version] = counts.get(record.version, 0) + 1
    seen: dict[int, int] = {}
    for record in records:
        source = record.value["source"]
        assert isinstance(source, dict)
        source["blockIndex"] = seen.get(record.version, 0)
        source["blockCount"] = counts[record.version]
        seen[record.version] = source["blockIndex"] + 1


def _marker_record(ctx: RecordContext, *, kind: str, version: int,
                   **payload: dict[str, object]) -> OutRecord:
    """Build a record that belongs to no table: key uid 0, no columns or rows."""
    value: dict[str, object] = {
        "kind": kind,
        "source": _source(ctx, version=version, ingest_ts=0, msg_type=0, msg_type_name=kind.lower(),
                          index=0, count=1),
        "table": None,
        "columns": [],
        "rows": [],
        "delete": None,
        "gap": None,
        "handoff": None,
        **payload,
    }
    return OutRecord(key={"vgId": ctx.vg_id, "uid": 0}, value=value,
                     headers=_headers(version, kind), version=version)


def gap_record(ctx: RecordContext, *, first_missing: int, last_missing: int, reason: str) -> OutRecord:
    """Build the GAP marker published when retention removed versions a task never read.

    Its walVersion is the first missing version, so it sorts where the data would have been.
    """
    return _marker_record(ctx, kind="GAP", version=first_missing, gap={
        "firstMissingVersion": first_missing, "lastMissingVersion": last_missing, "reason": reason})


def handoff_record(ctx: RecordContext, *, from_version: int, to_version: int) -> OutRecord:
    """Build the HANDOFF marker a fill-history task publishes after its last version.

    Its walVersion is ``to_version``: the live task's records follow with
    ``to_version + 1`` and later.
    """
    return _marker_record(ctx, kind="HANDOFF", version=to_version,
                          handoff={"fromVersion": from_version, "toVersion": to_version})
