"""WalScanner and SourceTask scan rules, with a manual clock and fake sinks."""

from __future__ import annotations

from pathlib import Path

from connector.errors import SinkError, WalGapError
from connector.sink.producer import Checkpoint
from connector.tasks.state import TaskStatus

from .fakes import FakeSink, Harness, build_config, copy_fixture, fixture_schemas

BASIC_VERSIONS_WITH_RECORDS = [v for v in range(1, 21)]


def basic_harness(tmp_path: Path, **connector: object) -> Harness:
    harness = Harness(build_config([copy_fixture("basic", tmp_path)], **connector))
    harness.start()
    return harness


# -- rule 1: coalescing ------------------------------------------------------------------

def test_requests_coalesce_into_one_pass(tmp_path: Path) -> None:
    harness = basic_harness(tmp_path)
    scheduled = [harness.scanner.request_scan() for _ in range(5)]
    assert scheduled == [True, False, False, False, False]
    assert harness.scanner.counter == 3  # capped
    assert harness.scheduler.pending == [0.0]


def test_counter_cap_is_configurable(tmp_path: Path) -> None:
    harness = basic_harness(tmp_path, max_scan_counter=5)
    for _ in range(9):
        harness.scanner.request_scan()
    assert harness.scanner.counter == 5


def test_all_paused_resets_counter(tmp_path: Path) -> None:
    harness = basic_harness(tmp_path)
    harness.scanner.request_scan()
    harness.tasks[0].pause()
    assert harness.scanner.request_scan() is False
    assert harness.scanner.counter == 0


# -- rule 2: passes and idle re-scan ------------------------------------------------------------

def test_idle_pass_reschedules_after_delay(tmp_path: Path) -> None:
    harness = basic_harness(tmp_path)
    harness.scanner.request_scan()
    harness.scheduler.run_due()  # the first pass finds data and drains it
    while harness.scheduler.pending and harness.scheduler.pending[0] <= harness.scheduler.time:
        harness.scheduler.run_due()
    passes = harness.scanner.passes
    for _ in range(3):
        harness.scanner.request_scan()
    harness.scheduler.run_due()
    assert harness.scanner.passes == passes + 1
    assert harness.scheduler.pending == [harness.scheduler.time + 0.1]
    harness.scheduler.advance(0.1)
    assert harness.scanner.passes == passes + 2
    harness.scheduler.advance(0.1)
    assert harness.scanner.passes == passes + 3
    assert harness.scanner.counter == 0
    assert harness.scheduler.pending == []


def test_pass_over_snapshot_ignores_added_task(tmp_path: Path) -> None:
    harness = basic_harness(tmp_path)
    seen = []
    original = harness.tasks[0].ready_for_wal

    def ready_and_add() -> bool:
        seen.append("t0")
        harness.tasks.append(harness.tasks[0])  # added during the pass
        return original()

    harness.tasks[0].ready_for_wal = ready_and_add  # type: ignore[method-assign]
    harness.scanner.run_pass()
    assert seen == ["t0"]


# -- rules 3 to 5 and 7 --------------------------------------------------------------------------

def test_pass_publishes_every_version_once(tmp_path: Path) -> None:
    harness = basic_harness(tmp_path, max_versions_per_transaction=4)
    harness.scanner.request_scan()
    harness.scheduler.advance(1.0)
    sink = harness.sinks[0]
    assert sink.committed == 21
    assert sorted(set(sink.record_versions())) == BASIC_VERSIONS_WITH_RECORDS
    assert harness.scheduled_sinks == ["t0"]


def test_found_flag_and_sink_scheduling(tmp_path: Path) -> None:
    harness = basic_harness(tmp_path)
    assert harness.scanner.run_pass() is True
    assert harness.scheduled_sinks == ["t0"]
    harness.scheduler.run_due()
    assert harness.scanner.run_pass() is False
    assert harness.scheduled_sinks == ["t0"]


def test_readiness_conditions(tmp_path: Path) -> None:
    harness = basic_harness(tmp_path)
    task = harness.tasks[0]
    assert task.ready_for_wal()

    task.pause()
    assert not task.ready_for_wal()
    task.resume()
    assert task.ready_for_wal()

    task.feed.sink_ready = False
    assert not task.ready_for_wal()
    task.feed.sink_ready = True

    task.state.retry_at = harness.scheduler.now() + 5  # output blocked after a failed publish
    assert not task.ready_for_wal()
    harness.scheduler.advance(5)
    assert task.ready_for_wal()

    for _ in range(task.state.queue.max_items):
        task.state.queue.force_put(task.state.queue.peek() or _gap())
    assert not task.ready_for_wal()
    task.state.queue.clear()

    task.state.handoff_queued = True
    assert not task.ready_for_wal()
    task.state.handoff_queued = False

    task.publisher.halt(WalGapError("x", requested=1, first_retained=2), version=1)
    assert not task.ready_for_wal()


def _gap():
    from connector.tasks.queue import GapMarker

    return GapMarker(first_missing=0, last_missing=0, reason="test")


def test_not_started_task_not_ready(tmp_path: Path) -> None:
    harness = Harness(build_config([copy_fixture("basic", tmp_path)]))
    assert harness.tasks[0].status is TaskStatus.STARTING
    assert not harness.tasks[0].ready_for_wal()


def test_queue_full_seeks_back_without_loss(tmp_path: Path) -> None:
    harness = basic_harness(tmp_path, queue_max_items=3, max_versions_per_transaction=2)
    task = harness.tasks[0]
    task.position_reader()
    assert task.fill_queue() == 3
    assert task.state.next_process_ver == 3
    assert task.fill_queue() == 0  # full: the rejected entry is read again later
    assert task.feed.reader.next_version == 3

    harness.scanner.request_scan()
    harness.scheduler.advance(5.0)
    while task.has_queued_items() or task.state.next_process_ver < 21:
        task.drain()
        harness.scanner.request_scan()
        harness.scheduler.advance(1.0)
    versions = harness.sinks[0].record_versions()
    assert sorted(set(versions)) == BASIC_VERSIONS_WITH_RECORDS
    assert versions == sorted(versions)
    commits = [p.checkpoint.next_version for p in harness.sinks[0].published]
    assert commits == sorted(commits)
    assert commits[-1] == 21
    assert all(b - a <= 2 for a, b in zip([0] + commits, commits))


def test_retriable_failure_blocks_then_republishes_once(tmp_path: Path) -> None:
    sink = FakeSink(failures=[SinkError("broker down", retriable=True)])
    harness = Harness(build_config([copy_fixture("basic", tmp_path)], max_versions_per_transaction=5),
                      sinks=[sink])
    harness.start()
    task = harness.tasks[0]
    task.position_reader()
    task.fill_queue()
    assert task.sink_step() is True  # the publish failed and was rolled back
    assert sink.published == []
    assert task.state.committed_ver == 0
    assert len(task.state.queue) == 0
    assert not task.ready_for_wal()  # output blocked during the back-off
    harness.scheduler.advance(0.5)
    assert task.ready_for_wal()
    task.run_until_idle()
    versions = sink.record_versions()
    assert sorted(set(versions)) == BASIC_VERSIONS_WITH_RECORDS
    assert len(versions) == len(set((v, i) for v, i in zip(versions, range(len(versions)))))
    assert sink.committed == 21


def test_fatal_failure_halts_with_checkpoint_kept(tmp_path: Path) -> None:
    sink = FakeSink(failures=[SinkError("MSG_SIZE_TOO_LARGE", retriable=False)])
    harness = Harness(build_config([copy_fixture("basic", tmp_path)]), sinks=[sink])
    harness.start()
    harness.tasks[0].run_until_idle()
    assert harness.tasks[0].status is TaskStatus.HALTED
    assert harness.tasks[0].state.committed_ver == 0
    assert "MSG_SIZE_TOO_LARGE" in str(harness.tasks[0].error)


# -- rule 4: gap policy and skip-to --------------------------------------------------------------

def retention_harness(tmp_path: Path, gap_policy: str) -> Harness:
    config = build_config([copy_fixture("retention/wal", tmp_path)],
                          table_schemas=fixture_schemas("retention/wal.expected.json"),
                          task0={"gap_policy": gap_policy})
    sink = FakeSink(checkpoint=Checkpoint(next_version=10, vg_id=2, wal_dir=None))
    harness = Harness(config, sinks=[sink])
    harness.start()
    return harness


def test_gap_fail_halts_naming_both_versions(tmp_path: Path) -> None:
    harness = retention_harness(tmp_path, "fail")
    harness.tasks[0].run_until_idle()
    task = harness.tasks[0]
    assert task.status is TaskStatus.HALTED
    assert isinstance(task.error, WalGapError)
    assert "nextProcessVer 10" in str(task.error)
    assert "21" in str(task.error)
    assert harness.sinks[0].published == []


def test_gap_forward_publishes_gap_record_then_data(tmp_path: Path) -> None:
    harness = retention_harness(tmp_path, "forward")
    harness.tasks[0].run_until_idle()
    sink = harness.sinks[0]
    first = sink.published[0]
    assert first.kinds == ["GAP"]
    assert first.checkpoint.next_version == 21
    assert sink.committed == 41
    assert harness.tasks[0].status is TaskStatus.READY


def test_skip_to_publishes_gap_and_jumps(tmp_path: Path) -> None:
    harness = basic_harness(tmp_path)
    task = harness.tasks[0]
    task.skip_to(15)
    task.run_until_idle()
    sink = harness.sinks[0]
    assert sink.published[0].kinds == ["GAP"]
    assert sink.published[0].checkpoint.next_version == 15
    assert min(v for p in sink.published[1:] for v in p.versions) == 15
    assert sink.committed == 21


# -- rule 6: fill-history -------------------------------------------------------------------------

def test_fill_history_hands_off_exactly_once(tmp_path: Path) -> None:
    wal = copy_fixture("basic", tmp_path)
    config = build_config([wal], task0={"fill_history": {"from_version": 0, "to_version": 10}})
    harness = Harness(config)
    harness.start()
    history, live = harness.tasks
    assert live.state.next_process_ver == 11
    assert not live.ready_for_wal()  # gated until the hand-off is committed

    for _ in range(5):
        harness.scanner.request_scan()
        harness.scheduler.advance(1.0)

    history_sink, live_sink = harness.sinks
    kinds = [k for p in history_sink.published for k in p.kinds]
    assert kinds.count("HANDOFF") == 1
    assert kinds[-1] == "HANDOFF"
    assert max(v for p in history_sink.published for v in p.versions if v is not None) == 10
    assert history_sink.committed == 11
    assert history.status is TaskStatus.DONE
    assert history_sink.published[-1].checkpoint.handed_off
    assert min(live_sink.record_versions()) == 11
    assert live_sink.committed == 21


def test_rewind_reported_after_rollback(tmp_path: Path) -> None:
    wal = copy_fixture("rollback/before", tmp_path)
    config = build_config([wal], table_schemas=fixture_schemas("rollback/before.expected.json"))
    harness = Harness(config)
    harness.start()
    task = harness.tasks[0]
    task.run_until_idle()
    assert harness.sinks[0].committed == 31

    for path in wal.iterdir():
        path.unlink()
    for path in (copy_fixture("rollback/after", tmp_path, "after")).iterdir():
        path.rename(wal / path.name)
    task.run_until_idle()
    assert task.state.rewinds == [(21, 30, 25)]
    assert harness.sinks[0].committed == 26
    assert harness.sinks[0].published[-1].versions[-1] == 25
