"""Benchmarks for packages (not CI):

    python tests/benchmarks/bench_packages.py [--rows 1000000] [--packages 50] [--no-export]
        [--profile FILE]

1. export of 1,000 changed rows from a store of --rows rows vs a 10,000-row store
   (cost must follow the changes, not the store: goal ratio ≤ 1.5);
2. a district importing --rows rows of one town in --packages packages as one batch
   (core's batch service, as the sync page and import-package do: one backup), as a ratio
   to a raw executemany of the same records in the same run (goal ≤ 3×). The packages carry
   what a town's import makes: each row with its person (person master) and the town's
   ``insert`` audit entry for both — 4 records a row; the raw baseline inserts the same
   records (rows, persons, audit entries) into plain tables;
3. importing the same packages again (goal ≤ 0.3× the first import);
4. the same for --rows rows of a second town into the district that now holds --rows rows
   (its pre-batch backup copies that store: the backup's seconds and size are printed).

Every raw baseline runs on the store's own SQLite build (SQLCipher, keyed like the store)
in the same run, into plain tables; the same records through the store's write path for
merged rows (its tables and indexes, change log, audit; nothing read or checked) are
printed as the layout's floor. ``--profile FILE`` writes a cProfile of the first import and prints its top 15.
Stores are filled with plain SQL (valid rows and versions): the benchmark is about packages.
"""
from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import os
import pstats
import shutil
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
from desktop_app.core.store import backup as backup_module  # noqa: E402
from desktop_app.core.store import cipher, list_backups  # noqa: E402
from desktop_app.core.store.database import Store  # noqa: E402
from desktop_app.core.store.persons import person_id  # noqa: E402
from desktop_app.core.store.writes import MergedRow, Writer, new_uuid  # noqa: E402
from desktop_app.core.sync.peers import record_specs  # noqa: E402

COLS = ("uuid", "org", "name", "id_number", "phone", "population", "institution", "cervical_date",
        "cervical_method", "cervical_result", "breast_date", "breast_result", "birads", "status",
        "_versions", "_created", "_updated", "_origin", "person_id")
TOWNS = ("河坝镇", "金盆镇")


def id_number(i: int) -> str:
    """A valid ID number (check digit right) of a woman of the 两癌 ages (born 1965–1984),
    a different one for each ``i`` below 3,650,000: the merge checks the ledger's rules."""
    birth = dt.date(1965, 1, 1) + dt.timedelta(days=i // 500 % 7300)
    body = f"430902{birth:%Y%m%d}{i % 500 * 2:03d}"
    return body + ric.calc_check_digit(body + "0")


PERSON_COLS = ("uuid", "org", "id_number", "name", "sex", "birth_date", "phone", "_versions", "_created",
               "_updated", "_origin")
AUDIT_COLS = ("origin", "ts", "stamp", "user", "unit", "action", "tbl", "uuid", "source", "batch")


def fill(store: Store, start: int, count: int) -> dict[str, list[tuple]]:
    """Add ``count`` rows the fast way, as a town's import writes them: each with its person
    (the person master), a change-log entry for both and an ``insert`` audit entry for both
    (what its packages then carry). Returns the value tuples, by table."""
    node = store.node.id
    village = next(o.code for o in store.orgs if o.parent == store.node.org)
    namespace = store.setting("person_namespace")
    stamp = store.clock.tick()
    ver = f'[[{stamp},"{node}"]]'
    rows, people = [], []
    for i in range(start, start + count):
        number = id_number(i)
        pid = person_id(namespace, number)
        people.append((pid, village, number, f"示例{i}", "女", f"{number[6:10]}-{number[10:12]}-{number[12:14]}",
                       f"138{i:08d}", ver, "2024-03-05T08:00:00", "2024-03-05T08:00:00", node))
        rows.append((new_uuid(), village, f"示例{i}", number,
                     f"138{i:08d}", "农村适龄", "示例卫生院", "2024-03-05", "妇检+TCT", "正常",
                     "2024-03-05", "正常", "1级", "已完成", ver,
                     "2024-03-05T08:00:00", "2024-03-05T08:00:00", node, pid))
    audit = [(node, "2024-03-05T08:00:00", stamp, "示例", village, "insert", tbl, r[0], "excel", "bench")
             for tbl, made in (("persons", people), ("ledger_two_cancer", rows)) for r in made]
    with store.transaction():
        conn = store.conn
        conn.executemany(f"INSERT INTO persons ({', '.join(PERSON_COLS)}) VALUES "
                         f"({','.join('?' * len(PERSON_COLS))})", people)
        conn.executemany(f"INSERT INTO ledger_two_cancer ({', '.join(COLS)}) VALUES "
                         f"({','.join('?' * len(COLS))})", rows)
        conn.executemany("INSERT INTO change_log (tbl, uuid, stamp) VALUES (?, ?, ?)",
                         [("persons", r[0], stamp) for r in people] + [("ledger_two_cancer", r[0], stamp) for r in rows])
        conn.executemany(f"INSERT INTO audit ({', '.join(AUDIT_COLS)}) VALUES ({','.join('?' * len(AUDIT_COLS))})",
                         audit)
    return {"rows": rows, "persons": people, "audit": audit}


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


def packages(town: Store, start: int, rows: int, count: int, out: Path) -> tuple[list[Path], dict]:
    """``count`` packages of ``rows // count`` new rows each (ID numbers from ``start`` on)."""
    per = rows // count
    paths, made = [], {"rows": [], "persons": [], "audit": []}
    for p in range(count):
        for kind, tuples in fill(town, start + p * per, per).items():
            made[kind] += tuples
        paths.append(sync.export_package(town, out).path)
    return paths, made


class Clock:
    """Wall and CPU seconds of a block (the machine may be shared: CPU time is the steadier)."""

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu


def raw_baseline(root: Path, made: dict[str, list[tuple]], name: str) -> Clock:
    """The median of three runs of executemany of the same records (the rows, their persons,
    the audit entries) into new plain tables, on the store's SQLCipher build with a key."""
    runs = []
    for k in range(3):
        conn = cipher.connect(root / f"{name}{k}.sqlite3", os.urandom(32))
        conn.execute("PRAGMA journal_mode=WAL")
        tables = {"rows": COLS, "persons": PERSON_COLS, "audit": AUDIT_COLS}
        for kind, cols in tables.items():
            conn.execute(f"CREATE TABLE [{kind}] ({', '.join(cols)})")
        with Clock() as c, conn:
            for kind, cols in tables.items():
                conn.executemany(f"INSERT INTO [{kind}] VALUES ({','.join('?' * len(cols))})", made[kind])
        runs.append(c)
        conn.close()
        (root / f"{name}{k}.sqlite3").unlink()
    return sorted(runs, key=lambda c: c.wall)[1]


def writes_floor(store: Store, made: dict[str, list[tuple]], per: int) -> Clock:
    """The same records through the store's own write path for merged rows as a merge
    writes them (Writer.merged: each row and person with its indexes, a change-log and a
    ``merge`` audit entry each; the sender's audit entries as they are stored), 500 at a
    time, one transaction per ``per`` rows (a package); no package read, nothing checked
    or compared."""
    specs = record_specs(store)
    writer = Writer(store, source="bench")
    cols, pcols = COLS[1:14] + ("person_id",), PERSON_COLS[1:7]
    rows, people, audit = made["rows"], made["persons"], made["audit"]
    origin_ids = iter(range(1, 1 << 62))
    with Clock() as c:
        for package in range(0, len(rows), per):
            with store.transaction():
                for start in range(package, min(package + per, len(rows)), 500):
                    part = slice(start, min(start + 500, package + per))
                    writer.merged(specs["persons"][0], [
                        MergedRow(r[0], dict(zip(pcols, r[1:7]), _deleted=0), r[7], [], created=r[8], origin=r[10])
                        for r in people[part]], stamp=store.clock.tick())
                    writer.merged(specs["ledger_two_cancer"][0], [
                        MergedRow(r[0], dict(zip(cols, r[1:14] + r[18:19]), _deleted=0), r[14], [],
                                  created=r[15], origin=r[17]) for r in rows[part]], stamp=store.clock.tick())
                entries = audit[2 * package:2 * min(package + per, len(rows))]
                store.conn.executemany(
                    "INSERT INTO audit (origin, origin_id, ts, stamp, user, unit, action, tbl, uuid, source, batch) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?,?)", [(a[0], next(origin_ids), *a[1:]) for a in entries])
    return c


def timed_import(district: Store, paths: list[Path], profile: str | None = None) -> tuple[Clock, float]:
    """The batch import of ``paths`` (its wall and CPU time) and the seconds of its one backup."""
    backed = [0.0]
    real = backup_module.make_backup

    def timed_backup(*a, **k):
        t = time.perf_counter()
        try:
            return real(*a, **k)
        finally:
            backed[0] += time.perf_counter() - t
    backup_module.make_backup = timed_backup
    profiler = cProfile.Profile() if profile else None
    try:
        with Clock() as c:
            if profiler:
                profiler.enable()
            summary = import_packages(district, paths)
            if profiler:
                profiler.disable()
    finally:
        backup_module.make_backup = real
    assert summary.exit_code == 0 and {f.status for f in summary.files} == {"imported"}, summary.to_json()
    if profiler:
        profiler.dump_stats(profile)
        pstats.Stats(profile).sort_stats("tottime").print_stats(15)
    return c, backed[0]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--packages", type=int, default=50)
    ap.add_argument("--no-export", action="store_true", help="skip the export benchmark")
    ap.add_argument("--profile", help="write a cProfile of the first district import here")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp())
    try:
        return run(args, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)      # a million rows take gigabytes


def run(args, root: Path) -> int:
    n = args.rows // args.packages * args.packages
    table = []
    if not args.no_export:
        small = export_changes(10_000, root / "small")
        big = export_changes(args.rows, root / "big")
        table.append((f"export of 1,000 changes from {args.rows:,} vs 10k rows", big, small, None, "<= 1.5"))

    (root / "imp").mkdir()
    district, town = pair(root / "imp")
    t = time.perf_counter()
    paths, rows = packages(town, 0, n, args.packages, root / "imp" / "pkgs")
    print(f"made {args.packages} packages of {n // args.packages:,} rows in {time.perf_counter() - t:.1f} s "
          f"({sum(p.stat().st_size for p in paths) / 2**20:.0f} MB)", flush=True)
    first, first_backup = timed_import(district, paths, args.profile)
    assert district.ledger("two_cancer").count() == n
    assert district.conn.execute("SELECT COUNT(*) FROM persons").fetchone()[0] == n
    assert district.conn.execute("SELECT COUNT(*) FROM audit WHERE origin = ? AND action = 'insert'",
                                 (town.node.id,)).fetchone()[0] == 2 * n
    with Clock() as again:
        assert {f.status for f in import_packages(district, paths).files} == {"already"}
    raw_first = raw_baseline(root, rows, "raw")
    layout = Store.create(root / "layout.sqlite3", level="district", org="430971", operator="区")
    floor_first = writes_floor(layout, rows, n // args.packages)

    town2 = town_of(district, root / "imp", 1)
    paths2, rows2 = packages(town2, n, n, args.packages, root / "imp" / "pkgs2")
    second, second_backup = timed_import(district, paths2)
    assert district.ledger("two_cancer").count() == 2 * n
    raw_second = raw_baseline(root, rows2, "raw")
    floor_second = writes_floor(layout, rows2, n // args.packages)
    backup = list_backups(district.path)[0]
    for s in (district, town, town2, layout):
        s.close()

    into = f"{n:,} rows in {args.packages} packages"
    table += [
        (f"district import of {into} (one batch), empty district, vs raw", first, raw_first, first_backup, "<= 3"),
        ("  the same rows through the store's write path alone (Writer.merged), vs raw", floor_first, raw_first,
         None, ""),
        (f"the same {args.packages} packages again (no-op), vs the first import", again, first, None, "<= 0.3"),
        (f"district import of {into}, district holding {n:,}, vs raw", second, raw_second, second_backup, "<= 3"),
        (f"  the write path alone into the store holding {n:,}, vs raw", floor_second, raw_second, None, ""),
    ]
    print(f"raw executemany of the {n:,} rows, their persons and audit entries ({4 * n:,} records; SQLCipher, "
          f"plain tables, median of 3): {raw_first.wall:.2f} s "
          f"(second town's: {raw_second.wall:.2f} s)")
    print(f"the batch's one backup (a district holding {n:,} rows): {second_backup:.1f} s, "
          f"{backup.size / 2**20:.0f} MB; kept: the newest 10 backups of any kind")
    print("| benchmark | seconds | ratio (wall) | ratio (CPU) | goal |\n|---|---|---|---|---|")
    for name, a, b, backed, goal in table:
        if isinstance(a, float):       # export: seconds only
            wall, ratio, ratio_cpu = a, a / b, ""
        else:
            wall, ratio, ratio_cpu = a.wall, a.wall / b.wall, f"{a.cpu / b.cpu:.2f}×"
        note = f" (backup {backed:.1f} s)" if backed else ""
        print(f"| {name} | {wall:.2f}{note} | {ratio:.2f}× | {ratio_cpu} | {goal} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
