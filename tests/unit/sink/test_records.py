"""Record building and Avro framing, without a broker."""

from __future__ import annotations

import io
import json
import struct

import fastavro
import pytest

from connector.decode.model import NONE, Column, DecimalValue, DeleteMessage, MessageHead, TdType
from connector.sink.avro import (
    KEY_SCHEMA_FILE,
    VALUE_SCHEMA_FILE,
    RecordSerializer,
    SingleObjectCodec,
    load_schema,
)
from connector.sink.consume import RecordDecoder
from connector.sink.records import RecordContext, build_records, cell_to_avro, gap_record

CONTEXT = RecordContext(connector="c", task="t", vg_id=2, precision="ms")


def test_schemas_parse_strictly() -> None:
    for name in (KEY_SCHEMA_FILE, VALUE_SCHEMA_FILE):
        fastavro.parse_schema(json.loads(load_schema(name)))


def test_every_field_documented() -> None:
    def walk(schema: object) -> None:
        if isinstance(schema, dict):
            if schema.get("type") == "record":
                for field in schema["fields"]:
                    assert field.get("doc"), f"{schema['name']}.{field['name']}"
            for value in schema.values():
                walk(value)
        elif isinstance(schema, list):
            for value in schema:
                walk(value)

    for name in (KEY_SCHEMA_FILE, VALUE_SCHEMA_FILE):
        walk(json.loads(load_schema(name)))


CELLS = [
    (TdType.BOOL, True, True),
    (TdType.TINYINT, -128, -128),
    (TdType.UINT, 4294967295, 4294967295),
    (TdType.BIGINT, -(2**63), -(2**63)),
    (TdType.UBIGINT, 2**64 - 1, (2**64 - 1).to_bytes(8, "big")),
    (TdType.TIMESTAMP, -(2**63) + 1, -(2**63) + 1),
    (TdType.DOUBLE, -0.0, -0.0),
    (TdType.VARCHAR, b"Beijing", "Beijing"),
    (TdType.VARCHAR, bytes.fromhex("fffe806162c328"), bytes.fromhex("fffe806162c328")),
    (TdType.NCHAR, "\U0001D11E", "\U0001D11E"),
    (TdType.VARBINARY, b"\x00\x01", b"\x00\x01"),
    (TdType.GEOMETRY, b"\x01\x01\x00", b"\x01\x01\x00"),
]


@pytest.mark.parametrize("td_type,value,decoded", CELLS, ids=lambda v: repr(v)[:20])
def test_cell_round_trips_through_avro(td_type: TdType, value: object, decoded: object) -> None:
    codec = SingleObjectCodec(load_schema(VALUE_SCHEMA_FILE))
    column = Column(col_id=2, type=td_type, bytes=8, name="c")
    record = gap_record(CONTEXT, first_missing=1, last_missing=1, reason="x").value
    record["rows"] = [[cell_to_avro(column, value)]]
    back = codec.decode(codec.encode(record))["rows"][0][0]
    assert back == decoded
    assert type(back) is type(decoded)


def test_float_cell_keeps_bits() -> None:
    codec = SingleObjectCodec(load_schema(VALUE_SCHEMA_FILE))
    column = Column(col_id=2, type=TdType.FLOAT, bytes=4, name="f")
    for bits in (0x7FC00000, 0x00000001, 0x80000000, 0x7F800000, 0x3E800000):
        value = struct.unpack("<f", struct.pack("<I", bits))[0]
        record = gap_record(CONTEXT, first_missing=1, last_missing=1, reason="x").value
        record["rows"] = [[cell_to_avro(column, value)]]
        back = codec.decode(codec.encode(record))["rows"][0][0]
        assert struct.unpack("<I", struct.pack("<f", back))[0] == bits


def test_null_none_and_decimal_cells() -> None:
    codec = SingleObjectCodec(load_schema(VALUE_SCHEMA_FILE))
    decimal = Column(col_id=3, type=TdType.DECIMAL, bytes=16, name="d", precision=38, scale=10)
    record = gap_record(CONTEXT, first_missing=1, last_missing=1, reason="x").value
    record["rows"] = [[cell_to_avro(decimal, None), cell_to_avro(decimal, NONE),
                       cell_to_avro(decimal, DecimalValue(-(10**37), 38, 10))]]
    null, unset, value = codec.decode(codec.encode(record))["rows"][0]
    assert null is None
    assert unset == {}
    assert int.from_bytes(value["unscaled"], "big", signed=True) == -(10**37)
    assert (value["precision"], value["scale"]) == (38, 10)


def test_single_object_header_and_fingerprint() -> None:
    codec = SingleObjectCodec(load_schema(KEY_SCHEMA_FILE))
    data = codec.encode({"vgId": 2, "uid": 7})
    assert data[:2] == b"\xc3\x01"
    assert data[2:10] == codec.fingerprint
    assert fastavro.schemaless_reader(io.BytesIO(data[10:]), codec.parsed) == {"vgId": 2, "uid": 7}


def test_single_object_rejects_other_fingerprint() -> None:
    codec = SingleObjectCodec(load_schema(KEY_SCHEMA_FILE))
    data = bytearray(codec.encode({"vgId": 2, "uid": 7}))
    data[5] ^= 0xFF
    with pytest.raises(ValueError, match="fingerprint"):
        codec.decode(bytes(data))


def test_delete_yields_one_record_per_uid() -> None:
    message = DeleteMessage(head=MessageHead(62, 2), suid=9, uids=(11, 12, 13), skey=100, ekey=200,
                            affected_rows=5, table_fname="meters", ts_col_name="ts",
                            table_names=("a", "b", "c"))
    records = build_records(CONTEXT, version=8, ingest_ts=1, msg_type=579,
                            msg_type_name="delete-data", message=message)
    assert [r.key for r in records] == [{"vgId": 2, "uid": u} for u in (11, 12, 13)]
    assert [r.value["source"]["blockIndex"] for r in records] == [0, 1, 2]
    assert {r.value["source"]["blockCount"] for r in records} == {3}
    assert records[1].value["delete"]["startTs"] == 100
    assert records[1].value["table"]["tableName"] == "b"
    assert records[0].headers == (("wal.version", b"8"), ("wal.op", b"DELETE"))


def test_registry_framing_with_mock_registry() -> None:
    url = "mock://records-unit"
    serializer = RecordSerializer(schema_registry_url=url)
    decoder = RecordDecoder(schema_registry_url=url)
    value = gap_record(CONTEXT, first_missing=3, last_missing=9, reason="retention").value
    key_bytes, value_bytes = serializer.serialize("topic-a", {"vgId": 2, "uid": 0}, value)
    assert value_bytes[0] == 0  # Confluent magic byte, then a 4-byte schema id
    key, back = decoder.decode("topic-a", key_bytes, value_bytes)
    assert key == {"vgId": 2, "uid": 0}
    assert back["gap"] == {"firstMissingVersion": 3, "lastMissingVersion": 9, "reason": "retention"}
    assert back["source"]["precision"] == "MILLISECONDS"
