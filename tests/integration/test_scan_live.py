"""Live tailing, retention gaps, rollback and several vnodes, against a real broker."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from connector.cli import main
from connector.config import parse_config
from connector.errors import WalGapError
from connector.runtime import Runtime
from connector.sink.consume import iter_topic_records
from connector.tasks.state import TaskStatus
from connector.wal.writer import WalWriter

from ..unit.decode._fixture_data import table_schemas_config
from .support import (
    BASIC_TABLE_SCHEMAS,
    FIXTURES,
    committed_offset,
    copy_wal,
    expected_entries,
    make_config,
    read_topic,
    record_differences,
    wait_for_committed,
)

pytestmark = pytest.mark.broker


def commit_checkpoint(config, version: int) -> None:
    """Create the task topic and commit ``version`` as the group's offset, as an earlier run would have."""
    topic = config.tasks[0].topic
    admin = AdminClient({"bootstrap.servers": config.kafka.bootstrap_servers})
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])[topic].result()
    consumer = Consumer({"bootstrap.servers": config.kafka.bootstrap_servers,
                         "group.id": config.group_id, "enable.auto.commit": False})
    try:
        consumer.commit(offsets=[TopicPartition(topic, 0, version)], asynchronous=False)
    finally:
        consumer.close()


def start_runtime(config) -> tuple[Runtime, threading.Thread]:
    runtime = Runtime(config)
    thread = threading.Thread(target=runtime.run, name="connector")
    thread.start()
    return runtime, thread


def stop_runtime(runtime: Runtime, thread: threading.Thread) -> None:
    runtime.request_stop()
    thread.join(timeout=60)
    assert not thread.is_alive()


def retention_config(bootstrap: str, tmp_path: Path, gap_policy: str):
    wal_dir = copy_wal("retention/wal", tmp_path / "wal")
    schemas = table_schemas_config(expected_entries("retention/wal.expected.json"))
    config = make_config(bootstrap, wal_dir, table_schemas=schemas,
                         task_overrides={"vgroup_id": 2, "gap_policy": gap_policy})
    commit_checkpoint(config, 10)
    return config


def test_retention_gap_fail_halts(kafka_bootstrap: str, tmp_path: Path) -> None:
    config = retention_config(kafka_bootstrap, tmp_path, "fail")
    runtime = Runtime(config)
    assert runtime.run(once=True) == 1
    task = runtime.tasks[0]
    assert isinstance(task.error, WalGapError)
    assert (task.error.requested, task.error.first_retained) == (10, 21)
    assert committed_offset(config) == 10
    assert read_topic(config) == []


def test_retention_gap_forward_publishes_gap_record(kafka_bootstrap: str, tmp_path: Path) -> None:
    config = retention_config(kafka_bootstrap, tmp_path, "forward")
    assert Runtime(config).run(once=True) == 0

    records = [r["value"] for r in read_topic(config)]
    assert records[0]["kind"] == "GAP"
    assert records[0]["gap"]["firstMissingVersion"] == 10
    assert records[0]["gap"]["lastMissingVersion"] == 20
    data_versions = [r["source"]["walVersion"] for r in records[1:]]
    expected = [e["version"] for e in expected_entries("retention/wal.expected.json")["entries"]
                if e["body"]["kind"] in ("submit", "delete")]
    assert sorted(set(data_versions)) == expected
    assert data_versions == sorted(data_versions)
    assert committed_offset(config) == 41


def basic_bodies() -> list[dict]:
    return [e for e in expected_entries("basic.expected.json")["entries"] if e["version"] > 0]


def append_batch(writer: WalWriter, entries: list[dict], count: int) -> None:
    for _ in range(count):
        entry = entries[(writer.last_version + 1) % len(entries)]
        version = writer.append(entry["msgType"], bytes.fromhex(entry["bodyHex"]),
                                ingest_ts=1_800_000_000_000_000, seq_num=writer.last_version + 1,
                                term=1)
        writer.commit(version)


def test_tailing_with_rollover_and_retention(kafka_bootstrap: str, tmp_path: Path) -> None:
    wal_dir = tmp_path / "vnode2" / "wal"
    entries = basic_bodies()
    writer = WalWriter(wal_dir, vg_id=2)
    append_batch(writer, entries, 15)
    config = make_config(kafka_bootstrap, wal_dir, max_versions=7)
    runtime, thread = start_runtime(config)
    try:
        assert wait_for_committed(config, 15) == 15
        append_batch(writer, entries, 10)
        assert writer.roll()
        append_batch(writer, entries, 10)
        assert wait_for_committed(config, 35) == 35
        assert writer.roll()
        append_batch(writer, entries, 5)
        deleted = writer.delete_segments_before(25)  # retention removes what was published
        assert deleted == [0]
        append_batch(writer, entries, 12)
        last = writer.last_version
        assert wait_for_committed(config, last + 1) == last + 1
        assert runtime.tasks[0].status is TaskStatus.READY
    finally:
        stop_runtime(runtime, thread)
        writer.close()

    records = read_topic(config)
    per_version = Counter(r["value"]["source"]["walVersion"] for r in records)
    for version in range(0, last + 1):
        entry = entries[version % len(entries)]
        body = entry["body"]
        expected_count = len(body.get("tables", body.get("uidList", [])))
        assert per_version.get(version, 0) == expected_count, version
    order = [(r["value"]["source"]["walVersion"], r["value"]["source"]["blockIndex"]) for r in records]
    assert order == sorted(order)
    assert len(order) == len(set(order))


def apply_rollback(wal_dir: Path) -> None:
    """Turn the ``rollback/before`` WAL into ``rollback/after`` in place, as TDengine did.

    walRollback(21) truncates segment 18 after version 20 and deletes segment
    27; then versions 21..25 are written again with term 2.
    """
    after = expected_entries("rollback/after.expected.json")
    writer = WalWriter(wal_dir, vg_id=after["vgId"], seg_size_bytes=after["walCfg"]["segSizeKB"] * 1024)
    rollback_version = after["rollback"]["walRollbackVer"]
    writer.rollback(rollback_version)
    for entry in after["entries"]:
        if entry["version"] >= rollback_version:
            writer.append(entry["msgType"], bytes.fromhex(entry["bodyHex"]),
                          ingest_ts=entry["ingestTs"], is_weak=entry["syncMeta"]["isWeek"],
                          seq_num=entry["syncMeta"]["seqNum"], term=entry["syncMeta"]["term"])
    writer.commit(after["commitVer"])
    writer.close()


def test_rollback_replay_raises_rewind_alarm(kafka_bootstrap: str, tmp_path: Path,
                                             caplog: pytest.LogCaptureFixture) -> None:
    wal_dir = copy_wal("rollback/before", tmp_path / "wal")
    schemas = table_schemas_config(expected_entries("rollback/before.expected.json"))
    config = make_config(kafka_bootstrap, wal_dir, table_schemas=schemas)
    runtime, thread = start_runtime(config)
    try:
        assert wait_for_committed(config, 31) == 31
        # Pausing makes the reader see the rollback whole, so the alarm names
        # exactly the versions the fixture rewrote.
        runtime.pause("vnode2")
        apply_rollback(wal_dir)
        for path in (FIXTURES / "rollback" / "after").glob("*.[li][od][gx]"):
            assert (wal_dir / path.name).read_bytes() == path.read_bytes(), path.name
        runtime.resume("vnode2")
        deadline = time.monotonic() + 60
        while not runtime.tasks[0].state.rewinds and time.monotonic() < deadline:
            time.sleep(0.1)
        assert wait_for_committed(config, 26, timeout_s=30) == 26
    finally:
        stop_runtime(runtime, thread)

    assert runtime.tasks[0].state.rewinds == [(21, 30, 25)]
    alarms = [r.getMessage() for r in caplog.records if "REWIND" in r.getMessage()]
    assert len(alarms) == 1
    assert "versions 21..30 were already published" in alarms[0]
    assert "different content for versions 21..25" in alarms[0]
    after = {e["version"]: e for e in expected_entries("rollback/after.expected.json")["entries"]}
    republished = [r["value"] for r in read_topic(config)
                   if r["value"]["source"]["walVersion"] in range(21, 26)]
    second_pass = [v for v in republished
                   if v["source"]["ingestTs"] == after[v["source"]["walVersion"]]["ingestTs"]]
    assert {v["source"]["walVersion"] for v in second_pass} == set(range(21, 26))


def test_three_vnodes_pause_one(kafka_bootstrap: str, tmp_path: Path) -> None:
    data_dir = tmp_path / "taos"
    entries = basic_bodies()
    writers = {}
    for vg_id in (2, 3, 4):
        writers[vg_id] = WalWriter(data_dir / "vnode" / f"vnode{vg_id}" / "wal", vg_id=vg_id)
        append_batch(writers[vg_id], entries, 10)
    name = f"three-{tmp_path.name[-12:]}"
    config = parse_config({
        "connector": {"name": name, "max_versions_per_transaction": 4, "idle_scan_delay_ms": 20},
        "kafka": {"bootstrap_servers": kafka_bootstrap},
        "tasks": [{"name": "dnode1", "data_dir": str(data_dir), "topic": f"{name}.vnode{{vgId}}"}],
        "table_schemas": BASIC_TABLE_SCHEMAS,
    })
    topics = {task.name: task.topic for task in config.tasks}
    assert list(topics) == ["dnode1.vnode2", "dnode1.vnode3", "dnode1.vnode4"]

    runtime, thread = start_runtime(config)
    try:
        for task_name, topic in topics.items():
            assert wait_for_committed(config, 10, topic=topic) == 10, task_name
        runtime.pause("dnode1.vnode3")
        for writer in writers.values():
            append_batch(writer, entries, 10)
        assert wait_for_committed(config, 20, topic=topics["dnode1.vnode2"]) == 20
        assert wait_for_committed(config, 20, topic=topics["dnode1.vnode4"]) == 20
        time.sleep(0.5)  # several idle scans while paused
        assert committed_offset(config, topics["dnode1.vnode3"]) == 10
        assert runtime.task("dnode1.vnode3").status is TaskStatus.PAUSED
        runtime.resume("dnode1.vnode3")
        assert wait_for_committed(config, 20, topic=topics["dnode1.vnode3"]) == 20
    finally:
        stop_runtime(runtime, thread)
        for writer in writers.values():
            writer.close()

    for task_name, topic in topics.items():
        versions = [r["value"]["source"]["walVersion"]
                    for r in iter_topic_records(config, topic, idle_timeout_s=2.0)]
        assert versions == sorted(versions), task_name
        assert sorted(set(versions)) == list(range(20)), task_name  # every version carries data


def test_admin_endpoint_pauses_and_resumes(kafka_bootstrap: str, tmp_path: Path) -> None:
    import urllib.request

    wal_dir = copy_wal("basic", tmp_path / "wal")
    base = make_config(kafka_bootstrap, wal_dir)
    config = parse_config({
        "connector": {"name": base.name, "admin_listen": "127.0.0.1:0", "idle_scan_delay_ms": 20},
        "kafka": {"bootstrap_servers": kafka_bootstrap},
        "tasks": [{"name": "vnode2", "wal_dir": str(wal_dir), "topic": base.tasks[0].topic,
                   "vgroup_id": 2}],
        "table_schemas": BASIC_TABLE_SCHEMAS,
    })
    runtime, thread = start_runtime(config)
    try:
        assert wait_for_committed(config, 21) == 21
        address = runtime.admin.address

        def call(method: str, path: str) -> object:
            request = urllib.request.Request(f"http://{address}{path}", method=method)
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.loads(response.read())

        tasks = call("GET", "/tasks")
        assert tasks[0]["name"] == "vnode2"
        assert tasks[0]["committedVer"] == 21
        assert tasks[0]["status"] == "ready"
        assert call("GET", "/health") == {"healthy": True, "haltedTasks": []}
        assert call("POST", "/tasks/vnode2/pause") == {"task": "vnode2", "status": "paused"}
        assert call("GET", "/tasks")[0]["status"] == "paused"
        assert call("POST", "/tasks/vnode2/resume") == {"task": "vnode2", "status": "ready"}

        config_file = tmp_path / "connector.yaml"
        config_file.write_text(yaml.safe_dump({
            "connector": {"name": base.name, "admin_listen": address},
            "kafka": {"bootstrap_servers": kafka_bootstrap},
            "tasks": [{"name": "vnode2", "wal_dir": str(wal_dir), "topic": base.tasks[0].topic,
                       "vgroup_id": 2}],
            "table_schemas": BASIC_TABLE_SCHEMAS,
        }))
        result = CliRunner().invoke(main, ["status", "-c", str(config_file)])
        assert result.exit_code == 0, result.output
        assert "nextProcessVer 21, WAL 0..20, 0 version(s) behind" in result.output
        assert "running: vnode2 ready, nextProcessVer 21, 0 queued" in result.output
    finally:
        stop_runtime(runtime, thread)


def test_fill_history_then_live_through_broker(kafka_bootstrap: str, tmp_path: Path) -> None:
    wal_dir = copy_wal("basic", tmp_path / "wal")
    config = make_config(kafka_bootstrap, wal_dir, max_versions=4,
                         task_overrides={"vgroup_id": 2,
                                         "fill_history": {"from_version": 0, "to_version": 10}})
    runtime = Runtime(config)
    assert [task.name for task in runtime.tasks] == ["vnode2.fill-history", "vnode2"]
    assert runtime.run(once=True) == 0

    values = [r["value"] for r in read_topic(config)]
    kinds = [v["kind"] for v in values]
    assert kinds.count("HANDOFF") == 1
    handoff = kinds.index("HANDOFF")
    assert values[handoff]["handoff"] == {"fromVersion": 0, "toVersion": 10}
    before = [v["source"]["walVersion"] for v in values[:handoff]]
    after = [v["source"]["walVersion"] for v in values[handoff + 1:]]
    assert before == sorted(before)
    assert max(before) == 10
    assert after == sorted(after)
    assert min(after) == 11
    assert max(after) == 20
    problems = record_differences("basic.expected.json",
                                  [r for r in read_topic(config) if r["value"]["kind"] != "HANDOFF"])
    assert not problems, "\n".join(problems[:20])
    assert committed_offset(config) == 21  # the live task's group
    consumer = Consumer({"bootstrap.servers": kafka_bootstrap, "enable.auto.commit": False,
                         "group.id": f"{config.group_id}.fill-history"})
    try:
        fill = consumer.committed([TopicPartition(config.tasks[0].topic, 0)], timeout=20)[0]
    finally:
        consumer.close()
    assert fill.offset == 11
    assert '"handedOff": true' in fill.metadata
