"""Benchmark: bulk insert of 100k rows with versions, change log and audit.

    python tests/benchmarks/bench_store.py [--rows 100000]

Reports, for the same rows in the same run:
  raw        executemany of the rows into a plain table with the same columns
  raw-same   executemany of exactly the records insert_valid writes (ledger rows,
             persons, change log, audit) into an empty store with the same schema
             and indexes: the floor SQLite itself sets for this design
  insert     Records.insert_valid: rows already checked → person master, per-field
             versions, change log and audit (one transaction, executemany)
  add_many   Records.add_many: the end-to-end path (normalise + validate + insert)
  encryption insert_valid and add_many into an encrypted store (SQLCipher, the app's
             default) against the same store decrypted (the same SQLite build, no key),
             alternately, median of ``--repeat`` runs each (target: within 1.15x)
"""
from __future__ import annotations

import argparse
import datetime as dt
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TESTS))
if not any((Path(p) / "desktop_app").is_dir() for p in sys.path if p):
    sys.path.insert(0, str(TESTS.parent))          # a source checkout without an install

from support import make_id, screening  # noqa: E402

from desktop_app.core.store import cipher, database  # noqa: E402
from desktop_app.core.store.database import Store  # noqa: E402

TODAY = dt.date(2024, 12, 31)


def make_rows(n: int) -> list[dict]:
    rng = random.Random(1)
    rows = []
    for i in range(n):
        birth = dt.date(1965, 1, 1) + dt.timedelta(days=rng.randint(0, 7000))
        number = make_id(f"{birth:%Y%m%d}", (i % 500) * 2, region=f"43{(i // 500) % 100:02d}02")
        day = dt.date(2024, 1, 1) + dt.timedelta(days=rng.randint(0, 360))
        rows.append(screening(i, day=day.isoformat(), id_number=number, phone=f"138{i:08d}",
                              address=f"示例路{i}号", population=rng.choice(["农村适龄", "城镇低保"]),
                              status="已完成"))
    return rows


def unique(rows):
    seen, out = set(), []
    for r in rows:
        if r["id_number"] not in seen:
            seen.add(r["id_number"])
            out.append(r)
    return out


def bench_raw(rows, path: Path) -> float:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    cols = ["uuid", "org"] + list(rows[0])
    conn.execute(f"CREATE TABLE t ({', '.join(cols)})")
    import uuid
    data = [(str(uuid.uuid4()), "430971121001", *r.values()) for r in rows]
    t = time.perf_counter()
    with conn:
        conn.executemany(f"INSERT INTO t VALUES ({','.join('?' * len(cols))})", data)
    elapsed = time.perf_counter() - t
    conn.close()
    return elapsed


def store_for(path: Path, *, encrypted: bool = True) -> Store:
    """A new town store; ``encrypted=False``: the same store decrypted into a plain file and
    opened with the same SQLCipher build without a key (only for this comparison)."""
    store = Store.create(path, level="town", org="河坝镇", operator="示例")
    store.add_villages(["示例村一"])
    if encrypted:
        return store
    plain = path.with_name(path.stem + "-plain.sqlite3")
    store.conn.execute("ATTACH DATABASE ? AS plain KEY ''", (str(plain),))
    store.conn.execute("SELECT sqlcipher_export('plain')")
    store.conn.execute(f"PRAGMA plain.user_version = {store.conn.execute('PRAGMA user_version').fetchone()[0]}")
    store.conn.execute("DETACH DATABASE plain")
    store.close()
    assert cipher.is_plaintext(plain)
    return Store(plain, database._connect(plain, None), None)


def bench_encryption(rows, tmp: Path, repeat: int) -> dict[str, dict[bool, float]]:
    """insert_valid and add_many, encrypted and not, alternately (the machine's drift hits both)."""
    times: dict[str, dict[bool, list[float]]] = {"insert": {True: [], False: []},
                                                 "add_many": {True: [], False: []}}
    for i in range(repeat):
        for encrypted in (i % 2 == 0, i % 2 == 1):
            for name, fn in (("insert", bench_insert), ("add_many", bench_add_many)):
                times[name][encrypted].append(fn(rows, tmp / f"{name}-{i}-{encrypted}.sqlite3",
                                                 encrypted=encrypted))
    return {name: {e: statistics.median(v) for e, v in by.items()} for name, by in times.items()}


def bench_insert(rows, path: Path, *, encrypted: bool = True) -> float:
    store = store_for(path, encrypted=encrypted)
    records = store.ledger("two_cancer")
    prepared = [dict(r, org="430971121001") for r in rows]
    t = time.perf_counter()
    records.insert_valid(prepared, [[] for _ in rows], source="bench")
    elapsed = time.perf_counter() - t
    assert records.count() == len(rows)
    store.close()
    return elapsed


def bench_raw_same(done: Path, path: Path) -> float:
    """Re-insert, with plain executemany, every record insert_valid wrote."""
    store_for(path).close()
    src = cipher.connect(done, database.key_for(done)[0])
    dst = cipher.connect(path, database.key_for(path)[0])
    dst.execute("PRAGMA synchronous=NORMAL")
    dst.execute("PRAGMA cache_size=-65536")
    tables = ["persons", "ledger_two_cancer", "change_log", "audit"]
    data = {t: src.execute(f"SELECT * FROM [{t}] WHERE rowid > 0").fetchall() for t in tables}
    dst.execute("DELETE FROM change_log")
    dst.execute("DELETE FROM audit")
    dst.commit()
    t0 = time.perf_counter()
    with dst:
        for t in tables:
            dst.executemany(f"INSERT INTO [{t}] VALUES ({','.join('?' * len(data[t][0]))})", data[t])
    elapsed = time.perf_counter() - t0
    src.close()
    dst.close()
    return elapsed


def bench_add_many(rows, path: Path, *, encrypted: bool = True) -> float:
    store = store_for(path, encrypted=encrypted)
    records = store.ledger("two_cancer")
    t = time.perf_counter()
    records.add_many(rows, org="示例村一", source="bench", today=TODAY, allow_duplicate=True)
    elapsed = time.perf_counter() - t
    store.close()
    return elapsed


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--repeat", type=int, default=3, help="runs of the encryption comparison (median)")
    ap.add_argument("--only-encryption", action="store_true")
    args = ap.parse_args()
    rows = unique(make_rows(args.rows))
    tmp = Path(tempfile.mkdtemp())
    if args.only_encryption:
        report_encryption(bench_encryption(rows, tmp, args.repeat), len(rows))
        return 0
    raw = bench_raw(rows, tmp / "raw.sqlite3")
    if args.profile:
        import cProfile
        cProfile.runctx("bench_insert(rows, tmp / 'p.sqlite3')", globals(), locals(), sort="tottime")
        return 0
    ins = bench_insert(rows, tmp / "insert.sqlite3")
    same = bench_raw_same(tmp / "insert.sqlite3", tmp / "same.sqlite3")
    full = bench_add_many(rows, tmp / "add.sqlite3")
    n = len(rows)
    print(f"rows: {n}")
    print(f"raw executemany, plain table       {raw:7.2f} s  ({n / raw:,.0f} rows/s)")
    print(f"raw executemany, same records      {same:7.2f} s  ({same / raw:.1f}x plain)")
    print(f"insert_valid                       {ins:7.2f} s  {ins / same:.2f}x raw-same, {ins / raw:.1f}x plain (target <= 2x)")
    print(f"add_many (normalise+validate+insert){full:6.2f} s  {full / same:.2f}x raw-same, {full / raw:.1f}x plain")
    report_encryption(bench_encryption(rows, tmp, args.repeat), n)
    return 0


def report_encryption(result: dict, n: int) -> None:
    for name, by in result.items():
        ratio = by[True] / by[False]
        print(f"{name:9s} encrypted {by[True]:6.2f} s, no key (same build) {by[False]:6.2f} s: "
              f"{ratio:.3f}x (target <= 1.15x) {'OK' if ratio <= 1.15 else 'MISSED'}  [{n} rows]")


if __name__ == "__main__":
    sys.exit(main())
