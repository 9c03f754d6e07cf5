"""Publish one task's records to its topic and keep its checkpoint in Kafka.

The checkpoint of a task is the committed offset of the connector's consumer
group on partition 0 of the task's topic, and its value is ``nextProcessVer``:
every WAL version below it is fully published.  The offset metadata records
the vgroup id and WAL directory the checkpoint belongs to.

Exactly-once (default): a transactional producer whose ``transactional.id`` is
stable per (connector, task).  ``publish`` runs one transaction holding the
records of a run of versions and, through ``send_offsets_to_transaction``,
the new checkpoint, so both become visible together or not at all.
``init_transactions`` at start fences an older instance and aborts its open
transaction, which is why the checkpoint is read only after it.

At-least-once: an idempotent producer; ``publish`` waits until every record
is acknowledged and only then commits the checkpoint.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Callable

from confluent_kafka import (
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, NewTopic

from connector.config import ConnectorConfig, TaskConfig
from connector.errors import FencedError, SinkError
from connector.sink.avro import RecordSerializer
from connector.sink.records import OutRecord

__all__ = ["Checkpoint", "TaskProducer"]

log = logging.getLogger(__name__)

CHECKPOINT_PARTITION = 0


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A committed checkpoint: the next WAL version to process and whose WAL it is."""

    next_version: int
    vg_id: int | None
    wal_dir: str | None

    def metadata(self) -> str:
        return json.dumps({"vgId": self.vg_id, "walDir": self.wal_dir}, sort_keys=True)

    @classmethod
    def from_offset(cls, offset: int, metadata: str | None) -> Checkpoint:
        vg_id = wal_dir = None
        if metadata:
            try:
                document = json.loads(metadata)
                vg_id = document.get("vgId")
                wal_dir = document.get("walDir")
            except (ValueError, AttributeError):
                log.warning("ignoring unreadable checkpoint metadata %r", metadata)
        return cls(next_version=offset, vg_id=vg_id, wal_dir=wal_dir)


def _kafka_error(err: KafkaException | KafkaError) -> KafkaError:
    return err.args[0] if isinstance(err, KafkaException) else err


class TaskProducer:
    """The Kafka side of one task: topic, producer, checkpoint."""

    def __init__(self, config: ConnectorConfig, task: TaskConfig, *,
                 on_delivery_error: Callable[[str], None] | None = None) -> None:
        self.config = config
        self.task = task
        self.topic = task.topic
        self.exactly_once = config.delivery_mode == "exactly_once"
        self._timeout_s = config.kafka.operation_timeout_ms / 1000
        self._serializer = RecordSerializer(
            schema_registry_url=config.kafka.schema_registry_url,
            schema_registry_conf=config.kafka.schema_registry,
        )
        self._delivery_errors: list[KafkaError] = []
        self._on_delivery_error = on_delivery_error
        self._producer: Producer | None = None
        self._consumer: Consumer | None = None
        self._in_transaction = False

    # -- lifecycle -----------------------------------------------------------

    def start(self) -> Checkpoint | None:
        """Create the topic if needed, start the producer and return the committed checkpoint."""
        self._ensure_topic()
        self._producer = Producer(self._producer_conf())
        self._consumer = Consumer(self._consumer_conf())
        if self.exactly_once:
            try:
                self._producer.init_transactions(self._timeout_s)
            except KafkaException as err:
                raise self._translate(err, "init_transactions") from err
        return self.read_checkpoint()

    def close(self) -> None:
        if self._producer is not None:
            if self._in_transaction:
                try:
                    self._producer.abort_transaction(self._timeout_s)
                except KafkaException as err:
                    log.warning("[%s] aborting the open transaction at shutdown failed: %s",
                                self.task.name, err)
                self._in_transaction = False
            self._producer.flush(self._timeout_s)
            self._producer = None
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None

    def _producer_conf(self) -> dict[str, object]:
        conf: dict[str, object] = {
            "bootstrap.servers": self.config.kafka.bootstrap_servers,
            "client.id": f"wal-connector-{self.config.name}-{self.task.name}",
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": 5,
            "compression.type": "lz4",
        }
        conf.update(self.config.kafka.producer)
        if self.exactly_once:
            conf["transactional.id"] = self.config.transactional_id(self.task)
            conf["transaction.timeout.ms"] = self.config.kafka.transaction_timeout_ms
        return conf

    def _consumer_conf(self) -> dict[str, object]:
        conf: dict[str, object] = {
            "bootstrap.servers": self.config.kafka.bootstrap_servers,
            "group.id": self.config.group_id,
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
        }
        conf.update(self.config.kafka.consumer)
        return conf

    def _ensure_topic(self) -> None:
        admin = AdminClient({"bootstrap.servers": self.config.kafka.bootstrap_servers})
        try:
            metadata = admin.list_topics(timeout=self._timeout_s)
        except KafkaException as err:
            raise SinkError(f"[{self.task.name}] cannot reach Kafka at "
                            f"{self.config.kafka.bootstrap_servers}: {err}", retriable=True) from err
        if self.topic in metadata.topics:
            return
        topic_conf = self.config.kafka.topic
        if not topic_conf.create:
            raise SinkError(f"[{self.task.name}] topic {self.topic!r} does not exist and "
                            f"kafka.topic.create is false; create it or enable kafka.topic.create")
        new_topic = NewTopic(self.topic, num_partitions=topic_conf.partitions,
                             replication_factor=topic_conf.replication_factor,
                             config=dict(topic_conf.config))
        future = admin.create_topics([new_topic], operation_timeout=self._timeout_s)[self.topic]
        try:
            future.result()
            log.info("[%s] created topic %s with %d partition(s)", self.task.name, self.topic,
                     topic_conf.partitions)
        except KafkaException as err:
            if _kafka_error(err).code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise SinkError(f"[{self.task.name}] creating topic {self.topic!r} failed: {err}") from err

    # -- checkpoint ------------------------------------------------------------

    def read_checkpoint(self) -> Checkpoint | None:
        """Return the group's committed checkpoint for this task's topic, or None if there is none."""
        assert self._consumer is not None
        partition = TopicPartition(self.topic, CHECKPOINT_PARTITION)
        deadline = time.monotonic() + self._timeout_s
        while True:
            try:
                committed = self._consumer.committed([partition], timeout=self._timeout_s)[0]
                break
            except KafkaException as err:
                error = _kafka_error(err)
                # UNSTABLE_OFFSET_COMMIT: a transaction holding an offset is still
                # being completed by the coordinator; it settles within moments.
                if error.retriable() and time.monotonic() < deadline:
                    time.sleep(0.2)
                    continue
                raise SinkError(f"[{self.task.name}] reading the checkpoint of group "
                                f"{self.config.group_id!r} failed: {err}", retriable=True) from err
        if committed.error is not None:
            raise SinkError(f"[{self.task.name}] reading the checkpoint failed: {committed.error}",
                            retriable=True)
        if committed.offset < 0:
            return None
        return Checkpoint.from_offset(committed.offset, committed.metadata)

    # -- publishing --------------------------------------------------------------

    def publish(self, records: list[OutRecord], checkpoint: Checkpoint) -> None:
        """Publish ``records`` and move the checkpoint to ``checkpoint``, atomically in exactly-once mode.

        On return the records are acknowledged and the checkpoint is committed.
        On SinkError nothing of this call is committed; the caller re-reads
        from its last committed checkpoint.
        """
        assert self._producer is not None and self._consumer is not None
        offsets = [TopicPartition(self.topic, CHECKPOINT_PARTITION, checkpoint.next_version,
                                  metadata=checkpoint.metadata())]
        if self.exactly_once:
            self._publish_transaction(records, offsets)
        else:
            self._publish_acknowledged(records, offsets)

    def _produce_all(self, records: list[OutRecord]) -> None:
        assert self._producer is not None
        for record in records:
            key, value = self._serializer.serialize(self.topic, record.key, record.value)
            while True:
                try:
                    self._producer.produce(self.topic, value=value, key=key,
                                           headers=list(record.headers),
                                           on_delivery=self._on_delivery)
                    break
                except BufferError:
                    # The local queue is full: serve delivery reports to make room.
                    self._producer.poll(0.1)
            self._producer.poll(0)

    def _on_delivery(self, err: KafkaError | None, message: object) -> None:
        if err is not None:
            self._delivery_errors.append(err)
            if self._on_delivery_error is not None:
                self._on_delivery_error(f"{err.name()}: {err.str()}")

    def _publish_transaction(self, records: list[OutRecord], offsets: list[TopicPartition]) -> None:
        producer = self._producer
        assert producer is not None and self._consumer is not None
        self._delivery_errors.clear()
        try:
            producer.begin_transaction()
            self._in_transaction = True
            self._produce_all(records)
            producer.send_offsets_to_transaction(offsets, self._consumer.consumer_group_metadata(),
                                                 self._timeout_s)
            self._commit_transaction()
        except KafkaException as err:
            translated = self._translate(err, "transaction")
            self._abort_after(err)
            raise translated from err

    def _commit_transaction(self) -> None:
        producer = self._producer
        assert producer is not None
        deadline = time.monotonic() + self._timeout_s
        while True:
            try:
                producer.commit_transaction(self._timeout_s)
                self._in_transaction = False
                return
            except KafkaException as err:
                error = _kafka_error(err)
                if error.retriable() and time.monotonic() < deadline:
                    log.warning("[%s] commit_transaction will be retried: %s", self.task.name, error)
                    continue
                raise

    def _abort_after(self, err: KafkaException) -> None:
        producer = self._producer
        if producer is None or not self._in_transaction:
            return
        error = _kafka_error(err)
        if error.fatal():
            self._in_transaction = False
            return
        try:
            producer.abort_transaction(self._timeout_s)
        except KafkaException as abort_err:
            log.warning("[%s] abort_transaction failed: %s", self.task.name, abort_err)
        self._in_transaction = False

    def _publish_acknowledged(self, records: list[OutRecord], offsets: list[TopicPartition]) -> None:
        producer = self._producer
        assert producer is not None and self._consumer is not None
        self._delivery_errors.clear()
        self._produce_all(records)
        remaining = producer.flush(self._timeout_s)
        if remaining:
            raise SinkError(f"[{self.task.name}] {remaining} record(s) not acknowledged within "
                            f"{self._timeout_s:.0f} s; the checkpoint stays", retriable=True)
        if self._delivery_errors:
            first = self._delivery_errors[0]
            raise SinkError(f"[{self.task.name}] {len(self._delivery_errors)} record(s) failed: "
                            f"{first.name()}: {first.str()}; the checkpoint stays",
                            retriable=all(e.retriable() for e in self._delivery_errors))
        try:
            self._consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as err:
            raise SinkError(f"[{self.task.name}] committing checkpoint "
                            f"{offsets[0].offset} failed: {err}", retriable=True) from err

    def _translate(self, err: KafkaException, operation: str) -> SinkError:
        error = _kafka_error(err)
        detail = f"{error.name()}: {error.str()}"
        if self._delivery_errors:
            first = self._delivery_errors[0]
            detail += f"; first failed record: {first.name()}: {first.str()}"
        if error.code() in (KafkaError._FENCED, KafkaError.PRODUCER_FENCED,
                            KafkaError.INVALID_PRODUCER_EPOCH):
            return FencedError(
                f"[{self.task.name}] producer fenced during {operation}: another instance uses "
                f"transactional.id {self.config.transactional_id(self.task)!r} ({detail})")
        # An abortable transaction error is worth retrying unless a record itself
        # was rejected for good (too large, not authorized): then retrying repeats it.
        records_retriable = all(e.retriable() for e in self._delivery_errors)
        retriable = (bool(error.retriable() or error.txn_requires_abort())
                     and not error.fatal() and records_retriable)
        return SinkError(f"[{self.task.name}] Kafka {operation} failed: {detail}", retriable=retriable)
