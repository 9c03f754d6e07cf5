"""The schema catalog survives a restart after retention removed the DDL from the WAL."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.errors import UnknownSchemaError
from connector.runtime import Runtime
from connector.tasks.task import SourceTask, TaskStatus

from .support import (
    committed_offset,
    copy_wal,
    expected_entries,
    make_config,
    read_topic,
    record_differences,
    trim_wal,
)

pytestmark = pytest.mark.broker

DDL = "ddl/wal.expected.json"
DDL_TASK = {"vgroup_id": 2, "precision": "ms"}


def test_catalog_restored_after_ddl_removed(kafka_bootstrap: str, tmp_path: Path) -> None:
    source = copy_wal("ddl/wal", tmp_path / "source")
    wal_dir = copy_wal("ddl/wal", tmp_path / "wal")
    config = make_config(kafka_bootstrap, wal_dir, max_versions=3, table_schemas=[],
                         task_overrides=DDL_TASK)

    first = SourceTask(config, config.tasks[0])
    first.start()
    assert first.poll()  # versions 0..2: noop, CREATE_STB (sver 1), CREATE_TABLE
    first.stop()
    assert committed_offset(config) == 3

    # Retention removes versions 0..2. Versions 3 and 4 are SUBMITs in row
    # format under sver 1, which only the removed CREATE_STB defined.
    trim_wal(source, wal_dir, 3, expected_entries(DDL))

    assert Runtime(config).run(once=True) == 0

    problems = record_differences(DDL, read_topic(config))
    assert not problems, "\n".join(problems[:30])
    assert committed_offset(config) == 15


def test_without_history_the_same_start_halts(kafka_bootstrap: str, tmp_path: Path) -> None:
    source = copy_wal("ddl/wal", tmp_path / "source")
    wal_dir = tmp_path / "wal"
    trim_wal(source, wal_dir, 3, expected_entries(DDL))
    config = make_config(kafka_bootstrap, wal_dir, table_schemas=[], task_overrides=DDL_TASK)

    runtime = Runtime(config)
    assert runtime.run(once=True) == 1

    task = runtime.tasks[0]
    assert task.status is TaskStatus.HALTED
    assert isinstance(task.error, UnknownSchemaError)
    assert (task.error.suid, task.error.sver) == (7200000000000000001, 1)
    assert "version 3" in str(task.error)
    assert committed_offset(config) < 0  # nothing was ever committed
