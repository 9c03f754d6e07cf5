"""Decode every entry of the golden fixture WALs and compare with expected.json."""

from __future__ import annotations

import math

import pytest

from connector.decode import decode_message, msg_type_name, render_body
from connector.decode.model import SubmitMessage, TdType

from ._fixture_data import FIXTURE_WALS, FixtureWal, body_differences, initial_catalog, is_nan_bits_default


@pytest.mark.parametrize("wal", FIXTURE_WALS, ids=lambda wal: wal.test_id)
def test_fixture_bodies_match_expected(wal: FixtureWal) -> None:
    expected = wal.load()
    catalog = initial_catalog(wal, expected)
    failures = []
    for entry in sorted(expected["entries"], key=lambda item: item["version"]):
        body = bytes.fromhex(entry["bodyHex"])
        assert msg_type_name(entry["msgType"]) == entry["msgTypeName"], f"v{entry['version']}"
        message = decode_message(entry["msgType"], body, catalog)
        rendered = render_body(message, catalog)
        problems = body_differences(entry["body"], rendered, message)
        failures += [f"v{entry['version']} {line}" for line in problems]
    assert not failures, "\n".join(failures[:40])


@pytest.mark.parametrize("wal", FIXTURE_WALS, ids=lambda wal: wal.test_id)
def test_fixture_nan_cells_have_default_bits(wal: FixtureWal) -> None:
    expected = wal.load()
    catalog = initial_catalog(wal, expected)
    for entry in sorted(expected["entries"], key=lambda item: item["version"]):
        message = decode_message(entry["msgType"], bytes.fromhex(entry["bodyHex"]), catalog)
        if not isinstance(message, SubmitMessage):
            continue
        for block in message.blocks:
            for row in block.rows:
                for column, value in zip(block.columns, row):
                    if isinstance(value, float) and math.isnan(value):
                        assert is_nan_bits_default(value, float32=column.type == TdType.FLOAT), (
                            f"v{entry['version']} {column.name}"
                        )
