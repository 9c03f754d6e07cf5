"""SIGKILL the connector at random moments while its WAL grows, then check what Kafka holds.

The harness lives in crash_harness.py.  Environment:

- ``CRASH_HARNESS_SEED``: seed of the kill delays and append sizes; random
  when unset.  The seed is printed (visible with ``-s``) and named in every
  failure message.
- ``CRASH_HARNESS_KILLS_EOS`` / ``CRASH_HARNESS_KILLS_ALO``: kills per mode
  (20 for exactly_once and 10 for at_least_once by default).

The tests without the ``broker`` mark check the analysis itself on made-up
partitions, so a harness that cannot see a problem fails here.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Callable

import pytest

from .crash_harness import KillRecord, ObservedRecord, WalBody, analyse_records, run_crash_harness

SEED_ENV = "CRASH_HARNESS_SEED"


def _seed() -> int:
    value = os.environ.get(SEED_ENV, "").strip()
    if not value:
        return random.SystemRandom().randrange(2**32)
    try:
        return int(value)
    except ValueError:
        raise pytest.UsageError(f"{SEED_ENV}={value!r} is invalid; use an integer") from None


def _kills(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        kills = int(value)
    except ValueError:
        kills = -1
    if kills < 0:
        raise pytest.UsageError(f"{name}={value!r} is invalid; use a whole number of kills, 0 or more")
    return kills


# One seed for the module, so both modes of a run can be repeated with it.
SEED = _seed()


@pytest.mark.broker
@pytest.mark.parametrize(("mode", "kills_env", "default_kills"), [
    pytest.param("exactly_once", "CRASH_HARNESS_KILLS_EOS", 20, id="exactly_once"),
    pytest.param("at_least_once", "CRASH_HARNESS_KILLS_ALO", 10, id="at_least_once"),
])
def test_delivery_survives_sigkill(kafka_bootstrap: str, tmp_path: Path, mode: str, kills_env: str,
                                   default_kills: int, record_property: Callable[[str, object], None]) -> None:
    kills = _kills(kills_env, default_kills)
    record_property("crash_harness_seed", SEED)
    print(f"\ncrash harness seed {SEED} ({mode}, {kills} kills); repeat with {SEED_ENV}={SEED}")

    report = run_crash_harness(kafka_bootstrap, tmp_path, kills=kills, mode=mode, seed=SEED)

    print(report.summary())
    assert report.ok, f"{SEED_ENV}={SEED}\n{report.summary()}"
    assert len(report.kills) == kills, f"{SEED_ENV}={SEED}\n{report.summary()}"


# ---------------------------------------------------------------------------
# The analysis on made-up partitions: version v has v % 3 + 1 blocks.

BODIES = [WalBody(513, b"", "SUBMIT", tuple(range(100 * n, 100 * n + n))) for n in (1, 2, 3)]
LAST = 5


def keys(versions: range | list[int]) -> list[tuple[int, int]]:
    return [(version, block) for version in versions for block in range(version % 3 + 1)]


def records(keys: list[tuple[int, int]]) -> list[ObservedRecord]:
    result = []
    for offset, (version, block) in enumerate(keys):
        body = BODIES[version % 3]
        result.append(ObservedRecord(offset, version, block, body.block_count, "SUBMIT", body.uids[block]))
    return result


def kill(index: int, checkpoint: int, high_watermark: int) -> KillRecord:
    return KillRecord(index, 1.0, checkpoint, high_watermark, LAST)


def analyse(mode: str, observed: list[ObservedRecord], kills: list[KillRecord] = (),
            final_checkpoint: int = LAST + 1):
    return analyse_records(observed, BODIES, mode=mode, last_version=LAST,
                           final_checkpoint=final_checkpoint, kills=list(kills))


def test_analysis_accepts_complete_partition() -> None:
    for mode in ("exactly_once", "at_least_once"):
        assert analyse(mode, records(keys(range(LAST + 1)))).problems == [], mode


def test_eos_analysis_rejects_repeat() -> None:
    repeated = keys(range(3)) + keys(range(2, LAST + 1))
    problems = analyse("exactly_once", records(repeated)).problems
    assert any(p.startswith("records published more than once") for p in problems), problems


def test_eos_analysis_rejects_reorder() -> None:
    order = keys([0, 2, 1, 3, 4, 5])
    problems = analyse("exactly_once", records(order)).problems
    assert any(p.startswith("partition order") for p in problems), problems


def test_analysis_rejects_missing_block() -> None:
    for mode in ("exactly_once", "at_least_once"):
        partial = [key for key in keys(range(LAST + 1)) if key != (2, 1)]
        problems = analyse(mode, records(partial)).problems
        assert any(p.startswith("missing records: 1: v2 block 1") for p in problems), (mode, problems)


def test_analysis_rejects_wrong_uid() -> None:
    observed = records(keys(range(LAST + 1)))
    observed[1] = ObservedRecord(1, 1, 0, 2, "SUBMIT", 999)
    problems = analyse("exactly_once", observed).problems
    assert any(p.startswith("records that do not match") for p in problems), problems


def test_analysis_rejects_wrong_checkpoint() -> None:
    problems = analyse("exactly_once", records(keys(range(LAST + 1))), final_checkpoint=LAST).problems
    assert any(p.startswith("final checkpoint is 5") for p in problems), problems


def test_alo_analysis_accepts_repeat_after_kill() -> None:
    # Process 1 wrote versions 0..3 (offsets 0..6) and block 0 of version 4,
    # and was killed with checkpoint 3.  Process 2 starts over at version 3.
    first_run = keys(range(4)) + [(4, 0)]
    observed = records(first_run + keys(range(3, LAST + 1)))
    analysis = analyse("at_least_once", observed, [kill(1, 3, len(first_run))])
    assert analysis.problems == []
    assert analysis.repeated_versions == 2
    assert analysis.partial_occurrences == 1
    assert len(analysis.restarts) == 1


def test_alo_analysis_rejects_committed_repeat() -> None:
    # The checkpoint after the kill was 3, so a restart at version 2 re-published a committed version.
    first_run = keys(range(4))
    observed = records(first_run + keys(range(2, LAST + 1)))
    problems = analyse("at_least_once", observed, [kill(1, 3, len(first_run))]).problems
    assert any(p.startswith("restarts below the committed checkpoint") for p in problems), problems


def test_alo_analysis_rejects_restart_mid_version() -> None:
    first_run = keys(range(3))
    observed = records(first_run + [(2, 1), (2, 2)] + keys(range(3, LAST + 1)))
    problems = analyse("at_least_once", observed, [kill(1, 2, len(first_run))]).problems
    assert any(p.startswith("runs that skip or reorder records") for p in problems), problems


def test_alo_analysis_rejects_skipped_blocks() -> None:
    # Version 2 stops after block 0 and the next record starts version 3:
    # blocks 1 and 2 of version 2 never follow in that run.
    observed = records(keys(range(2)) + [(2, 0)] + keys(range(3, LAST + 1)))
    problems = analyse("at_least_once", observed).problems
    assert any(p.startswith("runs that skip or reorder records") for p in problems), problems
