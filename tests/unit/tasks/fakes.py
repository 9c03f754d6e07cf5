"""A fake sink (TaskProducer stand-in) and task builders for scanner unit tests.

The fake records every publish instead of talking to Kafka; broker behaviour
is covered by the integration tests against a real broker.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from connector.config import parse_config
from connector.errors import SinkError
from connector.sink.producer import Checkpoint
from connector.tasks.scanner import WalScanner
from connector.tasks.scheduler import ManualScheduler
from connector.tasks.task import SourceTask

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "tdengine-wal"

BASIC_SCHEMAS = yaml.safe_load(
    (Path(__file__).resolve().parents[3] / "config" / "fixture-basic.yaml").read_text())["table_schemas"]


@dataclass
class Publish:
    kinds: list[str]
    versions: list[int]
    checkpoint: Checkpoint


@dataclass
class FakeSink:
    """Stands in for TaskProducer: returns a preset checkpoint and records each publish."""

    checkpoint: Checkpoint | None = None
    failures: list[SinkError] = field(default_factory=list)
    published: list[Publish] = field(default_factory=list)
    group_id: str = "test-group"
    started: bool = False

    def start(self) -> Checkpoint | None:
        self.started = True
        return self.checkpoint

    def read_schema_history(self) -> list:
        return []

    def publish(self, records, checkpoint, catalog_changes=()) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.published.append(Publish(
            kinds=[r.value["kind"] for r in records],
            versions=[r.value["source"]["walVersion"] for r in records],
            checkpoint=checkpoint,
        ))
        self.checkpoint = checkpoint

    def close(self) -> None:
        pass

    @property
    def committed(self) -> int | None:
        return self.published[-1].checkpoint.next_version if self.published else None

    def record_versions(self) -> list[int]:
        """WAL versions of all published records, in publish order."""
        return [v for publish in self.published for v in publish.versions]


def copy_fixture(source: str, tmp_path: Path, name: str = "wal") -> Path:
    target = tmp_path / name
    shutil.copytree(FIXTURES / source, target)
    for path in target.iterdir():
        path.chmod(0o644)
    return target


def fixture_schemas(expected_file: str) -> list[dict]:
    """Return table_schemas for a fixture WAL without DDL, from its expected.json."""
    from ..decode._fixture_data import table_schemas_config

    return table_schemas_config(json.loads((FIXTURES / expected_file).read_text()))


def build_config(wal_dirs: list[Path], *, table_schemas: list[dict] | None = None,
                 **connector: object):
    tasks = [{"name": f"t{i}", "wal_dir": str(d), "topic": f"topic{i}", "vgroup_id": 2 + i,
              **connector.pop(f"task{i}", {})}  # type: ignore[dict-item]
             for i, d in enumerate(wal_dirs)]
    return parse_config({
        "connector": {"max_versions_per_transaction": 100, **connector},
        "kafka": {"bootstrap_servers": "127.0.0.1:9"},
        "tasks": tasks,
        "table_schemas": BASIC_SCHEMAS if table_schemas is None else table_schemas,
    })


class Harness:
    """Tasks with fake sinks, a scanner and a manual clock; sink steps run when scheduled."""

    def __init__(self, config, *, sinks: list[FakeSink] | None = None) -> None:
        """Build the tasks as the runtime does: a fill_history entry adds a gated live task after it."""
        self.scheduler = ManualScheduler()
        self.sinks: list[FakeSink] = []
        self.tasks: list[SourceTask] = []
        self.scheduled_sinks: list[str] = []
        for index, task_config in enumerate(config.tasks):
            history = None
            roles = ["fill-history", "live"] if task_config.fill_history else ["live"]
            for role in roles:
                sink = sinks[len(self.sinks)] if sinks else FakeSink()
                task = SourceTask(config, task_config, index=index, clock=self.scheduler.now,
                                  sleep=self.scheduler.advance, producer=sink, role=role,
                                  history=history)  # type: ignore[arg-type]
                if role == "fill-history":
                    history = task
                self.sinks.append(sink)
                self.tasks.append(task)
        self.scanner = WalScanner(lambda: self.tasks, scheduler=self.scheduler,
                                  schedule_sink=self._schedule_sink,
                                  idle_delay_s=config.idle_scan_delay_ms / 1000,
                                  max_scan_counter=config.max_scan_counter)

    def _schedule_sink(self, task: SourceTask) -> None:
        self.scheduled_sinks.append(task.name)
        self.scheduler.call_later(0.0, task.drain)

    def start(self) -> None:
        for task in self.tasks:
            task.start()
