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

The task's schema catalog lives in a compacted topic beside the task topic
(``<topic>.schema-history`` by default): one record per schema version,
table or super table, keyed by CatalogChange.key, with a tombstone for a
dropped table.  ``publish`` writes the catalog changes of a run of versions
in the same transaction as its records and checkpoint, so after a restart
the catalog read back matches the checkpoint exactly.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Callable

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, NewTopic

from connector.config import ConnectorConfig, TaskConfig
from connector.decode.catalog import CatalogChange
from connector.errors import FencedError, SinkError
from connector.sink.avro import RecordSerializer
from connector.sink.records import OutRecord, renumber_blocks, split_rows

__all__ = ["CHECKPOINT_PARTITION", "Checkpoint", "TaskProducer", "fetch_checkpoint"]

log = logging.getLogger(__name__)
# librdkafka's own log lines (retries, coordinator moves) go through Python
# logging under this name instead of raw lines on stderr.
librdkafka_log = logging.getLogger("connector.librdkafka")


class _TransientNoticeFilter(logging.Filter):
    """Report librdkafka's retry notices for a coordinator that is still loading at INFO.

    A new broker, or a restarted connector whose previous transaction the
    coordinator is still aborting, returns "coordinator load in progress"
    for a moment; librdkafka retries by itself and logs it as a warning.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.WARNING and "load in progress" in record.getMessage():
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


librdkafka_log.addFilter(_TransientNoticeFilter())

CHECKPOINT_PARTITION = 0


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A committed checkpoint: the next WAL version to process and whose WAL it is."""

    next_version: int
    vg_id: int | None
    wal_dir: str | None
    # A fill-history task's fixed range and whether its hand-off marker is published.
    fill_range: tuple[int, int] | None = None
    handed_off: bool = False

    def metadata(self) -> str:
        document: dict[str, object] = {"vgId": self.vg_id, "walDir": self.wal_dir}
        if self.fill_range is not None:
            document["fillHistory"] = {"from": self.fill_range[0], "to": self.fill_range[1],
                                       "handedOff": self.handed_off}
        return json.dumps(document, sort_keys=True)

    @classmethod
    def from_offset(cls, offset: int, metadata: str | None) -> Checkpoint:
        vg_id = wal_dir = fill_range = None
        handed_off = False
        if metadata:
            try:
                document = json.loads(metadata)
                vg_id = document.get("vgId")
                wal_dir = document.get("walDir")
                fill = document.get("fillHistory")
                if fill:
                    fill_range = (int(fill["from"]), int(fill["to"]))
                    handed_off = bool(fill.get("handedOff"))
            except (ValueError, AttributeError, KeyError, TypeError):
                log.warning("ignoring unreadable checkpoint metadata %r", metadata)
        return cls(next_version=offset, vg_id=vg_id, wal_dir=wal_dir, fill_range=fill_range,
                   handed_off=handed_off)


def _kafka_error(err: KafkaException | KafkaError) -> KafkaError:
    return err.args[0] if isinstance(err, KafkaException) else err


# Errors a group coordinator returns while it starts, moves or settles a
# transaction's offsets; each clears within moments, so reads are retried.
_TRANSIENT_COORDINATOR_ERRORS = frozenset({
    KafkaError.NOT_COORDINATOR,
    KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
    KafkaError.COORDINATOR_NOT_AVAILABLE,
    KafkaError.UNSTABLE_OFFSET_COMMIT,
    KafkaError._TIMED_OUT,
})


def fetch_checkpoint(consumer: Consumer, topic: str, *, timeout_s: float,
                     label: str) -> Checkpoint | None:
    """Return the committed checkpoint of ``consumer``'s group on partition 0 of ``topic``.

    Returns None when the group has no offset there.  Coordinator errors
    are retried until ``timeout_s`` passes; ``label`` prefixes error messages.
    """
    partition = TopicPartition(topic, CHECKPOINT_PARTITION)
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            committed = consumer.committed([partition], timeout=timeout_s)[0]
            break
        except KafkaException as err:
            error = _kafka_error(err)
            transient = error.retriable() or error.code() in _TRANSIENT_COORDINATOR_ERRORS
            if transient and time.monotonic() < deadline:
                time.sleep(0.2)
                continue
            raise SinkError(f"{label}: reading the checkpoint on topic {topic!r} failed: "
                            f"{error.name()}: {error.str()}", retriable=True) from err
    if committed.error is not None:
        raise SinkError(f"{label}: reading the checkpoint on topic {topic!r} failed: "
                        f"{committed.error}", retriable=True)
    if committed.offset < 0:
        return None
    return Checkpoint.from_offset(committed.offset, committed.metadata)


class TaskProducer:
    """Kafka side of one task: its topics, its producer and its checkpoint."""

    def __init__(self, config: ConnectorConfig, task: TaskConfig, *,
                 role: str = "live",
                 on_delivery_error: Callable[[str], None] | None = None) -> None:
        """``role`` "fill-history" gives the task its own group and transactional.id, so its
        checkpoint and transactions stay apart from the live task that shares the topic."""
        self.config = config
        self.task = task
        suffix = "" if role == "live" else f".{role}"
        self.group_id = config.group_id + suffix
        self.transactional_id = config.transactional_id(task) + suffix
        self.topic = task.topic
        self.history_topic = task.history_topic
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
        self._transaction_started_at = 0.0
        # Set after a failed publish: the next publish starts from a new producer,
        # whose init_transactions aborts any transaction the broker still keeps open.
        self._needs_new_producer = False

    # -- lifecycle -----------------------------------------------------------

    def start(self) -> Checkpoint | None:
        """Create the topics if needed, start the producer and return the committed checkpoint."""
        self._ensure_topics()
        self._consumer = Consumer(self._consumer_conf())
        self._new_producer()
        return self.read_checkpoint()

    def _new_producer(self) -> None:
        """Create the producer; in exactly-once mode ``init_transactions`` fences older instances."""
        self._producer = Producer(self._producer_conf())
        self._in_transaction = False
        if self.exactly_once:
            try:
                self._producer.init_transactions(self._timeout_s)
            except KafkaException as err:
                self._producer = None
                raise self._translate(err, "init_transactions") from err
        self._needs_new_producer = False

    def _discard_producer(self) -> None:
        """Drop a producer that failed, without waiting for what it still holds."""
        producer, self._producer = self._producer, None
        self._in_transaction = False
        self._needs_new_producer = True
        if producer is not None:
            producer.purge(in_queue=True, in_flight=True, blocking=False)

    def close(self) -> None:
        if self._producer is not None and not self._needs_new_producer:
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
            "logger": librdkafka_log,
        }
        conf.update(self.config.kafka.producer)
        if self.exactly_once:
            conf["transactional.id"] = self.transactional_id
            conf["transaction.timeout.ms"] = self.config.kafka.transaction_timeout_ms
        return conf

    def _consumer_conf(self) -> dict[str, object]:
        conf: dict[str, object] = {
            "bootstrap.servers": self.config.kafka.bootstrap_servers,
            "group.id": self.group_id,
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
            "logger": librdkafka_log,
        }
        conf.update(self.config.kafka.consumer)
        return conf

    def _ensure_topics(self) -> None:
        admin = AdminClient({"bootstrap.servers": self.config.kafka.bootstrap_servers,
                             "logger": librdkafka_log})
        try:
            metadata = admin.list_topics(timeout=self._timeout_s)
        except KafkaException as err:
            raise SinkError(f"[{self.task.name}] cannot reach Kafka at "
                            f"{self.config.kafka.bootstrap_servers}: {err}", retriable=True) from err
        topic_conf = self.config.kafka.topic
        wanted = [
            NewTopic(self.topic, num_partitions=topic_conf.partitions,
                     replication_factor=topic_conf.replication_factor,
                     config=dict(topic_conf.config)),
            # One partition keeps the catalog history in order; compaction keeps
            # the newest document per key and drops tables once their tombstone ages out.
            NewTopic(self.history_topic, num_partitions=1,
                     replication_factor=topic_conf.replication_factor,
                     config={"cleanup.policy": "compact"}),
        ]
        missing = [topic for topic in wanted if topic.topic not in metadata.topics]
        if not missing:
            return
        if not topic_conf.create:
            names = ", ".join(repr(topic.topic) for topic in missing)
            raise SinkError(f"[{self.task.name}] topic(s) {names} do not exist and "
                            f"kafka.topic.create is false; create them or enable kafka.topic.create")
        futures = admin.create_topics(missing, operation_timeout=self._timeout_s)
        for topic in missing:
            try:
                futures[topic.topic].result()
                log.info("[%s] created topic %s with %d partition(s)", self.task.name, topic.topic,
                         topic.num_partitions)
            except KafkaException as err:
                if _kafka_error(err).code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise SinkError(f"[{self.task.name}] creating topic {topic.topic!r} failed: "
                                    f"{err}") from err

    # -- checkpoint ------------------------------------------------------------

    def read_checkpoint(self) -> Checkpoint | None:
        """Return the group's committed checkpoint for this task's topic, or None if there is none."""
        assert self._consumer is not None
        return fetch_checkpoint(self._consumer, self.topic, timeout_s=self._timeout_s,
                                label=f"[{self.task.name}] group {self.group_id!r}")

    def read_schema_history(self) -> list[CatalogChange]:
        """Return every committed catalog change of the schema-history topic, oldest first."""
        consumer = Consumer({
            "bootstrap.servers": self.config.kafka.bootstrap_servers,
            "group.id": f"{self.group_id}.schema-history",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "isolation.level": "read_committed",
            "logger": librdkafka_log,
        })
        try:
            metadata = consumer.list_topics(self.history_topic, timeout=self._timeout_s)
            partitions = sorted(metadata.topics[self.history_topic].partitions)
            consumer.assign([TopicPartition(self.history_topic, p, OFFSET_BEGINNING)
                             for p in partitions])
            changes: list[CatalogChange] = []
            at_end: set[int] = set()
            deadline = time.monotonic() + self._timeout_s
            while len(at_end) < len(partitions):
                if time.monotonic() > deadline:
                    raise SinkError(f"[{self.task.name}] reading {self.history_topic!r} timed out "
                                    f"after {self._timeout_s:.0f} s", retriable=True)
                message = consumer.poll(0.5)
                if message is None:
                    continue
                error = message.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        at_end.add(message.partition())
                        continue
                    raise SinkError(f"[{self.task.name}] reading {self.history_topic!r} failed: "
                                    f"{error}", retriable=error.retriable())
                at_end.discard(message.partition())
                value = message.value()
                changes.append(CatalogChange(
                    key=message.key().decode("utf-8"),
                    value=None if value is None else json.loads(value),
                ))
            return changes
        finally:
            consumer.close()

    # -- publishing --------------------------------------------------------------

    def publish(self, records: list[OutRecord], checkpoint: Checkpoint,
                catalog_changes: list[CatalogChange] | tuple[CatalogChange, ...] = ()) -> None:
        """Publish ``records`` and ``catalog_changes`` and move the checkpoint, atomically in exactly-once mode.

        On return the records are acknowledged and the checkpoint is committed.
        On SinkError nothing of this call is committed; the caller re-reads
        from its last committed checkpoint.
        """
        assert self._consumer is not None
        if self._producer is None or self._needs_new_producer:
            self._new_producer()
        offsets = [TopicPartition(self.topic, CHECKPOINT_PARTITION, checkpoint.next_version,
                                  metadata=checkpoint.metadata())]
        try:
            if self.exactly_once:
                self._publish_transaction(records, catalog_changes, offsets)
            else:
                self._publish_acknowledged(records, catalog_changes, offsets)
        except SinkError:
            self._discard_producer()
            raise

    def _produce(self, topic: str, *, key: bytes, value: bytes | None,
                 headers: list[tuple[str, bytes]] | None = None) -> None:
        assert self._producer is not None
        while True:
            try:
                self._producer.produce(topic, value=value, key=key, headers=headers,
                                       on_delivery=self._on_delivery)
                break
            except BufferError:
                # The local queue is full: serve delivery reports to make room.
                self._producer.poll(0.1)
        self._producer.poll(0)

    def _produce_all(self, records: list[OutRecord],
                     catalog_changes: list[CatalogChange] | tuple[CatalogChange, ...]) -> None:
        serialized = self.fit_records(records)
        for change in catalog_changes:
            value = None if change.value is None else json.dumps(change.value, sort_keys=True).encode()
            self._produce(self.history_topic, key=change.key.encode(), value=value)
        for record, key, value in serialized:
            self._produce(self.topic, key=key, value=value, headers=list(record.headers))

    def fit_records(self, records: list[OutRecord]) -> list[tuple[OutRecord, bytes, bytes]]:
        """Serialize ``records``, splitting SUBMIT blocks by rows to stay within kafka.max_record_bytes.

        The records of a version that was split are renumbered, so their
        block index and count describe the records actually published.
        Raises a non-retriable SinkError when a single row does not fit.
        """
        limit = self.config.kafka.max_record_bytes
        fitted: list[OutRecord] = []
        split_versions: set[int] = set()
        pending = list(records)
        sizes: dict[int, tuple[bytes, bytes]] = {}
        while pending:
            record = pending.pop(0)
            key, value = self._serializer.serialize(self.topic, record.key, record.value)
            if len(value) <= limit:
                fitted.append(record)
                sizes[id(record)] = (key, value)
                continue
            rows = record.value.get("rows") or []
            if record.value["kind"] != "SUBMIT" or len(rows) < 2:  # type: ignore[arg-type]
                table = record.value.get("table") or {}
                raise SinkError(
                    f"[{self.task.name}] a {record.value['kind']} record of table uid "
                    f"{table.get('uid')} at version {record.version} is {len(value)} bytes even "
                    f"as a single row, above kafka.max_record_bytes {limit}; raise that limit (and "
                    f"the topic's max.message.bytes and the producer's message.max.bytes) to "
                    f"publish it", retriable=False)
            parts = min(len(rows), max(2, -(-len(value) // limit)))  # type: ignore[arg-type]
            pending[0:0] = split_rows(record, parts)
            split_versions.add(record.version)
        if not split_versions:
            return [(record, *sizes[id(record)]) for record in fitted]
        renumber_blocks(fitted)
        log.info("[%s] split oversized SUBMIT blocks of version(s) %s by rows to fit "
                 "kafka.max_record_bytes %d", self.task.name, sorted(split_versions), limit)
        result = []
        for record in fitted:
            if record.version in split_versions:
                key, value = self._serializer.serialize(self.topic, record.key, record.value)
            else:
                key, value = sizes[id(record)]
            result.append((record, key, value))
        return result

    def _on_delivery(self, err: KafkaError | None, message: object) -> None:
        if err is not None:
            self._delivery_errors.append(err)
            if self._on_delivery_error is not None:
                self._on_delivery_error(f"{err.name()}: {err.str()}")

    def _publish_transaction(self, records: list[OutRecord],
                             catalog_changes: list[CatalogChange] | tuple[CatalogChange, ...],
                             offsets: list[TopicPartition]) -> None:
        producer = self._producer
        assert producer is not None and self._consumer is not None
        self._delivery_errors.clear()
        try:
            producer.begin_transaction()
            self._in_transaction = True
            self._transaction_started_at = time.monotonic()
            self._produce_all(records, catalog_changes)
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
        if error.fatal() or not error.txn_requires_abort():
            # Nothing to abort here: the producer is discarded, and the next
            # one's init_transactions aborts the transaction on the broker.
            self._in_transaction = False
            return
        try:
            producer.abort_transaction(self._timeout_s)
        except KafkaException as abort_err:
            log.warning("[%s] abort_transaction failed: %s", self.task.name, abort_err)
        self._in_transaction = False

    def _publish_acknowledged(self, records: list[OutRecord],
                              catalog_changes: list[CatalogChange] | tuple[CatalogChange, ...],
                              offsets: list[TopicPartition]) -> None:
        producer = self._producer
        assert producer is not None and self._consumer is not None
        self._delivery_errors.clear()
        try:
            self._produce_all(records, catalog_changes)
        except KafkaException as err:
            raise self._translate(err, "produce") from err
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
            # The coordinator also bumps the epoch when it aborts a transaction
            # that outlived transaction.timeout.ms, and librdkafka reports that
            # as fenced too.  Only a transaction open longer than the timeout
            # can have been aborted so; anything sooner is another instance.
            open_s = time.monotonic() - self._transaction_started_at
            timeout_s = self.config.kafka.transaction_timeout_ms / 1000
            if self._in_transaction and open_s >= timeout_s:
                return SinkError(
                    f"[{self.task.name}] the broker aborted a transaction open for {open_s:.1f} s, "
                    f"longer than kafka.transaction_timeout_ms ({timeout_s:.1f} s); a new producer "
                    f"resumes from the checkpoint ({detail})", retriable=True)
            return FencedError(
                f"[{self.task.name}] producer fenced during {operation}: another connector "
                f"instance started with transactional.id {self.transactional_id!r}; this one "
                f"stops ({detail})")
        # An abortable transaction error is worth retrying unless a record itself
        # was rejected for good (too large, not authorized): then retrying repeats it.
        records_retriable = all(e.retriable() for e in self._delivery_errors)
        retriable = (bool(error.retriable() or error.txn_requires_abort())
                     and not error.fatal() and records_retriable)
        return SinkError(f"[{self.task.name}] Kafka {operation} failed: {detail}", retriable=retriable)
