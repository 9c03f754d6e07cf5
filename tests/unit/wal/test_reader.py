"""WalReader against TDengine-written WAL directories, intact and damaged."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from connector.errors import WalCorruptionError, WalError, WalGapError
from connector.wal import WalReader, list_segments, read_meta, wal_bounds
from connector.wal._format import HEAD_SIZE

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "tdengine-wal"

# (WAL directory, expected.json) relative to FIXTURES.
WAL_DIRS = {
    "basic": ("basic", "basic.expected.json"),
    "ddl": ("ddl/wal", "ddl/wal.expected.json"),
    "types-ms": ("types-ms/wal", "types-ms/wal.expected.json"),
    "retention": ("retention/wal", "retention/wal.expected.json"),
    "rollback-before": ("rollback/before", "rollback/before.expected.json"),
    "rollback-after": ("rollback/after", "rollback/after.expected.json"),
    "v3.2.2.2-basic": ("v3.2.2.2/basic", "v3.2.2.2/basic.expected.json"),
}


def load_expected(name: str) -> tuple[Path, dict]:
    wal_dir, expected = WAL_DIRS[name]
    return FIXTURES / wal_dir, json.loads((FIXTURES / expected).read_text())


@pytest.fixture
def basic_copy(tmp_path: Path) -> Path:
    target = tmp_path / "wal"
    shutil.copytree(FIXTURES / "basic", target)
    for path in target.iterdir():
        path.chmod(0o644)
    return target


def read_all(reader: WalReader) -> list:
    entries = []
    while (entry := reader.next_entry()) is not None:
        entries.append(entry)
    return entries


@pytest.mark.parametrize("name", sorted(WAL_DIRS))
def test_reader_matches_every_header_field(name: str) -> None:
    wal_dir, expected = load_expected(name)
    with WalReader(wal_dir) as reader:
        reader.seek(expected["firstVer"])
        entries = read_all(reader)

    assert [e.version for e in entries] == [e["version"] for e in expected["entries"]]
    for entry, want in zip(entries, expected["entries"]):
        assert entry.msg_type == want["msgType"], entry.version
        assert entry.ingest_ts == want["ingestTs"], entry.version
        assert entry.body_len == want["bodyLen"], entry.version
        assert entry.cksum_head == want["cksumHead"], entry.version
        assert entry.cksum_body == want["cksumBody"], entry.version
        assert entry.term == want["syncMeta"]["term"], entry.version
        assert entry.seq_num == want["syncMeta"]["seqNum"], entry.version
        assert entry.offset == want["logOffset"], entry.version
        assert os.path.basename(entry.log_path) == want["logFile"], entry.version
        assert entry.body.hex() == want["bodyHex"], entry.version


@pytest.mark.parametrize("name", sorted(WAL_DIRS))
def test_bounds_match_expected(name: str) -> None:
    wal_dir, expected = load_expected(name)
    bounds = wal_bounds(wal_dir)
    assert (bounds.first_version, bounds.last_version) == (expected["firstVer"], expected["lastVer"])


@pytest.mark.parametrize("name", ["basic", "retention", "rollback-before"])
def test_seek_lands_on_every_version(name: str) -> None:
    wal_dir, expected = load_expected(name)
    with WalReader(wal_dir) as reader:
        for want in expected["entries"]:
            reader.seek(want["version"])
            assert reader.next_entry().version == want["version"]


def test_seek_to_next_version_waits() -> None:
    wal_dir, expected = load_expected("basic")
    with WalReader(wal_dir) as reader:
        reader.seek(expected["lastVer"] + 1)
        assert reader.next_entry() is None


def test_seek_beyond_wal_raises() -> None:
    wal_dir, expected = load_expected("basic")
    with WalReader(wal_dir) as reader, pytest.raises(WalError, match="ahead of the WAL"):
        reader.seek(expected["lastVer"] + 5)


def test_seek_before_retention_raises_gap() -> None:
    wal_dir, _ = load_expected("retention")
    with WalReader(wal_dir) as reader, pytest.raises(WalGapError) as caught:
        reader.seek(10)
    assert (caught.value.requested, caught.value.first_retained) == (10, 21)


def test_meta_reads_string_numbers() -> None:
    wal_dir, expected = load_expected("retention")
    meta = read_meta(wal_dir)
    assert meta is not None
    assert meta.meta_version == 12
    assert (meta.first_version, meta.commit_version, meta.last_version) == (21, 40, 40)
    assert meta.files[-1].last_version == -1


def test_meta_takes_highest_parsable(basic_copy: Path) -> None:
    (basic_copy / "meta-ver7").write_text("{ not json")
    (basic_copy / "meta-ver3").write_text((basic_copy / "meta-ver1").read_text())
    meta = read_meta(basic_copy)
    assert meta is not None and meta.meta_version == 3


def test_segments_sorted_by_first_version() -> None:
    wal_dir, _ = load_expected("retention")
    assert [s.first_version for s in list_segments(wal_dir)] == [21, 25, 29, 33, 37, 41]


def test_wrong_idx_slot_falls_back_to_scan(basic_copy: Path) -> None:
    idx = basic_copy / "00000000000000000000.idx"
    raw = bytearray(idx.read_bytes())
    raw[5 * 16 + 8:5 * 16 + 16] = (64).to_bytes(8, "little")  # slot of v5 points at v1
    idx.write_bytes(bytes(raw))
    with WalReader(basic_copy) as reader:
        reader.seek(5)
        assert reader.next_entry().version == 5


def test_missing_idx_falls_back_to_scan(basic_copy: Path) -> None:
    (basic_copy / "00000000000000000000.idx").unlink()
    with WalReader(basic_copy) as reader:
        reader.seek(12)
        assert reader.next_entry().version == 12


def test_corrupt_body_mid_log_names_file_offset_version(basic_copy: Path) -> None:
    _, expected = load_expected("basic")
    target = expected["entries"][10]  # version 10
    log_path = basic_copy / target["logFile"]
    raw = bytearray(log_path.read_bytes())
    raw[target["logOffset"] + HEAD_SIZE + 20] ^= 0xFF
    log_path.write_bytes(bytes(raw))

    with WalReader(basic_copy) as reader:
        reader.seek(0)
        with pytest.raises(WalCorruptionError) as caught:
            read_all(reader)
    error = caught.value
    assert error.version == 10
    assert error.offset == target["logOffset"]
    assert error.path == str(log_path)
    assert str(log_path) in str(error)
    assert "version 10" in str(error)
    assert f"offset {target['logOffset']}" in str(error)


def test_corrupt_head_mid_log_raises(basic_copy: Path) -> None:
    _, expected = load_expected("basic")
    target = expected["entries"][7]
    log_path = basic_copy / target["logFile"]
    raw = bytearray(log_path.read_bytes())
    raw[target["logOffset"] + 30] ^= 0x01  # inside bodyLen, covered by cksumHead
    log_path.write_bytes(bytes(raw))
    with WalReader(basic_copy) as reader:
        reader.seek(7)
        with pytest.raises(WalCorruptionError, match="head checksum"):
            reader.next_entry()


def test_torn_tail_waits_then_resumes(basic_copy: Path) -> None:
    _, expected = load_expected("basic")
    last = expected["entries"][-1]
    log_path = basic_copy / last["logFile"]
    full = log_path.read_bytes()
    cut = last["logOffset"] + HEAD_SIZE + 10
    log_path.write_bytes(full[:cut])

    with WalReader(basic_copy) as reader:
        reader.seek(0)
        entries = read_all(reader)
        assert entries[-1].version == last["version"] - 1
        assert reader.next_entry() is None

        with log_path.open("ab") as out:
            out.write(full[cut:])
        entry = reader.next_entry()
        assert entry is not None and entry.version == last["version"]
        assert reader.next_entry() is None


def test_partial_head_waits(basic_copy: Path) -> None:
    _, expected = load_expected("basic")
    last = expected["entries"][-1]
    log_path = basic_copy / last["logFile"]
    full = log_path.read_bytes()
    log_path.write_bytes(full[:last["logOffset"] + 20])
    with WalReader(basic_copy) as reader:
        reader.seek(last["version"])
        assert reader.next_entry() is None
        log_path.write_bytes(full)
        assert reader.next_entry().version == last["version"]


def test_bad_tail_checksum_without_later_data_waits(basic_copy: Path) -> None:
    _, expected = load_expected("basic")
    last = expected["entries"][-1]
    log_path = basic_copy / last["logFile"]
    raw = bytearray(log_path.read_bytes())
    raw[-1] ^= 0xFF
    log_path.write_bytes(bytes(raw))
    with WalReader(basic_copy) as reader:
        reader.seek(last["version"])
        assert reader.next_entry() is None


def test_reads_across_segments_and_empty_tail() -> None:
    wal_dir, expected = load_expected("retention")
    with WalReader(wal_dir) as reader:
        reader.seek(23)
        versions = [e.version for e in read_all(reader)]
    assert versions == list(range(23, expected["lastVer"] + 1))


def test_new_segment_picked_up_after_roll(tmp_path: Path) -> None:
    source, _ = load_expected("retention")
    wal_dir = tmp_path / "wal"
    wal_dir.mkdir()
    segments = list_segments(source)
    for segment in segments[:2]:
        shutil.copy(segment.log_path, wal_dir)
        shutil.copy(segment.idx_path, wal_dir)
    with WalReader(wal_dir) as reader:
        reader.seek(21)
        assert [e.version for e in read_all(reader)] == list(range(21, 29))
        for segment in segments[2:3]:
            shutil.copy(segment.log_path, wal_dir)
            shutil.copy(segment.idx_path, wal_dir)
        assert [e.version for e in read_all(reader)] == list(range(29, 33))


def test_missing_segment_between_raises(tmp_path: Path) -> None:
    source, _ = load_expected("retention")
    wal_dir = tmp_path / "wal"
    wal_dir.mkdir()
    segments = list_segments(source)
    for segment in (segments[0], segments[2]):
        shutil.copy(segment.log_path, wal_dir)
        shutil.copy(segment.idx_path, wal_dir)
    with WalReader(wal_dir) as reader:
        reader.seek(21)
        with pytest.raises(WalCorruptionError, match=r"versions 25\.\.28 are missing"):
            read_all(reader)


def replace_contents(target: Path, source: Path) -> None:
    for path in target.iterdir():
        path.unlink()
    for path in source.iterdir():
        shutil.copy(path, target / path.name)
        (target / path.name).chmod(0o644)


def test_rollback_reported_and_reread(tmp_path: Path) -> None:
    before, _ = load_expected("rollback-before")
    after, after_expected = load_expected("rollback-after")
    wal_dir = tmp_path / "wal"
    wal_dir.mkdir()
    replace_contents(wal_dir, before)

    with WalReader(wal_dir) as reader:
        reader.seek(0)
        assert [e.version for e in read_all(reader)] == list(range(31))
        replace_contents(wal_dir, after)

        entries = read_all(reader)
        assert reader.rewound is not None
        assert (reader.rewound.first_version, reader.rewound.last_read,
                reader.rewound.changed_through) == (21, 30, 25)
        assert [e.version for e in entries] == list(range(21, 26))
        rewritten = {e["version"]: e for e in after_expected["entries"]}
        assert all(e.term == 2 for e in entries)
        assert all(e.cksum_body == rewritten[e.version]["cksumBody"] for e in entries)


def test_no_rewind_when_tail_unchanged(basic_copy: Path) -> None:
    with WalReader(basic_copy) as reader:
        reader.seek(0)
        read_all(reader)
        assert reader.next_entry() is None
        assert reader.rewound is None


def test_leftover_bytes_before_indexed_entry_skipped(basic_copy: Path) -> None:
    _, expected = load_expected("basic")
    last = expected["entries"][-1]
    log_path = basic_copy / last["logFile"]
    idx_path = basic_copy / "00000000000000000000.idx"
    full = log_path.read_bytes()
    start = last["logOffset"]
    garbage = b"\x00" * 37
    # TDengine 3.3.6+ leaves a torn tail in place and appends after it; the
    # .idx slot of the version then points past the left-over bytes.
    log_path.write_bytes(full[:start] + garbage + full[start:])
    raw_idx = bytearray(idx_path.read_bytes())
    slot = last["version"] * 16
    raw_idx[slot + 8:slot + 16] = (start + len(garbage)).to_bytes(8, "little")
    idx_path.write_bytes(bytes(raw_idx))

    with WalReader(basic_copy) as reader:
        reader.seek(0)
        entries = read_all(reader)
    assert [e.version for e in entries] == list(range(21))
    assert entries[-1].offset == start + len(garbage)
