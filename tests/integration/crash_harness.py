"""Crash harness: SIGKILL the connector at random moments while its WAL grows, then check delivery.

A background thread appends the SUBMIT and DELETE bodies of the ``basic``
fixture to a fresh WAL directory, cycling through them, and now and then
rolls a segment.  Meanwhile the connector runs as a subprocess
(``python -m connector.cli run``) and is killed with SIGKILL after a random
delay, then started again, ``kills`` times.  After each kill the harness
reads the committed checkpoint and the topic's high watermark.  At the end
it stops appending, runs ``run --once`` to publish the rest, reads the topic
with ``read_committed`` and compares it with the WAL:

- exactly_once: the partition holds each (walVersion, blockIndex) of
  versions 0..last exactly once, in that order, and the checkpoint is
  last + 1.
- at_least_once: nothing is missing, and the partition splits into runs that
  each continue without gaps.  A run starts over only at block 0 of a
  version, and only at or above the checkpoint read after the kill before
  it.  So a version repeats whole, with one exception: the last version a
  killed process wrote may stop after some of its blocks, and the restart
  then publishes it again whole.

The seed fixes the kill delays and how many entries each append round
writes.  Thread and process timing still differ between runs, so a seed
reproduces the schedule of a failure, not the failure itself.

Command line (``scripts/crash-harness`` wraps it):

    python -m tests.integration.crash_harness --kills 200 --mode exactly_once [--seed N] [--bootstrap HOST:PORT]

Without ``--bootstrap`` it starts a broker with ``scripts/kafka-broker`` and
stops it at the end.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import yaml
from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from connector.config import ConnectorConfig, parse_config
from connector.sink.consume import iter_topic_records
from connector.wal.writer import WalWriter

from .support import BASIC_TABLE_SCHEMAS, expected_entries

__all__ = ["MODES", "KillRecord", "Report", "WalBody", "analyse_records", "main", "run_crash_harness"]

MODES = ("exactly_once", "at_least_once")

REPO_ROOT = Path(__file__).resolve().parents[2]
BROKER_SCRIPT = REPO_ROOT / "scripts" / "kafka-broker"

# Kill delays after each start, in seconds.  On the 2-core machine this was
# written on, an exactly_once process needed about 1.2 to 1.7 s from spawn to
# its first commit (imports, init_transactions, checkpoint read).  So the
# shorter delays kill it while it starts, the longer ones while it publishes.
MIN_KILL_DELAY_S = 0.3
MAX_KILL_DELAY_S = 2.5
# The appender writes 1 to MAX_ENTRIES_PER_ROUND entries every APPEND_INTERVAL_S,
# adds a burst of BURST_ENTRIES entries to a round with probability
# BURST_PROBABILITY, and rolls a segment after a round with probability
# ROLL_PROBABILITY.  The bursts give the connector a backlog now and then, so
# more kills land while it publishes: at_least_once otherwise keeps up with
# the steady rate and sits idle at most kills.
APPEND_INTERVAL_S = 0.05
MAX_ENTRIES_PER_ROUND = 2
BURST_PROBABILITY = 0.02
BURST_ENTRIES = (20, 60)
ROLL_PROBABILITY = 0.05
INITIAL_ENTRIES = 10
MAX_VERSIONS_PER_TRANSACTION = 3
# Bounds for the final `run --once`, which publishes the backlog of the whole run.
FINAL_RUN_TIMEOUT_S = 300
# The topic read stops after this long without a new record.
READ_IDLE_TIMEOUT_S = 3.0
KAFKA_TIMEOUT_S = 20
# Problems listed per kind before the rest are only counted.
MAX_LISTED = 10


# ---------------------------------------------------------------------------
# The WAL side


@dataclass(frozen=True)
class WalBody:
    """One data entry of the basic fixture, as the appender writes it and the checks expect it back."""

    msg_type: int
    body: bytes
    kind: str  # the record's "kind": SUBMIT or DELETE
    uids: tuple[int, ...]  # one per record: the table blocks of a SUBMIT, the uidList of a DELETE

    @property
    def block_count(self) -> int:
        return len(self.uids)


def basic_bodies() -> list[WalBody]:
    """Return the SUBMIT and DELETE entries of ``basic.expected.json`` in version order."""
    bodies = []
    for entry in expected_entries("basic.expected.json")["entries"]:
        body = entry["body"]
        if body["kind"] == "submit":
            uids = tuple(table["uid"] for table in body["tables"])
        elif body["kind"] == "delete":
            uids = tuple(body["uidList"])
        else:
            continue
        bodies.append(WalBody(entry["msgType"], bytes.fromhex(entry["bodyHex"]), body["kind"].upper(), uids))
    return bodies


def body_for(bodies: list[WalBody], version: int) -> WalBody:
    """Return the body the appender writes at ``version``."""
    return bodies[version % len(bodies)]


class WalAppender:
    """Append basic bodies to a WAL from a background thread until stopped.

    Version ``v`` always gets ``body_for(bodies, v)``, so the expected records
    follow from the version alone.  The thread owns the WalWriter while it
    runs; ``last_version`` may be read from any thread.
    """

    def __init__(self, wal_dir: Path, bodies: list[WalBody], rng: random.Random) -> None:
        self.bodies = bodies
        self._rng = rng
        self._writer = WalWriter(wal_dir, vg_id=2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="wal-appender", daemon=True)
        self.rolls = 0
        self.error: BaseException | None = None
        self._closed = False

    @property
    def last_version(self) -> int:
        return self._writer.last_version

    def append(self, count: int) -> None:
        for _ in range(count):
            version = self._writer.last_version + 1
            body = body_for(self.bodies, version)
            self._writer.append(body.msg_type, body.body, ingest_ts=time.time_ns() // 1000,
                                seq_num=version, term=1, version=version)
            self._writer.commit(version)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.wait(APPEND_INTERVAL_S):
                count = self._rng.randint(1, MAX_ENTRIES_PER_ROUND)
                if self._rng.random() < BURST_PROBABILITY:
                    count += self._rng.randint(*BURST_ENTRIES)
                self.append(count)
                if self._rng.random() < ROLL_PROBABILITY and self._writer.roll():
                    self.rolls += 1
        except BaseException as err:  # re-raised by stop() on the main thread
            self.error = err

    def stop(self) -> None:
        """Stop appending, save the meta file and re-raise an error of the thread; later calls do nothing."""
        if self._closed:
            return
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
        self._closed = True
        self._writer.close()
        if self.error is not None:
            raise RuntimeError(f"the WAL appender failed: {self.error!r}") from self.error


# ---------------------------------------------------------------------------
# The connector side


def connector_config(bootstrap: str, wal_dir: Path, mode: str) -> dict[str, Any]:
    """Return a configuration document whose connector name, topic and group are unique to this run."""
    suffix = uuid.uuid4().hex[:10]
    return {
        "connector": {
            "name": f"crash-{suffix}",
            "delivery_mode": mode,
            "max_versions_per_transaction": MAX_VERSIONS_PER_TRANSACTION,
            "idle_scan_delay_ms": 20,
        },
        "kafka": {"bootstrap_servers": bootstrap, "operation_timeout_ms": KAFKA_TIMEOUT_S * 1000},
        "tasks": [{"name": "vnode2", "wal_dir": str(wal_dir), "topic": f"crash-{suffix}", "vgroup_id": 2}],
        "table_schemas": BASIC_TABLE_SCHEMAS,
        "logging": {"level": "INFO"},
    }


class ConnectorProcess:
    """One ``wal-connector run`` subprocess, with its output in a log file."""

    def __init__(self, config_path: Path, log_path: Path, *, once: bool = False) -> None:
        command = [sys.executable, "-m", "connector.cli", "run", "-c", str(config_path)]
        if once:
            command.append("--once")
        self.log_path = log_path
        with open(log_path, "wb") as log_file:
            self.process = subprocess.Popen(command, cwd=REPO_ROOT, stdin=subprocess.DEVNULL,
                                            stdout=log_file, stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        return self.process.pid

    def exit_status(self) -> int | None:
        return self.process.poll()

    def kill(self) -> None:
        """SIGKILL the process unless it already exited, and reap it."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError as err:
            return f"(log {self.log_path} unreadable: {err})"
        return "\n".join(text.splitlines()[-lines:])


_TRANSIENT_COORDINATOR_ERRORS = frozenset({
    KafkaError.NOT_COORDINATOR,
    KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
    KafkaError.COORDINATOR_NOT_AVAILABLE,
    KafkaError._TIMED_OUT,
})


class TopicProbe:
    """Read the group's committed checkpoint and the task topic's high watermark.

    The consumer reads with ``read_uncommitted`` because with
    ``read_committed`` librdkafka requests stable offsets only, and the
    offset fetch then waits as long as a killed producer's transaction stays
    open.  The
    broker still returns only committed offsets, never a pending
    transaction's.
    """

    def __init__(self, config: ConnectorConfig) -> None:
        self.partition = TopicPartition(config.tasks[0].topic, 0)
        self._consumer = Consumer({
            "bootstrap.servers": config.kafka.bootstrap_servers,
            "group.id": config.group_id,
            "enable.auto.commit": False,
            "isolation.level": "read_uncommitted",
        })

    def committed(self) -> int:
        """Return the committed offset on partition 0 of the topic, or -1 when there is none.

        Retries while the group coordinator is loading or moving (NOT_COORDINATOR
        and the like, seen on a broker that has just started), up to KAFKA_TIMEOUT_S.
        """
        deadline = time.monotonic() + KAFKA_TIMEOUT_S
        while True:
            try:
                offset = self._consumer.committed([self.partition], timeout=KAFKA_TIMEOUT_S)[0].offset
                return max(offset, -1)
            except KafkaException as err:
                error = err.args[0]
                transient = error.retriable() or error.code() in _TRANSIENT_COORDINATOR_ERRORS
                if not transient or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def high_watermark(self) -> int:
        """Return the high watermark of partition 0, or 0 while the topic does not exist."""
        try:
            return self._consumer.get_watermark_offsets(self.partition, timeout=KAFKA_TIMEOUT_S)[1]
        except KafkaException:
            return 0

    def close(self) -> None:
        self._consumer.close()


# ---------------------------------------------------------------------------
# Checking what landed


@dataclass(frozen=True)
class KillRecord:
    """One SIGKILL: when it came and what Kafka held right after it."""

    index: int  # 1-based
    delay_s: float  # seconds between the start of the process and the kill
    checkpoint: int  # committed offset read right after the kill, -1 for none
    high_watermark: int  # end offset of partition 0 right after the kill
    wal_last_version: int  # the WAL's last version at the kill


@dataclass(frozen=True)
class ObservedRecord:
    offset: int
    version: int
    block_index: int
    block_count: int
    kind: str
    uid: int


@dataclass
class Analysis:
    problems: list[str] = field(default_factory=list)
    repeated_versions: int = 0  # versions published more than once (at_least_once)
    partial_occurrences: int = 0  # runs cut by a kill inside a version (at_least_once)
    restarts: list[str] = field(default_factory=list)  # where a run starts over at an earlier version


def observed_records(records: Iterable[dict[str, Any]]) -> list[ObservedRecord]:
    observed = []
    for record in records:
        value = record["value"]
        source = value["source"]
        observed.append(ObservedRecord(record["offset"], source["walVersion"], source["blockIndex"],
                                       source["blockCount"], value["kind"], value["table"]["uid"]))
    return observed


def _listed(label: str, items: list[str]) -> list[str]:
    if not items:
        return []
    listed = "; ".join(items[:MAX_LISTED])
    more = f" (and {len(items) - MAX_LISTED} more)" if len(items) > MAX_LISTED else ""
    return [f"{label}: {len(items)}: {listed}{more}"]


def _content_problems(records: list[ObservedRecord], bodies: list[WalBody], last_version: int) -> list[str]:
    """Check each record against the WAL entry it names: version range, block count, kind and uid."""
    outside, wrong = [], []
    for record in records:
        where = f"offset {record.offset} (v{record.version} block {record.block_index})"
        if not 0 <= record.version <= last_version:
            outside.append(where)
            continue
        body = body_for(bodies, record.version)
        if record.block_count != body.block_count or not 0 <= record.block_index < body.block_count:
            wrong.append(f"{where}: blockCount {record.block_count}, the entry has {body.block_count} block(s)")
        elif record.kind != body.kind or record.uid != body.uids[record.block_index]:
            wrong.append(f"{where}: {record.kind} uid {record.uid}, the entry holds "
                         f"{body.kind} uid {body.uids[record.block_index]}")
    return (_listed(f"records outside versions 0..{last_version}", outside)
            + _listed("records that do not match their WAL entry", wrong))


def _expected_keys(bodies: list[WalBody], last_version: int) -> list[tuple[int, int]]:
    return [(version, block) for version in range(last_version + 1)
            for block in range(body_for(bodies, version).block_count)]


def _missing_problems(records: list[ObservedRecord], expected: list[tuple[int, int]]) -> list[str]:
    seen = {(record.version, record.block_index) for record in records}
    missing = [f"v{version} block {block}" for version, block in expected if (version, block) not in seen]
    return _listed("missing records", missing)


def _check_exactly_once(records: list[ObservedRecord], expected: list[tuple[int, int]]) -> list[str]:
    problems = _missing_problems(records, expected)
    counts = Counter((record.version, record.block_index) for record in records)
    duplicates = [f"v{version} block {block} x{count}" for (version, block), count in sorted(counts.items())
                  if count > 1]
    problems += _listed("records published more than once", duplicates)
    keys = [(record.version, record.block_index) for record in records]
    if keys != expected:
        for position, (actual, wanted) in enumerate(zip(keys, expected)):
            if actual != wanted:
                problems.append(f"partition order: record {position} (offset {records[position].offset}) "
                                f"is v{actual[0]} block {actual[1]}, expected v{wanted[0]} block {wanted[1]}")
                break
        else:
            problems.append(f"partition holds {len(keys)} records, expected {len(expected)}")
    return problems


def _check_at_least_once(records: list[ObservedRecord], bodies: list[WalBody], expected: list[tuple[int, int]],
                         kills: list[KillRecord], analysis: Analysis) -> None:
    """Split the partition into runs and check each restart against the checkpoint of its kill."""
    problems = analysis.problems
    problems += _missing_problems(records, expected)

    # A restart at offset o belongs to the process started after the last kill
    # whose high watermark is <= o.  A produce request in flight at a kill can
    # still land after the watermark is read, but within milliseconds, long
    # before the restarted process (which needs over 0.5 s to start) writes.
    watermarks = [kill.high_watermark for kill in kills]
    occurrences: Counter[int] = Counter()
    previous: ObservedRecord | None = None
    bad_restarts, gaps = [], []
    for record in records:
        if previous is None:
            expected_next = (0, 0)
        elif previous.block_index + 1 < body_for(bodies, previous.version).block_count:
            expected_next = (previous.version, previous.block_index + 1)
        else:
            expected_next = (previous.version + 1, 0)
        key = (record.version, record.block_index)
        if key == expected_next:
            if record.block_index == 0:
                occurrences[record.version] += 1
        elif previous is not None and record.block_index == 0 and record.version <= previous.version:
            occurrences[record.version] += 1
            if expected_next[1] != 0:
                analysis.partial_occurrences += 1
            process = sum(1 for watermark in watermarks if watermark <= record.offset)
            checkpoint = kills[process - 1].checkpoint if process else 0
            analysis.restarts.append(f"offset {record.offset}: back to v{record.version} after "
                                     f"v{previous.version} block {previous.block_index}, "
                                     f"checkpoint after kill {process}: {checkpoint}")
            if record.version < checkpoint:
                bad_restarts.append(
                    f"offset {record.offset} starts over at v{record.version}, but the checkpoint read after "
                    f"kill {process} was {checkpoint}, so that version was already committed")
        else:
            gaps.append(f"offset {record.offset} is v{record.version} block {record.block_index} after "
                        f"v{previous.version if previous else '-'} block "
                        f"{previous.block_index if previous else '-'}; expected v{expected_next[0]} block "
                        f"{expected_next[1]} or block 0 of an earlier version")
        previous = record
    problems += _listed("restarts below the committed checkpoint", bad_restarts)
    problems += _listed("runs that skip or reorder records", gaps)
    if previous is not None and expected and (previous.version, previous.block_index) != expected[-1]:
        problems.append(f"the partition ends with v{previous.version} block {previous.block_index}, "
                        f"expected v{expected[-1][0]} block {expected[-1][1]}")
    analysis.repeated_versions = sum(1 for count in occurrences.values() if count > 1)


def analyse_records(records: list[ObservedRecord], bodies: list[WalBody], *, mode: str, last_version: int,
                    final_checkpoint: int, kills: list[KillRecord]) -> Analysis:
    """Compare the records of partition 0, in offset order, with WAL versions 0..last_version."""
    analysis = Analysis()
    analysis.problems += _content_problems(records, bodies, last_version)
    expected = _expected_keys(bodies, last_version)
    if mode == "exactly_once":
        analysis.problems += _check_exactly_once(records, expected)
    else:
        _check_at_least_once(records, bodies, expected, kills, analysis)
    if final_checkpoint != last_version + 1:
        analysis.problems.append(f"final checkpoint is {final_checkpoint}, expected {last_version + 1} "
                                 f"(last WAL version + 1)")
    checkpoints = [kill.checkpoint for kill in kills]
    for kill in kills:
        if kill.checkpoint > kill.wal_last_version + 1:
            analysis.problems.append(f"checkpoint {kill.checkpoint} after kill {kill.index} is above the WAL's "
                                     f"last version {kill.wal_last_version} + 1")
    for earlier, later in zip(kills, kills[1:]):
        if later.checkpoint < earlier.checkpoint:
            analysis.problems.append(f"checkpoint moved back from {earlier.checkpoint} after kill "
                                     f"{earlier.index} to {later.checkpoint} after kill {later.index}")
    if checkpoints and max(checkpoints) > final_checkpoint:
        analysis.problems.append(f"a kill saw checkpoint {max(checkpoints)}, above the final {final_checkpoint}")
    return analysis


# ---------------------------------------------------------------------------
# The run


@dataclass
class Report:
    """The outcome of one harness run; ``ok`` is True when every check passed."""

    mode: str
    seed: int
    kills: list[KillRecord] = field(default_factory=list)
    last_version: int = -1
    record_count: int = 0
    final_checkpoint: int = -1
    rolls: int = 0
    repeated_versions: int = 0
    partial_occurrences: int = 0
    restarts: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0
    work_dir: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def kills_with_progress(self) -> int:
        """Kills after which the checkpoint had moved since the previous kill."""
        previous, count = -1, 0
        for kill in self.kills:
            if kill.checkpoint > previous:
                count += 1
            previous = kill.checkpoint
        return count

    def summary(self) -> str:
        lines = [
            f"crash harness {'PASSED' if self.ok else 'FAILED'}: mode {self.mode}, seed {self.seed}, "
            f"{len(self.kills)} kill(s) ({self.kills_with_progress} after checkpoint progress), "
            f"{self.elapsed_s:.1f} s",
            f"  WAL versions 0..{self.last_version} ({self.rolls} segment roll(s)), "
            f"{self.record_count} record(s) read, final checkpoint {self.final_checkpoint}",
        ]
        if self.mode == "at_least_once":
            lines.append(f"  restarts seen in the partition: {len(self.restarts)}, versions published more "
                         f"than once: {self.repeated_versions}, runs cut inside a version: "
                         f"{self.partial_occurrences}")
            lines += [f"    restart at {restart}" for restart in self.restarts[:MAX_LISTED]]
        if not self.ok:
            lines.append(f"  work directory: {self.work_dir}")
        lines += [f"  problem: {problem}" for problem in self.problems]
        return "\n".join(lines)


def _print(message: str) -> None:
    print(message, flush=True)


def run_crash_harness(bootstrap: str, work_dir: Path | str, *, kills: int, mode: str, seed: int,
                      progress: Callable[[str], None] | None = _print) -> Report:
    """Run the connector under ``kills`` random SIGKILLs against the broker at ``bootstrap``; return the report.

    ``work_dir`` receives the WAL, the configuration and one log file per
    connector process.  ``progress`` (print by default, None for silence)
    gets the seed first, then one line per kill.  No connector process
    outlives the call.
    """
    if mode not in MODES:
        raise ValueError(f"mode {mode!r} is invalid; use one of {', '.join(MODES)}")
    if kills < 0:
        raise ValueError(f"kills must be 0 or more, got {kills}")
    say = progress or (lambda _message: None)
    started = time.monotonic()
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    report = Report(mode=mode, seed=seed, work_dir=str(work_dir))
    say(f"crash harness: mode {mode}, seed {seed}, {kills} kill(s), broker {bootstrap}, work directory {work_dir}")

    bodies = basic_bodies()
    raw_config = connector_config(bootstrap, work_dir / "vnode2" / "wal", mode)
    config = parse_config(raw_config)
    config_path = work_dir / "connector.yaml"
    config_path.write_text(yaml.safe_dump(raw_config, sort_keys=False))

    appender = WalAppender(work_dir / "vnode2" / "wal", bodies, random.Random(f"{seed}-appender"))
    probe = TopicProbe(config)
    try:
        appender.append(INITIAL_ENTRIES)
        appender.start()
        _kill_repeatedly(report, config_path, work_dir, appender, probe, kills=kills,
                         rng=random.Random(seed), say=say)

        appender.stop()
        report.rolls = appender.rolls
        report.last_version = appender.last_version
        say(f"appending stopped at version {report.last_version}; publishing the rest with run --once")
        _publish_rest(report, config_path, work_dir)

        report.final_checkpoint = probe.committed()
        records = observed_records(iter_topic_records(config, config.tasks[0].topic,
                                                      idle_timeout_s=READ_IDLE_TIMEOUT_S))
        report.record_count = len(records)
        analysis = analyse_records(records, bodies, mode=mode, last_version=report.last_version,
                                   final_checkpoint=report.final_checkpoint, kills=report.kills)
        report.problems += analysis.problems
        report.repeated_versions = analysis.repeated_versions
        report.partial_occurrences = analysis.partial_occurrences
        report.restarts = analysis.restarts
    finally:
        try:
            appender.stop()
        finally:
            probe.close()
    report.elapsed_s = time.monotonic() - started
    return report


def _kill_repeatedly(report: Report, config_path: Path, work_dir: Path, appender: WalAppender, probe: TopicProbe,
                     *, kills: int, rng: random.Random, say: Callable[[str], None]) -> None:
    """Start the connector and SIGKILL it after a random delay, ``kills`` times; record each kill in ``report``.

    Stops early, with a problem in ``report``, when a process exits before its kill.
    """
    for index in range(1, kills + 1):
        process = ConnectorProcess(config_path, work_dir / f"connector-{index:04d}.log")
        try:
            delay = rng.uniform(MIN_KILL_DELAY_S, MAX_KILL_DELAY_S)
            time.sleep(delay)
            status = process.exit_status()
        finally:
            process.kill()
        if status is not None:
            problem = (f"connector process {index} exited with status {status} before its kill; "
                       f"the end of {process.log_path}:\n{process.log_tail()}")
            report.problems.append(problem)
            say(problem)
            return
        kill = KillRecord(index, delay, probe.committed(), probe.high_watermark(), appender.last_version)
        report.kills.append(kill)
        say(f"kill {index}/{kills} after {delay:.2f} s: checkpoint {kill.checkpoint}, "
            f"high watermark {kill.high_watermark}, WAL last version {kill.wal_last_version}")


def _publish_rest(report: Report, config_path: Path, work_dir: Path) -> None:
    """Run ``run --once`` to publish what the kills left; a failure or timeout becomes a problem in ``report``."""
    process = ConnectorProcess(config_path, work_dir / "connector-final.log", once=True)
    try:
        status = process.process.wait(timeout=FINAL_RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        status = None
    finally:
        process.kill()
    if status != 0:
        outcome = "timed out" if status is None else f"exited with status {status}"
        report.problems.append(f"the final run --once {outcome}; the end of {process.log_path}:\n"
                               f"{process.log_tail()}")


# ---------------------------------------------------------------------------
# Command line


class BrokerFailure(Exception):
    """scripts/kafka-broker failed; the message carries its stderr."""


def _start_broker(broker_dir: Path) -> str:
    result = subprocess.run([sys.executable, str(BROKER_SCRIPT), "start", "--dir", str(broker_dir), "--port", "0"],
                            capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False)
    lines = result.stdout.strip().splitlines()
    if result.returncode != 0 or not lines:
        raise BrokerFailure(f"scripts/kafka-broker start --dir {broker_dir} failed with exit status "
                            f"{result.returncode}:\n{result.stderr}")
    return lines[-1]


def _stop_broker(broker_dir: Path) -> None:
    result = subprocess.run([sys.executable, str(BROKER_SCRIPT), "stop", "--dir", str(broker_dir)],
                            capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False)
    if result.returncode != 0:
        print(f"scripts/kafka-broker stop --dir {broker_dir} failed with exit status {result.returncode}:\n"
              f"{result.stderr}", file=sys.stderr)


def _raise_system_exit(signum: int, _frame: object) -> None:
    # Turns SIGTERM into SystemExit so the finally blocks kill the connector and stop the broker.
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="crash-harness",
        description="SIGKILL the connector at random moments while its WAL grows, then check that Kafka "
                    "holds every WAL record as the delivery mode promises. Exit status 0 only when every "
                    "check passes.")
    parser.add_argument("--kills", type=int, default=30, help="number of SIGKILLs before the final run (default 30)")
    parser.add_argument("--mode", choices=MODES, default="exactly_once", help="connector.delivery_mode to test")
    parser.add_argument("--seed", type=int, default=None,
                        help="seed of the kill delays and append sizes (default: random, printed)")
    parser.add_argument("--bootstrap", metavar="HOST:PORT", default=None,
                        help="broker to use; without it the harness starts one with scripts/kafka-broker")
    parser.add_argument("--work-dir", type=Path, default=None,
                        help="directory for the WAL, configuration and connector logs (default: a new "
                             "temporary directory, kept when a check fails)")
    args = parser.parse_args(argv)
    if args.kills < 0:
        parser.error(f"--kills must be 0 or more, got {args.kills}")
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    print(f"crash harness seed: {seed}", flush=True)
    signal.signal(signal.SIGTERM, _raise_system_exit)

    temp_root = Path(tempfile.mkdtemp(prefix="crash-harness-"))
    work_dir = args.work_dir or temp_root / "work"
    broker_dir = temp_root / "kafka-broker"
    try:
        bootstrap = args.bootstrap
        if bootstrap is None:
            print(f"starting a broker in {broker_dir}", flush=True)
            bootstrap = _start_broker(broker_dir)
        report = run_crash_harness(bootstrap, work_dir, kills=args.kills, mode=args.mode, seed=seed)
    except BrokerFailure as err:
        print(str(err), file=sys.stderr)
        return 1
    finally:
        if args.bootstrap is None:
            _stop_broker(broker_dir)

    print(report.summary(), flush=True)
    if report.ok:
        shutil.rmtree(temp_root, ignore_errors=True)
        return 0
    print(f"kept {work_dir} (WAL, connector.yaml, one log per connector process); "
          f"repeat the schedule with --seed {seed}", flush=True)
    return 1


if __name__ == "__main__":
    sys.exit(main())
