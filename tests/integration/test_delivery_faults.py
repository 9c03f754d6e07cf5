"""Delivery under faults against real brokers: outage, fencing, transaction timeout, oversized data."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from connector.errors import FencedError, SinkError
from connector.runtime import Runtime
from connector.sink.producer import TaskProducer
from connector.tasks.state import TaskStatus
from connector.wal.writer import WalWriter

from ..unit.decode._fixture_data import table_schemas_config
from .support import (
    committed_offset,
    copy_wal,
    expected_entries,
    make_config,
    read_topic,
    record_differences,
    wait_for_committed,
)

pytestmark = pytest.mark.broker

REPO_ROOT = Path(__file__).resolve().parents[2]
BROKER_SCRIPT = REPO_ROOT / "scripts" / "kafka-broker"


def basic_entries() -> list[dict]:
    return [e for e in expected_entries("basic.expected.json")["entries"] if e["version"] > 0]


def append(writer: WalWriter, count: int) -> None:
    entries = basic_entries()
    for _ in range(count):
        entry = entries[(writer.last_version + 1) % len(entries)]
        version = writer.append(entry["msgType"], bytes.fromhex(entry["bodyHex"]),
                                seq_num=writer.last_version + 1, term=1)
        writer.commit(version)


def expected_record_count(version: int) -> int:
    body = basic_entries()[version % len(basic_entries())]["body"]
    return len(body.get("tables", body.get("uidList", [])))


def assert_each_version_once(records: list[dict], last: int) -> None:
    keys = [(r["value"]["source"]["walVersion"], r["value"]["source"]["blockIndex"]) for r in records]
    assert len(keys) == len(set(keys)), Counter(keys).most_common(3)
    assert keys == sorted(keys)
    per_version = Counter(version for version, _ in keys)
    for version in range(last + 1):
        assert per_version.get(version, 0) == expected_record_count(version), version


def run_in_thread(runtime: Runtime) -> tuple[threading.Thread, list[int]]:
    codes: list[int] = []
    thread = threading.Thread(target=lambda: codes.append(runtime.run()), name="connector")
    thread.start()
    return thread, codes


class OwnBroker:
    """A broker of this test alone, so it can be stopped and started again with its data."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.bootstrap = self._run("start", "--port", "0")

    def _run(self, *args: str) -> str:
        result = subprocess.run([sys.executable, str(BROKER_SCRIPT), *args, "--dir", str(self.directory)],
                                capture_output=True, text=True, timeout=300, check=True)
        return result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""

    def stop(self, *, keep_data: bool) -> None:
        self._run("stop", *(["--keep-data"] if keep_data else []))

    def start_again(self) -> None:
        assert self._run("start") == self.bootstrap


@pytest.fixture
def own_broker(tmp_path: Path):
    broker = OwnBroker(tmp_path / "broker")
    try:
        yield broker
    finally:
        broker.stop(keep_data=False)


def test_broker_outage_blocks_then_resumes(own_broker: OwnBroker, tmp_path: Path,
                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    wal_dir = tmp_path / "vnode2" / "wal"
    writer = WalWriter(wal_dir, vg_id=2)
    append(writer, 20)
    config = make_config(own_broker.bootstrap, wal_dir, max_versions=5,
                         extra_kafka={"operation_timeout_ms": 5_000})
    runtime = Runtime(config)
    thread, codes = run_in_thread(runtime)
    try:
        assert wait_for_committed(config, 20) == 20
        own_broker.stop(keep_data=True)
        append(writer, 20)
        cpu_before, wall_before = time.process_time(), time.monotonic()
        time.sleep(30)
        cpu_share = (time.process_time() - cpu_before) / (time.monotonic() - wall_before)
        assert thread.is_alive()
        assert runtime.tasks[0].status is TaskStatus.READY
        assert runtime.tasks[0].committed_ver == 20  # nothing passed the broker while it was down
        own_broker.start_again()
        assert wait_for_committed(config, 40, timeout_s=180) == 40
    finally:
        runtime.request_stop()
        thread.join(timeout=120)
        writer.close()

    assert codes == [0]
    assert cpu_share < 0.5, f"the connector used {cpu_share:.0%} of a core while the broker was down"
    warnings = [r.getMessage() for r in caplog.records
                if r.levelno == logging.WARNING and r.name.startswith("connector.tasks")]
    assert any("publishing from version 20 failed" in w for w in warnings), warnings
    assert any("recovered after" in w for w in warnings), warnings
    assert len(warnings) <= 6, warnings  # counted, not repeated once per attempt
    assert_each_version_once(read_topic(config), 39)


def test_second_instance_fences_first(kafka_bootstrap: str, tmp_path: Path) -> None:
    wal_dir = tmp_path / "vnode2" / "wal"
    writer = WalWriter(wal_dir, vg_id=2)
    append(writer, 10)
    config = make_config(kafka_bootstrap, wal_dir, max_versions=2)
    first = Runtime(config)
    first_thread, first_codes = run_in_thread(first)
    second = None
    try:
        assert wait_for_committed(config, 10) == 10
        second = Runtime(config)
        second_thread, second_codes = run_in_thread(second)
        deadline = time.monotonic() + 60
        while second.tasks[0].status is not TaskStatus.READY and time.monotonic() < deadline:
            time.sleep(0.1)
        append(writer, 10)
        first_thread.join(timeout=90)
        assert not first_thread.is_alive(), "the fenced instance did not stop"
        assert first_codes == [1]
        assert isinstance(first.tasks[0].error, FencedError)
        assert "another connector instance" in str(first.tasks[0].error)
        assert wait_for_committed(config, 20) == 20
    finally:
        first.request_stop()
        first_thread.join(timeout=60)
        if second is not None:
            second.request_stop()
            second_thread.join(timeout=60)
        writer.close()
    assert_each_version_once(read_topic(config), 19)


def test_timed_out_transaction_aborted_and_retried(kafka_bootstrap: str, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    wal_dir = tmp_path / "vnode2" / "wal"
    writer = WalWriter(wal_dir, vg_id=2)
    append(writer, 12)
    writer.close()
    config = make_config(kafka_bootstrap, wal_dir, max_versions=4,
                         extra_kafka={"transaction_timeout_ms": 2_000})
    original = TaskProducer._commit_transaction
    delayed = []

    def slow_first_commit(self: TaskProducer) -> None:
        if not delayed:
            delayed.append(True)
            # Longer than the transaction timeout plus the coordinator's abort
            # check (1 s on scripts/kafka-broker, 10 s by default elsewhere).
            time.sleep(14)
        original(self)

    monkeypatch.setattr(TaskProducer, "_commit_transaction", slow_first_commit)
    runtime = Runtime(config)
    assert runtime.run(once=True) == 0
    assert delayed == [True]
    assert runtime.tasks[0].publisher.transactions >= 3  # the aborted one was published again
    assert committed_offset(config) == 12
    assert_each_version_once(read_topic(config), 11)


def test_record_too_large_for_topic_halts(kafka_bootstrap: str, tmp_path: Path) -> None:
    wal_dir = copy_wal("basic", tmp_path / "wal")
    config = make_config(kafka_bootstrap, wal_dir, max_versions=1)
    topic = config.tasks[0].topic
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    admin.create_topics([NewTopic(topic, 1, 1, config={"max.message.bytes": "300"})])[topic].result()

    runtime = Runtime(config)
    assert runtime.run(once=True) == 1
    task = runtime.tasks[0]
    assert isinstance(task.error, SinkError)
    assert "MSG_SIZE_TOO_LARGE" in str(task.error)
    assert committed_offset(config) == 1  # version 0 (no records) committed, version 1 not
    assert read_topic(config) == []


def test_oversized_blocks_split_by_rows(kafka_bootstrap: str, tmp_path: Path) -> None:
    wal_dir = copy_wal("basic", tmp_path / "wal")
    config = make_config(kafka_bootstrap, wal_dir, extra_kafka={"max_record_bytes": 300})
    assert Runtime(config).run(once=True) == 0

    records = read_topic(config)
    by_version: dict[int, list[dict]] = {}
    for record in records:
        by_version.setdefault(record["value"]["source"]["walVersion"], []).append(record)
    split = [v for v, group in by_version.items()
             if len(group) > len({r["value"]["table"]["uid"] for r in group})]
    assert split, "expected some blocks to need splitting at 300 bytes"
    for version, group in by_version.items():
        indexes = [r["value"]["source"]["blockIndex"] for r in group]
        assert indexes == list(range(len(group))), version
        assert {r["value"]["source"]["blockCount"] for r in group} == {len(group)}, version

    # Joined back per table, the rows equal the fixture's.
    merged = []
    for version, group in sorted(by_version.items()):
        tables: dict[int, dict] = {}
        for record in group:
            value = record["value"]
            uid = value["table"]["uid"] if value["table"] else 0
            if uid in tables:
                tables[uid]["value"]["rows"].extend(value["rows"])
            else:
                tables[uid] = {"value": {**value, "rows": list(value["rows"])}}
        for index, joined in enumerate(tables.values()):
            joined["value"]["source"] = {**joined["value"]["source"], "blockIndex": index,
                                         "blockCount": len(tables)}
            merged.append(joined)
    problems = record_differences("basic.expected.json", merged)
    assert not problems, "\n".join(problems[:20])


def test_single_row_too_large_halts(kafka_bootstrap: str, tmp_path: Path) -> None:
    vnode = tmp_path / "vnode"
    copy_wal("types-ms", vnode)
    schemas = table_schemas_config(expected_entries("types-ms/wal.expected.json"))
    config = make_config(kafka_bootstrap, vnode / "wal", max_versions=1, table_schemas=schemas,
                         task_overrides={}, extra_kafka={"max_record_bytes": 50_000})
    runtime = Runtime(config)
    assert runtime.run(once=True) == 1
    error = runtime.tasks[0].error
    assert isinstance(error, SinkError) and not error.retriable
    assert "version 5" in str(error)  # the 70 134-byte wide_rows row
    assert committed_offset(config) == 5
