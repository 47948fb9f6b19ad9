"""Benchmarks for packages (not CI):

    python tests/benchmarks/bench_packages.py [--rows 1000000] [--packages 50]

1. export of 1,000 changed rows from a store of --rows rows vs a 10,000-row store
   (cost must follow the changes, not the store: goal ratio ≤ 1.5);
2. a district importing --rows rows in --packages packages as one batch (core's batch
   service, as the sync page and import-package do: one backup), as a ratio to a raw
   executemany of the same rows in the same run (goal ≤ 3×);
3. importing the same packages again (goal ≤ 0.3× the first import).
Stores are filled with plain SQL (valid rows and versions): the benchmark is about packages.
"""
from __future__ import annotations

import argparse
import datetime as dt
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TESTS))
if not any((Path(p) / "desktop_app").is_dir() for p in sys.path if p):
    sys.path.insert(0, str(TESTS.parent))          # a source checkout without an install

from stdnum.cn import ric  # noqa: E402
from support import install_below  # noqa: E402

from desktop_app.core import sync  # noqa: E402
from desktop_app.core.batch import import_packages  # noqa: E402
from desktop_app.core.store.database import Store  # noqa: E402
from desktop_app.core.store.writes import new_uuid  # noqa: E402

COLS = ("uuid", "org", "name", "id_number", "phone", "population", "institution", "cervical_date",
        "cervical_method", "cervical_result", "breast_date", "breast_result", "birads", "status",
        "_versions", "_created", "_updated", "_origin")


def id_number(i: int) -> str:
    """A valid ID number (check digit right), a different one for each ``i`` below 3,650,000."""
    birth = dt.date(1965, 1, 1) + dt.timedelta(days=i // 1000 % 3650)
    body = f"430902{birth:%Y%m%d}{i % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")


def fill(store: Store, start: int, count: int) -> list[tuple]:
    """Add ``count`` rows (and their change-log entries) the fast way; returns the value tuples."""
    node = store.node.id
    stamp = store.clock.tick()
    rows = []
    for i in range(start, start + count):
        rows.append((new_uuid(), "430971121001", f"示例{i}", id_number(i),
                     f"138{i:08d}", "农村适龄", "示例卫生院", "2024-03-05", "妇检+TCT", "正常",
                     "2024-03-05", "正常", "1级", "已完成", f'[[{stamp},"{node}"]]',
                     "2024-03-05T08:00:00", "2024-03-05T08:00:00", node))
    with store.transaction():
        store.conn.executemany(f"INSERT INTO ledger_two_cancer ({', '.join(COLS)}) VALUES "
                               f"({','.join('?' * len(COLS))})", rows)
        store.conn.executemany("INSERT INTO change_log (tbl, uuid, stamp) VALUES ('ledger_two_cancer', ?, ?)",
                               [(r[0], stamp) for r in rows])
    return rows


def pair(root: Path) -> tuple[Store, Store]:
    district = Store.create(root / "d.sqlite3", level="district", org="430971", operator="区")
    town = install_below(district, root / "t.sqlite3", level="town", org="河坝镇", operator="镇",
                         villages=["示例村一"])
    return district, town


def export_changes(size: int, root: Path) -> float:
    """Seconds to export 1,000 changed rows from a store that holds ``size`` rows."""
    district, town = pair(root)
    done = 0
    while done < size:
        fill(town, done, min(100_000, size - done))
        done += min(100_000, size - done)
    sync.export_package(town, root / "warm")          # everything so far goes in the first package
    fill(town, size, 1000)
    t = time.perf_counter()
    sync.export_package(town, root / "pkg")
    elapsed = time.perf_counter() - t
    district.close()
    town.close()
    return elapsed


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--packages", type=int, default=50)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp())

    small = export_changes(10_000, root / "small")
    big = export_changes(args.rows, root / "big")
    print(f"export 1,000 changed rows: {small:.3f} s from 10,000 rows, {big:.3f} s from {args.rows:,} rows"
          f" → ratio {big / small:.2f} (goal <= 1.5)")

    district, town = pair(root / "imp")
    per = args.rows // args.packages
    paths, all_rows = [], []
    t = time.perf_counter()
    for p in range(args.packages):
        all_rows += fill(town, p * per, per)
        paths.append(sync.export_package(town, root / "imp" / "pkgs").path)
    made = time.perf_counter() - t
    t = time.perf_counter()
    summary = import_packages(district, paths)
    first = time.perf_counter() - t
    assert summary.exit_code == 0 and {f.status for f in summary.files} == {"imported"}
    assert district.ledger("two_cancer").count() == per * args.packages
    t = time.perf_counter()
    assert {f.status for f in import_packages(district, paths).files} == {"already"}
    again = time.perf_counter() - t
    district.close()
    town.close()

    raw_db = root / "raw.sqlite3"
    conn = sqlite3.connect(raw_db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"CREATE TABLE t ({', '.join(COLS)})")
    t = time.perf_counter()
    with conn:
        conn.executemany(f"INSERT INTO t VALUES ({','.join('?' * len(COLS))})", all_rows)
    raw = time.perf_counter() - t
    conn.close()
    shutil.copy(root / "imp" / "d.sqlite3", root / "empty_check.sqlite3")

    size = sum(p.stat().st_size for p in paths)
    print(f"made {args.packages} packages of {per:,} rows in {made:.1f} s ({size / 2**20:.0f} MB)")
    print(f"raw executemany of the same {per * args.packages:,} rows: {raw:.2f} s")
    print(f"district import (one batch): {first:.2f} s → {first / raw:.2f}x raw (goal <= 3x)")
    print(f"re-import of the same {args.packages}: {again:.2f} s → {again / first:.3f}x the first (goal <= 0.3x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
