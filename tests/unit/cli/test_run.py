"""``wal-connector run`` refuses bad task settings before it connects to Kafka."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml
from click.testing import CliRunner

from connector.cli import main

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "tdengine-wal"


def write_config(tmp_path: Path, task: dict) -> Path:
    path = tmp_path / "connector.yaml"
    # Port 9 (discard) on loopback: nothing is listening, and nothing may be contacted anyway.
    path.write_text(yaml.safe_dump({"kafka": {"bootstrap_servers": "127.0.0.1:9"},
                                    "tasks": [{"name": "a", "topic": "t", **task}]}))
    return path


def test_run_without_vgroup_id_exits_2(tmp_path: Path) -> None:
    wal_dir = tmp_path / "copied-wal"
    shutil.copytree(FIXTURES / "basic", wal_dir)
    result = CliRunner().invoke(main, ["run", "-c", str(write_config(tmp_path, {"wal_dir": str(wal_dir)}))])
    assert result.exit_code == 2, result.output
    assert "tasks[0].vgroup_id: missing" in result.output


def test_run_with_missing_wal_dir_exits_2(tmp_path: Path) -> None:
    config = write_config(tmp_path, {"wal_dir": str(tmp_path / "nowhere"), "vgroup_id": 2})
    result = CliRunner().invoke(main, ["run", "-c", str(config)])
    assert result.exit_code == 2, result.output
    assert "tasks[0].wal_dir" in result.output
    assert "is not a directory" in result.output


def test_run_reads_vgroup_and_precision_from_vnode_json(tmp_path: Path) -> None:
    from connector.config import load_config
    from connector.tasks.task import SourceTask

    vnode_dir = tmp_path / "vnode2"
    shutil.copytree(FIXTURES / "types-ns", vnode_dir)
    config = load_config(write_config(tmp_path, {"wal_dir": str(vnode_dir / "wal")}))
    task = SourceTask(config, config.tasks[0])
    assert (task.vnode.vg_id, task.vnode.precision) == (2, "ns")


def test_precision_override_contradicting_vnode_json_exits_2(tmp_path: Path) -> None:
    vnode_dir = tmp_path / "vnode2"
    shutil.copytree(FIXTURES / "types-ns", vnode_dir)
    config = write_config(tmp_path, {"wal_dir": str(vnode_dir / "wal"), "precision": "ms"})
    result = CliRunner().invoke(main, ["run", "-c", str(config)])
    assert result.exit_code == 2, result.output
    assert "tasks[0].precision: 'ms' contradicts precision 'ns'" in result.output


def test_missing_key_lists_keys_found(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("kafka: {bootstrap_server: 'b:9092'}\ntasks: []\n")
    result = CliRunner().invoke(main, ["run", "-c", str(path)])
    assert result.exit_code == 2
    assert "kafka.bootstrap_servers: missing required key; keys found here: bootstrap_server" in result.output
