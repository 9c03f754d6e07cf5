"""``wal-connector inspect`` against the golden fixtures, through click's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from connector.cli import main
from connector.decode import decode_message

from ..decode._fixture_data import (
    FIXTURE_WALS,
    FIXTURES,
    FixtureWal,
    body_differences,
    initial_catalog,
    table_schemas_config,
)

HEADER_KEYS = ("version", "msgType", "msgTypeName", "ingestTs", "bodyLen")


def wal_dir_of(wal: FixtureWal) -> Path:
    return Path(str(wal.expected_path)[: -len(".expected.json")])


def schemas_config(tmp_path: Path, wal: FixtureWal, expected: dict) -> list[str]:
    """Return ``-c FILE`` arguments with table_schemas for WALs that hold no CREATE_STB."""
    if not wal.seed_from_expected:
        return []
    path = tmp_path / "schemas.yaml"
    path.write_text(yaml.safe_dump({"table_schemas": table_schemas_config(expected)}))
    return ["-c", str(path)]


@pytest.mark.parametrize("wal", FIXTURE_WALS, ids=lambda wal: wal.test_id)
def test_inspect_json_equals_expected(wal: FixtureWal, tmp_path: Path) -> None:
    expected = wal.load()
    args = ["inspect", str(wal_dir_of(wal)), "--json", *schemas_config(tmp_path, wal, expected)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output

    documents = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(documents) == len(expected["entries"])
    reference_catalog = initial_catalog(wal, expected)
    failures = []
    for document, entry in zip(documents, expected["entries"]):
        for key in HEADER_KEYS:
            assert document[key] == entry[key], (entry["version"], key)
        message = decode_message(entry["msgType"], bytes.fromhex(entry["bodyHex"]), reference_catalog)
        failures += [f"v{entry['version']} {line}"
                     for line in body_differences(entry["body"], document["body"], message)]
    assert not failures, "\n".join(failures[:40])


def test_inspect_summary_lists_versions_and_counts() -> None:
    result = CliRunner().invoke(main, ["inspect", str(FIXTURES / "retention" / "wal")])
    assert result.exit_code == 0, result.output
    assert "first version     21" in result.stdout
    assert "last version      40" in result.stdout
    assert "commit version    40" in result.stdout
    assert "segments          6" in result.stdout
    assert "entries           20" in result.stdout


def test_inspect_without_schema_reports_entry(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["inspect", str(FIXTURES / "basic"), "--json"])
    assert result.exit_code == 1
    errors = [json.loads(line)["error"] for line in result.stdout.splitlines()
              if "error" in json.loads(line)]
    assert errors, result.output
    assert "sver 1" in errors[0]
    assert "suid 7890123456789012345" in errors[0]
    assert "version 1" in errors[0]


def test_inspect_rejects_unknown_config_key(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("table_schemas: []\ntabel_schemas: []\n")
    result = CliRunner().invoke(main, ["inspect", str(FIXTURES / "basic"), "-c", str(config)])
    assert result.exit_code == 2
    assert "tabel_schemas" in result.output
