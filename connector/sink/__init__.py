"""Kafka side: Avro record contract, serialization, transactional producer and checkpoints."""
