"""YAML configuration: one typed, validated, frozen object built at start-up.

Every key is declared once below with its type, default and meaning.  Unknown
keys are rejected by name, and every error names the key path, the value and
what is allowed, so a bad file fails before any task starts.

    connector:        name, delivery mode, scan timing
    kafka:            bootstrap servers, group, registry, topic creation, producer passthrough
    tasks:            one entry per vnode WAL: name, wal_dir, topic, vgroup id, initial position
    table_schemas:    schemas of super tables whose DDL is no longer in the WAL
    logging:          level
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

from connector.errors import ConfigError

__all__ = [
    "ConnectorConfig",
    "KafkaConfig",
    "TaskConfig",
    "TopicConfig",
    "load_config",
    "parse_config",
]

DELIVERY_MODES = ("exactly_once", "at_least_once")
# The oldest release whose SUBMIT layout (SSubmitReq2) the decoder reads.
MIN_TDENGINE_RELEASE = (3, 0, 3)
_RELEASE_PATTERN = re.compile(r"^3(\.\d+){1,3}$")
_NAME_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,200}$")
_TOPIC_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,249}$")
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


@dataclass(frozen=True, slots=True)
class TopicConfig:
    """Settings for creating a task's topic when it does not exist yet."""

    create: bool = True
    partitions: int = 1
    replication_factor: int = 1
    config: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class KafkaConfig:
    bootstrap_servers: str
    group_id: str | None = None
    schema_registry_url: str | None = None
    schema_registry: dict[str, str] = field(default_factory=dict)
    producer: dict[str, Any] = field(default_factory=dict)
    consumer: dict[str, Any] = field(default_factory=dict)
    topic: TopicConfig = field(default_factory=TopicConfig)
    transaction_timeout_ms: int = 60_000
    operation_timeout_ms: int = 30_000
    # Largest serialized record value; bigger SUBMIT blocks are split by rows.
    # Below the 1 MB defaults of the broker's max.message.bytes and
    # librdkafka's message.max.bytes, with room for key, headers and framing.
    max_record_bytes: int = 900_000


@dataclass(frozen=True, slots=True)
class TaskConfig:
    """One source task: one vnode WAL directory published to one topic.

    ``initial_position`` applies only when the topic has no committed
    checkpoint: "earliest", "latest" or a WAL version.  ``precision`` ("ms",
    "us" or "ns") replaces vnode.json when the WAL was copied without it.
    ``schema_history_topic`` is the compacted topic that keeps the task's
    schema catalog; None means ``<topic>.schema-history``.
    """

    name: str
    wal_dir: str
    topic: str
    vgroup_id: int | None = None
    initial_position: str | int = "earliest"
    precision: str | None = None
    schema_history_topic: str | None = None
    gap_policy: str = "fail"
    publish_up_to: str = "all"
    fill_history: FillHistoryConfig | None = None

    @property
    def history_topic(self) -> str:
        return self.schema_history_topic or f"{self.topic}.schema-history"


@dataclass(frozen=True, slots=True)
class FillHistoryConfig:
    """A version range to publish before the live task starts, fixed when the task is first created.

    ``to_version`` None means "latest": the WAL's last version at the first
    start, kept in the fill-history checkpoint so restarts keep the range.
    """

    from_version: int
    to_version: int | None


@dataclass(frozen=True, slots=True)
class ConnectorConfig:
    name: str
    kafka: KafkaConfig
    tasks: tuple[TaskConfig, ...]
    delivery_mode: str = "exactly_once"
    idle_scan_delay_ms: int = 100
    max_versions_per_transaction: int = 500
    max_records_per_transaction: int = 5_000
    table_schemas: tuple[dict[str, Any], ...] = ()
    log_level: str = "INFO"
    source_path: str | None = None
    # None means "auto": every layout question is answered from the bytes.
    tdengine_release: tuple[int, ...] | None = None
    max_scan_counter: int = 3
    scan_timer_ms: int = 1_000
    queue_max_items: int = 1_000
    queue_max_bytes: int = 64 * 1024 * 1024
    checkpoint_refresh_interval_ms: int = 300_000
    admin_listen: str | None = None

    @property
    def group_id(self) -> str:
        """The consumer group whose committed offsets hold every task's checkpoint."""
        return self.kafka.group_id or f"wal-connector.{self.name}"

    def transactional_id(self, task: TaskConfig) -> str:
        return f"wal-connector.{self.name}.{task.name}"


# -- declarative helpers ------------------------------------------------------

class _Section:
    """Pops declared keys from one mapping and rejects whatever is left."""

    def __init__(self, path: str, raw: object) -> None:
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise ConfigError(f"{path or 'the configuration'}: expected a mapping, got {raw!r}")
        self.path = path
        self._raw = dict(raw)

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def take(self, name: str, convert: Callable[[str, object], Any], default: Any = ...) -> Any:
        if name not in self._raw or self._raw[name] is None:
            if default is ...:
                others = sorted(str(k) for k in self._raw if self._raw[k] is not None)
                hint = f"; keys found here: {', '.join(others)}" if others else ""
                raise ConfigError(f"{self.key(name)}: missing required key{hint}")
            self._raw.pop(name, None)
            return default
        return convert(self.key(name), self._raw.pop(name))

    def section(self, name: str) -> _Section:
        return _Section(self.key(name), self._raw.pop(name, None))

    def finish(self, allowed: tuple[str, ...]) -> None:
        if self._raw:
            unknown = ", ".join(sorted(self.key(str(k)) for k in self._raw))
            raise ConfigError(
                f"unknown configuration key(s): {unknown}; allowed here: {', '.join(allowed)}"
            )


def _string(key: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{key}: expected a non-empty string, got {value!r}")
    return value


def _name(key: str, value: object) -> str:
    text = _string(key, value)
    if not _NAME_PATTERN.match(text):
        raise ConfigError(f"{key}: {text!r} is not a valid name; use letters, digits, '.', '_' and '-'")
    return text


def _topic(key: str, value: object) -> str:
    text = _string(key, value)
    if not _TOPIC_PATTERN.match(text) or text in (".", ".."):
        raise ConfigError(
            f"{key}: {text!r} is not a valid Kafka topic name; use up to 249 letters, digits, "
            f"'.', '_' and '-'"
        )
    return text


def _boolean(key: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{key}: expected true or false, got {value!r}")
    return value


def _int_range(low: int, high: int) -> Callable[[str, object], int]:
    def convert(key: str, value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ConfigError(f"{key}: expected an integer from {low} to {high}, got {value!r}")
        return value
    return convert


def _choice(*allowed: str) -> Callable[[str, object], str]:
    def convert(key: str, value: object) -> str:
        if value not in allowed:
            raise ConfigError(f"{key}: {value!r} is not allowed; use one of {', '.join(allowed)}")
        return str(value)
    return convert


def _string_map(key: str, value: object) -> dict[str, Any]:
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise ConfigError(f"{key}: expected a mapping of string keys, got {value!r}")
    for item_key, item in value.items():
        if not isinstance(item, (str, int, float, bool)):
            raise ConfigError(f"{key}.{item_key}: expected a string, number or boolean, got {item!r}")
    return dict(value)


def _release(key: str, value: object) -> tuple[int, ...] | None:
    text = str(value)
    if text == "auto":
        return None
    if not _RELEASE_PATTERN.match(text):
        raise ConfigError(f"{key}: {value!r} is not allowed; use auto or a TDengine 3.x release "
                          f"such as 3.3.6.0 or 3.2")
    release = tuple(int(part) for part in text.split("."))
    if release < MIN_TDENGINE_RELEASE:
        raise ConfigError(f"{key}: TDengine {text} writes the legacy SUBMIT format, which the "
                          f"connector does not read; releases from 3.0.3 on are supported")
    return release


def _listen_address(key: str, value: object) -> str:
    text = _string(key, value)
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"{key}: {text!r} is not a HOST:PORT listen address, e.g. 127.0.0.1:8083")
    return text


def _initial_position(key: str, value: object) -> str | int:
    if value in ("earliest", "latest"):
        return str(value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise ConfigError(f"{key}: {value!r} is not allowed; use earliest, latest or a WAL version >= 0")


# Producer settings the connector owns: a passthrough value would break delivery guarantees.
_RESERVED_PRODUCER_KEYS = {
    "transactional.id": "it is derived from connector.name and the task name",
    "enable.idempotence": "it follows connector.delivery_mode",
    "bootstrap.servers": "set kafka.bootstrap_servers instead",
    "transaction.timeout.ms": "set kafka.transaction_timeout_ms instead",
    "acks": "it follows connector.delivery_mode (always all)",
}


def _producer_map(key: str, value: object) -> dict[str, Any]:
    settings = _string_map(key, value)
    for name, reason in _RESERVED_PRODUCER_KEYS.items():
        if name in settings:
            raise ConfigError(f"{key}.{name}: cannot be set here because {reason}")
    return settings


# -- sections -----------------------------------------------------------------

def _parse_topic(section: _Section) -> TopicConfig:
    topic = TopicConfig(
        create=section.take("create", _boolean, True),
        partitions=section.take("partitions", _int_range(1, 10_000), 1),
        replication_factor=section.take("replication_factor", _int_range(1, 100), 1),
        config={k: str(v) for k, v in section.take("config", _string_map, {}).items()},
    )
    section.finish(("create", "partitions", "replication_factor", "config"))
    return topic


def _parse_kafka(section: _Section) -> KafkaConfig:
    kafka = KafkaConfig(
        bootstrap_servers=section.take("bootstrap_servers", _string),
        group_id=section.take("group_id", _name, None),
        schema_registry_url=section.take("schema_registry_url", _string, None),
        schema_registry={k: str(v) for k, v in section.take("schema_registry", _string_map, {}).items()},
        producer=section.take("producer", _producer_map, {}),
        consumer=section.take("consumer", _string_map, {}),
        topic=_parse_topic(section.section("topic")),
        transaction_timeout_ms=section.take("transaction_timeout_ms", _int_range(1_000, 900_000), 60_000),
        operation_timeout_ms=section.take("operation_timeout_ms", _int_range(1_000, 600_000), 30_000),
        max_record_bytes=section.take("max_record_bytes", _int_range(256, 2**31 - 1), 900_000),
    )
    section.finish(("bootstrap_servers", "group_id", "schema_registry_url", "schema_registry",
                    "producer", "consumer", "topic", "transaction_timeout_ms",
                    "operation_timeout_ms", "max_record_bytes"))
    return kafka


_TASK_KEYS = ("name", "wal_dir", "data_dir", "vgroups", "topic", "vgroup_id", "initial_position",
              "precision", "schema_history_topic", "gap_policy", "publish_up_to", "fill_history")
_VNODE_DIR = re.compile(r"^vnode(\d+)$")


def _fill_history(key: str, value: object) -> FillHistoryConfig:
    section = _Section(key, value)
    from_version = section.take("from_version", _int_range(0, 2**63 - 1))
    to_raw = section.take("to_version", lambda k, v: v, "latest")
    if to_raw == "latest":
        to_version = None
    else:
        to_version = _int_range(0, 2**63 - 1)(section.key("to_version"), to_raw)
        if to_version < from_version:
            raise ConfigError(f"{section.key('to_version')}: {to_version} is below from_version "
                              f"{from_version}")
    section.finish(("from_version", "to_version"))
    return FillHistoryConfig(from_version=from_version, to_version=to_version)


def _discover_vnodes(key: str, data_dir: Path) -> list[tuple[int, Path]]:
    """Return (vgId, wal dir) for every vnode<N>/wal under a dnode data directory."""
    vnode_root = data_dir / "vnode"
    if not vnode_root.is_dir():
        raise ConfigError(f"{key}: {str(data_dir)!r} has no vnode/ directory; point data_dir at "
                          f"a TDengine dataDir")
    found = []
    for child in sorted(vnode_root.iterdir()):
        match = _VNODE_DIR.match(child.name)
        if match is not None and (child / "wal").is_dir():
            found.append((int(match.group(1)), child / "wal"))
    if not found:
        raise ConfigError(f"{key}: no vnode<N>/wal directory under {str(vnode_root)!r}")
    return found


def _parse_task(section: _Section, base_dir: Path) -> list[TaskConfig]:
    """Parse one ``tasks`` entry; an entry with ``data_dir`` expands into one task per vnode."""
    name = section.take("name", _name)
    topic = section.take("topic", _topic if "data_dir" not in section._raw else _string)
    wal_dir_text = section.take("wal_dir", _string, None)
    data_dir_text = section.take("data_dir", _string, None)
    vgroups = section.take("vgroups", _int_list, None)
    common = dict(
        vgroup_id=section.take("vgroup_id", _int_range(0, 2**31 - 1), None),
        initial_position=section.take("initial_position", _initial_position, "earliest"),
        precision=section.take("precision", _choice("ms", "us", "ns"), None),
        schema_history_topic=section.take("schema_history_topic", _topic, None),
        gap_policy=section.take("gap_policy", _choice("fail", "forward"), "fail"),
        publish_up_to=section.take("publish_up_to", _choice("all", "commit"), "all"),
        fill_history=section.take("fill_history", _fill_history, None),
    )
    section.finish(_TASK_KEYS)

    if (wal_dir_text is None) == (data_dir_text is None):
        raise ConfigError(f"{section.path}: set exactly one of wal_dir (one vnode) and data_dir "
                          f"(every vnode of a dnode)")
    if wal_dir_text is not None:
        if vgroups is not None:
            raise ConfigError(f"{section.key('vgroups')}: only allowed with data_dir")
        wal_dir = Path(wal_dir_text)
        if not wal_dir.is_absolute():
            wal_dir = base_dir / wal_dir
        return [TaskConfig(name=name, wal_dir=str(wal_dir), topic=topic, **common)]

    if "{vgId}" not in topic:
        raise ConfigError(f"{section.key('topic')}: {topic!r} must contain {{vgId}} with data_dir, "
                          f"so each vnode's task gets its own topic")
    for key in ("vgroup_id", "schema_history_topic"):
        if common[key] is not None:
            raise ConfigError(f"{section.key(key)}: not allowed with data_dir; each vnode's task "
                              f"takes it from its own vnode")
    data_dir = Path(data_dir_text)  # type: ignore[arg-type]
    if not data_dir.is_absolute():
        data_dir = base_dir / data_dir
    tasks = []
    for vg_id, wal_dir in _discover_vnodes(section.key("data_dir"), data_dir):
        if vgroups is not None and vg_id not in vgroups:
            continue
        task_topic = _topic(section.key("topic"), topic.replace("{vgId}", str(vg_id)))
        tasks.append(TaskConfig(name=f"{name}.vnode{vg_id}", wal_dir=str(wal_dir),
                                topic=task_topic, **{**common, "vgroup_id": vg_id}))
    if not tasks:
        raise ConfigError(f"{section.key('vgroups')}: none of {vgroups} is a vnode under {data_dir}")
    return tasks


def _int_list(key: str, value: object) -> list[int]:
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool)
                                              for v in value):
        raise ConfigError(f"{key}: expected a list of vgroup ids, got {value!r}")
    return list(value)


def _parse_tasks(path: str, raw: object, base_dir: Path) -> tuple[TaskConfig, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ConfigError(f"{path}: expected a list of tasks, got {raw!r}")
    tasks = tuple(task for i, item in enumerate(raw)
                  for task in _parse_task(_Section(f"{path}[{i}]", item), base_dir))
    topics: dict[str, str] = {}
    for i, task in enumerate(tasks):
        for key, topic in (("topic", task.topic), ("schema_history_topic", task.history_topic)):
            if topic in topics:
                raise ConfigError(f"{path}[{i}].{key}: topic {topic!r} is already used as "
                                  f"{topics[topic]}; every task needs its own topics")
            topics[topic] = f"{path}[{i}].{key}"
    for attribute in ("name", "wal_dir"):
        seen: dict[str, int] = {}
        for i, task in enumerate(tasks):
            value = getattr(task, attribute)
            if value in seen:
                raise ConfigError(
                    f"{path}[{i}].{attribute}: {value!r} is already used by {path}[{seen[value]}]; "
                    f"every task needs its own {attribute}"
                )
            seen[value] = i
    return tasks


def _parse_table_schemas(path: str, raw: object) -> tuple[dict[str, Any], ...]:
    # The decode catalog validates each entry's contents; here only the shape.
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw):
        raise ConfigError(f"{path}: expected a list of mappings, got {raw!r}")
    return tuple(raw)


def parse_config(raw: object, *, base_dir: str | os.PathLike[str] = ".",
                 source_path: str | None = None, require_tasks: bool = True) -> ConnectorConfig:
    """Build a ConnectorConfig from parsed YAML; relative ``wal_dir`` paths resolve against ``base_dir``.

    With ``require_tasks=False`` a file holding only ``table_schemas`` is
    accepted, which is what ``inspect -c`` needs.
    """
    root = _Section("", raw)
    # Unknown top-level keys first: a misspelt section name would otherwise
    # surface only as a missing key inside the section it was meant to be.
    root_keys = ("connector", "kafka", "tasks", "table_schemas", "logging")
    unknown = sorted(str(key) for key in root._raw if key not in root_keys)
    if unknown:
        raise ConfigError(f"unknown configuration key(s): {', '.join(unknown)}; "
                          f"allowed here: {', '.join(root_keys)}")
    connector = root.section("connector")
    logging_section = root.section("logging")
    has_kafka = "kafka" in root._raw or require_tasks

    name = connector.take("name", _name, "tdengine-wal-connector")
    delivery_mode = connector.take("delivery_mode", _choice(*DELIVERY_MODES), "exactly_once")
    idle_delay = connector.take("idle_scan_delay_ms", _int_range(1, 60_000), 100)
    max_versions = connector.take("max_versions_per_transaction", _int_range(1, 1_000_000), 500)
    max_records = connector.take("max_records_per_transaction", _int_range(1, 1_000_000), 5_000)
    release = connector.take("tdengine_release", _release, None)
    max_scan_counter = connector.take("max_scan_counter", _int_range(1, 100), 3)
    scan_timer_ms = connector.take("scan_timer_ms", _int_range(10, 600_000), 1_000)
    queue_max_items = connector.take("queue_max_items", _int_range(1, 10_000_000), 1_000)
    queue_max_bytes = connector.take("queue_max_bytes", _int_range(1024, 2**40), 64 * 1024 * 1024)
    refresh_ms = connector.take("checkpoint_refresh_interval_ms", _int_range(1_000, 7 * 86_400_000),
                                300_000)
    admin_listen = connector.take("admin_listen", _listen_address, None)
    connector.finish(("name", "delivery_mode", "idle_scan_delay_ms",
                      "max_versions_per_transaction", "max_records_per_transaction",
                      "tdengine_release", "max_scan_counter", "scan_timer_ms", "queue_max_items",
                      "queue_max_bytes", "checkpoint_refresh_interval_ms", "admin_listen"))

    log_level = logging_section.take("level", _choice(*_LOG_LEVELS), "INFO")
    logging_section.finish(("level",))

    if has_kafka:
        kafka = _parse_kafka(root.section("kafka"))
    else:
        kafka = KafkaConfig(bootstrap_servers="")
    tasks = _parse_tasks("tasks", root._raw.pop("tasks", None), Path(base_dir))
    if require_tasks and not tasks:
        raise ConfigError("tasks: missing; configure at least one task with name, wal_dir and topic")
    table_schemas = _parse_table_schemas("table_schemas", root._raw.pop("table_schemas", None))
    root.finish(("connector", "kafka", "tasks", "table_schemas", "logging"))

    return ConnectorConfig(
        name=name,
        kafka=kafka,
        tasks=tasks,
        delivery_mode=delivery_mode,
        idle_scan_delay_ms=idle_delay,
        max_versions_per_transaction=max_versions,
        max_records_per_transaction=max_records,
        table_schemas=table_schemas,
        log_level=log_level,
        source_path=source_path,
        tdengine_release=release,
        max_scan_counter=max_scan_counter,
        scan_timer_ms=scan_timer_ms,
        queue_max_items=queue_max_items,
        queue_max_bytes=queue_max_bytes,
        checkpoint_refresh_interval_ms=refresh_ms,
        admin_listen=admin_listen,
    )


def load_config(path: str | os.PathLike[str], *, require_tasks: bool = True) -> ConnectorConfig:
    """Read and validate a YAML configuration file."""
    config_path = Path(path)
    try:
        text = config_path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"{config_path}: cannot read the configuration file: {err.strerror}") from err
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigError(f"{config_path}: invalid YAML: {err}") from err
    try:
        return parse_config(raw, base_dir=config_path.resolve().parent, source_path=str(config_path),
                            require_tasks=require_tasks)
    except ConfigError as err:
        raise ConfigError(f"{config_path}: {err}") from None


def describe(config: ConnectorConfig) -> str:
    """Return a one-line JSON summary of the configuration for the start-up log (no secrets)."""
    return json.dumps({
        "name": config.name,
        "delivery_mode": config.delivery_mode,
        "group_id": config.group_id,
        "tasks": [{"name": t.name, "topic": t.topic, "wal_dir": t.wal_dir} for t in config.tasks],
    })
