"""WalWriter behaviour: reading back, tailing, rolling, rollback, retention and reopening."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connector.errors import WalError
from connector.wal import WalReader, read_meta, wal_bounds
from connector.wal.writer import WalWriter

CLOCK = 1_700_000_000
NOOP = 1559


def body(version: int, size: int = 40) -> bytes:
    return version.to_bytes(8, "little") + bytes(size - 8)


def new_writer(path: Path, **options: int) -> WalWriter:
    return WalWriter(path, vg_id=2, clock=lambda: CLOCK, **options)


def read_all(path: Path, start: int = 0) -> list[tuple[int, bytes, int]]:
    with WalReader(path) as reader:
        reader.seek(start)
        entries = []
        while (entry := reader.next_entry()) is not None:
            entries.append((entry.version, entry.body, entry.term))
        return entries


def test_reader_reads_written_entries(tmp_path: Path) -> None:
    with new_writer(tmp_path) as writer:
        for version in range(5):
            writer.append(NOOP, body(version), ingest_ts=10 + version, seq_num=version, term=3)
    entries = read_all(tmp_path)
    assert [version for version, _, _ in entries] == [0, 1, 2, 3, 4]
    assert all(data == body(version) for version, data, _ in entries)
    assert all(term == 3 for _, _, term in entries)


def test_tailing_reader_sees_each_entry_once(tmp_path: Path) -> None:
    writer = new_writer(tmp_path, seg_size_bytes=200)
    writer.append(NOOP, body(0))
    seen = []
    with WalReader(tmp_path) as reader:
        reader.seek(0)
        for version in range(1, 12):
            while (entry := reader.next_entry()) is not None:
                seen.append(entry.version)
            writer.append(NOOP, body(version))
        while (entry := reader.next_entry()) is not None:
            seen.append(entry.version)
    writer.close()
    assert seen == list(range(12))


def test_size_roll_creates_segment_and_meta(tmp_path: Path) -> None:
    writer = new_writer(tmp_path, seg_size_bytes=150)
    for version in range(4):
        writer.append(NOOP, body(version))
    # 96-byte entries: the third append finds 192 > 150 bytes and rolls first.
    assert [segment.first_version for segment in writer.segments] == [0, 2]
    assert (tmp_path / "00000000000000000002.log").exists()
    meta = read_meta(tmp_path)
    assert meta is not None
    assert [(s.first_version, s.last_version) for s in meta.files] == [(0, 1), (2, -1)]
    assert meta.files[0].close_ts == CLOCK
    writer.close()


def test_explicit_roll_leaves_empty_segment(tmp_path: Path) -> None:
    writer = new_writer(tmp_path)
    writer.append(NOOP, body(0))
    assert writer.roll() is True
    assert writer.roll() is False
    assert (tmp_path / "00000000000000000001.log").stat().st_size == 0
    writer.close()
    assert wal_bounds(tmp_path).last_version == 0


def test_meta_save_keeps_one_meta_file(tmp_path: Path) -> None:
    writer = new_writer(tmp_path)
    writer.append(NOOP, body(0))
    writer.save_meta()
    writer.close()
    names = sorted(path.name for path in tmp_path.iterdir() if path.name.startswith("meta"))
    assert names == ["meta-ver2"]
    text = (tmp_path / "meta-ver2").read_text()
    assert text.startswith('{\n\t"meta":\t{\n\t\t"firstVer":\t"0",')
    assert not text.endswith("\n")
    assert json.loads(text)["files"][0]["fileSize"] == str(56 + 40)


def test_truncate_after_cuts_files(tmp_path: Path) -> None:
    writer = new_writer(tmp_path, seg_size_bytes=150)
    for version in range(8):
        writer.append(NOOP, body(version))
    writer.truncate_after(4)
    assert writer.last_version == 4
    assert [segment.first_version for segment in writer.segments] == [0, 2, 4]
    assert not (tmp_path / "00000000000000000006.log").exists()
    assert (tmp_path / "00000000000000000004.log").stat().st_size == 96
    assert (tmp_path / "00000000000000000004.idx").stat().st_size == 16
    writer.append(NOOP, body(50), term=2)
    writer.close()
    entries = read_all(tmp_path)
    assert [version for version, _, _ in entries] == [0, 1, 2, 3, 4, 5]
    assert entries[-1][1:] == (body(50), 2)


def test_rollback_rejects_committed_version(tmp_path: Path) -> None:
    writer = new_writer(tmp_path)
    for version in range(3):
        writer.append(NOOP, body(version))
    writer.commit(1)
    with pytest.raises(WalError, match="roll back"):
        writer.rollback(1)
    writer.close()


def test_delete_segments_before_removes_whole_segments(tmp_path: Path) -> None:
    writer = new_writer(tmp_path, seg_size_bytes=150)
    for version in range(8):
        writer.append(NOOP, body(version))
    deleted = writer.delete_segments_before(5)
    assert deleted == [0, 2]
    assert writer.first_version == 4
    assert sorted(path.name for path in tmp_path.glob("*.log")) == [
        "00000000000000000004.log",
        "00000000000000000006.log",
    ]
    writer.close()
    assert wal_bounds(tmp_path).first_version == 4
    assert [version for version, _, _ in read_all(tmp_path, start=4)] == [4, 5, 6, 7]


def test_end_snapshot_keeps_retention_period(tmp_path: Path) -> None:
    writer = new_writer(tmp_path, seg_size_bytes=150, retention_period_s=3600)
    for version in range(6):
        writer.append(NOOP, body(version))
        writer.commit(version)
    writer.begin_snapshot(5)
    assert writer.end_snapshot() == []
    assert writer.snapshot_version == 5
    writer.close()


def test_reopen_continues_appending(tmp_path: Path) -> None:
    with new_writer(tmp_path, seg_size_bytes=150) as writer:
        for version in range(3):
            writer.append(NOOP, body(version))
    with new_writer(tmp_path, seg_size_bytes=150) as writer:
        assert writer.last_version == 2
        writer.append(NOOP, body(3), version=3)
    assert [version for version, _, _ in read_all(tmp_path)] == [0, 1, 2, 3]


def test_reopen_cuts_torn_tail(tmp_path: Path) -> None:
    with new_writer(tmp_path) as writer:
        for version in range(3):
            writer.append(NOOP, body(version))
    log_path = tmp_path / "00000000000000000000.log"
    with log_path.open("ab") as log_file:
        log_file.write(b"\xf1\xf2\xf3 partial head")
    with new_writer(tmp_path) as writer:
        assert writer.last_version == 2
        writer.append(NOOP, body(3))
    assert [version for version, _, _ in read_all(tmp_path)] == [0, 1, 2, 3]


def test_append_rejects_wrong_version(tmp_path: Path) -> None:
    with new_writer(tmp_path) as writer:
        writer.append(NOOP, body(0))
        with pytest.raises(WalError, match="next version is 1"):
            writer.append(NOOP, body(5), version=5)
