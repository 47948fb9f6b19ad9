"""Crash loop (not CI): kill an import with SIGKILL at 50+ seeded moments.

    python tests/benchmarks/crash_loop.py [--rows 20000] [--kills 50] [--seed 20240630] [--workbook]

A child process imports a package of --rows rows from a village into a copy of a town
store (--workbook: a workbook of --rows rows, planned and applied as import-excel does),
with the clock, time stamps and new row ids frozen, so a complete import always ends in
the same bytes; the parent kills it at a seeded moment, then checks PRAGMA
integrity_check, that the app opens the store again, and that the logical dump is
exactly the one before the import or the one after a complete import. It prints how
many kills landed before the transaction, inside it (rolled back) and after the commit;
any other state is a failure (exit 1). The CI-sized version is tests/test_crash.py.
"""
from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TESTS))
if not any((Path(p) / "desktop_app").is_dir() for p in sys.path if p):
    sys.path.insert(0, str(TESTS.parent))          # a source checkout without an install

import hostile_corpus as hc  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=20_000)
    ap.add_argument("--kills", type=int, default=50, help="kills that must land (finished runs do not count)")
    ap.add_argument("--seed", type=int, default=hc.SEED)
    ap.add_argument("--workbook", action="store_true", help="import a workbook instead of a package")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="crash_loop_"))
    start = time.perf_counter()
    world = hc.prepare_crash(root, args.rows, workbook=args.workbook)
    t = dict(world.timeline)
    print(f"{'workbook' if args.workbook else 'package'} of {args.rows:,} rows ({world.package.stat().st_size / 2**20:.1f} MiB); a complete import: "
          f"child up at {t['open']:.2f} s, transaction from {t['tx']:.2f} s, committed at {t['committed']:.2f} s "
          f"(prepared in {time.perf_counter() - start:.0f} s)")
    rng = random.Random(args.seed)
    outcomes: Counter = Counter()
    failures = []
    attempt = 0
    while sum(n for k, n in outcomes.items() if k != "finished") < args.kills:
        attempt += 1
        at = hc.pick_kill_time(rng, t)
        try:
            result, stages = hc.crash_once(world, root, at)
        except AssertionError as exc:
            result, stages = "in-between", {}
            failures.append(f"kill {attempt} at {at:.3f} s: {exc}")
        outcomes[result] += 1
        if result == "finished":
            # the reference runs were slower than this one: aim the next kills at the faster timeline
            t = {k: min(v, stages.get(k, v)) for k, v in t.items()}
        print(f"{attempt:3d}  kill at {at:6.3f} s  → {result:12s} {stages}", flush=True)
    kills = sum(n for k, n in outcomes.items() if k != "finished")
    print()
    print(f"{kills} kills: {outcomes['before']} before the transaction (before-state), "
          f"{outcomes['rolled-back']} inside it and rolled back (before-state), "
          f"{outcomes['after']} after the commit (after-state), {outcomes['in-between']} in-between "
          f"({outcomes['finished']} runs finished before their kill); {time.perf_counter() - start:.0f} s")
    for f in failures:
        print(f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
