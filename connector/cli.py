"""Command line: ``wal-connector run | inspect | status | consume``.

Domain errors become click errors here and nowhere else: exit code 1 for a
runtime failure, 2 for bad usage or configuration.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import sys
from typing import Any, Iterator

import click

from connector import __version__
from connector.config import ConnectorConfig, TaskConfig, load_config
from connector.errors import ConfigError, DecodeError, WalError

__all__ = ["main"]

log = logging.getLogger("connector")


class ConfigFailure(click.ClickException):
    """A configuration error; exits with 2 like other usage errors."""

    exit_code = 2


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )


def _load(path: str, *, require_tasks: bool = True) -> ConnectorConfig:
    try:
        return load_config(path, require_tasks=require_tasks)
    except ConfigError as err:
        raise ConfigFailure(str(err)) from err


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="wal-connector")
def main() -> None:
    """Publish TDengine 3.x WAL inserts and deletes to Kafka as Avro records."""


# -- run -------------------------------------------------------------------------

@main.command()
@click.option("-c", "--config", "config_path", required=True, type=click.Path(dir_okay=False),
              help="YAML configuration file.")
@click.option("--once", is_flag=True,
              help="Publish every complete entry on disk now, then stop instead of tailing.")
def run(config_path: str, once: bool) -> None:
    """Run every configured task until SIGINT or SIGTERM."""
    from connector.runtime import Runtime

    config = _load(config_path)
    _setup_logging(config.log_level)
    try:
        runtime = Runtime(config)
    except ConfigError as err:
        raise ConfigFailure(str(err)) from err
    runtime.install_signal_handlers()
    code = runtime.run(once=once)
    if code:
        from connector.errors import FencedError

        if any(isinstance(task.error, FencedError) for task in runtime.tasks):
            raise click.ClickException("fenced: another connector instance with the same "
                                       "connector.name runs these tasks; this one stopped")
        raise click.ClickException("every task halted; see the errors above")


# -- inspect -----------------------------------------------------------------------

def _entry_header(entry: Any) -> dict[str, Any]:
    from connector.decode import msg_type_name

    return {
        "version": entry.version,
        "msgType": entry.msg_type,
        "msgTypeName": msg_type_name(entry.msg_type),
        "ingestTs": entry.ingest_ts,
        "bodyLen": entry.body_len,
    }


def _iter_entries(wal_dir: str) -> Iterator[Any]:
    from connector.wal import WalReader, wal_bounds

    bounds = wal_bounds(wal_dir)
    with WalReader(wal_dir) as reader:
        reader.seek(bounds.first_version)
        while True:
            entry = reader.next_entry()
            if entry is None:
                return
            yield entry


def _inspect_json(wal_dir: str, config: ConnectorConfig | None) -> int:
    from connector.decode import catalog_from_config, decode_message, render_body

    catalog = catalog_from_config(config.table_schemas if config else ())
    failures = 0
    for entry in _iter_entries(wal_dir):
        document = _entry_header(entry)
        try:
            message = decode_message(entry.msg_type, entry.body, catalog)
            document["body"] = render_body(message, catalog)
        except DecodeError as err:
            failures += 1
            document["error"] = (f"{entry.log_path}: entry at offset {entry.offset}, "
                                 f"version {entry.version}: {err}")
        click.echo(json.dumps(document, ensure_ascii=False, allow_nan=False))
    return failures


def _inspect_summary(wal_dir: str) -> None:
    from connector.decode import msg_type_name
    from connector.wal import list_segments, read_meta, wal_bounds

    bounds = wal_bounds(wal_dir)
    meta = read_meta(wal_dir)
    segments = list_segments(wal_dir)
    counts: collections.Counter[str] = collections.Counter()
    total_bytes = 0
    for entry in _iter_entries(wal_dir):
        counts[f"{msg_type_name(entry.msg_type)} ({entry.msg_type})"] += 1
        total_bytes += entry.body_len

    click.echo(f"WAL directory     {os.path.abspath(wal_dir)}")
    click.echo(f"first version     {bounds.first_version}")
    click.echo(f"last version      {bounds.last_version}")
    if meta is not None:
        click.echo(f"commit version    {meta.commit_version} (meta-ver{meta.meta_version}; "
                   f"meta lastVer {meta.last_version}, snapshotVer {meta.snapshot_version})")
    else:
        click.echo("commit version    unknown (no readable meta-ver file)")
    click.echo(f"segments          {len(segments)}")
    for segment in segments:
        size = os.path.getsize(segment.log_path)
        click.echo(f"  {os.path.basename(segment.log_path)}  {size} bytes")
    click.echo(f"entries           {sum(counts.values())} ({total_bytes} body bytes)")
    for name, count in sorted(counts.items()):
        click.echo(f"  {name:<28} {count}")


@main.command()
@click.argument("wal_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object per entry with its decoded body.")
@click.option("-c", "--config", "config_path", type=click.Path(dir_okay=False),
              help="Configuration whose table_schemas section supplies schemas missing from the WAL.")
def inspect(wal_dir: str, as_json: bool, config_path: str | None) -> None:
    """Show what a WAL directory holds, without Kafka."""
    config = _load(config_path, require_tasks=False) if config_path else None
    try:
        if config is not None:
            from connector.decode import catalog_from_config

            try:
                catalog_from_config(config.table_schemas)
            except ConfigError as err:
                raise ConfigFailure(f"{config_path}: {err}") from err
        if as_json:
            failures = _inspect_json(wal_dir, config)
            if failures:
                raise click.ClickException(f"{failures} entries could not be decoded; "
                                           f"see their \"error\" fields")
        else:
            _inspect_summary(wal_dir)
    except ConfigError as err:
        raise ConfigFailure(str(err)) from err
    except WalError as err:
        raise click.ClickException(str(err)) from err


# -- status and consume ------------------------------------------------------------------

def _find_task(config: ConnectorConfig, name: str | None) -> list[TaskConfig]:
    if name is None:
        return list(config.tasks)
    for task in config.tasks:
        if task.name == name:
            return [task]
    names = ", ".join(t.name for t in config.tasks)
    raise click.BadParameter(f"no task named {name!r}; configured tasks: {names}", param_hint="--task")


@main.command()
@click.option("-c", "--config", "config_path", required=True, type=click.Path(dir_okay=False),
              help="YAML configuration file.")
def status(config_path: str) -> None:
    """Show each task's committed checkpoint next to the versions its WAL holds.

    With connector.admin_listen set, the running connector's own view of each
    task (status, queue, last error) is shown too.
    """
    from confluent_kafka import Consumer

    from connector.errors import SinkError
    from connector.sink.producer import fetch_checkpoint
    from connector.wal import wal_bounds

    config = _load(config_path)
    live = _live_task_states(config)
    consumer = Consumer({"bootstrap.servers": config.kafka.bootstrap_servers,
                         "group.id": config.group_id, "enable.auto.commit": False})
    try:
        for task in config.tasks:
            try:
                checkpoint = fetch_checkpoint(consumer, task.topic,
                                              timeout_s=config.kafka.operation_timeout_ms / 1000,
                                              label=f"[{task.name}] group {config.group_id!r}")
            except SinkError as err:
                raise click.ClickException(str(err)) from err
            try:
                bounds = wal_bounds(task.wal_dir)
                wal_text = f"WAL {bounds.first_version}..{bounds.last_version}"
                lag = (bounds.last_version + 1 - checkpoint.next_version) if checkpoint else None
            except WalError as err:
                wal_text, lag = f"WAL unreadable: {err}", None
            checkpoint_text = (f"nextProcessVer {checkpoint.next_version}" if checkpoint
                               else "no checkpoint")
            lag_text = f", {lag} version(s) behind" if lag is not None else ""
            click.echo(f"{task.name}: topic {task.topic}, {checkpoint_text}, {wal_text}{lag_text}")
            if isinstance(live, str):
                continue
            for state in (s for s in live if s["name"] in (task.name, f"{task.name}.fill-history")):
                line = (f"  running: {state['name']} {state['status']}, nextProcessVer "
                        f"{state['nextProcessVer']}, {state['queuedItems']} queued")
                if state.get("rewinds"):
                    line += f", rewinds {state['rewinds']}"
                click.echo(line)
                if state.get("error"):
                    click.echo(f"  error: {state['error']}")
        if isinstance(live, str):
            click.echo(live)
    finally:
        consumer.close()


def _live_task_states(config: ConnectorConfig) -> list[dict[str, Any]] | str:
    """Fetch the running connector's task states from its admin endpoint, or return why it cannot."""
    import urllib.error
    import urllib.request

    if not config.admin_listen:
        return "(set connector.admin_listen to see the running connector's task states here)"
    host, _, port = config.admin_listen.rpartition(":")
    if port == "0":
        return ("(connector.admin_listen uses port 0, so the running connector's port is only in "
                "its log; set a fixed port to see task states here)")
    if host in ("0.0.0.0", "::", "[::]"):
        host = "127.0.0.1"
    url = f"http://{host}:{port}/tasks"
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError) as err:
        return f"(no running connector answered at {url}: {err})"


@main.command()
@click.option("-c", "--config", "config_path", required=True, type=click.Path(dir_okay=False),
              help="YAML configuration file.")
@click.option("--task", "task_name", help="Only this task's topic (default: every task).")
@click.option("--timeout", default=5.0, show_default=True, type=click.FloatRange(min=0.1),
              help="Seconds to wait for more records before stopping.")
def consume(config_path: str, task_name: str | None, timeout: float) -> None:
    """Print the committed records of the tasks' topics as JSON, decoded with the Avro schemas."""
    from connector.sink.consume import iter_topic_records

    config = _load(config_path)
    for task in _find_task(config, task_name):
        for document in iter_topic_records(config, task.topic, idle_timeout_s=timeout):
            click.echo(json.dumps(document, ensure_ascii=False, default=_json_default))


def _json_default(value: object) -> object:
    if isinstance(value, bytes):
        return {"hex": value.hex()}
    raise TypeError(f"cannot render {type(value).__name__} as JSON")


if __name__ == "__main__":  # pragma: no cover
    main()
