"""A package import killed at any moment leaves the store exactly as before or as after.

A child process (``python -c``, the app's own import_package with the clock frozen so
that a complete import always ends in the same bytes) imports a package of 2,000 rows
into a copy of a town store; the test kills it with SIGKILL at seeded moments, then
checks ``PRAGMA integrity_check``, that the app opens the store again, and that the
logical dump is exactly the one before the import or the one after a complete import
(both computed once); the same for a workbook import (import-excel's plan and apply).
CI-sized: five kills each; the full loop with a larger package or workbook and 50+ kills
is ``tests/benchmarks/crash_loop.py`` (speed belongs there: these tests check the size of
the work, never the clock).
"""
from __future__ import annotations

import random
import sys
from collections import Counter

import hostile_corpus as hc
import pytest
from support import logical_dump, raw_connect

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs SIGKILL (POSIX)")

ROWS = 2000
KILLS = 5


def screenings(path) -> int:
    conn = raw_connect(path)
    try:
        return conn.execute("SELECT COUNT(*) FROM ledger_two_cancer").fetchone()[0]
    finally:
        conn.close()


def check_world(world, tmp_path, rows: int) -> None:
    """The reference import was the CI-sized one (``rows`` new rows, one transaction) and
    the child reported its stages in order, so the kill moments aim at real work."""
    assert screenings(tmp_path / "reference0.sqlite3") - screenings(world.base) == rows
    t = world.timeline
    assert t["open"] <= t["tx"] <= t["committed"] <= t["closed"]


def test_a_killed_import_leaves_the_store_as_before_or_as_after(tmp_path):
    world = hc.prepare_crash(tmp_path, ROWS)
    check_world(world, tmp_path, ROWS)
    t = world.timeline
    rng = random.Random(hc.SEED)
    # one kill in the middle of the import's transaction, timed from the moment the child
    # reports it began (not from its start, which the machine's load moves), the others
    # where the seed says
    moments = [((t["committed"] - t["tx"]) / 2, "tx")] + \
        [(hc.pick_kill_time(rng, t), None) for _ in range(KILLS - 1)]
    outcomes: Counter = Counter()
    resumed = False
    for at, stage in moments:
        # asserts integrity and before-or-after
        result, stages = hc.crash_once(world, tmp_path, at, after_stage=stage)
        outcomes[result] += 1
        if result in ("before", "rolled-back") and not resumed:
            # the install carries on: importing the same package again completes, exactly
            db = tmp_path / "crash.sqlite3"
            assert "committed" in hc.run_child(db, world.package)
            assert logical_dump(db) == world.after
            resumed = True
    print(f"{KILLS} kills of a {ROWS}-row import: {dict(outcomes)} (timeline {t})")
    assert sum(outcomes.values()) == KILLS
    assert outcomes["rolled-back"] >= 1, f"no kill landed inside the transaction: {dict(outcomes)}"
    assert resumed


def test_a_killed_workbook_import_leaves_the_store_as_before_or_as_after(tmp_path):
    """The same for import-excel (plan, then apply in one transaction) of a 3,000-row
    workbook, with the clock, time stamps and new row ids frozen in the child."""
    world = hc.prepare_crash(tmp_path, 3000, workbook=True)
    check_world(world, tmp_path, 3000)
    t = world.timeline
    rng = random.Random(hc.SEED)
    # the transaction is short next to reading the workbook: two kills are timed from the
    # moment the child reports it began, the others where the seed says
    inside = (t["committed"] - t["tx"]) / 3
    moments = [(inside, "tx"), (2 * inside, "tx")] + [(hc.pick_kill_time(rng, t), None) for _ in range(KILLS - 2)]
    outcomes: Counter = Counter()
    for at, stage in moments:
        result, _stages = hc.crash_once(world, tmp_path, at, after_stage=stage)
        outcomes[result] += 1
    db = tmp_path / "crash.sqlite3"
    if logical_dump(db) == world.before:    # the install carries on: importing again completes
        assert "committed" in hc.run_child(db, world.package, child=world.child)
        assert logical_dump(db) == world.after
    print(f"{KILLS} kills of a 3000-row workbook import: {dict(outcomes)} (timeline {t})")
    assert outcomes["rolled-back"] >= 1, f"no kill landed inside the transaction: {dict(outcomes)}"
