"""A configured TDengine release must agree with the SUBMIT layout found in the WAL."""

from __future__ import annotations

import pytest

from connector.config import parse_config
from connector.errors import UnsupportedFormatError
from connector.tasks.task import SourceTask
from connector.wal import WalReader

from ..decode._fixture_data import FIXTURES
from .fakes import BASIC_SCHEMAS



def decode_all(wal: str, release: str) -> int:
    config = parse_config({
        "connector": {"tdengine_release": release},
        "kafka": {"bootstrap_servers": "127.0.0.1:9"},
        "tasks": [{"name": "a", "wal_dir": str(FIXTURES / wal), "topic": "t", "vgroup_id": 2}],
        "table_schemas": BASIC_SCHEMAS,
    })
    task = SourceTask(config, config.tasks[0])
    count = 0
    with WalReader(FIXTURES / wal) as reader:
        reader.seek(0)
        while (entry := reader.next_entry()) is not None:
            task.publisher.decode(entry)
            count += 1
    return count


@pytest.mark.parametrize("wal,release", [("basic", "3.3.6.0"), ("basic", "auto"),
                                         ("v3.2.2.2/basic", "3.2.2.2"), ("v3.2.2.2/basic", "auto")])
def test_matching_release_decodes(wal: str, release: str) -> None:
    assert decode_all(wal, release) == 21


@pytest.mark.parametrize("wal,release,found", [("basic", "3.2", 1), ("v3.2.2.2/basic", "3.3.6", 0)])
def test_contradicting_release_halts(wal: str, release: str, found: int) -> None:
    with pytest.raises(UnsupportedFormatError) as caught:
        decode_all(wal, release)
    message = str(caught.value)
    assert f"encoding version {found}" in message
    assert "connector.tdengine_release" in message
    assert "version 1," in message  # the WAL version of the first SUBMIT
