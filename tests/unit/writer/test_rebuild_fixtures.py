"""Rebuild the golden WAL directories with WalWriter and compare every file byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest

from ._rebuild import (
    RETENTION,
    ROLLBACK_AFTER,
    ROLLBACK_BEFORE,
    SINGLE_SEGMENT_DIRS,
    FixtureDir,
    file_digests,
    rebuild_retention,
    rebuild_rollback_after,
    rebuild_rollback_before,
    rebuild_single_segment,
)


def assert_same_files(built: Path, fixture: FixtureDir) -> None:
    actual = file_digests(built)
    expected = file_digests(fixture.wal_dir)
    assert sorted(actual) == sorted(expected), "the rebuilt directory has different file names"
    for name, digest in expected.items():
        assert actual[name] == digest, f"{name} differs from the fixture"


@pytest.mark.parametrize("fixture", SINGLE_SEGMENT_DIRS, ids=lambda fixture: fixture.test_id)
def test_rebuild_single_segment_fixture(fixture: FixtureDir, tmp_path: Path) -> None:
    rebuild_single_segment(fixture, tmp_path)
    assert_same_files(tmp_path, fixture)


def test_rebuild_rollback_before(tmp_path: Path) -> None:
    rebuild_rollback_before(tmp_path)
    assert_same_files(tmp_path, ROLLBACK_BEFORE)


def test_rebuild_rollback_after(tmp_path: Path) -> None:
    rebuild_rollback_after(tmp_path)
    assert_same_files(tmp_path, ROLLBACK_AFTER)


def test_rebuild_retention(tmp_path: Path) -> None:
    rebuild_retention(tmp_path)
    assert_same_files(tmp_path, RETENTION)
