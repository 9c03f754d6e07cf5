"""Decode every fixture body, encode the message again, and compare the bytes."""

from __future__ import annotations

import pytest

from connector.decode import decode_message
from connector.decode.encode import encode_message, message_type

from ._rebuild import ALL_DIRS, FixtureDir, initial_catalog


@pytest.mark.parametrize("fixture", ALL_DIRS, ids=lambda fixture: fixture.test_id)
def test_encode_reproduces_fixture_bodies(fixture: FixtureDir) -> None:
    expected = fixture.load()
    catalog = initial_catalog(fixture, expected)
    failures = []
    for entry in sorted(expected["entries"], key=lambda item: item["version"]):
        body = bytes.fromhex(entry["bodyHex"])
        message = decode_message(entry["msgType"], body, catalog)
        encoded = encode_message(message, catalog)
        if encoded != body:
            first = next((i for i, (a, b) in enumerate(zip(encoded, body)) if a != b), min(len(encoded), len(body)))
            failures.append(f"v{entry['version']} {entry['msgTypeName']}: first difference at byte {first} "
                            f"(encoded {len(encoded)} bytes, fixture {len(body)})")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("fixture", ALL_DIRS, ids=lambda fixture: fixture.test_id)
def test_message_type_matches_fixture(fixture: FixtureDir) -> None:
    expected = fixture.load()
    catalog = initial_catalog(fixture, expected)
    for entry in sorted(expected["entries"], key=lambda item: item["version"]):
        message = decode_message(entry["msgType"], bytes.fromhex(entry["bodyHex"]), catalog)
        assert message_type(message) == entry["msgType"], f"v{entry['version']}"
