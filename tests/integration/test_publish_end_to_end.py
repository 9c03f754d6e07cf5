"""The connector against a real Kafka broker: publish, resume, corruption, torn tail."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml

from connector.runtime import Runtime
from connector.tasks.task import SourceTask, TaskStatus
from connector.wal._format import HEAD_SIZE

from .support import (
    BASIC_TABLE_SCHEMAS,
    committed_offset,
    copy_wal,
    expected_entries,
    make_config,
    read_topic,
    record_differences,
    wait_for_committed,
)

pytestmark = pytest.mark.broker

BASIC = "basic.expected.json"


def version_counts(records: list[dict]) -> Counter:
    """Count the records of each (walVersion, blockIndex) pair."""
    return Counter((r["value"]["source"]["walVersion"], r["value"]["source"]["blockIndex"])
                   for r in records)


def assert_matches_basic(records: list[dict]) -> None:
    """Check that ``records`` hold every SUBMIT row and DELETE range of basic exactly once."""
    problems = record_differences(BASIC, records)
    assert not problems, "\n".join(problems[:30])


def test_publish_basic_exactly_once(kafka_bootstrap: str, tmp_path: Path) -> None:
    wal_dir = copy_wal("basic", tmp_path / "wal")
    config = make_config(kafka_bootstrap, wal_dir, max_versions=4)

    assert Runtime(config).run(once=True) == 0

    records = read_topic(config)
    counts = version_counts(records)
    assert all(count == 1 for count in counts.values()), counts
    assert_matches_basic(records)
    for record in records:
        assert record["key"] == {"vgId": 2, "uid": record["value"]["table"]["uid"]}
        assert record["headers"]["wal.version"] == str(record["value"]["source"]["walVersion"])
    assert committed_offset(config) == expected_entries(BASIC)["lastVer"] + 1


def test_publish_basic_at_least_once(kafka_bootstrap: str, tmp_path: Path) -> None:
    wal_dir = copy_wal("basic", tmp_path / "wal")
    config = make_config(kafka_bootstrap, wal_dir, delivery_mode="at_least_once", max_versions=5)

    assert Runtime(config).run(once=True) == 0

    assert_matches_basic(read_topic(config))
    assert committed_offset(config) == expected_entries(BASIC)["lastVer"] + 1


def test_publish_basic_with_registry_framing(kafka_bootstrap: str, tmp_path: Path) -> None:
    wal_dir = copy_wal("basic", tmp_path / "wal")
    config = make_config(kafka_bootstrap, wal_dir,
                         extra_kafka={"schema_registry_url": f"mock://{tmp_path.name}"})

    assert Runtime(config).run(once=True) == 0

    records = read_topic(config)
    assert_matches_basic(records)
    assert committed_offset(config) == expected_entries(BASIC)["lastVer"] + 1


def test_restart_resumes_without_duplicates(kafka_bootstrap: str, tmp_path: Path) -> None:
    wal_dir = copy_wal("basic", tmp_path / "wal")
    config = make_config(kafka_bootstrap, wal_dir, max_versions=3)

    first = SourceTask(config, config.tasks[0])
    first.start()
    assert first.poll() and first.poll()
    first.stop()
    assert committed_offset(config) == 6  # versions 0..5 in two transactions

    assert Runtime(config).run(once=True) == 0

    records = read_topic(config)
    counts = version_counts(records)
    assert all(count == 1 for count in counts.values()), counts
    assert_matches_basic(records)
    assert committed_offset(config) == 21


def test_sigterm_style_stop_commits_complete_work(kafka_bootstrap: str, tmp_path: Path) -> None:
    wal_dir = copy_wal("basic", tmp_path / "wal")
    config = make_config(kafka_bootstrap, wal_dir, max_versions=2)
    runtime = Runtime(config)
    thread = threading.Thread(target=runtime.run)
    thread.start()
    try:
        wait_for_committed(config, 21)
    finally:
        runtime.request_stop()
        thread.join(timeout=60)
    assert not thread.is_alive()
    assert all(task.status is TaskStatus.STOPPED for task in runtime.tasks)
    assert committed_offset(config) == 21


def test_corrupt_body_halts_at_that_version(kafka_bootstrap: str, tmp_path: Path) -> None:
    wal_dir = copy_wal("basic", tmp_path / "wal")
    target = expected_entries(BASIC)["entries"][10]
    log_path = wal_dir / target["logFile"]
    raw = bytearray(log_path.read_bytes())
    raw[target["logOffset"] + HEAD_SIZE + 30] ^= 0x5A
    log_path.write_bytes(bytes(raw))
    config = make_config(kafka_bootstrap, wal_dir, max_versions=4)

    runtime = Runtime(config)
    assert runtime.run(once=True) == 1

    task = runtime.tasks[0]
    assert task.status is TaskStatus.HALTED
    message = str(task.error)
    assert str(log_path) in message
    assert f"offset {target['logOffset']}" in message
    assert "version 10" in message
    assert committed_offset(config) == 10
    published = {r["value"]["source"]["walVersion"] for r in read_topic(config)}
    assert max(published) < 10


def test_torn_tail_waits_then_publishes_once(kafka_bootstrap: str, tmp_path: Path) -> None:
    wal_dir = copy_wal("basic", tmp_path / "wal")
    last = expected_entries(BASIC)["entries"][-1]
    log_path = wal_dir / last["logFile"]
    full = log_path.read_bytes()
    cut = last["logOffset"] + HEAD_SIZE + last["bodyLen"] // 2
    log_path.write_bytes(full[:cut])
    config = make_config(kafka_bootstrap, wal_dir, max_versions=50)

    runtime = Runtime(config)
    thread = threading.Thread(target=runtime.run)
    thread.start()
    try:
        assert wait_for_committed(config, last["version"]) == last["version"]
        time.sleep(0.5)  # several idle scans over the torn entry
        assert committed_offset(config) == last["version"]
        assert runtime.tasks[0].status is TaskStatus.READY

        with log_path.open("ab") as out:
            out.write(full[cut:])
        wait_for_committed(config, last["version"] + 1)
    finally:
        runtime.request_stop()
        thread.join(timeout=60)

    assert committed_offset(config) == last["version"] + 1
    records = read_topic(config)
    counts = version_counts(records)
    assert all(count == 1 for count in counts.values()), counts
    assert_matches_basic(records)


def test_unknown_sver_halts_with_suid_uid_sver(kafka_bootstrap: str, tmp_path: Path) -> None:
    wal_dir = copy_wal("basic", tmp_path / "wal")
    config = make_config(kafka_bootstrap, wal_dir, table_schemas=[])

    runtime = Runtime(config)
    assert runtime.run(once=True) == 1

    message = str(runtime.tasks[0].error)
    assert "suid 7890123456789012345" in message
    assert "uid 7890123456789010001" in message
    assert "sver 1" in message
    assert "version 1" in message
    assert committed_offset(config) == 1  # version 0, a sync-noop, carries no table block


def test_cli_run_stops_cleanly_on_sigterm(kafka_bootstrap: str, tmp_path: Path) -> None:
    wal_dir = copy_wal("basic", tmp_path / "wal")
    config = make_config(kafka_bootstrap, wal_dir, max_versions=3)
    config_path = tmp_path / "connector.yaml"
    config_path.write_text(yaml.safe_dump({
        "connector": {"name": config.name, "max_versions_per_transaction": 3},
        "kafka": {"bootstrap_servers": kafka_bootstrap},
        "tasks": [{"name": "vnode2", "wal_dir": str(wal_dir), "topic": config.tasks[0].topic,
                   "vgroup_id": 2}],
        "table_schemas": BASIC_TABLE_SCHEMAS,
    }))
    command = [sys.executable, "-m", "connector.cli", "run", "-c", str(config_path)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        def still_running() -> None:
            assert process.poll() is None, process.communicate()[1]

        wait_for_committed(config, 21, check=still_running)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert process.returncode == 0, stderr
    assert "received SIGTERM" in stderr
    assert "stopped at nextProcessVer 21" in stderr
    assert committed_offset(config) == 21
