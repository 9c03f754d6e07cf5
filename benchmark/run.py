"""Measure the pipeline stages side by side on one generated WAL and print the figures.

    .venv/bin/python benchmark/run.py [--entries 20000]

Each stage runs over the same WAL in the same process, one after another, so
the ratios between stages are comparable even on a busy machine; the
absolute rates are not.  Stages: reading the .log bytes (the floor), the WAL
reader (heads, CRC-32C, version order), plus decoding, plus building and
serializing the Avro records.  Peak Python memory of each stage comes from
tracemalloc, in a second, untimed run of the stage.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from connector.decode import catalog_from_config, decode_message, msg_type_name  # noqa: E402
from connector.sink.avro import RecordSerializer  # noqa: E402
from connector.sink.records import RecordContext, build_records  # noqa: E402
from connector.wal import WalReader, list_segments  # noqa: E402
from connector.wal.writer import WalWriter  # noqa: E402

FIXTURE = REPO_ROOT / "tests" / "fixtures" / "tdengine-wal" / "basic.expected.json"
SCHEMAS_FILE = REPO_ROOT / "config" / "fixture-basic.yaml"


def generate(wal_dir: Path, entries: int) -> int:
    """Write ``entries`` SUBMIT/DELETE entries cycling over the basic fixture's bodies; return bytes."""
    bodies = [(e["msgType"], bytes.fromhex(e["bodyHex"]))
              for e in json.loads(FIXTURE.read_text())["entries"] if e["version"] > 0]
    writer = WalWriter(wal_dir, vg_id=2, seg_size_bytes=64 * 1024 * 1024)
    for index in range(entries):
        msg_type, body = bodies[index % len(bodies)]
        writer.append(msg_type, body, seq_num=index, term=1)
    writer.close()
    return sum(Path(s.log_path).stat().st_size for s in list_segments(wal_dir))


def stage_raw(wal_dir: Path) -> int:
    total = 0
    for segment in list_segments(wal_dir):
        with open(segment.log_path, "rb") as handle:
            while chunk := handle.read(1 << 20):
                total += len(chunk)
    return total


def stage_reader(wal_dir: Path, *, decode: bool = False, serialize: bool = False) -> int:
    catalog = catalog_from_config(yaml.safe_load(SCHEMAS_FILE.read_text())["table_schemas"])
    serializer = RecordSerializer()
    context = RecordContext(connector="bench", task="t", vg_id=2, precision="ms")
    count = 0
    with WalReader(wal_dir) as reader:
        reader.seek(0)
        while (entry := reader.next_entry()) is not None:
            count += 1
            if not decode:
                continue
            message = decode_message(entry.msg_type, entry.body, catalog)
            if not serialize:
                continue
            for record in build_records(context, version=entry.version, ingest_ts=entry.ingest_ts,
                                        msg_type=entry.msg_type,
                                        msg_type_name=msg_type_name(entry.msg_type), message=message):
                serializer.serialize("bench", record.key, record.value)
    return count


def measure(label: str, function, *args, **kwargs) -> tuple[str, float, int, object]:
    """Time one run of a stage, then trace its peak memory in a second run.

    tracemalloc slows Python code several times over, so the timed run is
    made without it.
    """
    started = time.perf_counter()
    result = function(*args, **kwargs)
    elapsed = time.perf_counter() - started
    tracemalloc.start()
    function(*args, **kwargs)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return label, elapsed, peak, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        wal_dir = Path(temp) / "wal"
        size = generate(wal_dir, args.entries)
        stages = [
            measure("read .log bytes", stage_raw, wal_dir),
            measure("WAL reader (verify)", stage_reader, wal_dir),
            measure("+ decode", stage_reader, wal_dir, decode=True),
            measure("+ Avro records", stage_reader, wal_dir, decode=True, serialize=True),
        ]
    print(f"WAL: {args.entries} entries, {size / 1e6:.1f} MB (bodies of the basic fixture, cycled)")
    print(f"{'stage':<22} {'seconds':>8} {'entries/s':>12} {'MB/s':>8} {'x floor':>8} {'peak MiB':>9}")
    floor = stages[0][1]
    for label, elapsed, peak, _ in stages:
        print(f"{label:<22} {elapsed:8.3f} {args.entries / elapsed:12,.0f} {size / 1e6 / elapsed:8.1f} "
              f"{elapsed / floor:8.1f} {peak / 2**20:9.2f}")


if __name__ == "__main__":
    main()
