"""SourceTask start checks and policies: checkpoint sanity, publish_up_to, fill-history restarts, idle refresh."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from connector.errors import WalError
from connector.sink.producer import Checkpoint
from connector.tasks.notify import InotifyWatcher, inotify_available
from connector.tasks.state import TaskStatus
from connector.tasks.task import TaskHalted
from connector.wal._format import HEAD_SIZE
from connector.wal.writer import WalWriter

from .fakes import FIXTURES, FakeSink, Harness, build_config, copy_fixture


def test_checkpoint_ahead_of_wal_halts(tmp_path: Path) -> None:
    sink = FakeSink(checkpoint=Checkpoint(next_version=50, vg_id=2, wal_dir=None))
    harness = Harness(build_config([copy_fixture("basic", tmp_path)]), sinks=[sink])
    with pytest.raises(TaskHalted):
        harness.start()
    task = harness.tasks[0]
    assert task.status is TaskStatus.HALTED
    assert isinstance(task.error, WalError)
    assert "nextProcessVer 50" in str(task.error)
    assert "last version is 20" in str(task.error)


def test_checkpoint_of_other_vnode_halts(tmp_path: Path) -> None:
    sink = FakeSink(checkpoint=Checkpoint(next_version=5, vg_id=7, wal_dir="/elsewhere/wal"))
    harness = Harness(build_config([copy_fixture("basic", tmp_path)]), sinks=[sink])
    with pytest.raises(TaskHalted):
        harness.start()
    message = str(harness.tasks[0].error)
    assert "vgroup 7" in message
    assert "vgroup 2" in message
    assert "refusing to resume" in message


def test_one_task_failure_halts_only_that_task(tmp_path: Path) -> None:
    good = copy_fixture("basic", tmp_path, "good")
    bad = copy_fixture("basic", tmp_path, "bad")
    log_path = bad / "00000000000000000000.log"
    raw = bytearray(log_path.read_bytes())
    raw[1000] ^= 0xFF
    log_path.write_bytes(bytes(raw))
    harness = Harness(build_config([good, bad]))
    harness.start()
    for _ in range(5):
        harness.scanner.request_scan()
        harness.scheduler.advance(1.0)
    assert harness.tasks[0].status is TaskStatus.READY
    assert harness.sinks[0].committed == 21
    assert harness.tasks[1].status is TaskStatus.HALTED
    assert harness.sinks[1].committed is not None and harness.sinks[1].committed < 21


def test_publish_up_to_commit_holds_back(tmp_path: Path) -> None:
    wal_dir = tmp_path / "wal"
    entries = json.loads((FIXTURES / "basic.expected.json").read_text())["entries"]
    writer = WalWriter(wal_dir, vg_id=2)
    for entry in entries[:11]:
        writer.append(entry["msgType"], bytes.fromhex(entry["bodyHex"]), seq_num=entry["version"], term=1)
    writer.commit(5)
    writer.save_meta()
    harness = Harness(build_config([wal_dir], task0={"publish_up_to": "commit"}))
    harness.start()
    task = harness.tasks[0]
    task.run_until_idle()
    assert harness.sinks[0].committed == 6

    writer.commit(10)
    writer.save_meta()
    task.run_until_idle()
    assert harness.sinks[0].committed == 11
    writer.close()


def test_fill_history_range_survives_restart(tmp_path: Path) -> None:
    wal = copy_fixture("basic", tmp_path)
    config = build_config([wal], task0={"fill_history": {"from_version": 0, "to_version": "latest"}})
    first = Harness(config)
    first.start()
    history, live = first.tasks
    assert history.state.fill_range == (0, 20)
    assert live.state.next_process_ver == 21

    # A restart after 0..7 were published, while the WAL has meanwhile grown:
    # the stored range, not "latest" evaluated again, decides.
    saved = Checkpoint(next_version=8, vg_id=2, wal_dir=str(wal), fill_range=(0, 12))
    second = Harness(config, sinks=[FakeSink(checkpoint=saved), FakeSink()])
    second.start()
    history, live = second.tasks
    assert history.state.fill_range == (0, 12)
    assert history.state.next_process_ver == 8
    assert live.state.next_process_ver == 13
    history.run_until_idle()
    assert history.status is TaskStatus.DONE
    assert second.sinks[0].published[-1].kinds == ["HANDOFF"]
    live.run_until_idle()
    assert second.sinks[1].committed == 21


def test_finished_fill_history_stays_done(tmp_path: Path) -> None:
    wal = copy_fixture("basic", tmp_path)
    config = build_config([wal], task0={"fill_history": {"from_version": 0, "to_version": 10}})
    done = Checkpoint(next_version=11, vg_id=2, wal_dir=str(wal), fill_range=(0, 10), handed_off=True)
    harness = Harness(config, sinks=[FakeSink(checkpoint=done), FakeSink()])
    harness.start()
    history, live = harness.tasks
    assert history.status is TaskStatus.DONE
    assert not history.ready_for_wal()
    assert live.ready_for_wal()


def test_idle_checkpoint_refreshed_on_interval(tmp_path: Path) -> None:
    harness = Harness(build_config([copy_fixture("basic", tmp_path)],
                                   checkpoint_refresh_interval_ms=60_000))
    harness.start()
    task = harness.tasks[0]
    task.run_until_idle()
    published = len(harness.sinks[0].published)
    assert not task.refresh_checkpoint()  # too early
    harness.scheduler.advance(61)
    assert task.refresh_checkpoint()
    refresh = harness.sinks[0].published[-1]
    assert len(harness.sinks[0].published) == published + 1
    assert refresh.kinds == []
    assert refresh.checkpoint.next_version == 21


def test_noop_and_ddl_advance_checkpoint(tmp_path: Path) -> None:
    harness = Harness(build_config([copy_fixture("ddl/wal", tmp_path)], table_schemas=[],
                                   max_versions_per_transaction=1))
    harness.start()
    harness.tasks[0].run_until_idle()
    commits = [p.checkpoint.next_version for p in harness.sinks[0].published]
    assert commits[:3] == [1, 2, 3]  # sync-noop, CREATE_STB and CREATE_TABLE publish no record
    assert [p.kinds for p in harness.sinks[0].published[:3]] == [[], [], []]


@pytest.mark.skipif(not inotify_available(), reason="inotify is not available here")
def test_inotify_reports_appends(tmp_path: Path) -> None:
    calls = []
    watcher = InotifyWatcher([str(tmp_path)], lambda: calls.append(time.monotonic()))
    watcher.start()
    try:
        (tmp_path / "00000000000000000000.log").write_bytes(b"\0" * HEAD_SIZE)
        deadline = time.monotonic() + 5
        while not calls and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        watcher.request_stop()
        watcher.join()
    assert calls


def test_live_task_replays_ddl_while_fill_history_pending(tmp_path: Path) -> None:
    from connector.decode.catalog import CatalogChange

    wal = copy_fixture("ddl/wal", tmp_path)
    config = build_config([wal], table_schemas=[],
                          task0={"fill_history": {"from_version": 0, "to_version": 2},
                                 "precision": "ms"})
    # The history topic already contains a change from before a restart, but not
    # yet the CREATE_STB (version 1) that the live task's first SUBMIT needs.
    unrelated = [CatalogChange("super-table/1", {"name": "other"})]
    history_sink = FakeSink(checkpoint=Checkpoint(next_version=1, vg_id=2, wal_dir=str(wal),
                                                  fill_range=(0, 2)))
    live_sink = FakeSink()
    live_sink.read_schema_history = lambda: unrelated  # type: ignore[method-assign]
    harness = Harness(config, sinks=[history_sink, live_sink])
    harness.start()
    history, live = harness.tasks
    history.run_until_idle()
    assert history.status is TaskStatus.DONE
    live.run_until_idle()
    assert live.status is TaskStatus.READY, live.error
    assert live_sink.committed == 15
