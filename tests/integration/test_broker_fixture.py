"""Check that the session broker supports what the connector relies on.

The connector publishes WAL entries in Kafka transactions and commits offsets
with send_offsets_to_transaction, so the broker must run the transaction and
group coordinators on a single node.
"""

from __future__ import annotations

import uuid

import pytest
from confluent_kafka import OFFSET_INVALID, Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

pytestmark = pytest.mark.broker

TIMEOUT_S = 30.0


def unique_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def create_topic(bootstrap: str, topic: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    futures[topic].result(timeout=TIMEOUT_S)


def transactional_producer(bootstrap: str) -> Producer:
    producer = Producer({
        "bootstrap.servers": bootstrap,
        "transactional.id": unique_name("broker-fixture-txn"),
        "enable.idempotence": True,
    })
    producer.init_transactions(TIMEOUT_S)
    return producer


def group_metadata(bootstrap: str, group: str):
    """Return the metadata that send_offsets_to_transaction needs for a group with no members."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        return consumer.consumer_group_metadata()
    finally:
        consumer.close()


def read_committed_values(bootstrap: str, topic: str, expected_count: int) -> list[bytes]:
    """Read the topic from the start as a read_committed consumer until expected_count records or timeout."""
    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": unique_name("broker-fixture-reader"),
        "isolation.level": "read_committed",
        "enable.auto.commit": False,
        "enable.partition.eof": True,
    })
    values: list[bytes] = []
    try:
        consumer.assign([TopicPartition(topic, 0, 0)])
        reached_eof = False
        for _ in range(int(TIMEOUT_S)):
            message = consumer.poll(1.0)
            if message is None:
                continue
            if message.error():
                assert message.error().code() == KafkaError._PARTITION_EOF, message.error()
                reached_eof = True
                if len(values) >= expected_count:
                    break
                continue
            values.append(message.value())
        assert reached_eof, f"consumer never reached the end of {topic} within {TIMEOUT_S} s"
    finally:
        consumer.close()
    return values


def committed_offset(bootstrap: str, group: str, topic: str) -> int:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        [partition] = consumer.committed([TopicPartition(topic, 0)], timeout=TIMEOUT_S)
    finally:
        consumer.close()
    assert partition.error is None, partition.error
    return partition.offset


def test_committed_transaction_visible(kafka_bootstrap: str) -> None:
    topic = unique_name("broker-fixture")
    group = unique_name("broker-fixture-group")
    create_topic(kafka_bootstrap, topic)
    producer = transactional_producer(kafka_bootstrap)

    producer.begin_transaction()
    producer.produce(topic, key=b"wal-key", value=b"committed-record")
    producer.send_offsets_to_transaction(
        [TopicPartition(topic, 0, 1)], group_metadata(kafka_bootstrap, group), TIMEOUT_S
    )
    producer.commit_transaction(TIMEOUT_S)

    values = read_committed_values(kafka_bootstrap, topic, expected_count=1)
    assert values == [b"committed-record"]
    assert committed_offset(kafka_bootstrap, group, topic) == 1


def test_aborted_transaction_hidden(kafka_bootstrap: str) -> None:
    topic = unique_name("broker-fixture")
    group = unique_name("broker-fixture-group")
    create_topic(kafka_bootstrap, topic)
    producer = transactional_producer(kafka_bootstrap)

    producer.begin_transaction()
    producer.produce(topic, value=b"aborted-record")
    producer.send_offsets_to_transaction(
        [TopicPartition(topic, 0, 7)], group_metadata(kafka_bootstrap, group), TIMEOUT_S
    )
    producer.flush(TIMEOUT_S)
    producer.abort_transaction(TIMEOUT_S)

    producer.begin_transaction()
    producer.produce(topic, value=b"committed-record")
    producer.commit_transaction(TIMEOUT_S)

    values = read_committed_values(kafka_bootstrap, topic, expected_count=1)
    assert values == [b"committed-record"]
    # The aborted transaction's offset commit must not be visible either.
    assert committed_offset(kafka_bootstrap, group, topic) == OFFSET_INVALID
