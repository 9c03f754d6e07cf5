"""Read a task topic back: committed records only, decoded with the project's Avro schemas.

Used by ``wal-connector consume`` and by the tests.  It reads with
``isolation.level=read_committed`` under a throw-away group id and never
commits, so it cannot disturb the connector's checkpoints.
"""

from __future__ import annotations

import contextlib
import datetime
import time
import uuid
from typing import Any, Iterator

import fastavro.read

from confluent_kafka import Consumer, KafkaException, TopicPartition

from connector.config import ConnectorConfig
from connector.decode.model import NONE, DecimalValue
from connector.sink.avro import (
    KEY_SCHEMA_FILE,
    VALUE_SCHEMA_FILE,
    SingleObjectCodec,
    load_schema,
    registry_client,
)

__all__ = ["RecordDecoder", "cell_value", "iter_topic_records", "raw_timestamp_readers", "row_values"]


_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
_UNITS = {"MILLISECONDS": datetime.timedelta(milliseconds=1),
          "MICROSECONDS": datetime.timedelta(microseconds=1)}
# Logical types whose standard fastavro reader turns the long into a datetime.
_DATETIME_LOGICAL_READERS = ("long-timestamp-millis", "long-timestamp-micros")


def _timestamp_integer(value: object, unit: str | None) -> int:
    """Return a TIMESTAMP cell as the integer TDengine stored, also when a reader made it a datetime."""
    if isinstance(value, datetime.datetime):
        if unit not in _UNITS:
            raise ValueError(f"a datetime TIMESTAMP cell needs the record's precision, got {unit!r}")
        return (value - _EPOCH) // _UNITS[unit]
    return int(value)  # type: ignore[call-overload]


@contextlib.contextmanager
def raw_timestamp_readers() -> Iterator[None]:
    """Make fastavro return timestamp-millis and timestamp-micros values as plain integers.

    fastavro converts them to datetimes, which fails for TDengine timestamps
    outside years 1 to 9999.  The override is process-wide while the block
    runs, so it is not safe to use from several threads at once.
    """
    saved = {name: fastavro.read.LOGICAL_READERS[name] for name in _DATETIME_LOGICAL_READERS}
    for name in _DATETIME_LOGICAL_READERS:
        fastavro.read.LOGICAL_READERS[name] = _identity_reader
    try:
        yield
    finally:
        fastavro.read.LOGICAL_READERS.update(saved)


def _identity_reader(data: object, writer_schema: object, reader_schema: object) -> object:
    return data


def cell_value(column: dict[str, Any], cell: Any, unit: str | None = None) -> object:
    """Turn one decoded Avro cell back into the decoder's value for its column type.

    The inverse of ``connector.sink.records.cell_to_avro``: UBIGINT from its
    8-byte big-endian fixed, VARCHAR to the stored bytes, DECIMAL to a
    DecimalValue, TIMESTAMP to its integer (``unit`` is the record's
    ``source.precision``, needed only when a reader produced datetimes), the
    Unset record to NONE; other cells are returned as they are.
    """
    if cell is None:
        return None
    if cell == {} and isinstance(cell, dict):
        return NONE
    column_type = column["type"]
    if column_type == "TIMESTAMP" and isinstance(cell, dict):
        return _timestamp_integer(cell["value"], unit)
    if column_type == "UBIGINT":
        return int.from_bytes(cell, "big", signed=False)
    if column_type == "VARCHAR":
        return cell.encode("utf-8") if isinstance(cell, str) else bytes(cell)
    if column_type in ("DECIMAL", "DECIMAL64"):
        return DecimalValue(int.from_bytes(cell["unscaled"], "big", signed=True),
                            cell["precision"], cell["scale"])
    return cell


def row_values(record: dict[str, Any]) -> list[tuple[object, ...]]:
    """Return the rows of a decoded SUBMIT record as tuples of decoder values."""
    columns = record["columns"]
    unit = record["source"]["precision"]
    return [tuple(cell_value(column, cell, unit) for column, cell in zip(columns, row))
            for row in record["rows"]]


class RecordDecoder:
    """Decode record keys and values in whichever framing the connector was configured with."""

    def __init__(self, *, schema_registry_url: str | None = None,
                 schema_registry_conf: dict[str, str] | None = None,
                 raw_timestamps: bool = True) -> None:
        self.registry_url = schema_registry_url
        self.raw_timestamps = raw_timestamps
        if schema_registry_url:
            from confluent_kafka.schema_registry.avro import AvroDeserializer

            client = registry_client(schema_registry_url, schema_registry_conf)
            self._key = AvroDeserializer(client, load_schema(KEY_SCHEMA_FILE))
            self._value = AvroDeserializer(client, load_schema(VALUE_SCHEMA_FILE))
        else:
            self._key_codec = SingleObjectCodec(load_schema(KEY_SCHEMA_FILE))
            self._value_codec = SingleObjectCodec(load_schema(VALUE_SCHEMA_FILE))

    def decode(self, topic: str, key: bytes, value: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
        """Decode a key and value; with ``raw_timestamps`` TIMESTAMP cells stay integers."""
        if not self.raw_timestamps:
            return self._decode(topic, key, value)
        with raw_timestamp_readers():
            return self._decode(topic, key, value)

    def _decode(self, topic: str, key: bytes, value: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
        if self.registry_url:
            from confluent_kafka.serialization import MessageField, SerializationContext

            return (self._key(key, SerializationContext(topic, MessageField.KEY)),
                    self._value(value, SerializationContext(topic, MessageField.VALUE)))
        return self._key_codec.decode(key), self._value_codec.decode(value)


def iter_topic_records(config: ConnectorConfig, topic: str, *,
                       idle_timeout_s: float = 5.0) -> Iterator[dict[str, Any]]:
    """Yield every committed record of ``topic`` from the start, until none arrives for ``idle_timeout_s``."""
    decoder = RecordDecoder(schema_registry_url=config.kafka.schema_registry_url,
                            schema_registry_conf=config.kafka.schema_registry)
    consumer = Consumer({
        "bootstrap.servers": config.kafka.bootstrap_servers,
        "group.id": f"wal-connector-reader-{uuid.uuid4().hex}",
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "isolation.level": "read_committed",
    })
    try:
        metadata = consumer.list_topics(topic, timeout=10)
        partitions = sorted(metadata.topics[topic].partitions) if topic in metadata.topics else []
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        deadline = time.monotonic() + idle_timeout_s
        while time.monotonic() < deadline:
            message = consumer.poll(0.2)
            if message is None:
                continue
            if message.error() is not None:
                raise KafkaException(message.error())
            deadline = time.monotonic() + idle_timeout_s
            key, value = decoder.decode(topic, message.key(), message.value())
            yield {
                "partition": message.partition(),
                "offset": message.offset(),
                "headers": {k: v.decode() for k, v in (message.headers() or [])},
                "key": key,
                "value": value,
            }
    finally:
        consumer.close()
