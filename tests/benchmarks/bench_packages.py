"""Benchmarks for packages (not CI):

    python tests/benchmarks/bench_packages.py [--rows 1000000] [--packages 50] [--no-export]
        [--profile FILE]

1. export of 1,000 changed rows from a store of --rows rows vs a 10,000-row store
   (cost must follow the changes, not the store: goal ratio ≤ 1.5);
2. a district importing --rows rows of one town in --packages packages as one batch
   (core's batch service, as the sync page and import-package do: one backup), as a ratio
   to a raw executemany of the same rows in the same run (goal ≤ 3×);
3. importing the same packages again (goal ≤ 0.3× the first import);
4. the same for --rows rows of a second town into the district that now holds --rows rows
   (its pre-batch backup copies that store: the backup's seconds and size are printed).

Every raw baseline runs on the store's own SQLite build (SQLCipher, keyed like the store)
in the same run, into a plain table; the same rows into the store's real ledger table
(its primary key and search indexes, no change log or audit) are printed as the layout's
floor. ``--profile FILE`` writes a cProfile of the first import and prints its top 15.
Stores are filled with plain SQL (valid rows and versions): the benchmark is about packages.
"""
from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import os
import pstats
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
from desktop_app.core.store import cipher, list_backups  # noqa: E402
from desktop_app.core.store.database import Store  # noqa: E402
from desktop_app.core.store.writes import new_uuid  # noqa: E402

COLS = ("uuid", "org", "name", "id_number", "phone", "population", "institution", "cervical_date",
        "cervical_method", "cervical_result", "breast_date", "breast_result", "birads", "status",
        "_versions", "_created", "_updated", "_origin")
TOWNS = ("河坝镇", "金盆镇")


def id_number(i: int) -> str:
    """A valid ID number (check digit right), a different one for each ``i`` below 3,650,000."""
    birth = dt.date(1965, 1, 1) + dt.timedelta(days=i // 1000 % 3650)
    body = f"430902{birth:%Y%m%d}{i % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")


def fill(store: Store, start: int, count: int) -> list[tuple]:
    """Add ``count`` rows (and their change-log entries) the fast way; returns the value tuples."""
    node = store.node.id
    village = next(o.code for o in store.orgs if o.parent == store.node.org)
    stamp = store.clock.tick()
    rows = []
    for i in range(start, start + count):
        rows.append((new_uuid(), village, f"示例{i}", id_number(i),
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
    return district, town_of(district, root, 0)


def town_of(district: Store, root: Path, n: int) -> Store:
    return install_below(district, root / f"t{n}.sqlite3", level="town", org=TOWNS[n], operator="镇",
                         villages=["示例村一"])


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


def packages(town: Store, start: int, rows: int, count: int, out: Path) -> tuple[list[Path], list[tuple]]:
    """``count`` packages of ``rows // count`` new rows each (ID numbers from ``start`` on)."""
    per = rows // count
    paths, made = [], []
    for p in range(count):
        made += fill(town, start + p * per, per)
        paths.append(sync.export_package(town, out).path)
    return paths, made


def raw_insert(conn, table: str, rows: list[tuple]) -> float:
    t = time.perf_counter()
    with conn:
        conn.executemany(f"INSERT INTO [{table}] ({', '.join(COLS)}) VALUES ({','.join('?' * len(COLS))})", rows)
    return time.perf_counter() - t


def timed_import(district: Store, paths: list[Path], profile: str | None = None) -> float:
    profiler = cProfile.Profile() if profile else None
    t = time.perf_counter()
    if profiler:
        profiler.enable()
    summary = import_packages(district, paths)
    if profiler:
        profiler.disable()
    elapsed = time.perf_counter() - t
    assert summary.exit_code == 0 and {f.status for f in summary.files} == {"imported"}, summary.to_json()
    assert summary.totals["new"] == sum(f.package.totals()["new"] for f in summary.files)
    if profiler:
        profiler.dump_stats(profile)
        pstats.Stats(profile).sort_stats("tottime").print_stats(15)
    return elapsed


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--packages", type=int, default=50)
    ap.add_argument("--no-export", action="store_true", help="skip the export benchmark")
    ap.add_argument("--profile", help="write a cProfile of the first district import here")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp())
    n = args.rows // args.packages * args.packages

    if not args.no_export:
        small = export_changes(10_000, root / "small")
        big = export_changes(args.rows, root / "big")
        print(f"export 1,000 changed rows: {small:.3f} s from 10,000 rows, {big:.3f} s from {args.rows:,} rows"
              f" → ratio {big / small:.2f} (goal <= 1.5)")

    (root / "imp").mkdir()
    district, town = pair(root / "imp")
    t = time.perf_counter()
    paths, rows = packages(town, 0, n, args.packages, root / "imp" / "pkgs")
    print(f"made {args.packages} packages of {n // args.packages:,} rows in {time.perf_counter() - t:.1f} s "
          f"({sum(p.stat().st_size for p in paths) / 2**20:.0f} MB)")
    first = timed_import(district, paths, args.profile)
    assert district.ledger("two_cancer").count() == n
    t = time.perf_counter()
    assert {f.status for f in import_packages(district, paths).files} == {"already"}
    again = time.perf_counter() - t

    # raw baselines on the store's own build, keyed like it, in this run
    raw = cipher.connect(root / "raw.sqlite3", os.urandom(32))
    raw.execute("PRAGMA journal_mode=WAL")
    raw.execute(f"CREATE TABLE t ({', '.join(COLS)})")
    raw_first = raw_insert(raw, "t", rows)
    layout = Store.create(root / "layout.sqlite3", level="district", org="430971", operator="区")
    layout_first = raw_insert(layout.conn, "ledger_two_cancer", rows)

    town2 = town_of(district, root / "imp", 1)
    paths2, rows2 = packages(town2, n, n, args.packages, root / "imp" / "pkgs2")
    second = timed_import(district, paths2)
    assert district.ledger("two_cancer").count() == 2 * n
    [backup] = [b for b in list_backups(district.path)][:1]
    raw_second = raw_insert(raw, "t", rows2)
    layout_second = raw_insert(layout.conn, "ledger_two_cancer", rows2)
    t = time.perf_counter()
    made = sync_backup(district)
    backup_s = time.perf_counter() - t
    for s in (district, town, town2, layout):
        s.close()
    raw.close()

    print(f"raw executemany of the same {n:,} rows (SQLCipher, plain table): {raw_first:.2f} s; "
          f"into the store's ledger table: {layout_first:.2f} s ({layout_first / raw_first:.2f}x raw)")
    print(f"district import into an empty district (one batch): {first:.2f} s → {first / raw_first:.2f}x raw "
          "(goal <= 3x)")
    print(f"re-import of the same {args.packages}: {again:.2f} s → {again / first:.3f}x the first (goal <= 0.3x)")
    print(f"raw executemany of the second town's {n:,} rows: {raw_second:.2f} s; into the ledger table already "
          f"holding {n:,}: {layout_second:.2f} s ({layout_second / raw_second:.2f}x raw)")
    print(f"district import into a district holding {n:,} rows: {second:.2f} s → {second / raw_second:.2f}x raw "
          "(goal <= 3x; includes its one backup)")
    print(f"one backup of the district holding {2 * n:,} rows: {backup_s:.2f} s, {made.size / 2**20:.0f} MB "
          f"(the batch's pre-batch backup was {backup.size / 2**20:.0f} MB)")
    return 0


def sync_backup(store: Store):
    from desktop_app.core.store import make_backup
    return make_backup(store, "manual", force=True)


if __name__ == "__main__":
    sys.exit(main())
