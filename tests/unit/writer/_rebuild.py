"""Rebuilding the golden fixture WAL directories with WalWriter from their expected.json."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connector.decode import SchemaCatalog, catalog_from_config, decode_message
from connector.decode.encode import encode_message
from connector.wal.writer import WalWriter

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "tdengine-wal"


@dataclass(frozen=True)
class FixtureDir:
    """One fixture WAL directory and its expected.json."""

    test_id: str
    wal_dir: Path
    expected_path: Path
    has_ddl: bool  # True when the WAL defines its own schemas (CREATE_STB entries)

    def load(self) -> dict[str, Any]:
        return json.loads(self.expected_path.read_text(encoding="utf-8"))


BASIC = FixtureDir("basic", FIXTURES / "basic", FIXTURES / "basic.expected.json", has_ddl=False)
DDL = FixtureDir("ddl", FIXTURES / "ddl" / "wal", FIXTURES / "ddl" / "wal.expected.json", has_ddl=True)
TYPES_MS = FixtureDir("types-ms", FIXTURES / "types-ms" / "wal", FIXTURES / "types-ms" / "wal.expected.json", has_ddl=False)
TYPES_NS = FixtureDir("types-ns", FIXTURES / "types-ns" / "wal", FIXTURES / "types-ns" / "wal.expected.json", has_ddl=False)
V3222_BASIC = FixtureDir("v3.2.2.2-basic", FIXTURES / "v3.2.2.2" / "basic", FIXTURES / "v3.2.2.2" / "basic.expected.json",
                         has_ddl=False)
V3222_DDL = FixtureDir("v3.2.2.2-ddl", FIXTURES / "v3.2.2.2" / "ddl", FIXTURES / "v3.2.2.2" / "ddl.expected.json",
                       has_ddl=True)
RETENTION = FixtureDir("retention", FIXTURES / "retention" / "wal", FIXTURES / "retention" / "wal.expected.json",
                       has_ddl=False)
ROLLBACK_BEFORE = FixtureDir("rollback-before", FIXTURES / "rollback" / "before",
                             FIXTURES / "rollback" / "before.expected.json", has_ddl=False)
ROLLBACK_AFTER = FixtureDir("rollback-after", FIXTURES / "rollback" / "after",
                            FIXTURES / "rollback" / "after.expected.json", has_ddl=False)

SINGLE_SEGMENT_DIRS = (BASIC, DDL, TYPES_MS, TYPES_NS, V3222_BASIC, V3222_DDL)
ALL_DIRS = (*SINGLE_SEGMENT_DIRS, RETENTION, ROLLBACK_BEFORE, ROLLBACK_AFTER)


def initial_catalog(fixture: FixtureDir, expected: dict[str, Any]) -> SchemaCatalog:
    """Return the catalog a connector starts with: empty for a WAL with DDL, else from expected.json."""
    if fixture.has_ddl:
        return SchemaCatalog()
    # Imported here so that the decoder tests' helper is only needed by these tests.
    from tests.unit.decode._fixture_data import table_schemas_config

    return catalog_from_config(table_schemas_config(expected))


def reencoded_entries(fixture: FixtureDir, expected: dict[str, Any]) -> list[tuple[dict[str, Any], bytes]]:
    """Decode every bodyHex in version order, encode the message again, and pair it with its entry."""
    catalog = initial_catalog(fixture, expected)
    result = []
    for entry in sorted(expected["entries"], key=lambda item: item["version"]):
        message = decode_message(entry["msgType"], bytes.fromhex(entry["bodyHex"]), catalog)
        result.append((entry, encode_message(message, catalog)))
    return result


def create_ts(fixture: FixtureDir, expected: dict[str, Any]) -> int:
    """Return the segments' createTs: expected.json has it, except basic, whose meta file is the only record."""
    for file in expected["files"]:
        if "createTs" in file:
            return int(file["createTs"])
    meta = json.loads(next(fixture.wal_dir.glob("meta-ver*")).read_text(encoding="utf-8"))
    return int(meta["files"][0]["createTs"])


def append_entries(writer: WalWriter, entries: Iterable[tuple[dict[str, Any], bytes]], commit_limit: int) -> None:
    """Append entries with the header fields of expected.json and commit each one up to ``commit_limit``."""
    for entry, body in entries:
        sync = entry["syncMeta"]
        version = writer.append(entry["msgType"], body, ingest_ts=entry["ingestTs"], is_weak=sync["isWeek"],
                                seq_num=sync["seqNum"], term=sync["term"], version=entry["version"])
        writer.commit(min(version, commit_limit))


def file_digests(directory: Path) -> dict[str, str]:
    """Return sha256 of every file in ``directory`` by name."""
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(directory.iterdir())}


def rebuild_single_segment(fixture: FixtureDir, target: Path) -> None:
    """Rebuild a fixture that TDengine wrote as one segment: open, append and commit each entry, close."""
    expected = fixture.load()
    seg_size = expected["walCfg"].get("segSizeKB", 0) * 1024
    writer = WalWriter(target, vg_id=expected["vgId"], seg_size_bytes=seg_size,
                       clock=lambda: create_ts(fixture, expected))
    append_entries(writer, reencoded_entries(fixture, expected), expected["commitVer"])
    writer.close()


def rebuild_rollback_before(target: Path) -> None:
    """Rebuild ``rollback/before``: 2 KiB segments, versions 0..30, committed up to 20, closed."""
    expected = ROLLBACK_BEFORE.load()
    writer = WalWriter(target, vg_id=expected["vgId"], seg_size_bytes=expected["walCfg"]["segSizeKB"] * 1024,
                       clock=lambda: create_ts(ROLLBACK_BEFORE, expected))
    append_entries(writer, reencoded_entries(ROLLBACK_BEFORE, expected), expected["commitVer"])
    writer.close()


def rebuild_rollback_after(target: Path) -> None:
    """Rebuild ``rollback/after`` from ``before``: reopen, roll back to 21, append the term-2 entries 21..25."""
    rebuild_rollback_before(target)
    expected = ROLLBACK_AFTER.load()
    writer = WalWriter(target, vg_id=expected["vgId"], seg_size_bytes=expected["walCfg"]["segSizeKB"] * 1024,
                       clock=lambda: create_ts(ROLLBACK_AFTER, expected))
    writer.rollback(expected["rollback"]["walRollbackVer"])
    rewritten = [(entry, body) for entry, body in reencoded_entries(ROLLBACK_AFTER, expected)
                 if entry["version"] >= expected["rollback"]["walRollbackVer"]]
    append_entries(writer, rewritten, expected["commitVer"])
    writer.close()


# Filler bodies for versions 0..20 of the retention fixture, whose segments TDengine
# deleted.  Five 256-byte entries fill the first 1 KiB segment (0..4), and 306-byte
# entries give four segments of four versions each (17..20 is the last).  Version
# 21 then starts a segment, as in the fixture, and no filler byte is compared.
_FILLER_SMALL = bytes(200)
_FILLER_LARGE = bytes(250)


def rebuild_retention(target: Path) -> None:
    """Rebuild ``retention``: versions 0..40 in 1 KiB segments, snapshot at 25 keeping 5, closed."""
    expected = RETENTION.load()
    snapshot = expected["snapshot"]
    writer = WalWriter(target, vg_id=expected["vgId"], seg_size_bytes=expected["walCfg"]["segSizeKB"] * 1024,
                       retention_period_s=expected["walCfg"]["retentionPeriod"],
                       retention_size_bytes=expected["walCfg"]["retentionSize"],
                       clock=lambda: create_ts(RETENTION, expected))
    for version in range(expected["firstVer"]):
        writer.append(1559, _FILLER_SMALL if version < 5 else _FILLER_LARGE, seq_num=version, term=1)
        writer.commit(version)
    append_entries(writer, reencoded_entries(RETENTION, expected), expected["commitVer"])
    writer.begin_snapshot(snapshot["walBeginSnapshotVer"], snapshot["logRetention"])
    writer.end_snapshot()
    writer.close()
