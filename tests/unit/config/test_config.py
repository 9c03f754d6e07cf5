"""YAML configuration: defaults, validation messages, reserved producer keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.config import load_config, parse_config
from connector.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[3] / "config" / "connector.example.yaml"


def minimal(**overrides: object) -> dict:
    raw: dict = {
        "kafka": {"bootstrap_servers": "127.0.0.1:9092"},
        "tasks": [{"name": "vnode2", "wal_dir": "/data/vnode2/wal", "topic": "t.vnode2"}],
    }
    raw.update(overrides)
    return raw


def test_defaults_for_minimal_config() -> None:
    config = parse_config(minimal())
    assert config.delivery_mode == "exactly_once"
    assert config.idle_scan_delay_ms == 100
    assert config.group_id == "wal-connector.tdengine-wal-connector"
    assert config.transactional_id(config.tasks[0]) == "wal-connector.tdengine-wal-connector.vnode2"
    assert config.tasks[0].initial_position == "earliest"


def test_example_config_loads() -> None:
    config = load_config(EXAMPLE)
    assert config.name == "power-cdc"
    assert config.tasks[0].topic == "tdengine.power.vnode2"


def test_unknown_key_named_with_path() -> None:
    raw = minimal()
    raw["tasks"][0]["wal_directory"] = "/x"
    with pytest.raises(ConfigError, match=r"tasks\[0\]\.wal_directory"):
        parse_config(raw)


def test_misspelt_section_named_before_missing_keys() -> None:
    raw = minimal()
    raw["kafak"] = raw.pop("kafka")
    with pytest.raises(ConfigError, match="unknown configuration key.s.: kafak"):
        parse_config(raw)


def test_unknown_top_level_key_lists_allowed() -> None:
    with pytest.raises(ConfigError, match="allowed here: connector, kafka, tasks"):
        parse_config(minimal(sinks=[]))


def test_bad_delivery_mode_names_value_and_choices() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(minimal(connector={"delivery_mode": "exactly-once"}))
    message = str(caught.value)
    assert "connector.delivery_mode" in message
    assert "'exactly-once'" in message
    assert "exactly_once, at_least_once" in message


def test_bad_integer_names_range() -> None:
    with pytest.raises(ConfigError, match=r"connector\.idle_scan_delay_ms: expected an integer from 1 to 60000, got 0"):
        parse_config(minimal(connector={"idle_scan_delay_ms": 0}))


def test_reserved_producer_key_rejected() -> None:
    with pytest.raises(ConfigError, match=r"kafka\.producer\.transactional\.id"):
        parse_config(minimal(kafka={"bootstrap_servers": "b:9092",
                                    "producer": {"transactional.id": "x"}}))


def test_duplicate_topic_rejected() -> None:
    raw = minimal()
    raw["tasks"].append({"name": "vnode3", "wal_dir": "/data/vnode3/wal", "topic": "t.vnode2"})
    with pytest.raises(ConfigError, match=r"tasks\[1\]\.topic: topic 't\.vnode2' is already used as tasks\[0\]\.topic"):
        parse_config(raw)


def test_history_topic_clash_rejected() -> None:
    raw = minimal()
    raw["tasks"].append({"name": "vnode3", "wal_dir": "/data/vnode3/wal", "topic": "t.vnode2.schema-history"})
    with pytest.raises(ConfigError, match=r"already used as tasks\[0\]\.schema_history_topic"):
        parse_config(raw)


def test_precision_override_checked() -> None:
    raw = minimal()
    raw["tasks"][0]["precision"] = "s"
    with pytest.raises(ConfigError, match=r"tasks\[0\]\.precision: 's' is not allowed; use one of ms, us, ns"):
        parse_config(raw)


def test_invalid_topic_name_rejected() -> None:
    raw = minimal()
    raw["tasks"][0]["topic"] = "bad topic"
    with pytest.raises(ConfigError, match="not a valid Kafka topic name"):
        parse_config(raw)


def test_initial_position_accepts_version() -> None:
    raw = minimal()
    raw["tasks"][0]["initial_position"] = 42
    assert parse_config(raw).tasks[0].initial_position == 42


def test_initial_position_rejects_negative() -> None:
    raw = minimal()
    raw["tasks"][0]["initial_position"] = -1
    with pytest.raises(ConfigError, match="earliest, latest or a WAL version"):
        parse_config(raw)


def test_missing_tasks_rejected_for_run() -> None:
    with pytest.raises(ConfigError, match="tasks: missing"):
        parse_config({"kafka": {"bootstrap_servers": "b:9092"}})


def test_schemas_only_file_accepted_for_inspect() -> None:
    config = parse_config({"table_schemas": []}, require_tasks=False)
    assert config.tasks == ()


def test_relative_wal_dir_resolves_against_file(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("kafka: {bootstrap_servers: 'b:9092'}\n"
                    "tasks: [{name: a, wal_dir: wal, topic: t}]\n")
    assert load_config(path).tasks[0].wal_dir == str(tmp_path / "wal")


def test_invalid_yaml_names_file(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("kafka: [\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_config(path)


def test_release_parsed() -> None:
    assert parse_config(minimal(connector={"tdengine_release": "3.3.6.0"})).tdengine_release == (3, 3, 6, 0)
    assert parse_config(minimal(connector={"tdengine_release": "auto"})).tdengine_release is None
    assert parse_config(minimal()).tdengine_release is None


def test_release_before_303_rejected() -> None:
    with pytest.raises(ConfigError, match="legacy SUBMIT format"):
        parse_config(minimal(connector={"tdengine_release": "3.0.2.6"}))


def test_release_garbage_rejected() -> None:
    with pytest.raises(ConfigError, match=r"connector\.tdengine_release: '3\.x' is not allowed"):
        parse_config(minimal(connector={"tdengine_release": "3.x"}))
