"""tdengine-wal-connector: publish TDengine 3.x WAL inserts and deletes to Kafka as Avro."""

__version__ = "0.1.0"
