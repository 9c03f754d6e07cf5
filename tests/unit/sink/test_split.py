"""Oversized SUBMIT blocks are split by rows; a single row above the limit is an error."""

from __future__ import annotations

import pytest

from connector.config import parse_config
from connector.decode.model import Column, MessageHead, SubmitMessage, TableBlock, TdType
from connector.errors import SinkError
from connector.sink.producer import TaskProducer
from connector.sink.records import RecordContext, build_records

COLUMNS = (Column(col_id=1, type=TdType.TIMESTAMP, bytes=8, name="ts"),
           Column(col_id=2, type=TdType.VARCHAR, bytes=16_384, name="payload"))


def producer(limit: int) -> TaskProducer:
    config = parse_config({
        "kafka": {"bootstrap_servers": "127.0.0.1:9", "max_record_bytes": limit},
        "tasks": [{"name": "t", "wal_dir": "/nowhere", "topic": "t", "vgroup_id": 2}],
    })
    return TaskProducer(config, config.tasks[0])


def records(rows: int, payload: int, tables: int = 1) -> list:
    blocks = tuple(
        TableBlock(flags=256, suid=1, uid=100 + t, sver=1, row_format=True, columns=COLUMNS,
                   rows=tuple((1_700_000_000_000 + i, b"x" * payload) for i in range(rows)))
        for t in range(tables))
    message = SubmitMessage(head=MessageHead(0, 2), req_version=1, blocks=blocks)
    context = RecordContext(connector="c", task="t", vg_id=2, precision="ms")
    return build_records(context, version=7, ingest_ts=0, msg_type=513, msg_type_name="submit",
                         message=message)


def test_small_block_kept_whole() -> None:
    fitted = producer(100_000).fit_records(records(rows=3, payload=100))
    assert len(fitted) == 1
    assert fitted[0][0].value["source"]["blockCount"] == 1


def test_large_block_split_by_rows() -> None:
    original = records(rows=100, payload=10_000, tables=2)
    fitted = producer(200_000).fit_records(original)
    assert len(fitted) > 2
    assert all(len(value) <= 200_000 + 16 for _, _, value in fitted)
    sources = [record.value["source"] for record, _, _ in fitted]
    assert [s["blockIndex"] for s in sources] == list(range(len(fitted)))
    assert {s["blockCount"] for s in sources} == {len(fitted)}
    assert {s["walVersion"] for s in sources} == {7}
    for uid in (100, 101):
        rows = [row for record, _, _ in fitted if record.value["table"]["uid"] == uid
                for row in record.value["rows"]]
        assert len(rows) == 100
        assert [row[0][1]["value"] for row in rows] == [1_700_000_000_000 + i for i in range(100)]


def test_single_row_over_limit_is_error() -> None:
    with pytest.raises(SinkError) as caught:
        producer(50_000).fit_records(records(rows=1, payload=60_000))
    assert not caught.value.retriable
    assert "version 7" in str(caught.value)
    assert "kafka.max_record_bytes 50000" in str(caught.value)
