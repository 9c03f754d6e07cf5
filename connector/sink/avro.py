"""Avro schemas of the record contract and the two wire framings.

* With a Schema Registry (``kafka.schema_registry_url``): the Confluent wire
  format, magic byte 0 + 4-byte schema id + Avro binary, through
  confluent-kafka's AvroSerializer (``mock://`` URLs give an in-process registry).
* Without one: Avro single-object encoding, ``C3 01`` + the 8-byte
  little-endian CRC-64-AVRO fingerprint of the schema's Parsing Canonical Form
  + Avro binary, so a reader can still tell which schema wrote the bytes.
"""

from __future__ import annotations

import io
import json
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

import fastavro
from fastavro.schema import fingerprint, to_parsing_canonical_form

__all__ = [
    "KEY_SCHEMA_FILE",
    "registry_client",
    "VALUE_SCHEMA_FILE",
    "RecordSerializer",
    "SingleObjectCodec",
    "load_schema",
    "schema_dir",
]

KEY_SCHEMA_FILE = "wal_record_key.avsc"
VALUE_SCHEMA_FILE = "wal_record_value.avsc"
SINGLE_OBJECT_MAGIC = b"\xc3\x01"


def schema_dir() -> Path:
    """Locate ``schemas/``: beside the package in a checkout, or under the installed data files."""
    candidates = [
        Path(__file__).resolve().parents[2] / "schemas",
        Path(sys.prefix) / "share" / "tdengine-wal-connector" / "schemas",
    ]
    for candidate in candidates:
        if (candidate / VALUE_SCHEMA_FILE).is_file():
            return candidate
    raise FileNotFoundError(
        f"Avro schemas not found; looked in {', '.join(str(c) for c in candidates)}"
    )


@lru_cache(maxsize=None)
def load_schema(file_name: str) -> str:
    """Return the JSON text of one ``.avsc`` file from ``schemas/``."""
    return (schema_dir() / file_name).read_text(encoding="utf-8")


_registry_clients: dict[tuple[str, tuple[tuple[str, str], ...]], Any] = {}


def registry_client(url: str, conf: dict[str, str] | None = None) -> Any:
    """Return the process-wide Schema Registry client for ``url`` and ``conf``.

    One client per registry keeps its schema-id cache shared between the
    producers of all tasks.  For ``mock://`` URLs it is also what makes the
    serializers and deserializers of one process see the same schemas,
    because each mock client has its own in-memory store.
    """
    from confluent_kafka.schema_registry import SchemaRegistryClient

    key = (url, tuple(sorted((conf or {}).items())))
    client = _registry_clients.get(key)
    if client is None:
        client = SchemaRegistryClient.new_client({"url": url, **(conf or {})})
        _registry_clients[key] = client
    return client


class SingleObjectCodec:
    """Avro single-object encoding for one schema."""

    def __init__(self, schema_text: str) -> None:
        self.parsed = fastavro.parse_schema(json.loads(schema_text))
        digest = fingerprint(to_parsing_canonical_form(self.parsed), "CRC-64-AVRO")
        # fastavro already returns the fingerprint bytes in little-endian order, as
        # the single-object header stores them (and as Avro's Java library does).
        self.fingerprint = bytes.fromhex(digest)
        self.header = SINGLE_OBJECT_MAGIC + self.fingerprint

    def encode(self, datum: dict[str, Any]) -> bytes:
        buffer = io.BytesIO()
        buffer.write(self.header)
        fastavro.schemaless_writer(buffer, self.parsed, datum)
        return buffer.getvalue()

    def decode(self, data: bytes) -> dict[str, Any]:
        if data[:2] != SINGLE_OBJECT_MAGIC:
            raise ValueError(f"not Avro single-object encoding: starts with {data[:2].hex()!r}, "
                             f"expected {SINGLE_OBJECT_MAGIC.hex()!r}")
        if data[2:10] != self.fingerprint:
            raise ValueError(f"schema fingerprint {data[2:10].hex()} does not match "
                             f"{self.fingerprint.hex()}; the record was written with another schema")
        return fastavro.schemaless_reader(io.BytesIO(data[10:]), self.parsed)  # type: ignore[return-value]


class RecordSerializer:
    """Serialize record keys and values for one topic in the configured framing."""

    def __init__(self, *, schema_registry_url: str | None = None,
                 schema_registry_conf: dict[str, str] | None = None) -> None:
        key_text = load_schema(KEY_SCHEMA_FILE)
        value_text = load_schema(VALUE_SCHEMA_FILE)
        self.registry_url = schema_registry_url
        if schema_registry_url:
            from confluent_kafka.schema_registry.avro import AvroSerializer

            client = registry_client(schema_registry_url, schema_registry_conf)
            self._key_serializer = AvroSerializer(client, key_text)
            self._value_serializer = AvroSerializer(client, value_text)
        else:
            self._key_codec = SingleObjectCodec(key_text)
            self._value_codec = SingleObjectCodec(value_text)

    def serialize(self, topic: str, key: dict[str, Any], value: dict[str, Any]) -> tuple[bytes, bytes]:
        if self.registry_url:
            from confluent_kafka.serialization import MessageField, SerializationContext

            return (
                self._key_serializer(key, SerializationContext(topic, MessageField.KEY)),
                self._value_serializer(value, SerializationContext(topic, MessageField.VALUE)),
            )
        return self._key_codec.encode(key), self._value_codec.encode(value)
